import Foundation

/// `drctl backup verify`: checks every backup in the catalog (`BackupIntegrityCheck`), records the outcome in the
/// catalog, reports files it cannot account for, and measures the newest verified backup's age against the RPO.
///
/// Incremental: a file whose last verification passed and whose size and modification time are unchanged since
/// is not read again (its record's `verifiedAt` stays; only `checkedAt` moves). `full` reads every file.
public struct BackupVerifier: Sendable {
    public var folder: BackupFolder
    public var check: BackupIntegrityCheck
    public var recoveryPointObjective: Duration
    public var clock: any RunClock
    /// Checks each content record's signature (`backups.signingKey`); nil: records are checked unsigned.
    public var signingKey: SecretValue?

    /// `archive` checks custom-format `.dump` backups (`pg_restore --list` and a full read); plain ones use `gzip`.
    public init(
        manifest: Manifest, gzip: Gzip, archive: PostgresArchive = PostgresArchive(),
        runner: any CommandRunning = CommandRunner(), clock: any RunClock = .system, signingKey: SecretValue? = nil
    ) {
        self.signingKey = signingKey
        self.folder = BackupFolder(manifest: manifest)
        self.check = BackupIntegrityCheck(
            gzip: gzip, archive: archive, sizeFloor: manifest.backups.sizeFloor, runner: runner)
        self.recoveryPointObjective = manifest.objectives.rpo
        self.clock = clock
    }

    /// Verifies the catalog's backups (only `fileName` when given). Never throws for a bad backup: the report
    /// says which failed (`BackupVerificationReport.passed`); throws only when the folder or catalog is unusable.
    /// With `offsite`, the off-site copies are compared too (`BackupSync` in dry-run mode: size, checksum
    /// sidecar, ETag), and missing or different copies fail the report.
    public func verify(full: Bool = false, fileName: String? = nil, offsite: BackupSync? = nil) async throws
        -> BackupVerificationReport
    {
        let files = try folder.files()
        let catalog = try folder.catalogStore.load()
        if let fileName, !catalog.records.contains(where: { $0.fileName == fileName }) {
            if files.contains(where: { $0.fileName == fileName }) {
                throw BackupError.backupNotInCatalog(file: fileName)
            }
            throw BackupError.backupNotFound(name: fileName, folder: folder.root)
        }
        var results: [BackupVerificationReport.FileResult] = []
        var updated: [BackupRecord] = []
        for record in catalog.records where fileName == nil || record.fileName == fileName {
            try Task.checkCancellation()
            guard let file = files.first(where: { $0.tier == record.tier && $0.fileName == record.fileName }) else {
                results.append(.init(record: record, outcome: .missing, detail: "the file is gone"))
                continue
            }
            let now = clock.now()
            var record = record
            if !full, Self.isUnchanged(file, record: record) {
                record.verification?.checkedAt = now
                results.append(.init(record: record, outcome: .unchanged, detail: nil))
            } else {
                do {
                    let measured = try await check.check(
                        path: file.path, file: record.relativePath, expectedSHA256: record.sha256)
                    let content = BackupContentRecord.describe(
                        besideBackupAt: file.path, fileName: record.fileName, sha256: measured.sha256, key: signingKey)
                    if let content, content.problem {
                        // A restore would refuse this backup for its record: a failed verification, not a pass.
                        throw BackupError.backupCorrupt(file: record.relativePath, detail: content.text)
                    }
                    record.verification = BackupVerification(
                        result: .passed, verifiedAt: now, fileSize: file.size, fileModifiedAt: file.modifiedAt,
                        sha256: measured.sha256)
                    var result = BackupVerificationReport.FileResult(record: record, outcome: .passed, detail: nil)
                    result.content = content?.text ?? "no content record"
                    results.append(result)
                } catch let error as BackupError {
                    let detail = Self.shortDetail(error)
                    record.verification = BackupVerification(
                        result: .failed, failure: detail, verifiedAt: now, fileSize: file.size,
                        fileModifiedAt: file.modifiedAt)
                    results.append(.init(record: record, outcome: .failed, detail: detail, error: error))
                }
            }
            updated.append(record)
        }
        try folder.catalogStore.update { catalog throws(BackupError) in
            for record in updated { catalog.upsert(record) }
        }
        let unaccounted = files.filter { file in
            file.name == nil || catalog.record(fileName: file.fileName, tier: file.tier) == nil
        }
        let current = try folder.catalogStore.load()
        let newest = current.latest(verified: true)
        let now = clock.now()
        return BackupVerificationReport(
            checkedAt: now,
            files: results,
            unaccounted: unaccounted.map(\.relativePath),
            recoveryPoint: RecoveryPointStatus(
                newestVerified: newest?.fileName,
                takenAt: newest?.name.timestamp,
                objective: recoveryPointObjective,
                now: now),
            offsite: try await offsite?.sync(dryRun: true)
        )
    }

