import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

/// The real `drctl` binary notifies the manifest's targets about a scenario run (RunLauncher's event sink), and a
/// target that cannot be reached changes nothing about the run's outcome.
@Suite struct RunNotificationTests {
    /// A rebuild whose first step (a provision hook running `false`) fails at once.
    static func project(pagerDutyURL: String, slackVariable: String) throws -> (root: String, manifest: String) {
        let root = NSTemporaryDirectory() + "drctl-notify-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: root + "/manifests", withIntermediateDirectories: true)
        let manifest = root + "/manifests/notify.yaml"
        try """
        environment: notify-\(UUID().uuidString.prefix(8).lowercased())
        kube: { namespace: notify, kubeconfig: \(root)/no-kubeconfig }
        database: { host: 127.0.0.1, user: valeo, name: valeo_erp, password: { env: DB_PASSWORD } }
        backups:
          local: backups
          sizeFloor: 1kB
          retention: { daily: 30, monthly: 12 }
          s3: { bucket: notify-no-such-bucket, prefix: postgresql/ }
        releases:
          postgresql: { name: postgresql, chart: bitnami/postgresql }
          app: { name: valeo-erp, chart: bitnami/nginx, replicas: 1 }
        readiness: { url: "http://127.0.0.1:1/readyz" }
        provision:
          - name: create-cluster
            command: ["false"]
        objectives: { rpo: 24h, rto: 4h }
        notifications:
          - type: pagerduty
            routingKey: { env: NOTIFY_TEST_ROUTING_KEY }
            url: \(pagerDutyURL)
          - type: slack
            url: { env: \(slackVariable) }

        """.write(toFile: manifest, atomically: true, encoding: .utf8)
        return (root, manifest)
    }

    static func environment(_ extra: [String: String]) throws -> [String: String] {
        _ = try StackEnvironment.current(requiring: ["helm", "kubectl"])
        var environment = ProcessInfo.processInfo.environment
        environment["DB_PASSWORD"] = "not-used"
        environment["NOTIFY_TEST_ROUTING_KEY"] = "R0UTING-KEY-notify-test"
        environment.merge(extra) { _, new in new }
        return environment
    }

    @Test func aFailedRebuildTriggersPagerDutyAndSlack() async throws {
        let receiver = try HTTPReceiver()
        let (root, manifest) = try Self.project(
            pagerDutyURL: receiver.url("/v2/enqueue"), slackVariable: "NOTIFY_SLACK")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try await DrctlProcess.run(
            try DrctlProcess.binary(), ["rebuild", "-f", manifest, "--state-dir", root + "/state"],
            environment: try Self.environment(["NOTIFY_SLACK": receiver.url("/services/T0/B0/token")]))
        #expect(result.status == 1, "drctl rebuild: \(result.errors)")
        let requests = receiver.requests
        #expect(requests.map(\.path).sorted() == ["/services/T0/B0/token", "/v2/enqueue"])
        let pagerDuty = try #require(requests.first { $0.path == "/v2/enqueue" }).json()
        #expect(pagerDuty["event_action"] as? String == "trigger")
        #expect(pagerDuty["routing_key"] as? String == "R0UTING-KEY-notify-test")
        #expect((pagerDuty["dedup_key"] as? String)?.hasSuffix("/rebuild") == true)
        let payload = try #require(pagerDuty["payload"] as? [String: Any])
        #expect((payload["summary"] as? String)?.contains("failed at step provision.create-cluster") == true)
        #expect(payload["severity"] as? String == "critical")
        let slack = try #require(requests.first { $0.path.hasPrefix("/services") }).json()
        #expect((slack["text"] as? String)?.contains("failed at step provision.create-cluster") == true)
        #expect(!result.errors.contains("warning: could not notify"))
    }

    @Test func anUnreachableTargetIsReportedAndTheRunKeepsItsExitCode() async throws {
        let (root, manifest) = try Self.project(
            pagerDutyURL: "http://127.0.0.1:1/v2/enqueue", slackVariable: "NOTIFY_SLACK")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let slackURL = "http://127.0.0.1:1/services/T0/B0/SECRET-TOKEN"
        let result = try await DrctlProcess.run(
            try DrctlProcess.binary(), ["rebuild", "-f", manifest, "--state-dir", root + "/state"],
            environment: try Self.environment(["NOTIFY_SLACK": slackURL]))
        #expect(result.status == 1)
        #expect(result.errors.contains("warning: could not notify pagerduty of run-failed after 4 attempts"))
        #expect(
            result.errors.contains(
                "warning: could not notify slack (URL from environment variable NOTIFY_SLACK) of run-failed"))
        #expect(!result.errors.contains("SECRET-TOKEN"))
        #expect(!result.errors.contains("R0UTING-KEY"))
        #expect(result.errors.contains("Error: step provision.create-cluster failed"))
    }
}
