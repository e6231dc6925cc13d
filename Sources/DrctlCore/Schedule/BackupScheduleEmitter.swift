import Foundation

/// What `drctl backup schedule --emit` writes.
public enum BackupScheduleFormat: String, Sendable, Hashable, CaseIterable {
    /// A Kubernetes CronJob (and the ConfigMap holding the manifest it reads).
    case cronjob
    /// A systemd service + timer pair.
    case systemd
    /// A crontab line.
    case cron
}

/// One file of an emitted schedule.
public struct ScheduleFile: Sendable, Hashable {
    /// The suggested file name (`drctl-backup-production.timer`).
    public var name: String
    public var contents: String
    /// The file holds (or will hold) secrets: written with mode 0600.
    public var isPrivate: Bool = false
}

/// Builds the unattended nightly backup from the manifest's `schedule`: a Kubernetes CronJob, a systemd service and
/// timer, or a crontab line, each running `drctl backup nightly -f MANIFEST` at the schedule in UTC.
///
/// Why one `backup nightly` process rather than four initContainers: it is the same argv under Kubernetes, systemd
/// and cron (which have no initContainers), it stops at the first failing step and exits non-zero, and it notifies
/// once for the whole chain (PagerDuty resolves on the next good night). No shell string is built: the CronJob
/// gets an argv array, systemd its own quoting, the crontab line shell-quoted words.
public struct BackupScheduleEmitter: Sendable {
    public var manifest: Manifest
    public var schedule: Manifest.Schedule
    /// The manifest file's text, shipped to the cluster in a ConfigMap.
    public var manifestText: String
    /// drctl on the host, for systemd and cron.
    public var drctlPath: String

    /// Where the CronJob's pod finds the manifest; its parent (`/etc/drctl`) is the pod's project root.
    public static let podManifestFolder = "/etc/drctl/manifests"

    /// Where a host run (systemd, cron) reads its secrets' environment variables from (mode 0600, root only).
    public var environmentFile: String

    /// `environmentFile` defaults to `/etc/drctl/<environment>.env`.
    public init(
        manifest: Manifest, manifestText: String, drctlPath: String = "/usr/local/bin/drctl",
        environmentFile: String? = nil
    ) throws(ScheduleError) {
        guard let schedule = manifest.schedule else {
            throw .noSchedule(manifest: manifest.source.file.written)
        }
        self.manifest = manifest
        self.schedule = schedule
        self.manifestText = manifestText
        self.drctlPath = drctlPath
        self.environmentFile = environmentFile ?? "/etc/drctl/\(manifest.environment).env"
    }

    /// `drctl-backup-<environment>`: the CronJob, the systemd units and the ConfigMap are named after it.
    public var name: String { "drctl-backup-\(manifest.environment.lowercased())" }

    public func emit(_ format: BackupScheduleFormat) throws(ScheduleError) -> [ScheduleFile] {
        switch format {
        case .cronjob: return [ScheduleFile(name: "\(name).yaml", contents: try cronJobYAML())]
        case .systemd:
            return [
                ScheduleFile(name: "\(name).service", contents: systemdService()),
                ScheduleFile(name: "\(name).timer", contents: try systemdTimer()),
            ] + environmentFileTemplate
        case .cron: return [ScheduleFile(name: "\(name).crontab", contents: crontab())] + environmentFileTemplate
        }
    }

    /// The environment file a host run reads its secrets from (`environmentFile`), as a template: one `NAME=` line
    /// per `hostVariables` entry for the operator to fill in, installed with mode 0600. systemd reads it as its
    /// `EnvironmentFile=`, the crontab line sources it. Empty when the run needs no variables.
    var environmentFileTemplate: [ScheduleFile] {
        guard !hostVariables.isEmpty else { return [] }
        let contents =
            """
            # Secrets of drctl's nightly backup for environment \(manifest.environment). Fill in the values and install
            # it as \(environmentFile), readable by root only:
            #   install -m 0600 -o root -g root \(name).env \(environmentFile)
            # One NAME=value per line, no quotes and no spaces around '=' (read by systemd's EnvironmentFile= and
            # sourced by the crontab line).

            """ + hostVariables.map { "\($0)=\n" }.joined()
        return [ScheduleFile(name: "\(name).env", contents: contents, isPrivate: true)]
    }

    /// The Secret whose keys become the pod's environment: `schedule.environmentSecret`, else
    /// `drctl-backup-<environment>-env`.
    public var environmentSecretName: String { schedule.environmentSecret ?? "\(name)-env" }

    /// The variables the nightly run reads besides the password, which the environment Secret must hold: the
    /// S3 credentials when `backups.s3` is set, the Azure connection string when `backups.azure` is, and every
    /// `{ env: NAME }` a notification target reads its URL or key from, and `backups.signingKey`'s variable.
    public var environmentSecretVariables: [String] {
        var names: [String] = []
        if manifest.backups.s3 != nil {
            names += ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"]
        }
        if manifest.backups.azure != nil { names.append("AZURE_STORAGE_CONNECTION_STRING") }
        var references: [Manifest.SecretReference] = manifest.backups.signingKey.map { [$0] } ?? []
        for target in manifest.notifications {
            switch target {
            case .webhook(let url, let hmacSecret):
                if case .secret(let reference) = url { references.append(reference) }
                if let hmacSecret { references.append(hmacSecret) }
            case .pagerDuty(let routingKey, _): references.append(routingKey)
            case .slack(let url): references.append(url)
            }
        }
        for case .env(let name) in references where !names.contains(name) { names.append(name) }
        return names
    }

    /// What a host run (systemd, cron) needs in its environment: the manifest's password variable and the
    /// environment Secret's variables.
    public var hostVariables: [String] {
        var names: [String] = []
        if case .env(let name) = manifest.database.password { names.append(name) }
        for name in environmentSecretVariables where !names.contains(name) { names.append(name) }
        return names
    }
}
