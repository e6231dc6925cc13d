import Foundation
import Synchronization

/// `kubectl logs -f job/NAME` as a managed child while a Job runs: each new line of the pod's log goes to the
/// run's output as it is written, exactly once and in order.
///
/// kubectl ends a follow when the pod ends or its connection drops (a real API server and the stand-in alike),
/// and before the pod has started it ends at once; the follower then starts it again after `restartDelay`. A new
/// follow prints the log from its start again, so the follower counts the lines it has printed and skips that many
/// of each new follow. `finish(with:)` stops the child and prints what the Job's complete log (read once it has
/// ended) has beyond them. Verdict lines (`AgentVerdict.marker`) are counted, never printed.
final class JobLogFollower: Sendable {
    let invocation: CommandInvocation
    private let runner: any CommandRunning
    private let restartDelay: Duration
    private let emit: @Sendable (String) -> Void
    private let state = Mutex(State())

    private struct State {
        /// Lines printed (or skipped as verdict lines) so far.
        var printed = 0
        /// Lines the current follow has shown.
        var seen = 0
        var starts = 0
        var task: Task<Void, Never>?
    }

    init(
        invocation: CommandInvocation, runner: any CommandRunning, restartDelay: Duration,
        emit: @escaping @Sendable (String) -> Void
    ) {
        self.invocation = invocation
        self.runner = runner
        self.restartDelay = restartDelay
        self.emit = emit
    }

    /// How many times kubectl was started.
    var starts: Int { state.withLock { $0.starts } }

    func start() {
        state.withLock { state in
            guard state.task == nil else { return }
            state.task = Task { await self.supervise() }
        }
    }

    /// Stops the follow and prints the lines of `log` (the Job's whole log) it has not printed yet.
    func finish(with log: String?) async {
        let task = state.withLock { $0.task }
        task?.cancel()
        await task?.value
        guard let log else { return }
        var lines = log.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let printed = state.withLock { $0.printed }
        for line in lines.dropFirst(printed) { show(line) }
        state.withLock { $0.printed = max($0.printed, lines.count) }
    }

    private func supervise() async {
        while !Task.isCancelled {
            state.withLock { state in
                state.seen = 0
                state.starts += 1
            }
            _ = try? await runner.run(invocation) { [self] line in
                guard line.stream == .standardOutput else { return }
                let new = state.withLock { state -> Bool in
                    state.seen += 1
                    guard state.seen > state.printed else { return false }
                    state.printed = state.seen
                    return true
                }
                if new { show(line.text) }
            }
            if Task.isCancelled { break }
            try? await Task.sleep(for: restartDelay)
        }
    }

    private func show(_ line: String) {
        if !line.hasPrefix(AgentVerdict.marker) { emit("[job] " + line) }
    }
}
