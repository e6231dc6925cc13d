import DrctlCore
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Drives the real `drctl` binary: a run killed with SIGKILL in the middle of a step, then resumed, ends in the
/// same state as an uninterrupted run, and the steps that had completed are not run again.
@Suite(.serialized) struct ResumeAfterKillTests {
    @Test func aRunKilledMidStepResumesToTheSameEndState() async throws {
        let drctl = try DrctlBinary.path()
        let root = try TemporaryFolder()

        // The reference: an uninterrupted run.
        let reference = try await DrctlBinary.run(
            drctl, ["selftest", "--dir", root.path + "/reference", "--state-dir", root.path + "/state-ref"])
        #expect(reference.status == 0, "reference run failed: \(reference.output)")

        // The same run, killed while write-b sleeps.
        let work = root.path + "/work"
        let state = root.path + "/state"
        let process = try DrctlBinary.start(
            drctl, ["selftest", "--dir", work, "--state-dir", state], environment: ["DRCTL_SELFTEST_DELAY": "60"])
        try await waitUntil("write-b has started", process: process) {
            (try? String(contentsOfFile: work + "/steps.log", encoding: .utf8))?.contains("start write-b") == true
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)

        let catalog = RunCatalog(backend: LocalStateBackend(root: state))
        let runID = try #require(try await catalog.list().first?.runID)
        let killed = try await catalog.history(runID: runID)
        #expect(catalog.displayStatus(killed) == "crashed")
        let completedBeforeKill = killed.steps.filter {
            if case .completed = $0.state { true } else { false }
        }.map(\.id.rawValue)
        #expect(completedBeforeKill.contains("prepare"))
        #expect(killed.steps.first { $0.id == "write-b" }?.state == .inDoubt)

        let resumed = try await DrctlBinary.run(drctl, ["resume", runID, "--state-dir", state])
        #expect(resumed.status == 0, "resume failed: \(resumed.output)")

        // Same end state as the uninterrupted run.
        for file in ["a.txt", "b.txt", "ab.txt", "done.txt"] {
            let expected = try String(contentsOfFile: root.path + "/reference/out/" + file, encoding: .utf8)
            #expect(try String(contentsOfFile: work + "/out/" + file, encoding: .utf8) == expected, "\(file)")
        }
        // Steps completed before the kill ran once; every step ended exactly once.
        let log = try String(contentsOfFile: work + "/steps.log", encoding: .utf8).split(separator: "\n")
        for step in completedBeforeKill {
            #expect(log.filter { $0 == "start \(step)" }.count == 1, "\(step) was run again")
        }
        // A step killed after its effect but before it was journaled is accepted by its probe on resume: it
        // may not have logged its end, and must not run again.
        let after = try await catalog.history(runID: runID)
        for step in after.steps {
            let ends = log.filter { $0 == "end \(step.id)" }.count
            if step.attempts.last?.outcome == .acceptedByProbe {
                #expect(ends <= 1, "\(step.id) ended \(ends) times")
                #expect(log.filter { $0 == "start \(step.id)" }.count == 1, "\(step.id) was accepted, yet run again")
            } else {
                #expect(ends == 1, "\(step.id) ended \(ends) times")
            }
        }
        #expect(after.steps.allSatisfy { if case .completed = $0.state { true } else { false } })

        let show = try await DrctlBinary.run(drctl, ["runs", "show", runID, "--state-dir", state])
        #expect(show.output.contains("Status: succeeded (resumed 1×)"))
        #expect(show.output.contains("the process stopped without recording an end"))
        #expect(show.output.contains("never completed: the run stopped during it (so it was run again)"))
        #expect(show.output.contains("took over the stale lock"))
    }

    @Test func sigtermRecordsTheInterruptionAndExitsResumable() async throws {
        let drctl = try DrctlBinary.path()
        let root = try TemporaryFolder()
        let work = root.path + "/work"
        let state = root.path + "/state"
        let process = try DrctlBinary.start(
            drctl, ["selftest", "--dir", work, "--state-dir", state], environment: ["DRCTL_SELFTEST_DELAY": "60"])
        try await waitUntil("write-b has started", process: process) {
            (try? String(contentsOfFile: work + "/steps.log", encoding: .utf8))?.contains("start write-b") == true
        }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 4)

        let catalog = RunCatalog(backend: LocalStateBackend(root: state))
        let runID = try #require(try await catalog.list().first?.runID)
        let history = try await catalog.history(runID: runID)
        #expect(history.status == .interrupted)
        #expect(history.segments.last?.end?.inFlight == ["write-b"])
        #expect(try LocalStateBackend(root: state).currentLock(environment: "selftest") == nil)
    }

    @Test func theExitCodesAreTheDocumentedOnes() async throws {
        let drctl = try DrctlBinary.path()
        let root = try TemporaryFolder()
        let state = root.path + "/state"
        let failing = try await DrctlBinary.run(
            drctl, ["selftest", "--dir", root.path + "/w", "--state-dir", state],
            environment: ["DRCTL_SELFTEST_FAIL": "combine"])
        #expect(failing.status == 1)
        #expect(failing.errors.contains("drctl resume"))
        let unknown = try await DrctlBinary.run(drctl, ["resume", "no-such-run", "--state-dir", state])
        #expect(unknown.status == 2)
        let noLock = try await DrctlBinary.run(drctl, ["unlock", "selftest", "--nonce", "x", "--state-dir", state])
        #expect(noLock.status == 3)
    }
}

/// Finds and starts the `drctl` binary built by `swift build`.
private enum DrctlBinary {
    static func path() throws -> String {
        if let path = ProcessInfo.processInfo.environment["DRCTL_BINARY"] { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent(".build/debug/drctl").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw BinaryMissing(path: path)
        }
        return path
    }

    struct BinaryMissing: Error, CustomStringConvertible {
        var path: String
        var description: String {
            "\(path) is missing: run `swift build` (or set DRCTL_BINARY) before the integration tests"
        }
    }

    struct Result {
        var status: Int32
        var output: String
        var errors: String
    }

    static func start(
        _ path: String, _ arguments: [String], environment: [String: String] = [:], output: FileHandle? = nil,
        errors: FileHandle? = nil
    ) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        process.standardOutput = output ?? FileHandle.nullDevice
        process.standardError = errors ?? FileHandle.nullDevice
        try process.run()
        return process
    }

    static func run(_ path: String, _ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        let folder = try TemporaryFolder()
        let out = folder.path + "/out"
        let err = folder.path + "/err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let process = try start(
            path, arguments, environment: environment, output: try FileHandle(forWritingTo: URL(fileURLWithPath: out)),
            errors: try FileHandle(forWritingTo: URL(fileURLWithPath: err)))
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return Result(
            status: process.terminationStatus, output: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            errors: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }
}

/// Polls a condition (a file the child writes); fails after a generous limit instead of hanging.
private func waitUntil(_ what: String, process: Process, _ condition: () -> Bool) async throws {
    for _ in 0..<2400 {
        if condition() { return }
        guard process.isRunning else {
            throw WaitFailed(what: what + " (drctl exited with \(process.terminationStatus))")
        }
        try await Task.sleep(for: .milliseconds(25))
    }
    throw WaitFailed(what: what)
}

private struct WaitFailed: Error, CustomStringConvertible {
    var what: String
    var description: String { "gave up waiting until \(what)" }
}

private final class TemporaryFolder: Sendable {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "drctl-it-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
