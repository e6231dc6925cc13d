import Foundation

/// Runs one data-plane Job to its end and reads its verdict: drctl stays the conductor while the data moves
/// inside the cluster.
///
/// The Job's name is deterministic (`drctl-<run id>-<step>`), so a resumed step finds the Job its killed
/// attempt started and follows that one instead of starting a second. The Secret it reads (the password and
/// the off-site credentials, when the manifest names no Secret of its own) goes to kubectl on stdin, never into
/// argv, the Job spec or the journal. While the Job runs, its pod's new log lines go to the run's output; when
/// it ends, its verdict is read from the termination message (else the log's last verdict line), the Job and
/// its Secret are deleted, and a failed Job becomes an error with its log tail and the failure's exit code.
public struct JobRunner: Sendable {
    public var kubectl: Kubectl
    public var runner: any CommandRunning
    /// How often the Job's status is read, and how soon a log follow that ended before the Job is started again.
    public var pollInterval: Duration
    /// How many polls a pod may wait in a state that does not heal by itself (`CreateContainerConfigError`,
    /// `ErrImagePull`, …) before the Job is given up.
    public var stuckPolls: Int

    public init(
        kubectl: Kubectl, runner: any CommandRunning = CommandRunner(), pollInterval: Duration = .seconds(1),
        stuckPolls: Int = 60
    ) {
        self.kubectl = kubectl
        self.runner = runner
        self.pollInterval = pollInterval
        self.stuckPolls = stuckPolls
    }

    var namespace: String { kubectl.target.namespace ?? "default" }

