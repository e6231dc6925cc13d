import DrctlCore
import Foundation

/// Builds the notifier for a manifest's `notifications`: problems (a secret that cannot be read) and failed
/// deliveries go to stderr, never into the run's outcome.
enum NotificationSetup {
    /// nil when the manifest names no targets (or none could be set up).
    static func notifier(for manifest: Manifest) -> Notifier? {
        guard !manifest.notifications.isEmpty else { return nil }
        let (channels, problems) = NotificationChannels().channels(for: manifest)
        for problem in problems { StandardStreams.err(problem) }
        guard !channels.isEmpty else { return nil }
        return Notifier(channels: channels, report: { StandardStreams.err($0) })
    }

    /// The manifest a run was built from (its `manifest` parameter), for its notification targets; nil (with a
    /// warning that notifications are off) when it cannot be read.
    static func manifest(at manifestPath: String?) -> Manifest? {
        guard let manifestPath else { return nil }
        do {
            return try ManifestLoader().load(from: manifestPath)
        } catch {
            StandardStreams.err("warning: notifications are off for this run: \(error.localizedDescription)")
            return nil
        }
    }
}
