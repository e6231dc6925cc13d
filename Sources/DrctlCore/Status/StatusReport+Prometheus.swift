import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension StatusReport {
    /// The node exporter's textfile-collector format: gauges for backup age, last verification, last drill and
    /// each check's verdict, labelled with the environment. An unknown time is left out, not written as 0.
    public var prometheusText: String {
        let environment = Self.labelValue(self.environment)
        var lines: [String] = []
        func gauge(_ name: String, _ help: String, _ samples: [(labels: String, value: Double)]) {
            lines.append("# HELP \(name) \(help)")
            lines.append("# TYPE \(name) gauge")
            for sample in samples { lines.append("\(name){\(sample.labels)} \(Self.number(sample.value))") }
        }
        let base = "environment=\"\(environment)\""
        gauge(
            "drctl_backup_newest_age_seconds", "Age of the newest backup in the local catalog.",
            metrics.newestBackupAgeSeconds.map { [(base, $0)] } ?? [])
        gauge(
            "drctl_backup_newest_timestamp_seconds", "When the newest backup was taken (Unix time).",
            metrics.newestBackupAt.map { [(base, $0.timeIntervalSince1970)] } ?? [])
        gauge(
            "drctl_backup_last_verified_timestamp_seconds", "When a backup last passed verification (Unix time).",
            metrics.lastVerifiedAt.map { [(base, $0.timeIntervalSince1970)] } ?? [])
        gauge(
            "drctl_gameday_last_success_timestamp_seconds", "When the last game day succeeded (Unix time).",
            metrics.lastDrillAt.map { [(base, $0.timeIntervalSince1970)] } ?? [])
        gauge(
            "drctl_status_check_passed", "1 when the checklist check passed, 0 when it failed.",
            checks.map { ("\(base),check=\"\(Self.labelValue($0.id))\"", $0.result == .pass ? 1 : 0) })
        gauge(
            "drctl_status_checked_timestamp_seconds", "When drctl status ran (Unix time).",
            [
                (base, checkedAt.timeIntervalSince1970)
            ])
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `prometheusText` to `path` atomically (a temporary file renamed over it), as the textfile collector
    /// needs: it must never read a half-written file.
    public func writePrometheus(to path: String) throws(StatusError) {
        let temporary = path + ".\(ProcessInfo.processInfo.processIdentifier).tmp"
        do {
            try Data(prometheusText.utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                throw CocoaError(
                    .fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw .metricsNotWritten(path: path, reason: error.localizedDescription)
        }
    }

    static func labelValue(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
