import Foundation

extension JobRunner {
    /// How one completion index of an Indexed Job ended.
    public enum IndexOutcome: Sendable {
        case succeeded(AgentVerdict)
        case failed(DataPlaneJobError)
    }

    /// Runs an Indexed Job (`DataPlaneJob.indexed`) to its end: creates it (and `secret`) unless a Job of that
    /// name is there already (then follows that one), sends each pod's new log lines to the run's output
    /// prefixed with `label(index)`, waits until every index succeeded or failed (`backoffLimitPerIndex: 0`: one
    /// failing index stops no other), reads each index's verdict from its pod, deletes the Job and its Secret.
    /// Returns an outcome for every index that ran; an index the Job never started is missing.
    public func runIndexed(
        _ job: DataPlaneJob, secret: KubernetesSecretObject?, label: @escaping (Int) -> String,
        progress: Progress
    ) async throws -> [Int: IndexOutcome] {
        try await start(job, secret: secret, progress: progress)
        var printed: [String: Int] = [:]
        var finished: Set<String> = []
        var stuck = 0
        var pods: [JobPod] = []
        var logs: [String: String] = [:]
        while true {
            try Task.checkCancellation()
            let status = try await status(of: job.name)
            pods = try await self.pods(of: job.name)
            for pod in pods where pod.index != nil && !finished.contains(pod.name) {
                let log = await podLog(pod.name)
                logs[pod.name] = log
                printed[pod.name] = emit(
                    log, after: printed[pod.name, default: 0], progress: progress,
                    prefix: "[\(label(pod.index ?? 0))] ")
                // A pod's log read after it ended is complete.
                if pod.terminated != nil { finished.insert(pod.name) }
            }
            guard let status else {
                throw DataPlaneJobError.kubectlFailed(
                    job: job.name, action: "read it", detail: "the Job disappeared while drctl followed it")
            }
            if status.isFinished { break }
            if let waiting = pods.compactMap(\.waiting).first(where: { Self.stuckReasons.contains($0.reason) }) {
                stuck += 1
                if stuck >= stuckPolls {
                    throw DataPlaneJobError.podNotStarting(
                        job: job.name, namespace: namespace, reason: waiting.reason, message: waiting.message ?? "")
                }
            } else {
                stuck = 0
            }
            try await Task.sleep(for: pollInterval)
        }
        var outcomes: [Int: IndexOutcome] = [:]
        for pod in pods {
            guard let index = pod.index, let terminated = pod.terminated else { continue }
            // A succeeded pod of an index wins over a failed one (an index retried under a backoff limit).
            if case .succeeded = outcomes[index] { continue }
            let outcome = Outcome(
                succeeded: pod.phase == "Succeeded", exitCode: terminated.exitCode,
                terminationMessage: terminated.message, log: logs[pod.name] ?? "")
            do {
                outcomes[index] = .succeeded(try verdict(of: outcome, job: job.name + " (\(label(index)))"))
            } catch let error as DataPlaneJobError {
                outcomes[index] = .failed(error)
            }
        }
        try await remove(job.name, secret: secret?.metadata.name)
        return outcomes
    }

    private func podLog(_ pod: String) async -> String {
        guard let result = try? await runner.run(podLogsInvocation(pod)), result.succeeded else { return "" }
        return result.output
    }
}
