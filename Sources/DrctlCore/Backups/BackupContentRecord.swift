import Crypto
import Foundation

/// What a backup holds, read when it was taken in the same snapshot as the dump (`pg_export_snapshot` and
/// `pg_dump --snapshot`), so record and dump agree while the application keeps writing. It travels beside the
/// backup as `<backup>.record.json` (locally and off-site) and sits in the catalog; a restore compares the loaded
/// database with it before anything is swapped.
public struct BackupContentRecord: Sendable, Hashable, Codable {
    /// The backup's file name.
    public var backup: String
    /// The SHA-256 of the backup file: a record belongs to exactly one file.
    public var sha256: String
    public var format: PostgresDumpFormat
    public var content: PostgresContent
    /// HMAC-SHA256 (hex) of `signedBytes`, keyed with the manifest's `backups.signingKey`; nil when unsigned.
    public var signature: String?

    public init(
        backup: String, sha256: String, format: PostgresDumpFormat, content: PostgresContent, signature: String? = nil
    ) {
        self.backup = backup
        self.sha256 = sha256
        self.format = format
        self.content = content
        self.signature = signature
    }

    // MARK: - Signing

    /// What the signature covers: the record without its signature, as compact JSON with sorted keys.
    var signedBytes: Data {
        var unsigned = self
        unsigned.signature = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(unsigned)) ?? Data()
    }

    private static func symmetricKey(_ key: SecretValue) -> SymmetricKey { SymmetricKey(data: Data(key.value.utf8)) }

    private func mac(key: SecretValue) -> String {
        HMAC<SHA256>.authenticationCode(for: signedBytes, using: Self.symmetricKey(key))
            .map { String(format: "%02x", $0) }.joined()
    }

    /// This record signed with `key`.
    public func signed(with key: SecretValue) -> BackupContentRecord {
        var signed = self
        signed.signature = mac(key: key)
        return signed
    }

    /// With a key, the record must carry a signature that verifies (swift-crypto compares in constant time);
    /// without one, nothing is checked here (`signatureNote` says so).
    public func verifySignature(key: SecretValue?, file: String) throws(RecoveryError) {
        guard let key else { return }
        guard let signature else { throw .contentRecordUnsigned(file: file) }
        guard let code = Self.bytes(hex: signature),
            HMAC<SHA256>.isValidAuthenticationCode(code, authenticating: signedBytes, using: Self.symmetricKey(key))
        else { throw .contentRecordSignatureInvalid(file: file) }
    }

    /// The bytes of a hex string; nil when it is not hex.
    private static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(digits[index...index + 1]), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    /// How the record's signature was judged, for logs and `backup list` / `verify`.
    public func signatureNote(key: SecretValue?) -> String {
        switch (signature, key) {
        case (nil, _): "unsigned"
        case (.some, nil): "signed (not checked: no backups.signingKey in the manifest)"
        case (.some, .some): (try? verifySignature(key: key, file: backup)) == nil ? "signature INVALID" : "signed"
        }
    }

    /// `<backup file>.record.json`.
    public static func sidecarPath(for backupPath: String) -> String { backupPath + sidecarSuffix }
    public static let sidecarSuffix = ".record.json"

    /// A one-line summary for `backup list` and `backup verify`.
    public var summary: String {
        let rows = content.tables.reduce(Int64(0)) { $0 + max($1.rows, 0) }
        return "\(content.tables.count) tables, \(rows) rows, database \(content.database), PostgreSQL "
            + content.serverVersion + ", system \(content.systemIdentifier)"
    }

    public func encoded() throws(BackupError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return try encoder.encode(self) + Data("\n".utf8)
        } catch {
            throw .fileNotWritten(path: backup + Self.sidecarSuffix, reason: error.localizedDescription)
        }
    }

    public func write(besideBackupAt path: String) throws(BackupError) {
        let sidecar = Self.sidecarPath(for: path)
        let data = try encoded()
        guard FileManager.default.createFile(atPath: sidecar, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw .fileNotWritten(path: sidecar, reason: "it could not be written") }
    }

    /// Reads a record; nil when the file does not exist.
    public static func read(path: String, backup: String) throws(RecoveryError) -> BackupContentRecord? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try decode(FileManager.default.contents(atPath: path), backup: backup, location: path)
    }

    /// A record from the bytes of its sidecar (a file, or an off-site object at `location`); refused when they
    /// are not one.
    static func decode(_ data: Data?, backup: String, location: String) throws(RecoveryError) -> BackupContentRecord {
        guard let data, let record = try? JSONDecoder().decode(BackupContentRecord.self, from: data) else {
            throw .contentRecordUnreadable(file: backup, path: location)
        }
        return record
    }

    /// What `backup list` and `backup verify` say about the record beside the backup at `path`: its summary and
    /// signature, or why a restore would refuse it (`problem`); nil when the backup has no record. With
    /// `sha256` (the file's, as just measured) the record must be this file's.
    public static func describe(besideBackupAt path: String, fileName: String, sha256: String?, key: SecretValue?)
        -> (text: String, problem: Bool)?
    {
        let record: BackupContentRecord?
        do {
            record = try read(path: sidecarPath(for: path), backup: fileName)
        } catch {
            return ("content record unreadable (\(sidecarPath(for: path)))", true)
        }
        guard let record else { return nil }
        if let sha256, record.sha256 != sha256 {
            return ("content record written for another file (sha256 \(record.sha256.prefix(12))…)", true)
        }
        do {
            try record.verifySignature(key: key, file: fileName)
        } catch {
            return (
                record.signature == nil
                    ? "content record unsigned (the manifest names a signing key)"
                    : "content record signature does not verify with the manifest's key", true
            )
        }
        return (record.summary + "; " + record.signatureNote(key: key), false)
    }

    /// Checks that this record describes `file` (its checksum) of `database`; throws the refusal otherwise.
    public func check(file: String, sha256: String, database: String) throws(RecoveryError) {
        guard self.sha256 == sha256 else {
            throw .contentRecordOfAnotherFile(file: file, recorded: self.sha256, actual: sha256)
        }
        guard content.database == database else {
            throw .backupOfAnotherDatabase(file: file, database: content.database, expected: database)
        }
    }
}
