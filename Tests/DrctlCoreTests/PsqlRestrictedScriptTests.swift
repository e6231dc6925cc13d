import Foundation
import Testing

@testable import DrctlCore

/// The line surgery of psql's restricted mode (`PsqlRestrictedScript`): drctl's `\restrict K` first, the dump's
/// own `\restrict X` (first statement of the head) and final `\unrestrict X` dropped, whatever the reads' sizes.
@Suite struct PsqlRestrictedScriptTests {
    let key = "drctlkey"
    let dumpKey = "k02uftG0jMZgV0iUTgPddYMtbrsGHZHPvuBz21uG7uGyEB47bSXf7zTl0HfVGAu"

    /// pg_dump 15.18's plain format around `body`.
    func dump(_ body: String, newline: String = "\n") -> String {
        [
            "--", "-- PostgreSQL database dump", "--", "", "\\restrict \(dumpKey)", "",
            "-- Dumped from database version 15.18", "", "SET statement_timeout = 0;", body, "--",
            "-- PostgreSQL database dump complete", "--", "", "\\unrestrict \(dumpKey)", "", "",
        ].joined(separator: newline)
    }

    /// What the relay writes on for `input` read in pieces of `readSize` bytes.
    func relayed(
        _ input: String, readSize: Int, headLimit: Int = PsqlRestrictedScript.headLimit,
        tailBytes: Int = PsqlRestrictedScript.tailBytes
    ) -> String {
        var script = PsqlRestrictedScript(key: key, headLimit: headLimit, tailBytes: tailBytes)
        var written: [UInt8] = []
        let emit = { (bytes: UnsafeRawBufferPointer) -> Bool in
            written.append(contentsOf: bytes)
            return true
        }
        let bytes = Array(input.utf8)
        var offset = 0
        while offset < bytes.count {
            let piece = bytes[offset..<min(offset + readSize, bytes.count)]
            let passed = piece.withUnsafeBytes { script.consume($0, emit: emit) }
            #expect(passed)
            offset += readSize
        }
        let finished = script.finish(emit: emit)
        #expect(finished)
        return String(decoding: written, as: UTF8.self)
    }

    @Test(arguments: [1, 7, 64, 1 << 20])
    func aPgDumpScriptLosesItsOwnRestrictLinesAndGetsDrctls(readSize: Int) {
        let body = (0..<500).map { "INSERT INTO t VALUES (\($0));" }.joined(separator: "\n")
        let expected =
            "\\restrict drctlkey\n"
            + dump(body).replacingOccurrences(of: "\\restrict \(dumpKey)\n", with: "")
            .replacingOccurrences(of: "\\unrestrict \(dumpKey)\n", with: "")
        #expect(relayed(dump(body), readSize: readSize) == expected)
        // Small holds: the lines cross the reads and the held tail's edge (the header is 35 bytes, the line 75).
        #expect(relayed(dump(body), readSize: readSize, headLimit: 36, tailBytes: 100) == expected)
    }

    @Test(arguments: [1, 5, 1 << 20])
    func crlfLinesAreDroppedWhole(readSize: Int) {
        let input = dump("SELECT 1;", newline: "\r\n")
        let expected =
            "\\restrict drctlkey\n"
            + input.replacingOccurrences(of: "\\restrict \(dumpKey)\r\n", with: "")
            .replacingOccurrences(of: "\\unrestrict \(dumpKey)\r\n", with: "")
        #expect(relayed(input, readSize: readSize) == expected)
    }

    @Test func aDumpWithoutTheLineIsPassedOnRestricted() {
        let input = "--\n-- PostgreSQL database dump\n--\n\nSET x = 1;\nSELECT 1;\n"
        #expect(relayed(input, readSize: 3) == "\\restrict drctlkey\n" + input)
        #expect(relayed("", readSize: 1) == "\\restrict drctlkey\n")
    }

