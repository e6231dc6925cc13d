import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `database.dataPlane: port-forward` with the real binary: the manifest names the database by its in-cluster
/// name (`postgresql.NS.svc.cluster.local`), which nothing on this machine resolves, so a run that succeeds proves
/// every psql, pg_dump and pg_restore went through the `kubectl port-forward` drctl ran (real kubectl against
/// the kube stand-in, which forwards the PostgreSQL pod's 5432 to the stack's PostgreSQL).
@Suite("dataPlane: port-forward with the real binary")
struct PortForwardDataPlaneTests {
    /// Runs `body` with a seeded fixture holding one backup whose drctl manifest says `dataPlane: port-forward`.
    static func withBackup(_ body: (RecoveryFixture, String) async throws -> Void) async throws {
        try await RecoveryCommandTests.withBackup(environment: "port-forward-tests", portForward: true, body)
    }

    /// The `kubectl port-forward` processes of this fixture (its kubeconfig is in their argv), with their pids.
    static func tunnels(of fixture: RecoveryFixture) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { return nil }
            let argv = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard argv.contains("port-forward"), argv.contains(fixture.kube.kubeconfig) else { return nil }
            return pid
        }
    }

    /// A database client drctl runs right now.
    static func databaseClientRunning(under pid: pid_t) -> Bool {
        DrctlProcess.children(of: pid).contains { ["psql", "pg_dump", "pg_restore", "alembic"].contains($0.command) }
    }

    static func expectNoTunnelLeft(_ fixture: RecoveryFixture) async throws {
        for _ in 0..<300 where !tunnels(of: fixture).isEmpty { try await Task.sleep(for: .milliseconds(100)) }
        #expect(tunnels(of: fixture).isEmpty, "a kubectl port-forward outlived the run")
    }

    @Test("drctl restore through the tunnel: equal table checksums, the host never resolved, no tunnel left")
    func restoreThroughTheTunnel() async throws {
        try await Self.withBackup { fixture, drctl in
            let (source, plan) = try await RecoveryCommandTests.damageAndPlanRestore(fixture, drctl: drctl)
            #expect(
                plan.output.contains(
                    "$ kubectl --kubeconfig \(fixture.kube.kubeconfig) --namespace \(fixture.namespace) port-forward"
                        + " svc/postgresql :5432"), "\(plan.output)")

            let run = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"], environment: fixture.binaryEnvironment)

            #expect(run.status == 0, "drctl restore failed:\n\(run.output)\n\(run.errors)")
            #expect(run.output.contains("listening on 127.0.0.1:"), "\(run.output)")
            #expect(try await fixture.tableChecksums() == source)
            #expect(try await fixture.deploymentReplicas() == fixture.replicas)
            #expect(fixture.kube.requestLog.contains("/pods/postgresql-0/portforward"))
            try await Self.expectNoTunnelLeft(fixture)
        }
    }

    @Test("drctl recover-rows through the tunnel: exactly the deleted rows come back, no tunnel left")
    func recoverRowsThroughTheTunnel() async throws {
        try await Self.withBackup { fixture, drctl in
            let (run, source) = try await RecoveryCommandTests.deleteAndRecoverTwoDocuments(fixture, drctl: drctl)

            #expect(run.status == 0, "drctl recover-rows failed:\n\(run.output)\n\(run.errors)")
            let recovered = try await fixture.tableChecksums()
            #expect(recovered["documents_header"] == source["documents_header"])
            #expect(run.output.contains("listening on 127.0.0.1:"), "\(run.output)")
            try await Self.expectNoTunnelLeft(fixture)
        }
    }

    @Test("the tunnel's kubectl killed mid-run is started again and the restore completes; no tunnel left")
    func aKilledTunnelIsRestarted() async throws {
        try await Self.withBackup { fixture, drctl in
            let source = try await fixture.tableChecksums()
            try await RecoveryCommandTests.damage(fixture)

            // drctl stops itself as the swap starts (no database client runs then); the tunnel is killed, drctl
            // continued: the swap's psql needs the tunnel again.
            let (killed, run) = try await DrctlProcess.runPaused(
                drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"], environment: fixture.binaryEnvironment,
                at: "start:database.restore"
            ) { pid in
                let tunnels = Self.tunnels(of: fixture)
                #expect(!tunnels.isEmpty, "no tunnel open when the swap starts")
                #expect(!Self.databaseClientRunning(under: pid))
                for tunnel in tunnels { kill(tunnel, SIGKILL) }
                for _ in 0..<600 where !Self.tunnels(of: fixture).isEmpty {
                    try await Task.sleep(for: .milliseconds(100))
                }
                kill(pid, SIGCONT)
            }

            #expect(killed, "the run ended before its tunnel could be killed:\n\(run.output)")
            #expect(run.status == 0, "drctl restore failed:\n\(run.output)\n\(run.errors)")
            #expect(run.output.contains("starting it again"), "\(run.output)")
            #expect(run.output.components(separatedBy: "listening on 127.0.0.1:").count == 3, "\(run.output)")
            #expect(try await fixture.tableChecksums() == source)
            try await Self.expectNoTunnelLeft(fixture)
        }
    }

    @Test("drctl killed with its tunnel open: the kubectl is left behind, drctl resume stops it and completes")
    func resumeStopsTheOrphanedTunnel() async throws {
        try await Self.withBackup { fixture, drctl in
            let source = try await fixture.tableChecksums()
            try await RecoveryCommandTests.damage(fixture)

            let killed = try await DrctlProcess.runKilled(
                drctl, ["restore", "-f", fixture.manifestPath, "-o", "json"], environment: fixture.binaryEnvironment,
                pausedAt: "start:database.restore")
            #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
            let orphans = Self.tunnels(of: fixture)
            #expect(!orphans.isEmpty, "SIGKILL leaves the tunnel's kubectl running")
            let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")

            let resumed = try await DrctlProcess.run(
                drctl, ["resume", runID, "-o", "json"], environment: fixture.binaryEnvironment)

            #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
            #expect(
                resumed.errors.contains("port-forward svc/postgresql")
                    && resumed.errors.contains("stopped process group"),
                "\(resumed.errors)")
            for pid in orphans { #expect(kill(pid, 0) != 0, "the orphaned tunnel \(pid) still runs") }
            #expect(try await fixture.tableChecksums() == source)
            try await Self.expectNoTunnelLeft(fixture)
        }
    }
}
