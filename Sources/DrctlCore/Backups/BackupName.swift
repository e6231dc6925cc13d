import Foundation

/// The file name of a backup: `<database>_backup_YYYYMMDD_HHMMSS.sql.gz`, the time in UTC, as the runbook's
/// `valeo_erp_backup_20251009_020000.sql.gz`; or `<database>_backup_YYYYMMDD_HHMMSS.dump` for a custom-format
/// (`pg_dump -Fc`) archive, restored with `pg_restore -j` (`backups.format: custom`).
///
/// Parsing never crashes and never guesses: anything else in a backup folder (a `.partial` file, a copy someone
/// renamed, `20250231`) is not a `BackupName`, and the callers report it instead of touching it.
public struct BackupName: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The database the dump was taken of. It may contain underscores; the last `_backup_` separates it.
    public let database: String
    /// When the dump started, whole seconds, UTC.
    public let timestamp: Date
    /// How the dump was written: a gzip SQL script (`.sql.gz`) or a custom-format archive (`.dump`).
    public let format: PostgresDumpFormat

    /// The extension of a plain (gzip SQL) backup.
    public static let fileExtension = ".sql.gz"
    /// The extension of a custom-format (`pg_dump -Fc`) backup.
    public static let archiveFileExtension = ".dump"
    static let marker = "_backup_"

    /// The file name extension of a backup written in `format`.
    public static func fileExtension(for format: PostgresDumpFormat) -> String {
        switch format {
        case .plain: fileExtension
        case .custom: archiveFileExtension
        }
    }

    /// A name for a new backup of `database` taken at `timestamp` (sub-seconds are dropped).
    public init(database: String, timestamp: Date, format: PostgresDumpFormat = .plain) throws(BackupError) {
        guard Self.isUsableInFileName(database) else { throw .databaseNameUnusableInFileName(database) }
        self.database = database
        self.timestamp = Date(timeIntervalSince1970: floor(timestamp.timeIntervalSince1970))
        self.format = format
    }

    /// Parses a file name (not a path); nil for anything that is not exactly a backup name.
    public init?(fileName: String) {
        guard let format = Self.format(ofFileName: fileName) else { return nil }
        let stem = fileName.dropLast(Self.fileExtension(for: format).count)
        guard let markerRange = stem.range(of: Self.marker, options: .backwards) else { return nil }
        let database = String(stem[..<markerRange.lowerBound])
        let stamp = String(stem[markerRange.upperBound...])
        guard Self.isUsableInFileName(database), let timestamp = Self.parseStamp(stamp) else { return nil }
        self.database = database
        self.timestamp = timestamp
        self.format = format
    }

    /// The format a backup file name's extension stands for (`.sql.gz` plain, `.dump` custom); nil for others.
    public static func format(ofFileName fileName: String) -> PostgresDumpFormat? {
        if fileName.hasSuffix(fileExtension) { return .plain }
        if fileName.hasSuffix(archiveFileExtension) { return .custom }
        return nil
    }

    /// Whether `fileName` looks like a backup of `database` in either format, before the stamp is checked.
    public static func hasBackupShape(_ fileName: String, database: String) -> Bool {
        fileName.hasPrefix(database + marker) && format(ofFileName: fileName) != nil
    }

    /// `valeo_erp_backup_20251009_020000.sql.gz` (or `….dump`).
    public var fileName: String {
        database + Self.marker + Self.stamp(timestamp) + Self.fileExtension(for: format)
    }

    public var description: String { fileName }

    /// The UTC month the backup belongs to, `2025-10`: one backup per month is kept under `monthly/`.
    public var month: String {
        let parts = Self.calendar.dateComponents([.year, .month], from: timestamp)
        return String(format: "%04d-%02d", parts.year ?? 0, parts.month ?? 0)
    }

    public static func < (lhs: BackupName, rhs: BackupName) -> Bool {
        (lhs.timestamp, lhs.database, lhs.format.rawValue) < (rhs.timestamp, rhs.database, rhs.format.rawValue)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let name = BackupName(fileName: text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "'\(text)' is not a backup name (<db>_backup_YYYYMMDD_HHMMSS.sql.gz or .dump)")
        }
        self = name
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(fileName)
    }

    // MARK: - Text

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? .gmt
        return calendar
    }()

    static func stamp(_ date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(
            format: "%04d%02d%02d_%02d%02d%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0,
            parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0)
    }

    /// `YYYYMMDD_HHMMSS` → the date; nil for wrong shape or an impossible date (`20250231_000000`).
    static func parseStamp(_ stamp: String) -> Date? {
        let characters = Array(stamp.utf8)
        guard characters.count == 15, characters[8] == UInt8(ascii: "_") else { return nil }
        let digits = characters[0..<8] + characters[9...]
        guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        func number(_ range: Range<Int>) -> Int {
            range.reduce(0) { $0 * 10 + Int(characters[$1] - UInt8(ascii: "0")) }
        }
        var parts = DateComponents()
        parts.year = number(0..<4)
        parts.month = number(4..<6)
        parts.day = number(6..<8)
        parts.hour = number(9..<11)
        parts.minute = number(11..<13)
        parts.second = number(13..<15)
        guard let date = calendar.date(from: parts), Self.stamp(date) == stamp else { return nil }
        return date
    }

    /// A database name that can be part of a file name: not empty, no slash, no NUL, not `.`/`..`-like.
    static func isUsableInFileName(_ database: String) -> Bool {
        !database.isEmpty && !database.contains("/") && !database.contains("\0") && !database.hasPrefix(".")
            && !database.contains(where: \.isNewline)
    }
}
