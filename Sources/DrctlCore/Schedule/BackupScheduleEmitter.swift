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

    // MARK: Kubernetes

    /// The manifest file's name inside the pod.
    var manifestFileName: String {
        URL(fileURLWithPath: manifest.source.file.absolute).lastPathComponent
    }

    /// The argv the CronJob's container runs.
    public var podCommand: [String] {
        ["drctl", "backup", "nightly", "-f", "\(Self.podManifestFolder)/\(manifestFileName)"]
    }

    /// The Secret whose keys become the pod's environment: `schedule.environmentSecret`, else
    /// `drctl-backup-<environment>-env`.
    public var environmentSecretName: String { schedule.environmentSecret ?? "\(name)-env" }

    /// The variables the nightly run reads besides the password, which the environment Secret must hold: the
    /// S3 credentials when `backups.s3` is set, the Azure connection string when `backups.azure` is, and every
    /// `{ env: NAME }` a notification target reads its URL or key from.
    public var environmentSecretVariables: [String] {
        var names: [String] = []
        if manifest.backups.s3 != nil {
            names += ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"]
        }
        if manifest.backups.azure != nil { names.append("AZURE_STORAGE_CONNECTION_STRING") }
        var references: [Manifest.SecretReference] = []
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

    /// The pod gets `envFrom` the environment Secret when the run needs variables from it, or the manifest names
    /// the Secret. Not optional: a missing Secret stops the pod before it starts (CreateContainerConfigError,
    /// the Job fails and `drctl status` shows it) instead of a night that cannot upload or notify.
    public var usesEnvironmentSecret: Bool {
        schedule.environmentSecret != nil || !environmentSecretVariables.isEmpty
    }

    /// A ConfigMap with the manifest and a CronJob running `drctl backup nightly` (`concurrencyPolicy: Forbid`,
    /// `timeZone: Etc/UTC`, the password as `DB_PASSWORD` from the Secret reference, the off-site and notification
    /// variables from the environment Secret).
    public func cronJobYAML() throws(ScheduleError) -> String {
        // A CronJob's name is at most 52 characters (its Jobs append 11).
        guard name.count <= 52, name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "-" }) else {
            throw .unusableName(name: name, reason: "a CronJob name is at most 52 lowercase letters, digits and '-'")
        }
        let q = YAMLQuoting.quote
        var yaml = YAMLLines()
        yaml.comment(
            "drctl backup schedule for environment \(manifest.environment): `drctl backup nightly` (create, verify,")
        yaml.comment(
            "sync, prune) at \"\(schedule.backups)\" UTC. Generated by `drctl backup schedule --emit cronjob`.")
        if usesEnvironmentSecret {
            let variables = environmentSecretVariables
            yaml.comment(
                "The pod's environment comes from Secret \(environmentSecretName) (envFrom)"
                    + (variables.isEmpty ? "." : ", which must hold: \(variables.joined(separator: ", ")). E.g.:"))
            if !variables.isEmpty {
                let literals = variables.map { "--from-literal=\($0)=…" }.joined(separator: " ")
                yaml.comment(
                    "  kubectl -n \(manifest.kube.namespace) create secret generic \(environmentSecretName) \(literals)"
                )
            }
        }
        func metadata(_ objectName: String) {
            yaml.add(0, "metadata:")
            yaml.add(1, "name: \(q(objectName))")
            yaml.add(1, "namespace: \(q(manifest.kube.namespace))")
            labels(1)
        }
        func labels(_ level: Int) {
            yaml.add(level, "labels:")
            yaml.add(level + 1, "app.kubernetes.io/name: drctl")
            yaml.add(level + 1, "app.kubernetes.io/component: backup")
            yaml.add(level + 1, "app.kubernetes.io/instance: \(q(manifest.environment))")
        }
        yaml.add(0, "apiVersion: v1")
        yaml.add(0, "kind: ConfigMap")
        metadata("\(name)-manifest")
        yaml.add(0, "data:")
        yaml.add(1, "\(q(manifestFileName)): \(q(manifestText))")
        yaml.add(0, "---")
        yaml.add(0, "apiVersion: batch/v1")
        yaml.add(0, "kind: CronJob")
        metadata(name)
        yaml.add(0, "spec:")
        yaml.add(1, "schedule: \(q(schedule.backups.description))")
        yaml.add(1, "timeZone: Etc/UTC")
        yaml.add(1, "concurrencyPolicy: Forbid")
        yaml.add(1, "startingDeadlineSeconds: 3600")
        yaml.add(1, "successfulJobsHistoryLimit: 3")
        yaml.add(1, "failedJobsHistoryLimit: 5")
        yaml.add(1, "jobTemplate:")
        yaml.add(2, "spec:")
        yaml.add(3, "backoffLimit: 0")
        yaml.add(3, "template:")
        yaml.add(4, "metadata:")
        labels(5)
        yaml.add(4, "spec:")
        yaml.add(5, "restartPolicy: Never")
        yaml.add(5, "containers:")
        yaml.add(6, "- name: backup")
        yaml.add(7, "image: \(q(schedule.image))")
        yaml.add(7, "command: [\(podCommand.map(q).joined(separator: ", "))]")
        yaml.add(7, "env:")
        yaml.add(8, "- name: DB_PASSWORD")
        yaml.add(9, "valueFrom:")
        yaml.add(10, "secretKeyRef:")
        yaml.add(11, "name: \(q(schedule.passwordSecret.name))")
        yaml.add(11, "key: \(q(schedule.passwordSecret.key))")
        if usesEnvironmentSecret {
            yaml.add(7, "envFrom:")
            yaml.add(8, "- secretRef:")
            yaml.add(10, "name: \(q(environmentSecretName))")
        }
        yaml.add(7, "volumeMounts:")
        yaml.add(8, "- name: manifest")
        yaml.add(9, "mountPath: \(q(Self.podManifestFolder))")
        yaml.add(9, "readOnly: true")
        if schedule.volumeClaim != nil {
            yaml.add(8, "- name: backups")
            yaml.add(9, "mountPath: \(q(manifest.backups.local.absolute))")
        }
        yaml.add(5, "volumes:")
        yaml.add(6, "- name: manifest")
        yaml.add(7, "configMap:")
        yaml.add(8, "name: \(q("\(name)-manifest"))")
        if let claim = schedule.volumeClaim {
            yaml.add(6, "- name: backups")
            yaml.add(7, "persistentVolumeClaim:")
            yaml.add(8, "claimName: \(q(claim))")
        }
        return yaml.text
    }

    // MARK: systemd and cron

    /// The argv run on the host.
    public var hostCommand: [String] {
        [drctlPath, "backup", "nightly", "-f", manifest.source.file.absolute]
    }

    public func systemdService() -> String {
        """
        # drctl backup schedule for environment \(manifest.environment). Generated by
        # `drctl backup schedule --emit systemd`; install with its .timer and `systemctl enable --now \(name).timer`.
        [Unit]
        Description=drctl nightly backup (\(manifest.environment)): create, verify, sync, prune
        Wants=network-online.target
        After=network-online.target

        [Service]
        Type=oneshot
        # The variables drctl reads (keep the file mode 0600): \(hostVariables.isEmpty ? "none" : hostVariables.joined(separator: ", ")).
        EnvironmentFile=-\(SystemdQuoting.escapeSpecifiers(environmentFile))
        ExecStart=\(hostCommand.map(SystemdQuoting.quote).joined(separator: " "))

        """
    }

    public func systemdTimer() throws(ScheduleError) -> String {
        """
        # drctl backup schedule for environment \(manifest.environment): cron "\(schedule.backups)" in UTC.
        [Unit]
        Description=drctl nightly backup schedule (\(manifest.environment))

        [Timer]
        OnCalendar=\(try SystemdCalendar.onCalendar(for: schedule.backups))
        Persistent=true
        RandomizedDelaySec=0
        Unit=\(name).service

        [Install]
        WantedBy=timers.target

        """
    }

    /// `CRON_TZ=UTC` and the schedule line; `%` escaped, since cron turns it into a newline. When the run needs
    /// secrets, the line sources the 0600 environment file (`environmentFile`, the one the systemd unit reads;
    /// its template is emitted beside the crontab) with `set -a`, so they reach drctl and never the crontab.
    public func crontab() -> String {
        var command = ShellQuoting.join(hostCommand)
        var needs = "needs no secrets"
        if !hostVariables.isEmpty {
            command = "set -a && . \(ShellQuoting.quote(environmentFile)) && set +a && exec " + command
            needs =
                "reads \(hostVariables.joined(separator: ", ")) from \(environmentFile) (mode 0600; "
                + "template: \(name).env)"
        }
        command = command.replacingOccurrences(of: "%", with: "\\%")
        return """
            # drctl backup schedule for environment \(manifest.environment). Generated by
            # `drctl backup schedule --emit cron`; the run \(needs).
            CRON_TZ=UTC
            \(schedule.backups) \(command)

            """
    }
}