    /// `drctl-<run id>-<step>`: `backup.create` of run `20261206-150102-ab12` is
    /// `drctl-20261206-150102-ab12-backup-create` (a DNS label: lowercase, '-', at most 63 characters).
    public static func jobName(runID: String, step: StepID) -> String {
        let raw = "drctl-\(runID)-\(step.rawValue)".lowercased()
        var name = String(raw.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "-" })
        if name.count > 63 { name = String(name.prefix(63)) }
        while name.hasSuffix("-") { name.removeLast() }
        return name
    }

    /// `jobName` as a plan shows it, before the run has an id: `drctl-<run>-backup-create`.
    public static func plannedJobName(step: StepID) -> String {
        let sample = "00000000-000000-0000"
        return jobName(runID: sample, step: step).replacingOccurrences(of: sample, with: "<run>")
    }

    /// The labels every data-plane Job and its Secret carry.
    public static func labels(runID: String, step: StepID) -> [String: String] {
        ["app.kubernetes.io/managed-by": "drctl", "drctl.valeo.io/run": runID, "drctl.valeo.io/step": step.rawValue]
    }

    /// What the run learns while the Job runs.
    public struct Progress: Sendable {
        public var log: @Sendable (String) -> Void
        public init(log: @escaping @Sendable (String) -> Void) { self.log = log }
    }

    /// Creates the Job (and `secret`, when given) unless it exists already, follows it to its end, deletes it
    /// and returns its verdict. Throws `DataPlaneJobError.jobFailed` with the log tail when it failed.
    public func run(_ job: DataPlaneJob, secret: KubernetesSecretObject?, progress: Progress) async throws
        -> AgentVerdict
    {
        try await start(job, secret: secret, progress: progress)
        let outcome = try await follow(job.name, progress: progress)
        try await remove(job.name, secret: secret?.metadata.name)
        return try verdict(of: outcome, job: job.name)
    }

    /// Creates the Job (and `secret`) unless a Job of its name is there already: then that one, started by an
    /// earlier attempt, is the one to follow.
    func start(_ job: DataPlaneJob, secret: KubernetesSecretObject?, progress: Progress) async throws {
        if try await status(of: job.name) != nil {
            progress.log("Job \(job.name) is already there (started by an earlier attempt): following it")
        } else {
            if let secret { try await check(try secretInvocation(secret), job: job.name, action: "create its Secret") }
            try await check(try createInvocation(job), job: job.name, action: "create it")
            progress.log("Job \(job.name) created in namespace \(namespace): \(job.image) \(job.commandLine)")
        }
    }

    /// Deletes the Job (its pods first) and the Secret drctl made for it.
    public func remove(_ job: String, secret: String?) async throws {
        let (deleteJob, deleteSecret) = removeInvocations(job, secret: secret)
        try await check(deleteJob, job: job, action: "delete it")
        if let deleteSecret { try await check(deleteSecret, job: job, action: "delete its Secret") }
    }

    // MARK: - Following

    struct Outcome {
        var succeeded: Bool
        var exitCode: Int32?
        var terminationMessage: String?
        var log: String
    }

    /// Follows the Job to its end: its pod's log through one `kubectl logs -f` child (`JobLogFollower`), its
    /// status read every `pollInterval`; then the complete log, once, for the lines the follow missed and the
    /// verdict.
    private func follow(_ name: String, progress: Progress) async throws -> Outcome {
        let follower = JobLogFollower(
            invocation: followInvocation(name), runner: runner, restartDelay: pollInterval, emit: progress.log)
        follower.start()
        do {
            let outcome = try await waitForEnd(name)
            let finalLog = await currentLog(name)
            await follower.finish(with: finalLog)
            return Outcome(
                succeeded: outcome.status.isComplete, exitCode: outcome.pod?.terminated?.exitCode,
                terminationMessage: outcome.pod?.terminated?.message, log: finalLog)
        } catch {
            await follower.finish(with: nil)
            throw error
        }
    }

    /// Reads the Job's status every `pollInterval` until it is Complete or Failed; gives up on a pod stuck in a
    /// state that waits for a person.
    private func waitForEnd(_ name: String) async throws -> (status: JobStatus, pod: JobPod?) {
        var stuck = 0
        while true {
            try Task.checkCancellation()
            guard let status = try await status(of: name) else {
                throw DataPlaneJobError.kubectlFailed(
                    job: name, action: "read it", detail: "the Job disappeared while drctl followed it")
            }
            if status.isFinished { return (status, try await pod(of: name)) }
            if status.active == 0, let waiting = try await pod(of: name)?.waiting,
                Self.stuckReasons.contains(waiting.reason)
            {
                stuck += 1
                if stuck >= stuckPolls {
                    throw DataPlaneJobError.podNotStarting(
                        job: name, namespace: namespace, reason: waiting.reason, message: waiting.message ?? "")
                }
            } else {
                stuck = 0
            }
            try await Task.sleep(for: pollInterval)
        }
    }

    /// Container states that wait for a person, not for time.
    static let stuckReasons: Set<String> = [
        "CreateContainerConfigError", "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerError",
    ]

    /// Sends the log lines after the first `printed` to the run's output; returns how many lines are out now.
    func emit(_ log: String, after printed: Int, progress: Progress, prefix: String = "[job] ") -> Int {
        var lines = log.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        guard lines.count > printed else { return printed }
        for line in lines[printed...] where !line.hasPrefix(AgentVerdict.marker) {
            progress.log(prefix + line)
        }
        return lines.count
    }

    private func currentLog(_ name: String) async -> String {
        guard let result = try? await runner.run(logsInvocation(name)), result.succeeded else { return "" }
        return result.output
    }

    func verdict(of outcome: Outcome, job: String) throws -> AgentVerdict {
        let verdict =
            outcome.terminationMessage.flatMap(AgentVerdict.parse) ?? AgentVerdict.parse(outcome.log)
        let lines = outcome.log.split(separator: "\n").filter { !$0.hasPrefix(AgentVerdict.marker) }
        let tail = lines.suffix(20).joined(separator: "\n")
        guard outcome.succeeded, let verdict, verdict.succeeded else {
            if outcome.succeeded, verdict == nil {
                throw DataPlaneJobError.verdictMissing(job: job, namespace: namespace, logTail: tail)
            }
            throw DataPlaneJobError.jobFailed(
                job: job, namespace: namespace, exitCode: outcome.exitCode, verdict: verdict, logTail: tail)
        }
        return verdict
    }

    // MARK: - kubectl

    // What the runner runs, built in one place: `run` and `plannedCommands` (what `drctl plan` shows) read these.

    /// `kubectl get job NAME -o json`: the Job's status, and whether an earlier attempt's Job is there.
    func statusInvocation(_ name: String) -> CommandInvocation { kubectl.get("job", name) }

    /// `kubectl apply --server-side -f -` with the Secret on stdin, its values redacted in every rendering.
    func secretInvocation(_ secret: KubernetesSecretObject) throws -> CommandInvocation {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let values = secret.data.values.compactMap {
            Data(base64Encoded: $0).map { String(decoding: $0, as: UTF8.self) }
        }
        return kubectl.applyServerSide(json: try encoder.encode(secret), secrets: values + Array(secret.data.values))
    }

    /// `kubectl create -f -` with the Job's JSON on stdin.
    func createInvocation(_ job: DataPlaneJob) throws -> CommandInvocation {
        kubectl.create(json: try job.json(namespace: namespace))
    }

    /// `kubectl logs job/NAME`: the log of the Job's pod, read once when the Job has ended.
    func logsInvocation(_ name: String) -> CommandInvocation { kubectl.jobLogs(name) }

    /// `kubectl logs -f job/NAME`: followed while the Job runs (`JobLogFollower`).
    func followInvocation(_ name: String) -> CommandInvocation { kubectl.jobLogs(name, follow: true) }

    /// `kubectl logs POD`: one pod's log (each pod of an Indexed Job has its own).
    func podLogsInvocation(_ pod: String) -> CommandInvocation { kubectl.podLogs(pod) }

    /// `kubectl get pods -o json --selector job-name=NAME`: the Job's pods, their state and termination message.
    func podsInvocation(_ job: String) -> CommandInvocation { kubectl.getPods(selector: "job-name=\(job)") }

    /// `kubectl delete job NAME … --cascade=foreground` and `kubectl delete secret NAME …` (when drctl made one).
    func removeInvocations(_ job: String, secret: String?) -> (job: CommandInvocation, secret: CommandInvocation?) {
        (kubectl.delete("job", job), secret.map { kubectl.delete("secret", $0) })
    }

    /// The Job's status, nil when there is no such Job.
    func status(of name: String) async throws -> JobStatus? {
        let found: CommandResult?
        do { found = try await runner.run(statusInvocation(name)).checkedUnlessAbsent() } catch {
            throw DataPlaneJobError.kubectlFailed(job: name, action: "read it", detail: error.localizedDescription)
        }
        guard let result = found else { return nil }
        return try ToolOutputError.decodeJSON(
            JobStatus.self, from: result.standardOutput, tool: "kubectl", what: "Job JSON")
    }

    private func pod(of job: String) async throws -> JobPod? {
        let pods = try await pods(of: job)
        return pods.last { $0.terminated != nil } ?? pods.last
    }

    /// The Job's pods (none when kubectl cannot list them).
    func pods(of job: String) async throws -> [JobPod] {
        let result = try await runner.run(podsInvocation(job))
        guard result.succeeded else { return [] }
        return try ToolOutputError.decodeJSON(
            KubernetesList<JobPod>.self, from: result.standardOutput, tool: "kubectl", what: "pod list JSON"
        ).items
    }

    func check(_ invocation: CommandInvocation, job: String, action: String) async throws {
        if let failure = try await runner.run(invocation).failure {
            throw DataPlaneJobError.kubectlFailed(job: job, action: action, detail: failure.localizedDescription)
        }
    }
}

