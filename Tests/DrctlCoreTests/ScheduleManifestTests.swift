import DrctlCore
import Foundation
import Testing

@Suite struct ScheduleManifestTests {
    static let scheduleAndNotifications = """
        schedule:
          backups: "0 2 * * *"
          image: ghcr.io/valeo/drctl:1.4.0
          passwordSecret: { name: valeo-db, key: password }
        notifications:
          - type: webhook
            url: https://hooks.example/drctl
            hmacSecret: { env: DRCTL_WEBHOOK_KEY }
          - type: pagerduty
            routingKey: { file: secrets/pagerduty-routing-key }
          - type: slack
            url: { env: SLACK_WEBHOOK_URL }

        """

    private func load(_ extra: String, in sandbox: ManifestSandbox) throws -> Manifest {
        try ManifestLoader(environment: [:]).load(from: sandbox.writeManifest(ManifestFixtures.valid + extra))
    }

    /// The 1-based line of the first line of `extra` in the manifest.
    private var firstExtraLine: Int {
        ManifestFixtures.valid.split(separator: "\n", omittingEmptySubsequences: false).count
    }

    @Test func readsTheScheduleAndTheNotificationTargets() throws {
        let sandbox = try ManifestSandbox()
        let manifest = try load(Self.scheduleAndNotifications, in: sandbox)
        let schedule = try #require(manifest.schedule)
        #expect(schedule.backups.description == "0 2 * * *")
        #expect(schedule.image == "ghcr.io/valeo/drctl:1.4.0")
        #expect(schedule.passwordSecret == Manifest.KubernetesSecretKey(name: "valeo-db", key: "password"))
        #expect(manifest.notifications.map(\.type) == ["webhook", "pagerduty", "slack"])
        #expect(
            manifest.notifications[0]
                == .webhook(url: .literal("https://hooks.example/drctl"), hmacSecret: .env("DRCTL_WEBHOOK_KEY")))
        guard case .pagerDuty(.file(let path), let endpoint) = manifest.notifications[1] else {
            Issue.record("expected a PagerDuty target with a routing key file")
            return
        }
        #expect(path.absolute == sandbox.root.appendingPathComponent("secrets/pagerduty-routing-key").path)
        #expect(endpoint == "https://events.pagerduty.com/v2/enqueue")
        #expect(manifest.notifications[2] == .slack(url: .env("SLACK_WEBHOOK_URL")))
    }

    @Test func bothSectionsAreOptional() throws {
        let sandbox = try ManifestSandbox()
        let manifest = try load("", in: sandbox)
        #expect(manifest.schedule == nil)
        #expect(manifest.notifications.isEmpty)
    }

    @Test func theyDoNotChangeTheManifestFingerprint() throws {
        let sandbox = try ManifestSandbox()
        let without = try load("", in: sandbox)
        let with = try load(Self.scheduleAndNotifications, in: sandbox)
        #expect(try without.canonicalEncoding() == with.canonicalEncoding())
    }

    @Test func anInlineRoutingKeyIsRefusedWithoutShowingIt() throws {
        let sandbox = try ManifestSandbox()
        let extra = """
            notifications:
              - type: pagerduty
                routingKey: R0UT1NGK3Y

            """
        do {
            _ = try load(extra, in: sandbox)
            Issue.record("an inline routing key was accepted")
        } catch let error as ManifestError {
            let message = error.localizedDescription
            #expect(error.location?.line == firstExtraLine + 2)
            #expect(message.contains("notifications[0].routingKey must be { env: VARIABLE } or { file: PATH }"))
            #expect(message.contains("never the routing key itself"))
            #expect(!message.contains("R0UT1NGK3Y"))
        }
    }

    @Test func aSlackURLMustBeAReference() throws {
        let sandbox = try ManifestSandbox()
        let extra = """
            notifications:
              - type: slack
                url: https://hooks.slack.com/services/T000/B000/XXXXSECRET

            """
        #expect {
            try load(extra, in: sandbox)
        } throws: { error in
            let message = (error as? ManifestError)?.localizedDescription ?? ""
            return message.contains("notifications[0].url must be { env: VARIABLE } or { file: PATH }")
                && !message.contains("XXXXSECRET")
        }
    }

    @Test func anUnknownTargetTypeOrKeyIsAnError() throws {
        let sandbox = try ManifestSandbox()
        #expect {
            try load("notifications:\n  - type: email\n    to: ops@example\n", in: sandbox)
        } throws: { error in
            (error as? ManifestError)?.localizedDescription.contains("must be one of webhook, pagerduty, slack")
                ?? false
        }
        #expect {
            try load(
                "notifications:\n  - type: pagerduty\n    routingKey: { env: PD }\n    severity: high\n", in: sandbox)
        } throws: { error in
            (error as? ManifestError)?.localizedDescription.contains("unknown key 'severity'") ?? false
        }
    }

    @Test(arguments: [
        ("0 2 * *", "it has 4 fields"),
        ("61 2 * * *", "minute '61': 61 is outside 0-59"),
        ("0 2 * * MON", "names like MON are not accepted"),
        ("0 5-2 * * *", "runs backwards"),
    ])
    func aBadCronScheduleSaysWhy(schedule: String, reason: String) throws {
        let sandbox = try ManifestSandbox()
        let extra = """
            schedule:
              backups: "\(schedule)"
              image: ghcr.io/valeo/drctl:1.4.0
              passwordSecret: { name: valeo-db, key: password }

            """
        #expect {
            try load(extra, in: sandbox)
        } throws: { error in
            guard let error = error as? ManifestError else { return false }
            return error.location?.line == firstExtraLine + 1
                && error.localizedDescription.contains("schedule.backups must be a five-field cron schedule")
                && error.localizedDescription.contains(reason)
        }
    }
}