/// YAML double-quoted scalars: JSON string syntax is valid YAML, so every value from the manifest is quoted and
/// escaped and none can add keys or documents.
enum YAMLQuoting {
    static func quote(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        guard let data = try? encoder.encode(text), let quoted = String(data: data, encoding: .utf8) else {
            return "\"\""
        }
        return quoted
    }
}

/// YAML text built line by line, two spaces per level.
struct YAMLLines {
    private var lines: [String] = []

    mutating func add(_ level: Int, _ text: String) {
        lines.append(String(repeating: "  ", count: level) + text)
    }

    mutating func comment(_ text: String) {
        lines.append("# " + text)
    }

    var text: String { lines.joined(separator: "\n") + "\n" }
}

/// systemd's own command-line quoting (systemd.service "Command lines"): `%` and `$` doubled, words with spaces
/// or quotes double-quoted with `\` escapes.
enum SystemdQuoting {
    static func escapeSpecifiers(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%%").replacingOccurrences(of: "$", with: "$$")
    }

    static func quote(_ word: String) -> String {
        let escaped = escapeSpecifiers(word)
        let plain =
            !word.isEmpty
            && word.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "/._-+=:,@%$".contains($0)) }
        if plain { return escaped }
        return "\""
            + escaped.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            + "\""
    }
}

