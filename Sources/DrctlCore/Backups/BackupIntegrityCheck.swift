import Foundation

/// The checks a backup file must pass before anyone restores from it, cheapest first: not empty, not under the
/// size floor, `gzip -t` (truncated, corrupt or trailing garbage all refuse the file) — for a custom-format
/// `.dump`, `pg_restore --list` and a full read of the archive instead —, and the SHA-256 against the one
/// recorded when it was written. Used by `backup create` on the new file, `backup verify`, and restores.
public struct BackupIntegrityCheck: Sendable {
    public var gzip: Gzip
    public var archive: PostgresArchive
    public var sizeFloor: ByteSize
    public var runner: any CommandRunning

    public init(
        gzip: Gzip, archive: PostgresArchive = PostgresArchive(), sizeFloor: ByteSize, runner: any CommandRunning
    ) {
        self.gzip = gzip
        self.archive = archive
        self.sizeFloor = sizeFloor
        self.runner = runner
    }

    /// What a passed check measured.
    public struct Measurement: Sendable, Hashable {
        public var size: Int64
        public var sha256: String
    }

    /// Checks the file at `path` (named `file` in messages); with `expectedSHA256`, the checksum must match it.
    /// `format` defaults to the one the name says (`.dump` custom, anything else plain). Throws the `BackupError`
    /// of the first check that fails.
    public func check(
        path: String, file: String? = nil, expectedSHA256: String? = nil, format: PostgresDumpFormat? = nil
    ) async throws -> Measurement {
        let file = file ?? path
        let format = format ?? BackupName.format(ofFileName: (file as NSString).lastPathComponent) ?? .plain
        let size = try checkSize(path: path, file: file)
        switch format {
        case .plain: try await testIntegrity(path: path, file: file)
        case .custom: try await testArchiveIntegrity(path: path, file: file)
        }
        return Measurement(size: size, sha256: try checksum(path: path, file: file, expectedSHA256: expectedSHA256))
    }

    /// The SHA-256 of the file at `path` (named `file` in messages), which must match `expectedSHA256` when given.
    public func checksum(path: String, file: String? = nil, expectedSHA256: String?) throws(BackupError) -> String {
        let sha256: String
        do {
            sha256 = try SHA256Checksum.ofFile(atPath: path)
        } catch {
            throw BackupError.fileUnreadable(path: path, reason: error.reason)
        }
        if let expectedSHA256, expectedSHA256.lowercased() != sha256 {
            throw BackupError.checksumMismatch(
                file: file ?? path, expected: expectedSHA256.lowercased(), actual: sha256)
        }
        return sha256
    }

    /// The file's size, once it is neither empty nor under the size floor: the checks that need no read of it.
    public func checkSize(path: String, file: String? = nil) throws(BackupError) -> Int64 {
        let file = file ?? path
        let size = try Self.size(of: path)
        guard size > 0 else { throw BackupError.backupEmpty(file: file) }
        guard size >= sizeFloor.bytes else {
            throw BackupError.backupUnderSizeFloor(file: file, size: size, floor: sizeFloor)
        }
        return size
    }

    /// `gzip -t`; exit 1 (truncated, corrupt) and exit 2 (trailing garbage) both make the backup corrupt.
    public func testIntegrity(path: String, file: String? = nil) async throws {
        let result = try await runner.run(gzip.test(file: path))
        switch Gzip.classifyIntegrity(result, file: path) {
        case .success:
            return
        case .failure(.trailingGarbage(_, let detail)):
            throw BackupError.backupCorrupt(
                file: file ?? path, detail: "bytes after the end of the gzip data (gzip -t: \(detail))")
        case .failure(.corrupt(_, let detail)):
            throw BackupError.backupCorrupt(file: file ?? path, detail: "gzip -t: \(detail)")
        case .failure(.missing):
            throw BackupError.fileUnreadable(path: path, reason: "it does not exist")
        case .failure(let other):
            throw BackupError.backupCorrupt(file: file ?? path, detail: other.localizedDescription)
        }
    }

    /// `pg_restore --list` (is it an archive at all), then a full read of every entry (truncation, flipped
    /// bytes in compressed data): either failing makes the backup corrupt.
    public func testArchiveIntegrity(path: String, file: String? = nil) async throws {
        let reads = [
            ("pg_restore --list", archive.list(file: path)),
            ("pg_restore reading every entry", archive.readThrough(file: path)),
        ]
        for (label, invocation) in reads {
            let result = try await runner.run(invocation)
            switch PostgresArchive.classifyIntegrity(result, file: path) {
            case .success:
                continue
            case .failure(.corrupt(_, let detail)):
                throw BackupError.backupCorrupt(
                    file: file ?? path, detail: "\(label): \(detail)")
            case .failure(.missing):
                throw BackupError.fileUnreadable(path: path, reason: "it does not exist")
            case .failure(let other):
                throw BackupError.backupCorrupt(file: file ?? path, detail: other.localizedDescription)
            }
        }
    }

    static func size(of path: String) throws(BackupError) -> Int64 {
        do {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            return (attributes[.size] as? NSNumber)?.int64Value ?? 0
        } catch {
            throw .fileUnreadable(path: path, reason: error.localizedDescription)
        }
    }
}
