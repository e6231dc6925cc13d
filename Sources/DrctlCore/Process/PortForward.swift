import Foundation
import Synchronization

/// `kubectl port-forward` as a managed child for the length of a run: started on first use, its local port read
/// from kubectl's `Forwarding from 127.0.0.1:NNNNN -> 5432` line, started again when it ends before the run does
/// (a dropped tunnel, a killed kubectl), stopped by `stop()`.
///
/// The child runs through the live `CommandRunner` with the run's `ChildProcessRecords`, so a drctl killed while
/// the tunnel is up leaves a record `drctl resume` uses to stop the orphaned kubectl before it re-runs anything.
public final class PortForward: Sendable {
    /// `kubectl … port-forward svc/NAME :PORT`.
    public let invocation: CommandInvocation
    private let childRecords: ChildProcessRecords?
    private let startupTimeout: Duration
    private let log: @Sendable (String) -> Void
    private let state = Mutex(State())

    private struct State {
        var localPort: Int?
        var supervisor: Task<Void, Never>?
        var stopped = false
        var failure: String?
        var starts = 0
    }

    /// - Parameters:
    ///   - startupTimeout: how long `localPort()` waits for kubectl to say where it listens.
    ///   - log: one line per start, drop and restart (already free of secrets: the command holds none).
    public init(
        invocation: CommandInvocation, childRecords: ChildProcessRecords?, startupTimeout: Duration = .seconds(60),
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.invocation = invocation
        self.childRecords = childRecords
        self.startupTimeout = startupTimeout
        self.log = log
    }

    /// How many times kubectl was started (1 while the first tunnel holds).
    public var starts: Int { state.withLock { $0.starts } }

    /// The local port the tunnel listens on: starts it on first use and waits while it is (re)starting.
    public func localPort() async throws -> Int {
        startIfNeeded()
        let deadline = ContinuousClock.now + startupTimeout
        while true {
            let (port, failure, stopped) = state.withLock { ($0.localPort, $0.failure, $0.stopped) }
            if let port { return port }
            if let failure {
                // Said once; the next database command (a retried step, a resume) tries a fresh kubectl.
                state.withLock { state in
                    state.failure = nil
                    state.supervisor = nil
                }
                throw PortForwardError.failed(command: invocation.redactedCommandLine, reason: failure)
            }
            if stopped { throw CancellationError() }
            guard ContinuousClock.now < deadline else {
                throw PortForwardError.noLocalPort(command: invocation.redactedCommandLine, waited: startupTimeout)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Nothing listens on `port` any more (a client was refused there): `localPort()` waits for kubectl's next
    /// start instead of answering it again while the ended kubectl is not yet reaped.
    public func discard(port: Int) {
        state.withLock { state in
            if state.localPort == port { state.localPort = nil }
        }
    }

    /// Stops the tunnel (SIGTERM, then SIGKILL, to kubectl's process group) and waits until it has ended.
    public func stop() async {
        let supervisor = state.withLock { state -> Task<Void, Never>? in
            state.stopped = true
            state.localPort = nil
            return state.supervisor
        }
        supervisor?.cancel()
        await supervisor?.value
    }

    private func startIfNeeded() {
        state.withLock { state in
            guard state.supervisor == nil, !state.stopped else { return }
            state.supervisor = Task { await self.supervise() }
        }
    }

    /// Runs kubectl until stopped; a kubectl that ends is started again, unless three starts in a row ended
    /// before it listened (a wrong Service, no cluster): then `localPort()` fails with kubectl's own words.
    private func supervise() async {
        var failedStarts = 0
        while !Task.isCancelled {
            state.withLock { state in
                state.starts += 1
                state.localPort = nil
            }
            let runner = CommandRunner(
                lineSink: { [self] line in read(line) }, stderrTailLines: 8, childRecords: childRecords)
            let why: String
            do {
                let result = try await runner.run(invocation)
                why = Self.describe(result)
            } catch is CancellationError {
                break
            } catch {
                why = String(describing: error)
            }
            let (stopped, listened) = state.withLock { state -> (Bool, Bool) in
                defer { state.localPort = nil }
                return (state.stopped, state.localPort != nil)
            }
            if stopped || Task.isCancelled { break }
            failedStarts = listened ? 0 : failedStarts + 1
            if failedStarts >= 3 {
                state.withLock { $0.failure = why }
                log("kubectl port-forward failed \(failedStarts) times in a row: \(why)")
                break
            }
            log("kubectl port-forward ended (\(why)); starting it again")
            try? await Task.sleep(for: .milliseconds(200 * failedStarts))
        }
    }

    /// `Forwarding from 127.0.0.1:NNNNN -> 5432` (kubectl prints the IPv6 listener too; the IPv4 one is used).
    private func read(_ line: OutputLine) {
        guard line.stream == .standardOutput, let port = Self.localPort(in: line.text) else { return }
        let first = state.withLock { state -> Bool in
            let first = state.localPort == nil
            state.localPort = port
            return first
        }
        if first { log("listening on 127.0.0.1:\(port) (\(invocation.redactedCommandLine))") }
    }

    static func localPort(in line: String) -> Int? {
        let prefix = "Forwarding from 127.0.0.1:"
        guard line.hasPrefix(prefix) else { return nil }
        let rest = line.dropFirst(prefix.count)
        guard let end = rest.firstIndex(of: " ") else { return nil }
        return Int(rest[..<end])
    }

    private static func describe(_ result: CommandResult) -> String {
        let tail = result.standardErrorTail.split(separator: "\n").last.map { ": " + $0 } ?? ""
        return "\(result.status)" + tail
    }
}

/// The tunnel could not be opened.
public enum PortForwardError: Error, Sendable, Hashable, LocalizedError, ClassifiedError {
    case noLocalPort(command: String, waited: Duration)
    case failed(command: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .noLocalPort(let command, let waited):
            return "\(command) printed no 'Forwarding from 127.0.0.1:PORT' line within \(waited.manifestText)"
                + "\n  Check that the PostgreSQL Service exists and has a running pod (kubectl get svc,pods -n NS)."
        case .failed(let command, let reason):
            return "\(command) did not open the tunnel to the database: \(reason)"
                + "\n  Check the kube context and that database.host names the PostgreSQL Service"
                + " (NAME.NAMESPACE.svc.cluster.local), then drctl resume."
        }
    }

    public var failureKind: FailureKind { .failed }
}
