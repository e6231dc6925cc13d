import Foundation

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
