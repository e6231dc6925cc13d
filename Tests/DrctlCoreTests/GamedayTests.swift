import DrctlCore
import Foundation
import Testing

@Suite struct GamedayTests {
    let root = ManifestFixtures.repositoryRoot

    private func manifest(_ name: String) throws -> Manifest {
        try ManifestLoader(environment: [:]).load(from: root.appendingPathComponent("manifests/\(name)").path)
    }

    @Test func theShippedDrillParses() throws {
        let drill = try DrillScript.load(path: root.appendingPathComponent("manifests/gameday-cluster-loss.yaml").path)
        #expect(drill.scenario == .clusterLoss)
        #expect(drill.incidentTime == ISO8601DateFormatter().date(from: "2026-11-25T09:00:00Z"))
        #expect(drill.smokeChecks.map(\.name) == ["documents restored", "app ready", "deployment present"])
        #expect(
            drill.smokeChecks.last?.kind
                == .command(["kubectl", "--context", "staging", "-n", "staging", "get", "deployment", "valeo-erp"]))
        #expect(drill.faults == DrillScript.Faults(killAfterStep: "database.restore"))
    }

    @Test func aDrillWithAShellStringOrAnUnknownKeyIsRefused() {
        let shell = "scenario: cluster-loss\nhypothesis: h\nsmokeChecks:\n  - command: \"kubectl get pods\"\n"
        #expect(throws: GamedayError.self) { try DrillScript.parse(shell, path: "d.yaml") }
        let unknown = "scenario: cluster-loss\nhypothesis: h\nfault: {}\n"
        #expect {
            try DrillScript.parse(unknown, path: "d.yaml")
        } throws: { error in
            (error as? GamedayError)?.errorDescription?.contains("unknown key 'fault'") == true
        }
        let never = "scenario: cluster-loss\nhypothesis: h\nfaults: { deploymentNeverReady: true }\n"
        #expect {
            try DrillScript.parse(never, path: "d.yaml")
        } throws: { error in
            (error as? GamedayError)?.errorDescription?.contains("not implemented yet") == true
        }
        #expect(throws: GamedayError.self) {
            try DrillScript.forRun(path: nil, scenario: "chaos-monkey")
        }
    }

    @Test func productionAsTargetIsRefusedAndStagingIsNot() throws {
        let production = try manifest("production.yaml")
        let staging = try manifest("staging.yaml")
        #expect(ProductionGuard.reasons(target: staging, source: production).isEmpty)
        let reasons = ProductionGuard.reasons(target: production, source: production)
        #expect(reasons.contains("its environment is named production"))
        #expect(reasons.contains("same kube context as --from (production)"))
        #expect(reasons.contains { $0.hasPrefix("same database as --from") })
        #expect(reasons.contains("same backup bucket and prefix as --from (s3://valeo-backups/postgresql/)"))
        #expect(throws: GamedayError.self) {
            try ProductionGuard.check(target: production, source: production, overridden: false)
        }
        try ProductionGuard.check(target: production, source: production, overridden: true)

        var renamed = staging
        renamed.database = production.database
        #expect(
            ProductionGuard.reasons(target: renamed, source: production) == [
                "same database as --from (postgresql.production.svc.cluster.local:5432/valeo_erp)"
            ])
    }
}
