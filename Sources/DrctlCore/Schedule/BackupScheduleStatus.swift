import Foundation

/// Whether the nightly backup schedule exists and when it last succeeded, for `drctl status`.
public struct BackupScheduleState: Sendable, Hashable, Codable {
    /// `cronjob production/drctl-backup-production` or `systemd drctl-backup-production.timer`.
    public var source: String
    public var exists: Bool
    /// Suspended CronJob or inactive timer: it exists but will not run.
    public var active: Bool
    public var lastScheduled: Date?
    /// nil when it never succeeded or the source does not say.
    public var lastSucceeded: Date?

    public init(source: String, exists: Bool, active: Bool, lastScheduled: Date? = nil, lastSucceeded: Date? = nil) {
        self.source = source
        self.exists = exists
        self.active = active
        self.lastScheduled = lastScheduled
        self.lastSucceeded = lastSucceeded
    }

    /// One line: `cronjob production/drctl-backup-production: active, last succeeded 2026-11-25T02:00:41Z`.
    public var text: String {
        guard exists else { return "\(source): not found (create it with `drctl backup schedule --apply`)" }
        let formatter = ISO8601DateFormatter()
        var parts = [active ? "active" : "suspended"]
        parts.append(lastSucceeded.map { "last succeeded \(formatter.string(from: $0))" } ?? "never succeeded")
        return "\(source): " + parts.joined(separator: ", ")
    }
}

/// Reads the schedule's state: the CronJob's `status.lastSuccessfulTime` through `kubectl get cronjob -o json`, or
/// the timer's state through `systemctl show`.
public struct BackupScheduleStatus: Sendable {
    public var runner: any CommandRunning

    public init(runner: any CommandRunning) {
        self.runner = runner
    }

    /// The CronJob `drctl backup schedule --apply` creates for `manifest`.
    public func cronJob(manifest: Manifest, kubectl: Kubectl) async throws -> BackupScheduleState {
        let name = "drctl-backup-\(manifest.environment.lowercased())"
        let source = "cronjob \(manifest.kube.namespace)/\(name)"
        let result = try await runner.run(kubectl.getCronJob(name))
        if Kubectl.isNotFound(result) { return BackupScheduleState(source: source, exists: false, active: false) }
        let output = try result.checked().standardOutput
        return try Self.parseCronJob(output, source: source)
    }

    /// The systemd timer `drctl backup schedule --emit systemd` writes for `manifest`.
    public func systemdTimer(manifest: Manifest, systemctl: Systemctl = Systemctl()) async throws
        -> BackupScheduleState
    {
        let name = "drctl-backup-\(manifest.environment.lowercased())"
        let source = "systemd \(name).timer"
        let timer = try await runner.run(systemctl.show("\(name).timer", properties: ["LoadState", "ActiveState"]))
            .checked()
        let service = try await runner.run(
            systemctl.show(
                "\(name).service", properties: ["Result", "ExecMainStatus", "ExecMainExitTimestamp"],
                utcTimestamps: true)
        ).checked()
        return Self.parseSystemd(
            timer: String(decoding: timer.standardOutput, as: UTF8.self),
            service: String(decoding: service.standardOutput, as: UTF8.self), source: source)
    }

    public static func parseCronJob(_ data: Data, source: String) throws -> BackupScheduleState {
        struct CronJob: Decodable {
            struct Spec: Decodable { var suspend: Bool? }
            struct Status: Decodable {
                var lastScheduleTime: String?
                var lastSuccessfulTime: String?
            }
            var spec: Spec?
            var status: Status?
        }
        let cronJob: CronJob
        do {
            cronJob = try JSONDecoder().decode(CronJob.self, from: data)
        } catch {
            throw ScheduleError.unreadableStatus(source: source, detail: "kubectl printed no CronJob JSON (\(error))")
        }
        let formatter = ISO8601DateFormatter()
        return BackupScheduleState(
            source: source, exists: true, active: !(cronJob.spec?.suspend ?? false),
            lastScheduled: cronJob.status?.lastScheduleTime.flatMap(formatter.date(from:)),
            lastSucceeded: cronJob.status?.lastSuccessfulTime.flatMap(formatter.date(from:)))
    }

    /// `systemctl show` prints `Key=Value` lines. A service whose last run exited 0 (`Result=success`,
    /// `ExecMainStatus=0`) succeeded at `ExecMainExitTimestamp` (`Wed 2026-11-25 02:00:41 UTC`).
    public static func parseSystemd(timer: String, service: String, source: String) -> BackupScheduleState {
        func properties(_ text: String) -> [String: String] {
            var values: [String: String] = [:]
            for line in text.split(separator: "\n") {
                guard let equals = line.firstIndex(of: "=") else { continue }
                values[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            return values
        }
        let timerProperties = properties(timer)
        let serviceProperties = properties(service)
        let exists = timerProperties["LoadState"] == "loaded"
        let active = timerProperties["ActiveState"] == "active"
        var lastSucceeded: Date?
        if serviceProperties["Result"] == "success", serviceProperties["ExecMainStatus"] == "0",
            let stamp = serviceProperties["ExecMainExitTimestamp"], !stamp.isEmpty
        {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "EEE yyyy-MM-dd HH:mm:ss 'UTC'"
            lastSucceeded = formatter.date(from: stamp)
        }
        return BackupScheduleState(source: source, exists: exists, active: active, lastSucceeded: lastSucceeded)
    }
}