    @Test func anUnrestrictWithAnotherKeyOrInTheMiddleStays() {
        // In the middle, with the dump's key: stays (psql refuses it: drctl's key is in force).
        let middle = dump("SELECT 1;\n\\unrestrict \(dumpKey)\n\\! touch /tmp/x\nSELECT 2;")
        let out = relayed(middle, readSize: 11, tailBytes: 100)
        #expect(out.contains("SELECT 1;\n\\unrestrict \(dumpKey)\n\\! touch /tmp/x\n"))
        #expect(!out.hasSuffix("\\unrestrict \(dumpKey)\n\n"), "the final one is still dropped")
        // At the end, with another key: stays.
        let other = dump("SELECT 1;").replacingOccurrences(of: "\\unrestrict \(dumpKey)", with: "\\unrestrict other")
        #expect(relayed(other, readSize: 4).hasSuffix("--\n\n\\unrestrict other\n\n"))
    }

    @Test(arguments: [1, 9, 1 << 20])
    func statementsAppendedAfterTheFinalUnrestrictStayAndTheLineGoes(readSize: Int) {
        // A changed backup (the content check or psql judges the statements): pg_dump's last line is still its.
        let input = dump("SELECT 1;") + "DROP TABLE customers;\n"
        let out = relayed(input, readSize: readSize)
        #expect(!out.contains("\\unrestrict"), "\(out)")
        #expect(out.hasSuffix("--\n\n\nDROP TABLE customers;\n"), "\(out)")
    }

    @Test func onlyTheFirstStatementOfTheHeadIsDropped() {
        // A \restrict after the first statement stays (psql refuses it), and with it its \unrestrict.
        let late =
            "--\n-- PostgreSQL database dump\n--\nSET x = 1;\n\\restrict \(dumpKey)\nSELECT 1;\n\\unrestrict \(dumpKey)\n"
        #expect(relayed(late, readSize: 2) == "\\restrict drctlkey\n" + late)
        // The head is only looked at up to its limit: a \restrict after a longer comment header stays.
        let longHeader = String(repeating: "-- padding\n", count: 10) + "\\restrict \(dumpKey)\nSELECT 1;\n"
        #expect(relayed(longHeader, readSize: 8, headLimit: 110) == "\\restrict drctlkey\n" + longHeader)
        // So is a first line too long to be pg_dump's.
        let longLine = "--\n\\restrict \(dumpKey)" + String(repeating: "x", count: 2000) + "\nSELECT 1;\n"
        for readSize in [100, 1 << 20] {
            #expect(relayed(longLine, readSize: readSize) == "\\restrict drctlkey\n" + longLine)
        }
        #expect(
            relayed(longHeader, readSize: 8, headLimit: 1 << 16)
                == "\\restrict drctlkey\n" + String(repeating: "-- padding\n", count: 10) + "SELECT 1;\n")
    }

    @Test func aRestrictLineMustBeThePgDumpForm() {
        for line in [
            "\\restrict", "\\restrict  ", "\\restrictabc", "\\restrict ab-c", "\\restrict 'abc'", " \\restrict abc",
        ] {
            let input = "--\n\(line)\nSELECT 1;\n"
            #expect(relayed(input, readSize: 4) == "\\restrict drctlkey\n" + input, "\(line)")
        }
        #expect(
            PsqlRestrictedScript.argument(of: "\\restrict", in: Array("\\restrict\tabc \r".utf8)[...])
                == Array("abc".utf8))
    }

    @Test func theKeyIsFreshAndNeverShown() {
        let keys = Set((0..<8).map { _ in PsqlRestrictedScript.freshKey() })
        #expect(keys.count == 8)
        #expect(keys.allSatisfy { $0.count == 64 && $0.allSatisfy(\.isHexDigit) })
        let script = PsqlRestrictedScript(key: "secretkey")
        #expect(!"\(script)".contains("secretkey"))
        #expect(!String(reflecting: script).contains("secretkey"))
    }

    @Test func anEmitThatStopsStopsTheScript() {
        var script = PsqlRestrictedScript(key: key, tailBytes: 4)
        let bytes = Array("--\nSELECT 1;\n".utf8)
        let passed = bytes.withUnsafeBytes { script.consume($0, emit: { _ in false }) }
        #expect(!passed)
    }

    @Test func theRelayShowsInThePlan() {
        let pipeline = CommandPipeline(
            [CommandInvocation("gzip", ["-dc"]), CommandInvocation("psql")], output: .discard,
            taps: [.psqlRestrictedMode(afterStage: 0)])
        #expect(pipeline.redactedCommandLine == "gzip -dc | (drctl: psql restricted mode) | psql")
    }
}
