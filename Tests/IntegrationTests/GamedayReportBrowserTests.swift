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
        let (chromium, folder, page) = try Self.samplePage()
        defer { try? FileManager.default.removeItem(at: folder) }
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
        // The RTO used against its budget, the RPO as backup → incident against its objective, a legend, and the
        // axis' end label anchored at its end (not clipped).
        #expect(dom.output.contains("id=\"rto-budget\""))
        #expect(dom.output.contains("20.0s of 15m 0s"))
        #expect(dom.output.contains("id=\"rpo-budget\""))
        #expect(dom.output.contains("backup 2026-11-25T14:00:00Z → incident 2026-11-25T15:00:00Z"))
        #expect(dom.output.contains("id=\"legend\""))
        #expect(dom.output.contains("resumed after an interruption"))
        #expect(dom.output.contains("text-anchor=\"end\">15:00:20 (20.0s)</text>"))

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

    /// Printed to PDF by the same chromium: A4 pages (595 x 842 points), the timeline on the first page with its
    /// axis, budget bars and legend (read back with poppler's pdftotext and pdfinfo).
    @Test("the HTML report prints to an A4 PDF with the timeline intact")
    func printsToA4PDF() async throws {
        let pdftotext = try #require(
            ["/usr/bin/pdftotext"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "pdftotext is not installed: run scripts/bootstrap (it installs Debian's poppler-utils)")
        let (chromium, folder, page) = try Self.samplePage()
        defer { try? FileManager.default.removeItem(at: folder) }
        let pdf = folder.appendingPathComponent("report.pdf")
        let runner = CommandRunner()
        let print = try await runner.run(
            CommandInvocation(
                chromium,
                [
                    "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(folder.path)/profile",
                    "--no-first-run", "--disable-extensions", "--no-pdf-header-footer",
                    "--print-to-pdf=\(pdf.path)", page.absoluteString,
                ], environment: ["HOME": folder.path], timeout: .seconds(60)))
        #expect(print.status == .exited(0), "\(print.standardErrorTail)")
        let bytes = try Data(contentsOf: pdf)
        #expect(bytes.starts(with: Array("%PDF".utf8)))
        let info = try await runner.runChecked(CommandInvocation("/usr/bin/pdfinfo", [pdf.path])).output
        let size = try #require(info.split(separator: "\n").first { $0.hasPrefix("Page size:") })
        // "Page size:       594.96 x 841.92 pts (A4)": 595 x 842 points once rounded.
        let points = size.split(separator: " ").compactMap { Double($0) }.map { Int($0.rounded()) }
        #expect(points == [595, 842], "\(size)")
        #expect(!info.contains("Pages:           0"))
        let first = try await runner.runChecked(
            CommandInvocation(pdftotext, ["-f", "1", "-l", "1", "-layout", pdf.path, "-"])
        ).output
        for text in [
            "backup.fetch#1", "database.restore#1", "15:00:20 (20.0s)", "RTO used / budget", "20.0s of 15m 0s",
            "RPO backup → incident", "completed", "accepted by probe", "resumed after an interruption",
        ] {
            #expect(first.contains(text), "page 1 of the PDF lacks \(text):\n\(first)")
        }
    }

    /// Chromium (a missing one fails naming the install step), a fresh folder (the caller removes it) and the
    /// sample report's HTML page in it.
    static func samplePage() throws -> (chromium: String, folder: URL, page: URL) {
        let chromium = try #require(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            },
            "chromium is not installed: run scripts/bootstrap (it installs Debian's chromium)")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("drctl-browser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let report = try GamedayReport.decode(json: Data(Self.sample.utf8))
        let page = folder.appendingPathComponent("report.html")
        try report.html.write(to: page, atomically: true, encoding: .utf8)
        return (chromium, folder, page)
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
