import ArgumentParser
import DrctlCore
import Foundation

struct BackupScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Emit (or apply) the nightly backup schedule: a Kubernetes CronJob, systemd units or a crontab line.",
        discussion: """
            Reads the manifest's schedule section (cron schedule in UTC, drctl image, password Secret) and writes \
            what runs `drctl backup nightly` (create, verify, sync, prune; stops at the first failure) at that \
            time. cronjob: a ConfigMap with the manifest and a CronJob (concurrencyPolicy Forbid, timeZone \
            Etc/UTC, DB_PASSWORD from the Secret via secretKeyRef). systemd: a .service and a .timer \
            (Persistent=true, RandomizedDelaySec=0). cron: a crontab line with CRON_TZ=UTC.

            On a host (systemd, cron) the secrets the run reads (the database password variable, the S3 or Azure \
            credentials, notification keys) come from one environment file, /etc/drctl/ENVIRONMENT.env, mode \
            0600: the systemd unit names it as EnvironmentFile=, the crontab line sources it (set -a; . FILE) \
            before it runs drctl, so no secret is in the crontab. Its template (NAME= lines to fill in) is \
            emitted beside the units or the crontab as drctl-backup-ENVIRONMENT.env; with --output-dir it is \
            written with mode 0600 and never overwritten.

            Examples:
              drctl backup schedule -f manifests/production.yaml --emit cronjob
              drctl backup schedule -f manifests/production.yaml --emit cronjob --apply
              drctl backup schedule -f manifests/production.yaml --emit systemd \\
                --output-dir /etc/systemd/system
              drctl backup schedule -f manifests/production.yaml --emit cron --output-dir ~/drctl-cron
              install -m 0600 ~/drctl-cron/drctl-backup-production.env /etc/drctl/production.env  # fill it in
              (crontab -l; cat ~/drctl-cron/drctl-backup-production.crontab) | crontab -
            """
    )

    @Option(name: [.customShort("f"), .long], help: "The environment's manifest, e.g. manifests/production.yaml.")
    var file: String

    @Option(help: "What to write: cronjob, systemd or cron.")
    var emit: BackupScheduleFormat

    @Flag(help: "Apply the CronJob to the manifest's cluster (kubectl apply --server-side) instead of printing it.")
    var apply = false

    @Option(help: "Write the files into this folder instead of printing them.")
    var outputDir: String?

    @Option(help: "Where drctl is installed on the host, for systemd and cron.")
    var drctlPath: String = "/usr/local/bin/drctl"

    func validate() throws {
        if apply && emit != .cronjob {
            throw ValidationError("--apply applies a Kubernetes CronJob: use it with --emit cronjob.")
        }
        if apply && outputDir != nil { throw ValidationError("--apply and --output-dir exclude each other.") }
        guard drctlPath.hasPrefix("/") else { throw ValidationError("--drctl-path must be an absolute path.") }
    }

    func run() async throws {
        let toolbox = try BackupSetup.toolbox(manifestPath: file, needsPassword: false)
        let manifest = toolbox.manifest
        let text: String
        do {
            text = try String(contentsOfFile: manifest.source.file.absolute, encoding: .utf8)
        } catch {
            throw ManifestError.unreadable(path: file, reason: error.localizedDescription)
        }
        let emitter = try BackupScheduleEmitter(manifest: manifest, manifestText: text, drctlPath: drctlPath)
        if apply {
            let output = try await BackupScheduleApplier(runner: CommandRunner(), kubectl: toolbox.kubectl).apply(
                yaml: try emitter.cronJobYAML())
            StandardStreams.out(output)
            return
        }
        let files = try emitter.emit(emit)
        if let outputDir {
            for file in files {
                let path = URL(fileURLWithPath: outputDir).appendingPathComponent(file.name).path
                if file.isPrivate {
                    // The template is filled with secrets in place: private from the start, never overwritten.
                    guard !FileManager.default.fileExists(atPath: path) else {
                        StandardStreams.out("kept \(path) (it exists and may hold the secrets already)")
                        continue
                    }
                    guard
                        FileManager.default.createFile(
                            atPath: path, contents: Data(file.contents.utf8), attributes: [.posixPermissions: 0o600])
                    else {
                        throw ScheduleError.unreadableStatus(source: path, detail: "could not write the file")
                    }
                } else {
                    try Data(file.contents.utf8).write(to: URL(fileURLWithPath: path))
                }
                StandardStreams.out("wrote \(path)\(file.isPrivate ? " (mode 0600)" : "")")
            }
            return
        }
        for (index, file) in files.enumerated() {
            if files.count > 1 { StandardStreams.out((index > 0 ? "\n" : "") + "# ---- \(file.name)") }
            StandardStreams.out(String(file.contents.dropLast(file.contents.hasSuffix("\n") ? 1 : 0)))
        }
    }
}

extension BackupScheduleFormat: ExpressibleByArgument {}
