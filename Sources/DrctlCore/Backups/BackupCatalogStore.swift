import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads and writes `catalog.json` in a local backup folder.
///
/// Every change is a read-modify-write under an exclusive `flock` on `.catalog.lock`, and the new catalog replaces
/// the old one by rename, so a cron `backup create` and an operator's `backup verify` cannot lose each other's
/// records and a crash never leaves half a catalog.
public struct BackupCatalogStore: Sendable {
    /// The local backup folder (holding `daily/`, `monthly/` and the catalog).
    public var directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public var path: String { (directory as NSString).appendingPathComponent(BackupCatalog.fileName) }
    var lockPath: String { (directory as NSString).appendingPathComponent(".catalog.lock") }

    /// The catalog; an empty one when the file does not exist yet.
    public func load() throws(BackupError) -> BackupCatalog {
        guard FileManager.default.fileExists(atPath: path) else { return BackupCatalog() }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .catalogUnreadable(path: path, reason: error.localizedDescription)
        }
        let catalog: BackupCatalog
        do {
            catalog = try Self.decoder.decode(BackupCatalog.self, from: data)
        } catch {
            throw .catalogUnreadable(path: path, reason: Self.describe(error))
        }
        guard catalog.format <= BackupCatalog.currentFormat else {
            throw .catalogUnreadable(
                path: path,
                reason: "it has format \(catalog.format), this drctl reads up to \(BackupCatalog.currentFormat)")
        }
        return catalog
    }

    /// Loads the catalog under the lock, lets `change` modify it and writes it back.
    @discardableResult
    public func update<T>(_ change: (inout BackupCatalog) throws(BackupError) -> T) throws(BackupError) -> T {
        let lock = try acquireLock()
        defer {
            flock(lock, LOCK_UN)
            close(lock)
        }
        var catalog = try load()
        let result = try change(&catalog)
        try write(catalog)
        return result
    }

    private func write(_ catalog: BackupCatalog) throws(BackupError) {
        do {
            let data = try Self.encoder.encode(catalog)
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .catalogNotWritten(path: path, reason: error.localizedDescription)
        }
    }

    private func acquireLock() throws(BackupError) -> Int32 {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .catalogNotWritten(path: path, reason: error.localizedDescription)
        }
        let descriptor = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw .catalogNotWritten(path: lockPath, reason: String(cString: strerror(errno)))
        }
        while flock(descriptor, LOCK_EX) != 0 {
            guard errno == EINTR else {
                let reason = String(cString: strerror(errno))
                close(descriptor)
                throw .catalogNotWritten(path: lockPath, reason: reason)
            }
        }
        return descriptor
    }

    // MARK: - JSON

    /// Dates as ISO 8601 UTC with milliseconds: readable, and precise enough to compare modification times.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(BackupDates.format(date))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            guard let date = BackupDates.parse(text) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "'\(text)' is not an ISO 8601 time")
            }
            return date
        }
        return decoder
    }()

    private static func describe(_ error: any Error) -> String {
        guard let decoding = error as? DecodingError else { return error.localizedDescription }
        switch decoding {
        case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context),
            .valueNotFound(_, let context):
            let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return "\(context.debugDescription) at \(path.isEmpty ? "the top" : path)"
        @unknown default:
            return String(describing: decoding)
        }
    }
}

/// The one date format of drctl's backup files and reports: `2025-10-09T02:00:00.000Z`.
enum BackupDates {
    static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).parse(text) {
            return date
        }
        return try? Date.ISO8601FormatStyle(timeZone: .gmt).parse(text)
    }
}