    /// The file passed before and has the same size and modification time since, and the catalog still records
    /// the checksum it passed with. The catalog keeps times to the millisecond, so times within 2 ms are the same.
    static func isUnchanged(_ file: LocalBackupFile, record: BackupRecord) -> Bool {
        guard let verification = record.verification, verification.result == .passed else { return false }
        return verification.fileSize == file.size
            && abs(verification.fileModifiedAt.timeIntervalSince(file.modifiedAt)) < 0.002
            && (verification.sha256 ?? record.sha256) == record.sha256
    }

    /// The part of an error that describes the file, for the catalog and the report table.
    static func shortDetail(_ error: BackupError) -> String {
        switch error {
        case .backupCorrupt(_, let detail): "corrupt: \(detail)"
        case .backupEmpty: "empty (0 bytes)"
        case .backupUnderSizeFloor(_, let size, let floor): "\(size) bytes, under the size floor \(floor)"
        case .checksumMismatch(_, let expected, let actual):
            "SHA-256 \(actual.prefix(12))… differs from the catalog's \(expected.prefix(12))…"
        case .fileUnreadable(_, let reason): "unreadable: \(reason)"
        default: error.localizedDescription
        }
    }
}

/// What `drctl backup verify` found.
public struct BackupVerificationReport: Sendable, Codable {
    public var checkedAt: Date
    public var files: [FileResult]
    /// Files in `daily/`/`monthly/` that are not backups drctl wrote (`daily/notes.txt`); left alone.
    public var unaccounted: [String]
    public var recoveryPoint: RecoveryPointStatus
    /// The comparison of the off-site copies, when asked for (`--offsite`).
    public var offsite: BackupSyncReport?

    /// Every catalog file passed (or is unchanged since it passed), the RPO is met, and the off-site copies (when
    /// compared) are all there and equal.
    public var passed: Bool { failed.isEmpty && recoveryPoint.met && offsite?.inSync != false }
    public var failed: [FileResult] { files.filter { $0.outcome == .failed || $0.outcome == .missing } }

    public enum Outcome: String, Sendable, Codable {
        /// Read and checked now: passed.
        case passed
        /// Passed before and unchanged since (size, modification time): not read again.
        case unchanged
        case failed
        /// In the catalog, but the file is not in the folder.
        case missing
    }

    public struct FileResult: Sendable, Codable {
        public var file: String
        public var tier: BackupTier
        public var size: Int64
        public var outcome: Outcome
        public var detail: String?
        /// When the file's bytes were last read and passed or failed.
        public var verifiedAt: Date?
        /// The full error for a failed file (not encoded).
        public var error: BackupError?
        /// The content record's summary and signature after a full read (`BackupContentRecord.describe`).
        public var content: String? = nil

        init(record: BackupRecord, outcome: Outcome, detail: String?, error: BackupError? = nil) {
            self.file = record.fileName
            self.tier = record.tier
            self.size = record.size
            self.outcome = outcome
            self.detail = detail
            self.verifiedAt = record.verification?.verifiedAt
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case file, tier, size, outcome, detail, verifiedAt, content
        }
    }
}

/// The newest verified backup's age against the recovery point objective.
public struct RecoveryPointStatus: Sendable, Codable, Hashable {
    public var newestVerified: String?
    public var takenAt: Date?
    public var ageSeconds: Int64?
    public var objectiveSeconds: Int64
    public var met: Bool

    public init(newestVerified: String?, takenAt: Date?, objective: Duration, now: Date) {
        self.newestVerified = newestVerified
        self.takenAt = takenAt
        let objectiveSeconds = objective.components.seconds
        let age = takenAt.map { Int64(now.timeIntervalSince($0).rounded(.down)) }
        self.objectiveSeconds = objectiveSeconds
        self.ageSeconds = age
        self.met = age.map { $0 <= objectiveSeconds } ?? false
    }

    /// The error to raise when the objective is missed.
    public var error: BackupError? {
        guard !met else { return nil }
        return .recoveryPointObjectiveMissed(
            newest: newestVerified, age: ageSeconds.map { .seconds($0) }, objective: .seconds(objectiveSeconds))
    }
}