/// A Job's `status`, as `kubectl get job -o json` shows it.
struct JobStatus: Decodable {
    var active: Int
    var conditions: [KubernetesCondition]

    var isComplete: Bool { conditions.contains { $0.type == "Complete" && $0.isTrue } }
    var isFailed: Bool { conditions.contains { $0.type == "Failed" && $0.isTrue } }
    var isFinished: Bool { isComplete || isFailed }

    private enum CodingKeys: String, CodingKey { case status }
    private struct Status: Decodable {
        var active: Int?
        var conditions: [KubernetesCondition]?
    }

    init(from decoder: any Decoder) throws {
        let status = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Status.self, forKey: .status)
        active = status?.active ?? 0
        conditions = status?.conditions ?? []
    }
}

/// A Job's pod: its name, completion index (Indexed Jobs), phase and its one container's state — waiting (and why)
/// or terminated (exit code, termination message).
struct JobPod: Decodable {
    struct Waiting: Decodable {
        var reason: String
        var message: String?
    }
    struct Terminated: Decodable {
        var exitCode: Int32
        var message: String?
    }
    var name: String
    var index: Int?
    var phase: String?
    var waiting: Waiting?
    var terminated: Terminated?

    static let indexAnnotation = "batch.kubernetes.io/job-completion-index"

    private enum CodingKeys: String, CodingKey { case metadata, status }
    private struct Metadata: Decodable {
        var name: String
        var annotations: [String: String]?
    }
    private struct Status: Decodable {
        var phase: String?
        var containerStatuses: [ContainerStatus]?
    }
    private struct ContainerStatus: Decodable { var state: State? }
    private struct State: Decodable {
        var waiting: Waiting?
        var terminated: Terminated?
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let metadata = try container.decode(Metadata.self, forKey: .metadata)
        let status = try container.decodeIfPresent(Status.self, forKey: .status)
        name = metadata.name
        index = metadata.annotations?[Self.indexAnnotation].flatMap { Int($0) }
        phase = status?.phase
        let state = status?.containerStatuses?.first?.state
        waiting = state?.waiting
        terminated = state?.terminated
    }
}
