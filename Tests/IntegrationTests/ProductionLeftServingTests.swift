import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// No failure leaves production down: a restore that stops after it scaled the app to 0 scales it back, and a
/// restore killed during its destructive `--drop-old` resumes by its probe. The real binary, psql, gzip, kubectl
/// against a private kube stand-in.
@Suite("A failed or killed restore leaves production serving")
struct ProductionLeftServingTests {
    @Test("a restore whose smoke query fails after the scale-down scales the app back; the summary says so")
    func failedSmokeQueryScalesTheAppBack() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            try await RecoveryCommandTests.damage(fixture)
            let live = try await fixture.tableChecksums()
            // The backup holds no such table: the smoke query on the loaded database fails after the app stopped.
            let manifest = try String(contentsOfFile: fixture.manifestPath, encoding: .utf8)
            let broken = manifest.replacingOccurrences(
                of: "smokeQuery: SELECT COUNT(*) FROM documents_header",
                with: "smokeQuery: SELECT COUNT(*) FROM smoke_x")
            #expect(broken != manifest)
            try broken.write(toFile: fixture.manifestPath, atomically: true, encoding: .utf8)

            let run = try await DrctlProcess.run(
                drctl, ["restore", "-f", fixture.manifestPath], environment: fixture.binaryEnvironment)

            #expect(run.status == 1 || run.status == 3, "expected a failure or refusal:\n\(run.output)\n\(run.errors)")
            #expect(run.output.contains("deployment app scaled from \(fixture.replicas) to 0"), "\(run.output)")
            #expect(
                run.output.contains(
                    "app.scale-down undone after the failure: deployment app scaled back to its recorded "
                        + "\(fixture.replicas) replica(s) and rolled out"),
                "the summary does not say so:\n\(run.output)")
            #expect(try await fixture.deploymentReplicas() == fixture.replicas)
            #expect(try await fixture.kube.readyz(namespace: fixture.namespace, deployment: "app") == 200)
            #expect(try await fixture.tableChecksums() == live, "the live database changed")
            let runID = try #require(
                run.output.split(separator: "\n").first { $0.hasPrefix("Starting run ") }?
                    .split(separator: " ").dropFirst(2).first.map { String($0.dropLast()) })
            let shown = try await DrctlProcess.run(
                drctl, ["runs", "show", runID], environment: fixture.binaryEnvironment)
            #expect(shown.output.contains("undone at"), "\(shown.output)")
        }
    }

    @Test("restore --drop-old killed during database.drop-old: resume decides by the probe and finishes")
    func killedDuringDropOldResumes() async throws {
        try await RecoveryCommandTests.withBackup { fixture, drctl in
            let source = try await fixture.tableChecksums()
            try await RecoveryCommandTests.damage(fixture)

            // Killed after the DROP ran and before the journal recorded it: the drop is in doubt.
            let killed = try await DrctlProcess.runKilled(
                drctl, ["restore", "-f", fixture.manifestPath, "--drop-old", "-o", "json"],
                environment: fixture.binaryEnvironment, pausedAt: "effect:database.drop-old")
            #expect(killed.killed, "the run never paused after the drop:\n\(killed.output)")
            let runID = try #require(killed.runID, "no run id in:\n\(killed.output)")
            #expect(
                !DrctlProcess.steps(withEvent: "step-completed", in: killed.output).contains("database.drop-old"),
                "killed after the drop completed: nothing was in doubt")
            #expect(try await fixture.databases(like: fixture.database + "_before_%").isEmpty, "the drop did not run")
            #expect(try await fixture.deploymentReplicas() == 0, "killed while the app was stopped")

            let resumed = try await DrctlProcess.run(
                drctl, ["resume", runID, "-o", "json"], environment: fixture.binaryEnvironment)

            #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
            #expect(
                !DrctlProcess.steps(withEvent: "step-started", in: resumed.output).contains("database.drop-old"),
                "the probe found the database gone, yet the drop ran again:\n\(resumed.output)")
            #expect(try await fixture.tableChecksums() == source)
            #expect(try await fixture.deploymentReplicas() == fixture.replicas)
            #expect(try await fixture.kube.readyz(namespace: fixture.namespace, deployment: "app") == 200)
            #expect(try await fixture.databases(like: fixture.database + "_before_%").isEmpty, "--drop-old kept it")
            #expect(try await fixture.databases(like: fixture.database + "_restore_%").isEmpty)
        }
    }
}
