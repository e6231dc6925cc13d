import Foundation

/// `drctl backup prune`: applies the manifest's `RetentionPolicy` to the local folder. Deletes only files the
/// policy lets go (never the newest verified backup, never a file the catalog does not know), and their catalog
/// records. Runs under the catalog lock, so a backup being created meanwhile waits. Off-site copies are left
/// alone; `drctl backup sync` reports them as extra afterwards.
public struct BackupPruner: Sendable {
    public var folder: BackupFolder
    public var policy: RetentionPolicy
    public var clock: any RunClock

    public init(manifest: Manifest, clock: any RunClock = .system) {
        self.folder = BackupFolder(manifest: manifest)
        self.policy = RetentionPolicy(manifest.backups.retention)
        self.clock = clock
    }

    /// With `dryRun`, only the plan; otherwise the plan and the files deleted.
    public func prune(dryRun: Bool) throws -> BackupPruneReport {
        let now = clock.now()
        return try folder.catalogStore.update { catalog throws(BackupError) in
            let plan = policy.plan(files: try folder.files(), catalog: catalog, now: now)
            guard !dryRun else { return BackupPruneReport(plan: plan, deleted: [], dryRun: true) }
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
            return BackupPruneReport(plan: plan, deleted: deleted, dryRun: false)
        }
    }
}

/// What `drctl backup prune` decided and did.
public struct BackupPruneReport: Sendable, Codable {
    public var plan: RetentionPlan
    /// `daily/<file>` paths deleted; empty for a dry run.
    public var deleted: [String]
    public var dryRun: Bool
}
