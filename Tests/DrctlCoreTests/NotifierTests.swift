import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

/// Notifications delivered over real HTTP to a local receiver (`HTTPReceiver`), with a manual clock for backoff.
@Suite struct NotifierTests {
    static let routingKey = "R0UTING-KEY-0123456789abcdef"

    static func failedReport(runID: String = "20261125-031500-ab12") -> RunReport {
        RunReport(
            runID: runID, runbook: "rebuild", environment: "production", status: .failed,
            steps: [
                StepReport(step: "backup.fetch", title: "Fetch backup", outcome: .completed, attempts: 1),
                StepReport(
                    step: "database.restore", title: "Restore", outcome: .failed, attempts: 1,
                    error: "psql exited 2"),
            ],
            elapsed: .seconds(600), rtoBudget: .seconds(14_400))
    }

    static func pagerDuty(_ receiver: HTTPReceiver) throws -> NotificationChannel {
        NotificationChannel(
            kind: .pagerDuty(
                routingKey: SecretValue(routingKey), endpoint: try #require(URL(string: receiver.url("/v2/enqueue")))),
            label: "pagerduty", secrets: [routingKey], source: "drctl@ops-host")
    }

    final class Lines: Sendable {
        private let lines = Mutex<[String]>([])
        func append(_ line: String) { lines.withLock { $0.append(line) } }
        var all: [String] { lines.withLock { $0 } }
    }

    @Test func pagerDutyGetsTheEventsAPIv2ShapeAndResolveOnTheNextSuccess() async throws {
        let receiver = try HTTPReceiver()
        let notifier = Notifier(channels: [try Self.pagerDuty(receiver)], clock: InstantClock(), report: { _ in })
        let sink = RunNotifier(notifier: notifier, clock: InstantClock())
        sink.emit(
            .runStarted(
                runID: "r1", runbook: "rebuild", environment: "production", totalSteps: 2, toRun: 2, resumed: false))
        sink.emit(.runFinished(Self.failedReport(runID: "r1")))
        var succeeded = Self.failedReport(runID: "r2")
        succeeded.status = .succeeded
        sink.emit(.runFinished(succeeded))
        await sink.flush()

        let requests = receiver.requests
        #expect(requests.count == 2)
        let trigger = try requests[0].json()
        #expect(requests[0].method == "POST" && requests[0].path == "/v2/enqueue")
        #expect(requests[0].headers["content-type"] == "application/json")
        #expect(Set(trigger.keys) == ["routing_key", "event_action", "dedup_key", "payload"])
        #expect(trigger["routing_key"] as? String == Self.routingKey)
        #expect(trigger["event_action"] as? String == "trigger")
        #expect(trigger["dedup_key"] as? String == "drctl/production/rebuild")
        let payload = try #require(trigger["payload"] as? [String: Any])
        #expect(
            payload["summary"] as? String
                == "[production] rebuild run r1 failed at step database.restore; `drctl runs show r1`")
        #expect(payload["severity"] as? String == "critical")
        #expect(payload["source"] as? String == "drctl@ops-host")
        #expect(payload["component"] as? String == "rebuild")
        let details = try #require(payload["custom_details"] as? [String: String])
        #expect(details["step"] == "database.restore")
        #expect(details["error"] == "psql exited 2")
        #expect(details["event"] == "run-failed")

        let resolve = try requests[1].json()
        #expect(Set(resolve.keys) == ["routing_key", "event_action", "dedup_key"])
        #expect(resolve["event_action"] as? String == "resolve")
        #expect(resolve["dedup_key"] as? String == "drctl/production/rebuild")
    }

