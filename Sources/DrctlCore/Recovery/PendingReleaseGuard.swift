import Foundation

/// Makes `helm upgrade --install` safe to run again after drctl was killed while helm was installing: helm then
/// leaves the release `pending-install`/`pending-upgrade`, and every later helm operation refuses ("another
/// operation is in progress"). Before helm runs, the revision it starts from is written to the run's scratch
/// folder; on the next attempt, a pending revision exactly one above that record is this run's own, and only
/// that revision's record is deleted (guarded by its status label). A pending revision drctl did not start is
/// refused with what to do, never touched.
public struct PendingReleaseGuard: Sendable {
    public var helm: Helm
    public var kubectl: Kubectl
    public var release: String
    /// The run's scratch folder, which survives an interruption.
    public var folder: String
    /// How long a pending release may still be finishing (an orphaned helm) before it counts as abandoned.
    public var settleTime: Duration

    public init(helm: Helm, kubectl: Kubectl, release: String, folder: String, settleTime: Duration = .seconds(30)) {
        self.helm = helm
        self.kubectl = kubectl
        self.release = release
        self.folder = folder
        self.settleTime = settleTime
    }

    var markerPath: String { folder + "/\(release).helm-started-from" }

    public func prepare(context: StepContext) async throws {
        // The helm of a killed drctl may still be running (children outlive their parent): give it time to
        // finish before deciding that its pending revision is abandoned. Polled once a second for `settleTime`.
        let settle = RetryPolicy(
            attempts: Int(settleTime.components.seconds) + 1, backoff: .seconds(1), multiplier: 1)
        var current: HelmReleaseStatus?
        do {
            current = try await settle.run(clock: context.clock) { attempt in
                let current = try await status(context: context)
                guard let pending = current, pending.status.hasPrefix("pending-") else { return .finished(current) }
                if attempt == 1 {
                    context.log("\(release) is \(pending.status); waiting up to \(settleTime) for it to settle")
                }
                return .tryAgain(reason: "", failure: StillPending(status: pending))
            }
        } catch let stillPending as StillPending {
            current = stillPending.status
        }
        if let pending = current, pending.status.hasPrefix("pending-") {
            let recorded = (try? String(contentsOfFile: markerPath, encoding: .utf8))
                .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            guard let recorded, pending.revision == recorded + 1 else {
                throw ScenarioError.releasePending(release: release, revision: pending.revision, status: pending.status)
            }
            try await Self.deleteRecord(
                of: pending.revision, status: pending.status, release: release, kubectl: kubectl,
                why: "was left \(pending.status) by this run's interrupted helm", context: context)
            current = try await status(context: context)
        }
        try RunScratch.writePrivate(String(current?.revision ?? 0), to: markerPath)
    }

    /// Deletes only the helm record of `revision` of `release`, guarded by its `status` label (a revision that
    /// moved on in the meantime is not matched), and says so with `why`.
    static func deleteRecord(
        of revision: Int, status: String, release: String, kubectl: Kubectl, why: String, context: StepContext
    ) async throws {
        let delete = kubectl.deleteHelmReleaseRecord(release: release, revision: String(revision), status: status)
        context.log(
            "\(release) revision \(revision) \(why); deleting only that record: \(delete.redactedCommandLine)")
        try await context.runner.runChecked(delete)
    }

    /// nil when the release does not exist.
    private func status(context: StepContext) async throws -> HelmReleaseStatus? {
        let result = try await context.runner.run(helm.status(release: release))
        if Helm.isReleaseNotFound(result) { return nil }
        return try Helm.parseStatus(try result.checked().standardOutput)
    }

    /// The release was still pending when the settle time ran out.
    private struct StillPending: Error {
        var status: HelmReleaseStatus
    }
}