/// Converts a cron schedule into a systemd `OnCalendar=` expression in UTC.
public enum SystemdCalendar {
    /// `0 2 * * *` → `*-*-* 02:00:00 UTC`; `30 1 * * 1-5` → `Mon,Tue,Wed,Thu,Fri *-*-* 01:30:00 UTC`.
    public static func onCalendar(for cron: CronSchedule) throws(ScheduleError) -> String {
        if cron.dayOfMonth != "*" && cron.dayOfWeek != "*" {
            // cron runs when EITHER matches, systemd when BOTH do: no faithful translation.
            throw .notExpressible(
                schedule: cron.description,
                reason: "cron reads a day of month together with a day of week as 'either', systemd as 'both';"
                    + " restrict only one of them")
        }
        let ranges = CronSchedule.ranges.map(\.range)
        let minute = expand(cron.minute, ranges[0], width: 2)
        let hour = expand(cron.hour, ranges[1], width: 2)
        let day = expand(cron.dayOfMonth, ranges[2], width: 2)
        let month = expand(cron.month, ranges[3], width: 2)
        var text = ""
        if cron.dayOfWeek != "*" {
            let names = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
            let days = Set(numbers(cron.dayOfWeek, range: ranges[4]).map { $0 % 7 }).sorted()
            text += days.map { names[$0] }.joined(separator: ",") + " "
        }
        return text + "*-\(month)-\(day) \(hour):\(minute):00 UTC"
    }

    private static func expand(_ field: String, _ range: ClosedRange<Int>, width: Int) -> String {
        if field == "*" { return "*" }
        return numbers(field, range: range).map { String(format: "%0\(width)d", $0) }.joined(separator: ",")
    }

    /// Every number a (validated) cron field matches, ascending.
    static func numbers(_ field: String, range: ClosedRange<Int>) -> [Int] {
        var result = Set<Int>()
        for part in field.split(separator: ",") {
            let stepParts = part.split(separator: "/")
            let step = stepParts.count == 2 ? Int(stepParts[1]) ?? 1 : 1
            let base = stepParts[0]
            var bounds = range
            if base != "*" {
                let ends = base.split(separator: "-").compactMap { Int($0) }
                guard let low = ends.first, let high = ends.last else { continue }
                bounds = low...high
            }
            result.formUnion(stride(from: bounds.lowerBound, through: bounds.upperBound, by: max(step, 1)))
        }
        return result.sorted()
    }
}

/// Applies the emitted CronJob with kubectl's server-side apply, so applying it again changes nothing.
public struct BackupScheduleApplier: Sendable {
    public var runner: any CommandRunning
    public var kubectl: Kubectl

    public init(runner: any CommandRunning, kubectl: Kubectl) {
        self.runner = runner
        self.kubectl = kubectl
    }

    /// Writes `yaml` to a private temporary file, runs `kubectl apply --server-side -f FILE`, removes the file and
    /// returns kubectl's output (`cronjob.batch/drctl-backup-production serverside-applied`).
    public func apply(yaml: String) async throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "drctl-schedule-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("cronjob.yaml").path
        guard
            FileManager.default.createFile(
                atPath: file, contents: Data(yaml.utf8), attributes: [.posixPermissions: 0o600])
        else {
            throw ScheduleError.unreadableStatus(source: file, detail: "could not write the CronJob file")
        }
        let result = try await runner.run(kubectl.apply(file: file, serverSide: true)).checked()
        return String(decoding: result.standardOutput, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
