import Foundation

/// What `drctl plan` shows for a data-plane Job: the kubectl command lines `run` / `runIndexed` execute, built by
/// the same invocation builders (`statusInvocation`, `secretInvocation`, `createInvocation`, …), so the plan and
/// the run cannot drift apart (`--kubeconfig`, `--context` and `--namespace` included).
extension JobRunner {
    /// The Job as a plan describes it: the parts a command line cannot show.
    public struct PlanNotes: Sendable {
        /// What drctl's Secret holds (its values are never shown): `DB_PASSWORD and the AWS_*/AZURE_* variables set here`.
        public var secretHolds: String
        /// After the Job's image and command: where its password comes from, what it mounts, …
        public var detail: String
        /// What runs in the pod, one line each (printed as `  in the Job: …`).
        public var inPod: [String]
        /// What the pod's verdict reports (`SHA-256, bytes, pg_dump and gzip status`).
        public var verdict: String

        public init(secretHolds: String, detail: String, inPod: [String], verdict: String) {
            self.secretHolds = secretHolds
            self.detail = detail
            self.inPod = inPod
            self.verdict = verdict
        }
    }

    /// Every invocation `run(job, secret:…)` starts, in the order it first starts each (the status read repeats
    /// while the Job runs, the log follow when it ends early). `runIndexed` reads each pod's log (`kubectl logs
    /// POD`) every poll instead of following the Job's.
    public func plannedInvocations(_ job: DataPlaneJob, secret: KubernetesSecretObject?, pod: String? = nil) throws
        -> [CommandInvocation]
    {
        let remove = removeInvocations(job.name, secret: secret?.metadata.name)
        return [statusInvocation(job.name)] + (try secret.map { [try secretInvocation($0)] } ?? [])
            + [try createInvocation(job), statusInvocation(job.name)]
            + (job.indexed == nil
                ? [followInvocation(job.name), podsInvocation(job.name), logsInvocation(job.name)]
                : [podsInvocation(job.name), podLogsInvocation(pod ?? "<pod>")])
            + [remove.job] + (remove.secret.map { [$0] } ?? [])
    }

    /// The plan's lines for `job`: the RBAC (`rbac`, once, by a cluster admin), then each command of
    /// `plannedInvocations` with what it is for, and the pod's work (`notes.inPod`) after the Job's creation.
    public func plannedCommands(
        _ job: DataPlaneJob, secret: KubernetesSecretObject?, notes: PlanNotes, rbac: [DataPlaneRBAC] = [.jobs]
    ) -> [String] {
        var lines = rbac.flatMap { $0.planLines(kubectl: kubectl) }
        let indexed = job.indexed != nil
        let pod = indexed ? "<pod>" : nil
        guard let planned = try? plannedInvocations(job, secret: secret, pod: pod) else { return lines }
        var rest = planned[...]
        func next() -> CommandInvocation? { rest.popFirst() }
        func withoutInput(_ invocation: CommandInvocation) -> String {
            var copy = invocation
            copy.standardInput = .none
            return copy.redactedCommandLine
        }
        if let probe = next() {
            lines.append(
                probe.redactedCommandLine + "  (a Job \(job.name) an interrupted attempt started is followed instead"
                    + " of created)")
        }
        if let secret, let apply = next() {
            lines.append(
                withoutInput(apply) + " <<< Secret \(secret.metadata.name ?? job.name) (\(notes.secretHolds);"
                    + " on stdin, never argv)")
        }
        if let create = next() {
            var shape = ""
            if let indexed = job.indexed {
                shape =
                    "completionMode Indexed, completions \(indexed.completions), parallelism \(indexed.parallelism),"
                    + " backoffLimitPerIndex 0; "
            }
            lines.append(
                withoutInput(create) + " <<< Job \(job.name): \(job.image) \(job.commandLine) (\(shape)"
                    + notes.detail + ")")
        }
        lines += notes.inPod.map { "  in the Job: " + $0 }
        if let status = next() {
            lines.append(
                status.redactedCommandLine
                    + "  (every \(pollInterval.manifestText) until the Job is Complete or Failed)")
        }
        if indexed, let pods = next(), let logs = next() {
            lines.append(
                pods.redactedCommandLine + "  (each pod's state, completion index and verdict: \(notes.verdict))")
            lines.append(logs.redactedCommandLine + "  (each pod's new lines into the run's output, as [shard N])")
        } else if let follow = next(), let pods = next(), let logs = next() {
            lines.append(
                follow.redactedCommandLine + "  (while the Job runs: each line into the run's output as [job], once;"
                    + " started again when it ends before the Job)")
            lines.append(
                pods.redactedCommandLine
                    + "  (the pod's state; its termination message is the verdict: \(notes.verdict))")
            lines.append(
                logs.redactedCommandLine + "  (once the Job has ended: the lines the follow missed, the log tail)")
        }
        lines += rest.map(\.redactedCommandLine)
        return lines
    }
}
