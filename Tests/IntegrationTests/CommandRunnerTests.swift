import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The live runner against real programs. `/bin/sh` appears here only as a test subject (a child that exits,
/// signals itself or starts a grandchild); product code never runs a shell.
@Suite("CommandRunner")
struct CommandRunnerTests {
    let runner = CommandRunner(terminationGracePeriod: .milliseconds(300))

    // MARK: Exit status

    @Test func exitCodesAreReturnedAsValues() async throws {
        try requirePrograms("sh", "true")
        let success = try await runner.run(CommandInvocation("true"))
        #expect(success.status == .exited(0))

        let failure = try await runner.run(CommandInvocation("sh", ["-c", "exit 3"]))
        #expect(failure.status == .exited(3))
        #expect(throws: CommandFailure.self) { try failure.checked() }
    }

    @Test func deathBySignalIsReported() async throws {
        try requirePrograms("sh")
        let result = try await runner.run(CommandInvocation("sh", ["-c", "kill -TERM $$"]))
        #expect(result.status == .signalled(SIGTERM))
    }

    @Test func runCheckedThrowsWithTheStandardErrorTail() async throws {
        try requirePrograms("sh")
        let invocation = CommandInvocation("sh", ["-c", "echo 'it broke' >&2; exit 2"])
        do {
            try await runner.runChecked(invocation)
            Issue.record("runChecked returned for a failing command")
        } catch let failure as CommandFailure {
            #expect(failure.status == .exited(2))
            #expect(failure.standardErrorTail == "it broke")
            #expect(failure.localizedDescription.contains("exit status 2"))
        }
    }

    // MARK: Output

    @Test func standardOutputIsCaptured() async throws {
        try requirePrograms("printf")
        let result = try await runner.run(CommandInvocation("printf", ["hello\\nworld\\n"]))
        #expect(result.status == .exited(0))
        #expect(result.output == "hello\nworld\n")
    }

    @Test func standardOutputIsBoundedWithoutFailing() async throws {
        try requirePrograms("head")
        let bounded = CommandRunner(outputLimit: 1000)
        // Far more than a pipe holds: the runner must keep draining after the limit or the child would block.
        let result = try await bounded.run(CommandInvocation("head", ["-c", "3000000", "/dev/zero"]))
        #expect(result.status == .exited(0))
        #expect(result.standardOutput == Data(repeating: 0, count: 1000))
    }

    @Test func standardErrorTailIsRedactedAndBounded() async throws {
        try requirePrograms("sh")
        let lines = Mutex<[OutputLine]>([])
        let runner = CommandRunner(lineSink: { line in lines.withLock { $0.append(line) } }, stderrTailLines: 3)
        let script =
            "echo 'connecting with s3cret' >&2; echo 'out s3cret'; for i in 1 2 3; do echo line $i >&2; done; "
            + "echo 'password s3cret rejected' >&2; exit 1"
        let result = try await runner.run(CommandInvocation("sh", ["-c", script], secrets: ["s3cret"]))

        #expect(result.status == .exited(1))
        #expect(result.standardErrorTail == "line 2\nline 3\npassword *** rejected")
        let streamed = lines.withLock { $0 }
        #expect(streamed.filter { $0.stream == .standardError }.map(\.text).first == "connecting with ***")
        #expect(streamed.contains(OutputLine(command: "sh", stream: .standardOutput, text: "out ***")))
        #expect(!streamed.contains { $0.text.contains("s3cret") })
        let failure = try #require(throws: CommandFailure.self) { try result.checked() }
        #expect(!(failure.errorDescription ?? "").contains("s3cret"))
    }

    // MARK: Environment, working directory, standard input

    @Test func environmentOverridesReachTheChildOnTopOfTheInheritedOnes() async throws {
        try requirePrograms("sh")
        let invocation = CommandInvocation(
            "sh", ["-c", "printf '%s|%s' \"$DRCTL_TEST_VALUE\" \"$PATH\""],
            environment: ["DRCTL_TEST_VALUE": "from drctl"])
        let result = try await runner.run(invocation)
        let parts = result.output.split(separator: "|", omittingEmptySubsequences: false)
        #expect(parts.first == "from drctl")
        #expect(parts.last.map { !$0.isEmpty } == true, "PATH is inherited")
    }

    @Test func executableIsLookedUpOnTheOverriddenPath() async throws {
        let directory = try temporaryDirectory()
        let tool = directory.appendingPathComponent("drctl-test-tool")
        try "#!/bin/sh\necho found me\n".write(to: tool, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: tool.path)

        let invocation = CommandInvocation("drctl-test-tool", environment: ["PATH": directory.path + ":/usr/bin:/bin"])
        let result = try await runner.run(invocation)
        #expect(result.output == "found me\n")
        await #expect(throws: CommandLaunchError.self) { try await runner.run(CommandInvocation("drctl-test-tool")) }
    }

    @Test func workingDirectoryIsSet() async throws {
        try requirePrograms("pwd")
        let directory = try temporaryDirectory()
        let result = try await runner.run(CommandInvocation("pwd", ["-P"], workingDirectory: directory.path))
        #expect(result.output == directory.resolvingSymlinksInPath().path + "\n")
    }

    @Test func standardInputFromFileBytesOrNothing() async throws {
        try requirePrograms("cat", "true")
        let file = try temporaryDirectory().appendingPathComponent("input.txt")
        try Data("from a file\n".utf8).write(to: file)

        let fromFile = try await runner.run(CommandInvocation("cat", standardInput: .file(file.path)))
        #expect(fromFile.output == "from a file\n")

        let bytes = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let fromBytes = try await runner.run(CommandInvocation("cat", standardInput: .bytes(bytes)))
        #expect(fromBytes.standardOutput == bytes)

        let fromNothing = try await runner.run(CommandInvocation("cat"))
        #expect(fromNothing.status == .exited(0))
        #expect(fromNothing.output.isEmpty)

        // A child that never reads its input is not an error: its exit status decides.
        let unread = try await runner.run(CommandInvocation("true", standardInput: .bytes(bytes)))
        #expect(unread.status == .exited(0))
    }

    // MARK: Time limits and cancellation

    @Test func timeoutStopsTheProcessGroupIncludingGrandchildren() async throws {
        try requirePrograms("sh", "sleep")
        let limit = Duration.seconds(1)
        let result = try await runner.run(
            CommandInvocation("sh", ["-c", "sleep 30 & echo $!; wait"], timeout: limit))
        #expect(result.status == .timedOut(limit))
        let grandchild = try #require(pid_t(result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await processEnds(grandchild), "the grandchild sleep \(grandchild) is still running")
    }

    @Test func timeoutKillsAGroupThatIgnoresSigterm() async throws {
        try requirePrograms("sh", "sleep")
        let limit = Duration.seconds(1)
        let result = try await runner.run(
            CommandInvocation("sh", ["-c", "trap '' TERM; sleep 30 & echo $!; wait"], timeout: limit))
        #expect(result.status == .timedOut(limit))
        let grandchild = try #require(pid_t(result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await processEnds(grandchild), "the grandchild sleep \(grandchild) survived SIGKILL")
    }

    @Test func timeoutKillsAGrandchildThatOutlivesItsParent() async throws {
        try requirePrograms("sh", "sleep")
        let limit = Duration.seconds(1)
        let result = try await runner.run(
            CommandInvocation("sh", ["-c", "(trap '' TERM; exec sleep 30) & echo $!; wait"], timeout: limit))
        #expect(result.status == .timedOut(limit))
        let grandchild = try #require(pid_t(result.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(await processEnds(grandchild), "the grandchild sleep \(grandchild) outlived the run")
    }

    @Test func cancellationStopsTheProcessGroupAndRethrows() async throws {
        try requirePrograms("sh", "sleep")
        let announced = Mutex<pid_t?>(nil)
        let runner = CommandRunner(
            lineSink: { line in
                if line.stream == .standardOutput, let pid = pid_t(line.text) { announced.withLock { $0 = pid } }
            },
            terminationGracePeriod: .milliseconds(300))
        let task = Task {
            try await runner.run(CommandInvocation("sh", ["-c", "sleep 30 & echo $!; wait"]))
        }
        var grandchild: pid_t?
        for _ in 0..<250 where grandchild == nil {
            try await Task.sleep(for: .milliseconds(20))
            grandchild = announced.withLock { $0 }
        }
        let pid = try #require(grandchild, "the child never printed its grandchild's pid")
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(await processEnds(pid), "the grandchild sleep \(pid) survived cancellation")
    }

    // MARK: Pipelines

    @Test func pipelineRoundTripsThroughGzip() async throws {
        try requirePrograms("printf", "gzip")
        let pipeline = CommandPipeline([
            CommandInvocation("printf", ["hello pipeline\\n"]),
            CommandInvocation("gzip", ["-c"]),
            CommandInvocation("gzip", ["-dc"]),
        ])
        let result = try await runner.runChecked(pipeline)
        #expect(result.output == "hello pipeline\n")
        #expect(result.stages.map(\.status) == [.exited(0), .exited(0), .exited(0)])
    }

    @Test func pipelineCarriesMoreThanAPipeHolds() async throws {
        try requirePrograms("cat", "gzip")
        let bytes = Data((0..<2_000_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) })
        let pipeline = CommandPipeline([
            CommandInvocation("cat", standardInput: .bytes(bytes)),
            CommandInvocation("gzip", ["-c"]),
            CommandInvocation("gzip", ["-dc"]),
        ])
        let result = try await runner.runChecked(pipeline)
        #expect(result.standardOutput == bytes)
    }

    @Test func failingFirstStageFailsThePipelineEvenWhenGzipSucceeds() async throws {
        try requirePrograms("pg_dump", "gzip")
        let file = try temporaryDirectory().appendingPathComponent("nosuchdb.sql.gz")
        let pipeline = CommandPipeline(
            [
                CommandInvocation(
                    "pg_dump", ["-h", "127.0.0.1", "-p", "1", "-U", "valeo", "nosuchdb"],
                    environment: ["PGPASSWORD": "s3cret", "PGCONNECT_TIMEOUT": "5"],
                    secrets: ["s3cret"]),
                CommandInvocation("gzip", ["-c"]),
            ],
            output: .file(file.path))
        let result = try await runner.run(pipeline)

        #expect(result.stages.count == 2)
        #expect(result.stages[0].status != .exited(0))
        #expect(result.stages[1].status == .exited(0))
        #expect(!result.stages[0].standardErrorTail.isEmpty)
        let failure = try #require(throws: CommandFailure.self) { try result.checked() }
        #expect(failure.stageIndex == 0)
        let message = failure.errorDescription ?? ""
        #expect(message.contains("stage 1 of the pipeline failed"))
        #expect(message.contains("pg_dump"))
        #expect(message.contains("PGPASSWORD='***'"))
        #expect(!message.contains("s3cret"))
        await #expect(throws: CommandFailure.self) { try await runner.runChecked(pipeline) }
    }

    @Test func pipelineOutputGoesToAPrivateFile() async throws {
        try requirePrograms("printf", "gzip")
        let file = try temporaryDirectory().appendingPathComponent("dump.sql.gz")
        // An existing, world-readable file is truncated and made private.
        try Data("old contents".utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: file.path)

        let pipeline = CommandPipeline(
            [CommandInvocation("printf", ["CREATE TABLE t ();\\n"]), CommandInvocation("gzip", ["-c"])],
            output: .file(file.path))
        let result = try await runner.runChecked(pipeline)
        #expect(result.standardOutput.isEmpty)

        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let restored = try await runner.runChecked(CommandInvocation("gzip", ["-dc"], standardInput: .file(file.path)))
        #expect(restored.output == "CREATE TABLE t ();\n")
    }

    @Test func discardedPipelineOutputIsNotKept() async throws {
        try requirePrograms("printf", "cat")
        let pipeline = CommandPipeline(
            [CommandInvocation("printf", ["noise"]), CommandInvocation("cat")], output: .discard)
        let result = try await runner.runChecked(pipeline)
        #expect(result.standardOutput.isEmpty)
    }

    @Test func aFailingMiddleStageIsNamedAndTheOthersFinish() async throws {
        try requirePrograms("printf", "sh", "cat")
        let pipeline = CommandPipeline([
            CommandInvocation("printf", ["data\\n"]),
            CommandInvocation("sh", ["-c", "echo 'middle gave up' >&2; exit 4"]),
            CommandInvocation("cat"),
        ])
        let result = try await runner.run(pipeline)
        #expect(result.stages.count == 3)
        #expect(result.stages[1].status == .exited(4))
        #expect(result.stages[2].status == .exited(0))
        let failure = try #require(throws: CommandFailure.self) { try result.checked() }
        #expect(failure.stageIndex == 1)
        #expect(failure.standardErrorTail == "middle gave up")
    }

    @Test func aStageThatOnlyLostItsReaderIsNotBlamed() async throws {
        try requirePrograms("yes", "sh")
        // `yes` dies of SIGPIPE once the second stage exits; the second stage is the one that failed.
        let pipeline = CommandPipeline([CommandInvocation("yes"), CommandInvocation("sh", ["-c", "exit 5"])])
        let result = try await runner.run(pipeline)
        #expect(result.stages.map(\.status) == [.signalled(SIGPIPE), .exited(5)])
        let failure = try #require(throws: CommandFailure.self) { try result.checked() }
        #expect(failure.stageIndex == 1)
    }

    @Test func pipelineTimeoutStopsEveryStage() async throws {
        try requirePrograms("sleep", "cat")
        let limit = Duration.seconds(1)
        let pipeline = CommandPipeline(
            [CommandInvocation("sleep", ["30"]), CommandInvocation("cat")], timeout: limit)
        let result = try await runner.run(pipeline)
        #expect(result.stages.map(\.status) == [.timedOut(limit), .timedOut(limit)])
        #expect(throws: CommandFailure.self) { try result.checked() }
    }

    // MARK: Pipeline taps

    @Test func aTapRelaysTheBytesAndItsDigestEqualsSha256sum() async throws {
        try requirePrograms("cat", "gzip", "sha256sum")
        let bytes = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) })
        let file = try temporaryDirectory().appendingPathComponent("stream.bin")
        try bytes.write(to: file)
        let pipeline = CommandPipeline(
            [
                CommandInvocation("cat", [file.path]),
                CommandInvocation("gzip", ["-c"]),
                CommandInvocation("gzip", ["-dc"]),
            ],
            taps: [PipelineTap(afterStage: 0)])
        let result = try await runner.runChecked(pipeline)
        #expect(result.standardOutput == bytes)
        let reading = try #require(result.tap(after: 0))
        #expect(reading.byteCount == Int64(bytes.count))
        #expect(reading.reachedEnd)
        let sha256sum = try await runner.runChecked(CommandInvocation("sha256sum", [file.path]))
        #expect(sha256sum.output.split(separator: " ").first.map(String.init) == reading.sha256)
        #expect(pipeline.redactedCommandLine.contains("cat \(file.path) | (sha256 and byte count in drctl) | gzip -c"))
    }

    /// A tap on the first stage's input file: drctl reads the file itself (no `cat`), measures it and writes it
    /// on; a stage that stops reading early does not stop the measuring with `readsToEnd`.
    @Test func aTapOnTheInputFileMeasuresWhatDrctlReadsIntoTheFirstStage() async throws {
        try requirePrograms("gzip", "sha256sum", "head")
        let bytes = Data((0..<3_000_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 11) })
        let folder = try temporaryDirectory()
        let plain = folder.appendingPathComponent("plain.bin")
        try bytes.write(to: plain)
        _ = try await runner.runChecked(
            CommandPipeline([CommandInvocation("gzip", ["-c", plain.path])], output: .file(folder.path + "/c.gz")))
        let compressed = folder.path + "/c.gz"
        let pipeline = CommandPipeline(
            [CommandInvocation("gzip", ["-dc"], standardInput: .file(compressed))], taps: [.input(readsToEnd: true)])
        let result = try await runner.runChecked(pipeline)
        #expect(result.standardOutput == bytes)
        let reading = try #require(result.tap(after: -1))
        let size = try #require(try FileManager.default.attributesOfItem(atPath: compressed)[.size] as? NSNumber)
        #expect(reading.byteCount == size.int64Value)
        #expect(reading.reachedEnd)
        let sha256sum = try await runner.runChecked(CommandInvocation("sha256sum", [compressed]))
        #expect(sha256sum.output.split(separator: " ").first.map(String.init) == reading.sha256)

        let early = try await runner.run(
            CommandPipeline(
                [CommandInvocation("head", ["-c", "10"], standardInput: .file(compressed))],
                taps: [.input(readsToEnd: true)]))
        #expect(early.tap(after: -1)?.byteCount == size.int64Value)
    }

    /// `.lines(startingWith:)`: drctl reads a large stream to its end and keeps only the wanted lines, as grep
    /// would, with the program's exit status its own.
    @Test func linesOutputKeepsOnlyTheWantedLinesOfALargeStream() async throws {
        try requirePrograms("gzip")
        var text = "-- PostgreSQL database dump\n"
        for index in 0..<200_000 { text += "\(index)\tsome row text that fills the stream\n" }
        text += "\\connect other\n" + String(repeating: "y", count: 40_000) + "\\connect hidden\n"
        let file = try temporaryDirectory().appendingPathComponent("dump.sql")
        try Data(text.utf8).write(to: file)
        let pipeline = CommandPipeline(
            [CommandInvocation("gzip", ["-c", file.path]), CommandInvocation("gzip", ["-dc"])],
            output: .lines(startingWith: ["-- PostgreSQL", "\\connect "]))
        let result = try await runner.runChecked(pipeline)
        #expect(result.output == "-- PostgreSQL database dump\n\\connect other\n")
        #expect(
            pipeline.redactedCommandLine.hasSuffix(
                "| (drctl keeps the lines that begin with '-- PostgreSQL', '\\connect ')"))
    }

    @Test func aFailingFirstStageBeforeTheTapIsNamed() async throws {
        try requirePrograms("sh", "gzip", "cat")
        let pipeline = CommandPipeline(
            [
                CommandInvocation("sh", ["-c", "printf partial; echo 'download broke' >&2; exit 7"]),
                CommandInvocation("cat"),
                CommandInvocation("cat"),
            ],
            taps: [PipelineTap(afterStage: 0)])
        let result = try await runner.run(pipeline)
        #expect(result.stages.map(\.status) == [.exited(7), .exited(0), .exited(0)])
        #expect(result.output == "partial")
        #expect(result.tap(after: 0)?.byteCount == 7)
        let failure = try #require(throws: CommandFailure.self) { try result.checked() }
        #expect(failure.stageIndex == 0)
        #expect(failure.standardErrorTail == "download broke")
        #expect(failure.errorDescription?.contains("(sha256 and byte count in drctl)") == true)
    }

    @Test func aStageAfterTheTapThatStopsReadingEndsTheStreamWithoutBlamingTheWriter() async throws {
        try requirePrograms("yes", "sh")
        let pipeline = CommandPipeline(
            [CommandInvocation("yes"), CommandInvocation("sh", ["-c", "head -c 10 >/dev/null; exit 3"])],
            taps: [PipelineTap(afterStage: 0)])
        let result = try await runner.run(pipeline)
        #expect(result.stages.map(\.status) == [.signalled(SIGPIPE), .exited(3)])
        #expect(result.tap(after: 0)?.reachedEnd == false)
        let failure = try #require(throws: CommandFailure.self) { try result.checked() }
        #expect(failure.stageIndex == 1)
    }

    @Test func aTimeoutStopsEveryStageAroundATap() async throws {
        try requirePrograms("sleep", "cat")
        let limit = Duration.seconds(1)
        let pipeline = CommandPipeline(
            [CommandInvocation("sleep", ["30"]), CommandInvocation("cat")], timeout: limit,
            taps: [PipelineTap(afterStage: 0)])
        let result = try await runner.run(pipeline)
        #expect(result.stages.map(\.status) == [.timedOut(limit), .timedOut(limit)])
        #expect(result.tap(after: 0)?.byteCount == 0)
    }

    /// `yes | tap | sleep 30`: once cancelled, every stage is dead and drctl holds neither pipe of the tap any more
    /// (the relay returned), when `run` has thrown.
    @Test func cancellingATappedPipelineStopsEveryStage() async throws {
        try requirePrograms("sh", "yes", "sleep")
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cancelled = try await cancelTappedPipeline(writer: "exec yes", reader: "exec sleep 30", in: folder.path)

        #expect(await processEnds(cancelled.writer), "stage 1 (yes) survived the cancellation")
        #expect(await processEnds(cancelled.reader), "stage 2 (sleep) survived the cancellation")
        #expect(ownDescriptors(on: cancelled.relayPipes).isEmpty, "the relay still holds a pipe of the tap")
    }

    /// The stage before the tap leaves a grandchild in its own session holding the pipe (no stage's signal
    /// reaches it), so the relay never sees end-of-file: cancelling still ends the relay before `run` throws.
    @Test func cancellingUnblocksARelayWhosePipeAnEscapedGrandchildHolds() async throws {
        try requirePrograms("sh", "setsid", "sleep", "cat")
        let folder = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cancelled = try await cancelTappedPipeline(
            writer: "setsid sleep 600 & echo $! > \(folder.path)/escaped; wait", reader: "exec cat", in: folder.path,
            alsoAnnounced: "escaped")
        let escaped = try #require(cancelled.also)
        defer { kill(escaped, SIGKILL) }

        #expect(await processEnds(cancelled.writer))
        #expect(await processEnds(cancelled.reader))
        #expect(isRunning(escaped), "the escaped grandchild is outside every stage's group: still running")
        #expect(
            ownDescriptors(on: cancelled.relayPipes).isEmpty, "the relay is still blocked on the escaped writer's pipe")
    }

    /// Runs `sh -c WRITER | tap | sh -c READER` (each stage first writes its pid into `folder`), cancels it once
    /// both run and `alsoAnnounced` (a pid file WRITER writes) exists, and expects `CancellationError`. Returns the
    /// stages' pids, the `alsoAnnounced` pid and the two pipes of the tap.
    private func cancelTappedPipeline(
        writer: String, reader: String, in folder: String, alsoAnnounced: String? = nil
    ) async throws -> (writer: pid_t, reader: pid_t, also: pid_t?, relayPipes: Set<String>) {
        let pipeline = CommandPipeline(
            [
                CommandInvocation("sh", ["-c", "echo $$ > \(folder)/writer; \(writer)"]),
                CommandInvocation("sh", ["-c", "echo $$ > \(folder)/reader; \(reader)"]),
            ],
            taps: [PipelineTap(afterStage: 0)])
        let task = Task { try await runner.run(pipeline) }
        let writerPID = try await announcedPID(folder + "/writer")
        let readerPID = try await announcedPID(folder + "/reader")
        var also: pid_t?
        if let alsoAnnounced { also = try await announcedPID(folder + "/" + alsoAnnounced) }
        let relayPipes = try #require(pipeInode(of: writerPID, descriptor: 1)).union(
            try #require(pipeInode(of: readerPID, descriptor: 0)))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        return (writerPID, readerPID, also, relayPipes)
    }

    // MARK: Launch errors

    @Test func missingExecutableThrowsALaunchErrorNamingTheFix() async throws {
        let invocation = CommandInvocation("drctl-no-such-tool", ["--password", "s3cret"], secrets: ["s3cret"])
        let error = try await #require(throws: CommandLaunchError.self) { try await runner.run(invocation) }
        let message = error.errorDescription ?? ""
        #expect(message.hasPrefix("drctl-no-such-tool: not found on PATH — install it"))
        #expect(message.contains("DRCTL_DRCTL_NO_SUCH_TOOL"))
        #expect(message.contains("drctl-no-such-tool --password '***'"))
        #expect(!message.contains("s3cret"))
    }

    @Test func missingExecutableInAPipelineStartsNothing() async throws {
        try requirePrograms("printf")
        let pipeline = CommandPipeline([CommandInvocation("printf", ["x"]), CommandInvocation("/nonexistent/gzip")])
        let error = try await #require(throws: CommandLaunchError.self) { try await runner.run(pipeline) }
        #expect(error.errorDescription?.hasPrefix("/nonexistent/gzip: no such file") == true)
    }

    @Test func missingWorkingDirectoryIsALaunchError() async throws {
        try requirePrograms("true")
        let invocation = CommandInvocation("true", workingDirectory: "/nonexistent/drctl")
        await #expect(throws: CommandLaunchError.self) { try await runner.run(invocation) }
    }
}

