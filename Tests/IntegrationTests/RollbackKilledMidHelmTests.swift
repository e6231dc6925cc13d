import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// `drctl rollback app` SIGKILLed while its helm rollback is half-way (the release already `pending-rollback`),
/// then `drctl resume` at once: the real binary, the real helm 3 and kubectl against a private kube stand-in whose
/// `neverReady` fault holds the rollback's `--wait` open until the test clears it, so the kill lands inside the
/// rollback however loaded the machine is. The history must show exactly one rollback.
@Suite("Rollback app killed mid-helm, resumed at once", .serialized)
struct RollbackKilledMidHelmTests {
    @Test("SIGKILL during helm rollback, then an immediate resume: exactly one rollback in the helm history")
    func killedMidHelmRollbackRollsBackOnce() async throws {
        let fixture = try await RollbackAppTests.Fixture(major: .v3)
        try await fixture.deployThreeRevisions()
        let drctl = try DrctlProcess.binary()
        var environment = fixture.stack.variables.filter { !$0.key.hasPrefix("DB_") }
        environment["DRCTL_HELM"] = fixture.helm
        environment["DRCTL_HELM_MAJOR"] = "3"
        environment["DRCTL_STATE_DIR"] = fixture.state
        environment["HOME"] = fixture.project
        // The deployment's pods never turn ready: helm's rollback writes its pending revision, then waits.
        try await fixture.kube.setFaults(
            #"{"neverReady": ["\#(RollbackAppTests.namespace)/\#(RollbackAppTests.release)"]}"#)

        let killed = try await DrctlProcess.runKilled(
            drctl, ["rollback", "app", "-f", fixture.manifestPath, "--timeout", "60s", "-o", "json"],
            environment: environment, whenOutputContains: " rollback \(RollbackAppTests.release) 2", delay: .zero,
            andCondition: {
                // Once helm has written its own revision, still pending: the kill lands inside the rollback.
                (try? await fixture.history())?.last.map { $0.revision == 4 && $0.status == "pending-rollback" }
                    ?? false
            })
        #expect(killed.killed, "the run finished before it could be killed:\n\(killed.output)")
        let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
        #expect(
            !DrctlProcess.steps(withEvent: "step-completed", in: killed.output).contains("helm.rollback"),
            "killed after the rollback completed: nothing was in doubt")

        // The cluster heals (and nginx:broken is no longer held back either: the rollback leaves it).
        try await fixture.kube.clearFaults()
        let resumed = try await DrctlProcess.run(drctl, ["resume", runID, "-o", "json"], environment: environment)

        #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
        let history = try await fixture.history()
        let rollbacks = history.filter { $0.description.hasPrefix("Rollback to") }
        #expect(rollbacks.count == 1, "\(history.map { "\($0.revision) \($0.status) \($0.description)" })")
        #expect(history.map(\.revision) == [1, 2, 3, 4])
        #expect(history.last?.status == "deployed")
        #expect(history.last?.description == "Rollback to 2")
        #expect(try await fixture.image() == "nginx:1.28")
        #expect(
            try await fixture.kube.readyz(
                namespace: RollbackAppTests.namespace, deployment: RollbackAppTests.release) == 200)
    }
}
