import Foundation

/// The run's runner under `database.dataPlane: port-forward`: every invocation that connects to the manifest's
/// database (a single program or a pipeline stage) waits for the tunnel and is pointed at its local port when it
/// starts; everything else goes to `base` unchanged. One place, so no step, probe or undo can take the old path.
///
/// A database program that could not even connect because the tunnel was being restarted (`Connection refused`
/// on the tunnel's port: nothing ran on the server) is started again on the new tunnel, up to three times. A
/// program whose connection dropped while it worked is not: its step fails, as any lost connection does.
public struct DatabaseTunnelRunner: CommandRunning {
    public let base: any CommandRunning
    public let tunnel: DatabaseTunnel
    public let portForward: PortForward

    public init(base: any CommandRunning, tunnel: DatabaseTunnel, portForward: PortForward) {
        self.base = base
        self.tunnel = tunnel
        self.portForward = portForward
    }

    public func run(_ invocation: CommandInvocation) async throws -> CommandResult {
        guard tunnel.rerouted(invocation, localPort: tunnel.port) != nil else { return try await base.run(invocation) }
        return try await throughTunnel { port in
            let result = try await base.run(tunnel.rerouted(invocation, localPort: port) ?? invocation)
            return (result, Self.refused(result, port: port))
        }
    }

    /// A followed program never connects to the database (`kubectl logs -f`): it goes to `base` unchanged.
    public func run(_ invocation: CommandInvocation, lines: @escaping OutputLineSink) async throws -> CommandResult {
        try await base.run(invocation, lines: lines)
    }

    public func run(_ pipeline: CommandPipeline) async throws -> PipelineResult {
        guard pipeline.stages.contains(where: { tunnel.rerouted($0, localPort: tunnel.port) != nil }) else {
            return try await base.run(pipeline)
        }
        return try await throughTunnel { port in
            var routed = pipeline
            routed.stages = pipeline.stages.map { tunnel.rerouted($0, localPort: port) ?? $0 }
            let result = try await base.run(routed)
            return (result, result.stages.contains { Self.refused($0, port: port) })
        }
    }

    /// Tries up to 4 times: a tunnel that refused the connection (its kubectl went away) is discarded and the
    /// next try opens a fresh one. The last try's result is returned, whatever it is.
    private func throughTunnel<Result>(_ run: (_ port: Int) async throws -> (Result, refused: Bool)) async throws
        -> Result
    {
        let policy = RetryPolicy(attempts: 4, backoff: .zero)
        return try await policy.run(clock: SystemRunClock()) { attempt in
            let port = try await portForward.localPort()
            let (result, refused) = try await run(port)
            guard refused, attempt < policy.attempts else { return .finished(result) }
            portForward.discard(port: port)
            return .tryAgain(reason: "the tunnel on port \(port) refused the connection", failure: TunnelRefused())
        }
    }

    /// Never thrown: the last try's result is returned instead.
    private struct TunnelRefused: Error {}

    /// psql, pg_dump, pg_restore and psycopg (alembic) all say `connection to server at "127.0.0.1", port N
    /// failed: Connection refused` when nothing listens there.
    static func refused(_ result: CommandResult, port: Int) -> Bool {
        !result.succeeded && result.standardErrorTail.contains("port \(port) failed: Connection refused")
    }
}

extension RunService {
    /// Runs `body` with the runner the run's commands go through: `runner` itself, or under
    /// `database.dataPlane: port-forward` a `DatabaseTunnelRunner` whose kubectl is stopped when `body` ends
    /// (also when it throws or is cancelled). Its starts and restarts are reported as `port-forward` messages.
    func withDataPlane<T: Sendable>(
        _ runbook: Runbook, _ body: (any CommandRunning) async throws -> T
    ) async throws -> T {
        guard let tunnel = runbook.databaseTunnel else { return try await body(runner) }
        let events = events
        let portForward = PortForward(invocation: tunnel.command, childRecords: childRecords) { message in
            events.emit(.stepMessage(step: "port-forward", message: message))
        }
        let routed = DatabaseTunnelRunner(base: runner, tunnel: tunnel, portForward: portForward)
        do {
            let value = try await body(routed)
            await portForward.stop()
            return value
        } catch {
            await portForward.stop()
            throw error
        }
    }
}
