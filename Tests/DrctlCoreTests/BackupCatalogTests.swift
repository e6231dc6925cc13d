import DrctlCore
import Foundation
import Testing

@Suite("BackupCatalog")
struct BackupCatalogTests {
    @Test func latestVerifiedSkipsUnverifiedAndFailedBackups() throws {
        let catalog = BackupCatalog(records: [
            try catalogRecord(day: 1, verification: .passed),
            try catalogRecord(day: 2, verification: .passed),
            try catalogRecord(day: 3, verification: .failed),
            try catalogRecord(day: 4, verification: nil),
        ])
        #expect(catalog.latest(verified: true)?.name.timestamp == utc(2025, 10, 2, 2))
        #expect(catalog.latest(verified: false)?.name.timestamp == utc(2025, 10, 4, 2))
    }

    @Test func latestBeforeIsStrictlyBefore() throws {
        let catalog = BackupCatalog(
            records: try (1...5).map { day in try catalogRecord(day: day, verification: .passed) })
        #expect(catalog.latest(before: utc(2025, 10, 3, 2))?.name.timestamp == utc(2025, 10, 2, 2))
        #expect(catalog.latest(before: utc(2025, 10, 3, 2, 0, 1))?.name.timestamp == utc(2025, 10, 3, 2))
        #expect(catalog.latest(before: utc(2025, 10, 1, 2)) == nil)
    }

    @Test func theDailyRecordWinsOverItsMonthlyCopy() throws {
        let daily = try catalogRecord(day: 1, verification: .passed)
        var monthly = daily
        monthly.tier = .monthly
        let catalog = BackupCatalog(records: [monthly, daily])
        #expect(catalog.latest(verified: true)?.tier == .daily)
        #expect(catalog.records.map(\.tier) == [.daily, .monthly])
    }

    @Test func upsertReplacesTheRecordOfTheSameFile() throws {
        var catalog = BackupCatalog(records: [try catalogRecord(day: 1, verification: nil)])
        catalog.upsert(try catalogRecord(day: 1, verification: .passed))
        #expect(catalog.records.count == 1)
        #expect(catalog.records.first?.isVerified == true)
        let removed = catalog.remove(fileName: "valeo_erp_backup_20251001_020000.sql.gz", tier: .daily)
        #expect(removed != nil)
        #expect(catalog.records.isEmpty)
    }

    @Test func storeRoundTripsThroughCatalogJSON() throws {
        let folder = try TemporaryFolder()
        let store = BackupCatalogStore(directory: folder.path)
        #expect(try store.load().records.isEmpty)

        var original = try catalogRecord(day: 7, verification: .passed)
        original.setCopy(
            OffsiteCopy(
                store: .s3, location: "s3://b/p/daily/x", key: "p/daily/x", size: 10, sha256: "ab", etag: "e",
                confirmedAt: utc(2025, 10, 8)))
        try store.update { catalog throws(BackupError) in catalog.upsert(original) }

        let loaded = try store.load()
        #expect(loaded.records == [original])
        let text = try String(contentsOfFile: store.path, encoding: .utf8)
        #expect(text.contains("\"name\" : \"valeo_erp_backup_20251007_020000.sql.gz\""))
        #expect(text.contains("2025-10-07T02:00:00.000Z"))
    }

    @Test func aDamagedCatalogIsAnErrorNotAnEmptyCatalog() throws {
        let folder = try TemporaryFolder()
        let store = BackupCatalogStore(directory: folder.path)
        try Data("{\"format\": 1, \"records\": [{\"name\": \"nope\"}]}".utf8).write(
            to: URL(fileURLWithPath: store.path))
        #expect {
            try store.load()
        } throws: { error in
            guard case .catalogUnreadable(_, let reason) = error as? BackupError else { return false }
            return reason.contains("records")
        }
    }

    @Test func sha256OfAFileIsStreamedAndMatchesTheOneShotDigest() throws {
        let folder = try TemporaryFolder()
        let path = folder.path + "/data"
        let data = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        try data.write(to: URL(fileURLWithPath: path))
        #expect(try SHA256Checksum.ofFile(atPath: path, chunkSize: 4096) == SHA256Checksum.of(data))
        #expect(
            SHA256Checksum.of(Data("abc".utf8))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(throws: ChecksumError.self) { try SHA256Checksum.ofFile(atPath: folder.path + "/missing") }
    }
}
