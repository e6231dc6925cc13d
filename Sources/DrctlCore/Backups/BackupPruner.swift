import Foundation

/// `drctl backup prune`: applies the manifest's `RetentionPolicy` to the local folder. Deletes only files the
/// policy lets go (never the newest verified backup, never a file the catalog does not know), and their catalog
/// records. The records of backups whose file is gone from the folder (deleted by hand, lost with a disk) are
/// dropped too and listed, so the catalog, and `drctl status` reading it, only name files that are there. Runs under
/// the catalog lock, so a backup being created meanwhile waits. Off-site copies are left alone; `drctl backup sync`
/// reports them as extra afterwards.
public struct BackupPruner: Sendable {
    public var folder: BackupFolder
    public var policy: RetentionPolicy
    public var clock: any RunClock

    public init(manifest: Manifest, clock: any RunClock = .system) {
        self.folder = BackupFolder(manifest: manifest)
        self.policy = RetentionPolicy(manifest.backups.retention)
        self.clock = clock
    }

    /// With `dryRun`, only the plan; otherwise the plan, the files deleted and the records of missing files dropped.
    public func prune(dryRun: Bool) throws -> BackupPruneReport {
        let now = clock.now()
        return try folder.catalogStore.update { catalog throws(BackupError) in
            let files = try folder.files()
            let present = Set(files.filter(\.isRegularFile).map(\.relativePath))
            let missing = catalog.records.filter { !present.contains($0.relativePath) }
            let plan = policy.plan(files: files, catalog: catalog, now: now)
            guard !dryRun else {
                return BackupPruneReport(
                    plan: plan, deleted: [], dryRun: true, forgotten: missing.map(\.relativePath).sorted())
            }
            for record in missing { catalog.remove(fileName: record.fileName, tier: record.tier) }
            var deleted: [String] = []
            for file in plan.delete {
                do {
                    try FileManager.default.removeItem(atPath: file.path)
                    let record = BackupContentRecord.sidecarPath(for: file.path)
                    if FileManager.default.fileExists(atPath: record) {
                        try FileManager.default.removeItem(atPath: record)
                    }
                } catch {
                    throw .fileNotWritten(path: file.path, reason: "could not delete it: \(error.localizedDescription)")
                }
                catalog.remove(fileName: file.fileName, tier: file.tier)
                deleted.append(file.relativePath)
            }
            return BackupPruneReport(
                plan: plan, deleted: deleted, dryRun: false, forgotten: missing.map(\.relativePath).sorted())
        }
    }
}

/// What `drctl backup prune` decided and did.
public struct BackupPruneReport: Sendable, Codable {
    public var plan: RetentionPlan
    /// `daily/<file>` paths deleted; empty for a dry run.
    public var deleted: [String]
    public var dryRun: Bool
    /// `daily/<file>` paths the catalog named whose file is gone from the folder: their records were dropped (a dry
    /// run only lists them).
    public var forgotten: [String]

    public init(plan: RetentionPlan, deleted: [String], dryRun: Bool, forgotten: [String] = []) {
        self.plan = plan
        self.deleted = deleted
        self.dryRun = dryRun
        self.forgotten = forgotten
    }
}
