import DrctlCore
import Foundation
import Testing

@Suite("RetentionPolicy")
struct RetentionPolicyTests {
    /// 400 daily backups at 02:00 UTC from 2024-11-01 and the first of each month under monthly/ (14 of them).
    struct SyntheticYear {
        var files: [LocalBackupFile] = []
        var catalog = BackupCatalog()
        let days = 400
        let start = utc(2024, 11, 1, 2)

        init(unverifiedNewestDays: Int = 0) throws {
            var seenMonths: Set<String> = []
            for day in 0..<days {
                let name = try BackupName(
                    database: "valeo_erp", timestamp: start.addingTimeInterval(Double(day) * 86_400))
                let verified = day < days - unverifiedNewestDays
                add(name, tier: .daily, verified: verified)
                if seenMonths.insert(name.month).inserted { add(name, tier: .monthly, verified: verified) }
            }
        }

        var last: Date { start.addingTimeInterval(Double(days - 1) * 86_400) }

        mutating func add(_ name: BackupName, tier: BackupTier, verified: Bool, inCatalog: Bool = true) {
            files.append(file(name.fileName, tier: tier))
            guard inCatalog else { return }
            catalog.upsert(
                BackupRecord(
                    name: name, tier: tier, size: 20_000_000, sha256: "00", createdAt: name.timestamp,
                    verification: verified
                        ? BackupVerification(
                            result: .passed, verifiedAt: name.timestamp, fileSize: 20_000_000,
                            fileModifiedAt: name.timestamp)
                        : nil))
        }
    }

    let policy = RetentionPolicy(daily: 30, monthly: 12)

    @Test func keepsThirtyDailyAndTwelveMonthlyOverAYear() throws {
        let year = try SyntheticYear()
        let plan = policy.plan(files: year.files, catalog: year.catalog, now: year.last.addingTimeInterval(3_600))

        let keptDaily = plan.keep.filter { $0.file.tier == .daily }
        let keptMonthly = plan.keep.filter { $0.file.tier == .monthly }
        #expect(keptDaily.count == 30)
        #expect(keptMonthly.count == 12)
        #expect(plan.delete.count == 400 - 30 + 14 - 12)
        #expect(plan.unaccounted.isEmpty)

        let newestDaily = keptDaily.compactMap(\.file.name).map(\.timestamp)
        #expect(newestDaily.min() == year.last.addingTimeInterval(-29 * 86_400))
        #expect(keptMonthly.compactMap(\.file.name).map(\.month).sorted().first == "2025-01")
        #expect(plan.delete.filter { $0.tier == .monthly }.compactMap(\.name).map(\.month) == ["2024-11", "2024-12"])
        // Nothing kept is also deleted.
        #expect(Set(plan.keep.map(\.file)).isDisjoint(with: plan.delete))
    }

    @Test func theNewestVerifiedBackupIsNeverPruned() throws {
        // The newest 40 backups were never verified: the newest verified one is 41st newest, beyond 30 daily.
        let year = try SyntheticYear(unverifiedNewestDays: 40)
        let newestVerified = try BackupName(
            database: "valeo_erp", timestamp: year.last.addingTimeInterval(-40 * 86_400))
        let plan = policy.plan(files: year.files, catalog: year.catalog, now: year.last)

        let protected = plan.keep.filter { $0.reason == .newestVerified }
        #expect(protected.map(\.file.fileName) == [newestVerified.fileName])
        #expect(protected.first?.file.tier == .daily)
        #expect(!plan.delete.contains { $0.fileName == newestVerified.fileName && $0.tier == .daily })
        #expect(plan.delete.count == 400 - 31 + 14 - 12)
    }

    @Test func withoutAnyVerifiedBackupNothingIsDeleted() throws {
        let year = try SyntheticYear(unverifiedNewestDays: 400)
        let plan = policy.plan(files: year.files, catalog: year.catalog, now: year.last)
        #expect(plan.delete.isEmpty)
        #expect(plan.keep.count == year.files.count)
        #expect(plan.keep.allSatisfy { $0.reason == .noVerifiedBackup })
    }

    @Test func filesItCannotAccountForAreKeptAndReported() throws {
        var year = try SyntheticYear()
        let old = try BackupName(database: "valeo_erp", timestamp: utc(2020, 1, 1, 2))
        year.add(old, tier: .daily, verified: true, inCatalog: false)
        let future = try BackupName(database: "valeo_erp", timestamp: year.last.addingTimeInterval(86_400 * 3))
        year.add(future, tier: .daily, verified: true)
        year.files.append(file("notes.txt", tier: .daily))
        year.files.append(file("valeo_erp_backup_20200101_020000.sql.gz.partial", tier: .daily))
        year.files.append(file("valeo_erp_backup_20200102_020000.sql.gz", tier: .monthly, regular: false))

        let plan = policy.plan(files: year.files, catalog: year.catalog, now: year.last.addingTimeInterval(3_600))

        let reasons = Dictionary(plan.unaccounted.map { ($0.file.fileName, $0.reason) }) { first, _ in first }
        #expect(
            reasons == [
                old.fileName: .notInCatalog,
                future.fileName: .takenAfterNow,
                "notes.txt": .unrecognizedFile,
                "valeo_erp_backup_20200101_020000.sql.gz.partial": .unrecognizedFile,
                "valeo_erp_backup_20200102_020000.sql.gz": .unrecognizedFile,
            ])
        #expect(plan.keep.filter { $0.file.tier == .daily && !$0.reason.needsAttention }.count == 30)
        #expect(!plan.delete.contains { reasons[$0.fileName] != nil })
    }

    @Test func eachDatabaseKeepsItsOwnCount() throws {
        var files: [LocalBackupFile] = []
        var catalog = BackupCatalog()
        for database in ["valeo_erp", "other"] {
            for day in 1...5 {
                let name = try BackupName(database: database, timestamp: utc(2025, 3, day, 2))
                files.append(file(name.fileName, tier: .daily))
                catalog.upsert(try catalogRecord(database: database, day: day, month: 3, verification: .passed))
            }
        }
        let plan = RetentionPolicy(daily: 2, monthly: 1).plan(files: files, catalog: catalog, now: utc(2025, 4, 1))
        #expect(plan.keep.count == 4)
        #expect(Set(plan.keep.compactMap(\.file.name?.database)) == ["valeo_erp", "other"])
        #expect(plan.delete.count == 6)
    }
}

private func file(_ fileName: String, tier: BackupTier, regular: Bool = true) -> LocalBackupFile {
    LocalBackupFile(
        tier: tier, fileName: fileName, path: "/backups/\(tier)/\(fileName)", size: 20_000_000,
        modifiedAt: utc(2025, 1, 1), isRegularFile: regular)
}