    @Test func aReceiverThatFailsTwiceGetsItOnTheThirdTryAfterBackoff() async throws {
        let receiver = try HTTPReceiver(statuses: [503, 500])
        let clock = InstantClock()
        let lines = Lines()
        let notifier = Notifier(
            channels: [try Self.pagerDuty(receiver)], initialBackoff: .seconds(2), clock: clock, report: lines.append)
        let notification = Notification(
            kind: .runFailed, environment: "production", scenario: "restore", summary: "restore failed",
            severity: .critical)
        let failures = await notifier.notify(notification)
        #expect(failures.isEmpty)
        #expect(receiver.requests.count == 3)
        #expect(clock.sleeps == [.seconds(2), .seconds(4)])
        #expect(lines.all.isEmpty)
        #expect(
            try receiver.requests.map { try $0.json()["dedup_key"] as? String }
                == Array(repeating: "drctl/production/restore", count: 3))
    }

    @Test func aFailedDeliveryIsReportedRedactedAndNeverThrown() async throws {
        let receiver = try HTTPReceiver(statuses: [500, 500, 500])
        let lines = Lines()
        let clock = InstantClock()
        let notifier = Notifier(
            channels: [try Self.pagerDuty(receiver)], attempts: 3, clock: clock, report: lines.append)
        let failures = await notifier.notify(
            Notification(kind: .runFailed, environment: "e", scenario: "s", summary: "x", severity: .error))
        #expect(failures.count == 1 && failures[0].attempts == 3)
        #expect(lines.all.count == 1)
        #expect(
            lines.all.first?.hasPrefix("warning: could not notify pagerduty of run-failed after 3 attempts: HTTP 500")
                == true)
        #expect(!(lines.all.first ?? "").contains(Self.routingKey))
    }

    @Test func aRefusedRequestIsNotRetried() async throws {
        let receiver = try HTTPReceiver(statuses: [400])
        let notifier = Notifier(channels: [try Self.pagerDuty(receiver)], clock: InstantClock(), report: { _ in })
        let failures = await notifier.notify(
            Notification(kind: .runFailed, environment: "e", scenario: "s", summary: "x", severity: .error))
        #expect(receiver.requests.count == 1)
        #expect(failures.first?.attempts == 1)
    }

    @Test func theWebhookBodyIsSignedWithHMACSHA256() async throws {
        let receiver = try HTTPReceiver()
        let key = "hmac-key-secret"
        let channel = NotificationChannel(
            kind: .webhook(url: try #require(URL(string: receiver.url("/hook"))), hmacKey: SecretValue(key)),
            label: "webhook", secrets: [key], source: "drctl@ops-host")
        let notifier = Notifier(channels: [channel], clock: InstantClock(), report: { _ in })
        await notifier.notify(
            .backupVerificationFailed(
                environment: "production", failed: ["daily/valeo_erp_backup_20261125_020000.sql.gz"]))
        let request = try #require(receiver.requests.first)
        let signature = try #require(request.headers["x-drctl-signature"])
        #expect(signature == "sha256=" + NotificationChannel.hmacSHA256Hex(key: key, body: request.body))
        #expect(signature.count == "sha256=".count + 64)
        let body = try request.json()
        #expect(body["event"] as? String == "backup-verification-failed")
        #expect(body["environment"] as? String == "production")
        #expect(body["scenario"] as? String == "backup")
        #expect(body["severity"] as? String == "critical")
        #expect(!String(decoding: request.body, as: UTF8.self).contains(key))
    }

    @Test func slackGetsOneTextField() async throws {
        let receiver = try HTTPReceiver()
        let url = receiver.url("/services/T000/B000/XXXX")
        let channel = NotificationChannel(
            kind: .slack(url: try #require(URL(string: url))), label: "slack", secrets: [url], source: "h")
        let notifier = Notifier(channels: [channel], clock: InstantClock(), report: { _ in })
        await notifier.notify(
            .backupOlderThanRPO(
                environment: "production", newestBackup: "b.sql.gz", age: .seconds(30 * 3600), rpo: .seconds(24 * 3600))
        )
        let body = try #require(receiver.requests.first).json()
        #expect(Set(body.keys) == ["text"])
        #expect(
            body["text"] as? String == ":red_circle: [production] newest backup is 30h old, older than the RPO of 24h")
    }

    @Test func theBudgetPagesOnceFrom80Percent() async throws {
        let receiver = try HTTPReceiver()
        let notifier = Notifier(channels: [try Self.pagerDuty(receiver)], clock: InstantClock(), report: { _ in })
        let sink = RunNotifier(notifier: notifier, clock: InstantClock())
        sink.emit(
            .runStarted(
                runID: "r1", runbook: "restore", environment: "staging", totalSteps: 1, toRun: 1, resumed: false))
        sink.emit(.budgetWarning(elapsed: .seconds(7200), budget: .seconds(14_400), percent: 50))
        sink.emit(.budgetWarning(elapsed: .seconds(11_520), budget: .seconds(14_400), percent: 80))
        sink.emit(.budgetWarning(elapsed: .seconds(14_400), budget: .seconds(14_400), percent: 100))
        await sink.flush()
        #expect(receiver.requests.count == 1)
        let payload = try #require(try receiver.requests.first?.json()["payload"] as? [String: Any])
        #expect(payload["severity"] as? String == "warning")
        #expect(
            (payload["summary"] as? String)?.hasPrefix("[staging] restore run r1 has used 80 % of its RTO budget")
                == true)
    }

    @Test func aFailedRunSaysWhatItPutBackAfterTheFailure() {
        var report = Self.failedReport()
        var scaleDown = StepReport(step: "app.scale-down", title: "Stop the app", outcome: .undone, attempts: 1)
        scaleDown.undo = "deployment valeo-erp scaled back to its recorded 2 replica(s) and rolled out"
        report.steps.insert(scaleDown, at: 1)
        let notification = RunNotifier.notification(for: report, time: Date())
        #expect(notification?.kind == .runFailed)
        #expect(
            notification?.details["undo"]
                == "app.scale-down undone: deployment valeo-erp scaled back to its recorded 2 replica(s) and rolled out"
        )
    }

    @Test func anInterruptedRunIsAnError() {
        var report = Self.failedReport()
        report.status = .interrupted
        let notification = RunNotifier.notification(for: report, time: Date())
        #expect(notification?.kind == .runInterrupted)
        #expect(notification?.severity == .error)
        #expect(notification?.summary.contains("drctl resume 20261125-031500-ab12") == true)
    }

    @Test func channelsReadTheirSecretsAndLeaveOutWhatIsMissing() throws {
        let sandbox = try ManifestSandbox()
        let manifest = try ManifestLoader(environment: [:]).load(
            from: sandbox.writeManifest(ManifestFixtures.valid + ScheduleManifestTests.scheduleAndNotifications))
        try sandbox.writeFile("secrets/pagerduty-routing-key", Self.routingKey + "\n")
        let (channels, problems) = NotificationChannels(
            environment: ["SLACK_WEBHOOK_URL": "https://hooks.slack.example/T/B/SECRET"], source: "h"
        ).channels(for: manifest)
        #expect(channels.map(\.label) == ["pagerduty", "slack (URL from environment variable SLACK_WEBHOOK_URL)"])
        #expect(channels[0].secrets == [Self.routingKey])
        #expect(problems.count == 1)
        #expect(problems.first?.hasPrefix("warning: notifications[0] (webhook) is left out:") == true)
        #expect(problems.first?.contains("DRCTL_WEBHOOK_KEY") == true)
    }
}

/// A clock whose sleeps return at once and are recorded, for backoff without waiting.
final class InstantClock: RunClock {
    private let recorded = Mutex<[Duration]>([])
    func now() -> Date { Date(timeIntervalSince1970: 1_795_000_000) }
    func sleep(for duration: Duration) async throws { recorded.withLock { $0.append(duration) } }
    var sleeps: [Duration] { recorded.withLock { $0 } }
}
