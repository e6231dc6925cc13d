import Foundation

extension Manifest {
    /// The environment variable of a data-plane Job that carries the manifest the agent works from (JSON, no
    /// secret: the password is a reference to `jobPasswordVariable`).
    public static let jobManifestVariable = "DRCTL_AGENT_MANIFEST"
    /// The variable a data-plane Job's pod reads the database password from (a `secretKeyRef`, never a value).
    public static let jobPasswordVariable = "DB_PASSWORD"
    /// The variable a data-plane Job's pod reads `backups.signingKey` from (from the Job's environment Secret).
    public static let jobSigningKeyVariable = "DRCTL_BACKUP_SIGNING_KEY"
    /// Where a backup Job mounts its backup folder (`database.jobs.backupClaim`, else an emptyDir).
    public static let jobBackupFolder = "/var/lib/drctl/backups"

    /// This manifest as a data-plane Job's agent sees it: the local data plane (the agent is the data plane),
    /// the password from `DB_PASSWORD`, the backup folder at `jobBackupFolder`. Everything else, the database's
    /// host and port included, is the operator's manifest: the Job runs where those names resolve.
    public func forDataPlaneJob() -> Manifest {
        var manifest = self
        manifest.database.dataPlane = .local
        manifest.database.jobs = nil
        manifest.database.password = .env(Self.jobPasswordVariable)
        if manifest.backups.signingKey != nil { manifest.backups.signingKey = .env(Self.jobSigningKeyVariable) }
        manifest.backups.local = ManifestPath(written: Self.jobBackupFolder, absolute: Self.jobBackupFolder)
        manifest.provision = []
        manifest.schedule = nil
        manifest.notifications = []
        manifest.environmentOverrides = [:]
        return manifest
    }

    /// Reads the manifest a data-plane Job carries in `jobManifestVariable`.
    public static func fromDataPlaneJob(environment: [String: String]) throws(DataPlaneJobError) -> Manifest {
        guard let text = environment[jobManifestVariable], !text.isEmpty else {
            throw .agentInputMissing(variable: jobManifestVariable)
        }
        do {
            return try JSONDecoder().decode(Manifest.self, from: Data(text.utf8))
        } catch {
            throw .agentInputUnreadable(variable: jobManifestVariable, reason: String(describing: error))
        }
    }
}
