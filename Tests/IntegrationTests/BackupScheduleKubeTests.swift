import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// The emitted CronJob applied with the REAL kubectl (server-side apply) to a private kube stand-in and read back.
@Suite struct BackupScheduleKubeTests {
    static let namespace = "drctl-schedule"

    @Test func theCronJobAppliesServerSideIdempotentlyAndReadsBack() async throws {
        _ = try TestPrograms.kubectl()
        let kube = try KubeStandIn(projectRoot: TestPrograms.projectRoot)
        let runner = CommandRunner()
        let project = NSTemporaryDirectory() + "drctl-schedule-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: project) }
        let emitter = try ScheduleTestManifest.emitter(
            project: project, environment: "nightly",
            kube: "  namespace: \(Self.namespace)\n  kubeconfig: \(kube.kubeconfig)", s3: true,
            extra: """
                  environmentSecret: valeo-backup-env
                notifications:
                  - type: pagerduty
                    routingKey: { env: PAGERDUTY_ROUTING_KEY }
                """)
        let kubectl = Kubectl(namespace: Self.namespace, kubeconfig: kube.kubeconfig)
        try await runner.runChecked(Kubectl(kubeconfig: kube.kubeconfig).createNamespace(Self.namespace))

        let status = BackupScheduleStatus(runner: runner)
        let before = try await status.cronJob(manifest: emitter.manifest, kubectl: kubectl)
        #expect(!before.exists)
        #expect(before.text.contains("not found"))

        let applier = BackupScheduleApplier(runner: runner, kubectl: kubectl)
        let first = try await applier.apply(yaml: try emitter.cronJobYAML())
        #expect(first.contains("configmap/drctl-backup-nightly-manifest serverside-applied"))
        #expect(first.contains("cronjob.batch/drctl-backup-nightly serverside-applied"))
        let readBack = try await cronJob(kubectl, runner)
        let second = try await applier.apply(yaml: try emitter.cronJobYAML())
        #expect(second.contains("cronjob.batch/drctl-backup-nightly serverside-applied"))
        let readAgain = try await cronJob(kubectl, runner)

        let metadata = try #require(readBack["metadata"] as? [String: Any])
        let metadataAgain = try #require(readAgain["metadata"] as? [String: Any])
        #expect(metadata["generation"] as? Int == 1)
        #expect(metadataAgain["generation"] as? Int == 1, "a second apply of the same CronJob changed its spec")
        #expect(metadata["resourceVersion"] as? String == metadataAgain["resourceVersion"] as? String)

        let spec = try #require(readAgain["spec"] as? [String: Any])
        #expect(spec["schedule"] as? String == "0 2 * * *")
        #expect(spec["timeZone"] as? String == "Etc/UTC")
        #expect(spec["concurrencyPolicy"] as? String == "Forbid")
        let jobSpec = try #require((spec["jobTemplate"] as? [String: Any])?["spec"] as? [String: Any])
        let podSpec = try #require((jobSpec["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((podSpec["containers"] as? [[String: Any]])?.first)
        #expect(
            container["command"] as? [String] == [
                "drctl", "backup", "nightly", "-f", "/etc/drctl/manifests/nightly.yaml",
            ])
        let env = try #require((container["env"] as? [[String: Any]])?.first)
        let reference = (env["valueFrom"] as? [String: Any])?["secretKeyRef"] as? [String: String]
        #expect(env["name"] as? String == "DB_PASSWORD")
        #expect(reference == ["name": "valeo-db", "key": "password"])
        // The S3 credentials and the routing key reach the pod from the named Secret.
        let envFrom = try #require(container["envFrom"] as? [[String: Any]], "no envFrom in \(container)")
        #expect(envFrom.count == 1)
        #expect((envFrom.first?["secretRef"] as? [String: Any])?["name"] as? String == "valeo-backup-env")

        let after = try await status.cronJob(manifest: emitter.manifest, kubectl: kubectl)
        #expect(after.exists && after.active)
        #expect(after.lastSucceeded == nil)
        #expect(after.text == "cronjob drctl-schedule/drctl-backup-nightly: active, never succeeded")
    }

    private func cronJob(_ kubectl: Kubectl, _ runner: CommandRunner) async throws -> [String: Any] {
        let result = try await runner.runChecked(kubectl.getCronJob("drctl-backup-nightly"))
        return try #require(try JSONSerialization.jsonObject(with: result.standardOutput) as? [String: Any])
    }
}
