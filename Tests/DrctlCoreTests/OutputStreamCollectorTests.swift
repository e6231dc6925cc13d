import Foundation
import Synchronization
import Testing

@testable import DrctlCore

@Suite struct OutputStreamCollectorTests {
    private func collector(
        sink: OutputLineSink? = nil,
        captureLimit: Int = 0,
        tailLimit: Int = 3,
        secrets: [String] = []
    ) -> OutputStreamCollector {
        OutputStreamCollector(
            stream: .standardError, command: "psql", redactor: Redactor(secrets: secrets), sink: sink,
            captureLimit: captureLimit, tailLimit: tailLimit)
    }

    private func feed(_ collector: inout OutputStreamCollector, _ chunks: [String]) {
        for chunk in chunks {
            Data(chunk.utf8).withUnsafeBytes { collector.consume($0) }
        }
        collector.finish()
    }

    @Test func linesSplitAcrossChunksAreJoinedAndRedacted() {
        let lines = Mutex<[String]>([])
        var collector = collector(sink: { line in lines.withLock { $0.append(line.text) } }, secrets: ["s3cret"])
        feed(&collector, ["FATAL: pass", "word s3", "cret wrong\r\nsecond\n", "no newline at end"])
        #expect(lines.withLock { $0 } == ["FATAL: password *** wrong", "second", "no newline at end"])
        #expect(collector.tailText == "FATAL: password *** wrong\nsecond\nno newline at end")
    }

    @Test func tailKeepsOnlyTheLastLines() {
        var collector = collector(tailLimit: 2)
        feed(&collector, ["1\n2\n3\n4\n"])
        #expect(collector.tailText == "3\n4")
    }

    @Test func captureStopsAtTheLimitButCountsEverything() {
        var collector = collector(captureLimit: 4, tailLimit: 0)
        feed(&collector, ["abc", "defgh"])
        #expect(collector.captured == Data("abcd".utf8))
        #expect(collector.byteCount == 8)
    }

    @Test func overlongLinesAreCutIntoPieces() {
        var collector = collector(tailLimit: 10)
        let long = String(repeating: "x", count: OutputStreamCollector.maximumLineLength + 5)
        feed(&collector, [long + "\n"])
        #expect(collector.tailText.split(separator: "\n").map(\.count) == [OutputStreamCollector.maximumLineLength, 5])
    }
}
