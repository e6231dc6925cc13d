import DrctlCore
import Foundation
import Testing

@Suite("BackupName")
struct BackupNameTests {
    @Test func formatsTheRunbooksNameInUTC() throws {
        let name = try BackupName(database: "valeo_erp", timestamp: utc(2025, 10, 9, 2, 0, 0).addingTimeInterval(0.75))
        #expect(name.fileName == "valeo_erp_backup_20251009_020000.sql.gz")
        #expect(name.month == "2025-10")
        #expect(name.timestamp == utc(2025, 10, 9, 2, 0, 0))
    }

    @Test func parsesWhatItFormats() throws {
        let name = try #require(BackupName(fileName: "valeo_erp_backup_20251231_235959.sql.gz"))
        #expect(name.database == "valeo_erp")
        #expect(name.timestamp == utc(2025, 12, 31, 23, 59, 59))
        #expect(try BackupName(database: name.database, timestamp: name.timestamp) == name)
    }

    @Test func databaseNamesMayHoldTheMarker() throws {
        let name = try #require(BackupName(fileName: "my_backup_db_backup_20250101_000000.sql.gz"))
        #expect(name.database == "my_backup_db")
    }

    @Test(arguments: [
        "valeo_erp_backup_20251009_020000.sql.gz.partial",
        "valeo_erp_backup_20251009_020000.sql",
        "valeo_erp_backup_20251009-020000.sql.gz",
        "valeo_erp_backup_2025109_020000.sql.gz",
        "valeo_erp_backup_20250231_020000.sql.gz",
        "valeo_erp_backup_20251009_250000.sql.gz",
        "valeo_erp_backup_２０２51009_020000.sql.gz",
        "_backup_20251009_020000.sql.gz",
        ".hidden_backup_20251009_020000.sql.gz",
        "valeo_erp_20251009_020000.sql.gz",
        "catalog.json",
        "",
    ])
    func rejectsEverythingElse(fileName: String) {
        #expect(BackupName(fileName: fileName) == nil)
    }

    @Test func refusesDatabaseNamesThatAreNotFileNames() {
        #expect(throws: BackupError.databaseNameUnusableInFileName("../etc")) {
            try BackupName(database: "../etc", timestamp: Date())
        }
        #expect(throws: BackupError.self) { try BackupName(database: "", timestamp: Date()) }
    }

    @Test func ordersByTime() throws {
        let older = try BackupName(database: "b", timestamp: utc(2025, 1, 1, 0, 0, 0))
        let newer = try BackupName(database: "a", timestamp: utc(2025, 1, 1, 0, 0, 1))
        #expect(older < newer)
    }
}
