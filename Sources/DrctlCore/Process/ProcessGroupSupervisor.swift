import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Tracks the process groups of one run (a command, or every stage of a pipeline) and ends them: SIGTERM to
/// each group, a grace period, then SIGKILL. Every child leads its own group, so the signals also reach what
/// the child started itself (`sh -c 'sleep 30 & wait'`).
final class ProcessGroupSupervisor: Sendable {
    private struct State {
        /// Stage index → process group id, for every stage that started.
        var groups: [Int: pid_t] = [:]
        var running: Set<Int> = []
        var timedOutStages: Set<Int> = []
        var timeLimitExpired = false
        var terminationStarted: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    let gracePeriod: Duration

    init(gracePeriod: Duration) {
        self.gracePeriod = gracePeriod
    }

    /// A stage's child is running as leader of `processGroup`. A stage that starts after the time limit expired
    /// is told to stop at once.
    func started(stage: Int, processGroup: pid_t) {
        let stopNow = state.withLock { state in
            state.groups[stage] = processGroup
            state.running.insert(stage)
            if state.timeLimitExpired { state.timedOutStages.insert(stage) }
            return state.terminationStarted != nil
        }
        if stopNow { Self.signal(processGroup, SIGTERM) }
    }

    /// A stage's child has exited (its group may still hold processes it started).
    func finished(stage: Int) {
        state.withLock { _ = $0.running.remove(stage) }
    }

    /// The time limit expired: running stages are marked timed out and their groups get SIGTERM.
    func expireTimeLimit() {
        let groups = state.withLock { state in
            state.timeLimitExpired = true
            state.timedOutStages.formUnion(state.running)
            if state.terminationStarted == nil { state.terminationStarted = .now }
            return state.running.compactMap { state.groups[$0] }
        }
        for group in groups { Self.signal(group, SIGTERM) }
    }

    /// The run was cancelled: running stages' groups get SIGTERM (swift-subprocess follows with SIGKILL for a
    /// leader that outlives the grace period; `sweep()` for anything else).
    func cancel() {
        let groups = state.withLock { state in
            if state.terminationStarted == nil { state.terminationStarted = .now }
            return state.running.compactMap { state.groups[$0] }
        }
        for group in groups { Self.signal(group, SIGTERM) }
    }

    /// The grace period is over: SIGKILL to the groups of stages still running.
    func killRunning() {
        let groups = state.withLock { state in state.running.compactMap { state.groups[$0] } }
        for group in groups { Self.signal(group, SIGKILL) }
    }

    /// The process group of a stage that started.
    func processGroup(stage: Int) -> pid_t? {
        state.withLock { $0.groups[stage] }
    }

    func hasStarted(stage: Int) -> Bool {
        state.withLock { $0.groups[stage] != nil }
    }

    func timedOut(stage: Int) -> Bool {
        state.withLock { $0.timedOutStages.contains(stage) }
    }

    var isTerminating: Bool {
        state.withLock { $0.terminationStarted != nil }
    }

    /// Once every child has exited: processes left in their groups (started by a child that already exited) get
    /// SIGTERM, and SIGKILL when the grace period since termination began is over. Runs even in a cancelled task.
    func sweep() async {
        let (groups, started) = state.withLock { state in
            (Array(state.groups.values), state.terminationStarted ?? .now)
        }
        let deadline = started + gracePeriod
        let gracePeriod = self.gracePeriod
        await withUncancelledTask {
            let living = groups.filter(Self.hasMembers)
            for group in living { Self.signal(group, SIGTERM) }
            let left = await Self.waitUntilGone(living, until: deadline)
            for group in left { Self.signal(group, SIGKILL) }
            // SIGKILL cannot be caught, but takes effect when the process next runs: wait (at most a grace period)
            // until the groups are gone, so that nothing of them outlives the caller.
            _ = await Self.waitUntilGone(left, until: .now + gracePeriod)
        }
    }

    /// Polls until none of `groups` is `present` any more or `limit` has passed; returns those still present.
    static func waitUntilGone(
        _ groups: [pid_t], until limit: ContinuousClock.Instant, every interval: Duration = .milliseconds(20),
        present: (pid_t) -> Bool = hasMembers
    ) async -> [pid_t] {
        var remaining = groups
        while !remaining.isEmpty, ContinuousClock.now < limit {
            try? await Task.sleep(for: interval)
            remaining = remaining.filter(present)
        }
        return remaining
    }

    static func hasMembers(_ group: pid_t) -> Bool {
        kill(-group, 0) == 0 || errno == EPERM
    }

    static func signal(_ group: pid_t, _ signal: Int32) {
        // ESRCH (the group is already gone) is the expected outcome of a race with the child exiting.
        _ = kill(-group, signal)
    }
}

/// Runs `body` in a task that does not inherit the caller's cancellation, for clean-up that must finish (the
/// grace period before SIGKILL). It is awaited, so it does not outlive the caller.
func withUncancelledTask<Result: Sendable>(_ body: @Sendable @escaping () async -> Result) async -> Result {
    await Task { await body() }.value
}
