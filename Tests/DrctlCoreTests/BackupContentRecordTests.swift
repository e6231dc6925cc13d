import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

@Suite("Backup content records")
struct BackupContentRecordTests {
    static let content = PostgresContent(
        database: "valeo_erp", systemIdentifier: "7301234567890123456", serverVersion: "150018",
        tables: [
            .init(name: "public.documents_header", rows: 3001, schemaDigest: "a1"),
            .init(name: "public.customers", rows: 500, schemaDigest: "b2"),
        ])
    static let record = BackupContentRecord(
        backup: "valeo_erp_backup_20251009_020000.sql.gz", sha256: String(repeating: "ab", count: 32),
        format: .plain, content: content)

    @Test func aSignedRecordVerifiesWithItsKeyOnly() throws {
        let key = SecretValue("s3cret-key")
        let signed = Self.record.signed(with: key)
        #expect(signed.signature?.count == 64)
        try signed.verifySignature(key: key, file: signed.backup)
        #expect(throws: RecoveryError.contentRecordSignatureInvalid(file: signed.backup)) {
            try signed.verifySignature(key: SecretValue("another key"), file: signed.backup)
        }
        // No key in the manifest: nothing to check it with, and the note says so.
        try signed.verifySignature(key: nil, file: signed.backup)
        #expect(signed.signatureNote(key: nil).contains("not checked"))
        #expect(signed.signatureNote(key: key) == "signed")
    }

    @Test func changingAnyRecordedFactBreaksTheSignature() throws {
        let key = SecretValue("s3cret-key")
        let signed = Self.record.signed(with: key)
        var rows = signed
        rows.content.tables[0].rows += 1
        var file = signed
        file.sha256 = String(repeating: "cd", count: 32)
        var tables = signed
        tables.content.tables.removeLast()
        for changed in [rows, file, tables] {
            #expect(throws: RecoveryError.contentRecordSignatureInvalid(file: signed.backup)) {
                try changed.verifySignature(key: key, file: signed.backup)
            }
        }
        // The signature survives the file format: written and read back, it still verifies.
        let decoded = try JSONDecoder().decode(BackupContentRecord.self, from: try signed.encoded())
        try decoded.verifySignature(key: key, file: signed.backup)
    }

    @Test func anUnsignedRecordIsRefusedWhenTheManifestNamesAKey() {
        #expect(throws: RecoveryError.contentRecordUnsigned(file: Self.record.backup)) {
            try Self.record.verifySignature(key: SecretValue("k"), file: Self.record.backup)
        }
    }

    @Test func differencesNameMissingAndExtraTablesRowCountsAndSchemas() {
        var loaded = Self.content
        loaded.tables = [
            .init(name: "public.documents_header", rows: 2999, schemaDigest: "zz"),
            .init(name: "public.extra", rows: 1, schemaDigest: "c3"),
        ]
        let differences = Self.content.differences(from: loaded)
        #expect(
            differences == [
                "table public.customers is missing (recorded with 500 rows)",
                "table public.documents_header has 2999 rows, the record says 3001",
                "table public.documents_header has another schema (columns, constraints or indexes)",
                "table public.extra is not in the record",
            ])
        #expect(Self.content.differences(from: Self.content).isEmpty)
    }

    @Test func aCommandFailureSaysItsCauseInTheFirstLine() {
        let failure = CommandFailure(
            commandLine: "PGPASSWORD='***' psql -X -d x", status: .exited(3),
            standardErrorTail: "psql:<stdin>:12: NOTICE:  x\npsql:<stdin>:13: ERROR:  relation \"y\" does not exist\n",
            pipeline: "gzip -dc f | psql", stageIndex: 1)
        let first = failure.localizedDescription.split(separator: "\n").first ?? ""
        #expect(
            first
                == "stage 2 of the pipeline failed (psql, exit status 3): psql:<stdin>:13: ERROR:  relation \"y\" does not exist"
        )
    }
}