// MARK: - Helpers

/// Fails the test (never skips it) when a program the test drives is not installed.
private func requirePrograms(_ names: String..., sourceLocation: SourceLocation = #_sourceLocation) throws {
    for name in names {
        try #require(
            ProgramSearch.find(name) != nil, "\(name) is not on PATH — run scripts/bootstrap to install the test tools",
            sourceLocation: sourceLocation)
    }
}

private func temporaryDirectory() throws -> URL {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
        "drctl-runner-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    return directory
}

/// The pid a test stage wrote into `path` (waits up to 10 s for it).
private func announcedPID(_ path: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> pid_t {
    for _ in 0..<500 {
        if let text = try? String(contentsOfFile: path, encoding: .utf8),
            let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines))
        {
            return pid
        }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw CommandLaunchError.spawnFailed(commandLine: path, reason: "no stage wrote its pid there")
}

/// The pipe (`pipe:[inode]`) that descriptor `descriptor` of process `pid` is, if it is one.
private func pipeInode(of pid: pid_t, descriptor: Int32) -> Set<String>? {
    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(descriptor)"),
        target.hasPrefix("pipe:")
    else { return nil }
    return [target]
}

/// This process's descriptors that are one of `pipes`.
private func ownDescriptors(on pipes: Set<String>) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return entries.filter { entry in
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + entry)).map(pipes.contains)
            ?? false
    }
}

/// Waits (up to 10 s) for the process to be gone or a zombie nobody has reaped yet.
private func processEnds(_ pid: pid_t) async -> Bool {
    for _ in 0..<500 {
        if !isRunning(pid) { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return !isRunning(pid)
}

private func isRunning(_ pid: pid_t) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
    return state != "Z" && state != "X"
}
