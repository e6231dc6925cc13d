import DrctlCore
import Foundation

/// A UTC time, for backup names and catalogs in tests.
func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int = 0, _ minute: Int = 0, _ second: Int = 0) -> Date {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = .gmt
    let components = DateComponents(
        year: year, month: month, day: day, hour: hour, minute: minute, second: second)
    return calendar.date(from: components) ?? .distantPast
}

/// A catalog record of a `valeo_erp` backup taken at 02:00 UTC on `day`.
func catalogRecord(
    database: String = "valeo_erp", day: Int, month: Int = 10, tier: BackupTier = .daily,
    verification: BackupVerification.Result?
) throws -> BackupRecord {
    let name = try BackupName(database: database, timestamp: utc(2025, month, day, 2))
    return BackupRecord(
        name: name, tier: tier, size: 20_000_000, sha256: String(repeating: "a", count: 64),
        createdAt: name.timestamp,
        verification: verification.map {
            BackupVerification(
                result: $0, verifiedAt: name.timestamp, fileSize: 20_000_000, fileModifiedAt: name.timestamp)
        })
}

/// A folder removed when the value goes away.
final class TemporaryFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-backup-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}
