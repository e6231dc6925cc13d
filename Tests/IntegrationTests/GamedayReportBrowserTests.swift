import DrctlCore
import Foundation
import Testing

/// The game-day HTML report in a real headless Chromium (Debian's `chromium`): it renders offline and its timeline
/// is in the DOM and on the screenshot. `scripts/bootstrap` installs chromium (about two minutes the first time);
/// a missing chromium fails the test naming that step.
@Suite("Game-day report in a headless browser")
struct GamedayReportBrowserTests {
    @Test("the HTML report renders in headless Chromium and shows the timeline")
    func rendersWithTimeline() async throws {
        let chromium = try #require(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            },
            "chromium is not installed: run scripts/bootstrap (it installs Debian's chromium)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let report = try GamedayReport.decode(json: Data(Self.sample.utf8))
        let page = folder.appendingPathComponent("report.html")
        try report.html.write(to: page, atomically: true, encoding: .utf8)
        let flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(folder.path)/profile",
            "--no-first-run", "--disable-extensions",
        ]
        let runner = CommandRunner()
        let dom = try await runner.run(
            CommandInvocation(
                chromium, flags + ["--dump-dom", page.absoluteString], environment: ["HOME": folder.path],
                timeout: .seconds(60)))
        #expect(dom.status == .exited(0), "\(dom.standardErrorTail)")
        #expect(dom.output.contains("<svg id=\"timeline\""))
        #expect(dom.output.contains("data-step=\"database.restore\""))
        #expect(dom.output.contains("PASSED"))

        let screenshot = folder.appendingPathComponent("report.png")
        let shot = try await runner.run(
            CommandInvocation(
                chromium, flags + ["--screenshot=\(screenshot.path)", "--window-size=1200,1600", page.absoluteString],
                environment: ["HOME": folder.path], timeout: .seconds(60)))
        #expect(shot.status == .exited(0), "\(shot.standardErrorTail)")
        let png = try Data(contentsOf: screenshot)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(png.count > 10_000)
    }

    static let sample = """
        {"runID":"20261125-150000-test","scenario":"cluster-loss","hypothesis":"h","target":"staging","source":"prod",
         "objectives":{"rpoTargetSeconds":86400,"rtoTargetSeconds":900,"rpoAchievedSeconds":3600,"rtoAchievedSeconds":20,
           "rpoMet":true,"rtoMet":true},
         "incidentTime":"2026-11-25T15:00:00Z","backup":"db_backup_20261125_140000.sql.gz",
         "backupTakenAt":"2026-11-25T14:00:00Z","skippedBackups":["db_backup_20261125_150001.sql.gz: corrupt"],
         "startedAt":"2026-11-25T15:00:00Z","endedAt":"2026-11-25T15:00:20Z","status":"succeeded",
         "steps":[
          {"id":"backup.fetch","title":"Fetch","commands":["aws s3 cp s3://b/k /tmp/k"],"evidence":{"sha256":"ab"},
           "attempts":[{"number":1,"startedAt":"2026-11-25T15:00:01Z","endedAt":"2026-11-25T15:00:05Z",
             "durationSeconds":4,"outcome":"completed","exit":"0"}]},
          {"id":"database.restore","title":"Restore","commands":["psql ..."],"evidence":{"rows":"500"},
           "attempts":[{"number":1,"startedAt":"2026-11-25T15:00:05Z","endedAt":"2026-11-25T15:00:12Z",
             "durationSeconds":7,"outcome":"accepted-by-probe","exit":"0"}]}],
         "segments":[{"kind":"started","time":"2026-11-25T15:00:00Z","end":"2026-11-25T15:00:10Z","status":"interrupted"},
          {"kind":"resumed","time":"2026-11-25T15:00:11Z","end":"2026-11-25T15:00:20Z","status":"succeeded"}],
         "faults":[{"fault":"kill","howTheRunCoped":"resumed","coped":true}],
         "verdict":"PASSED","findings":["No deviations."]}
        """
}
