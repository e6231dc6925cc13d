import DrctlCore
import Foundation
import Testing

/// The S3 state backend against the local S3 endpoint of the stack (moto_server) with the real `aws` CLI.
@Suite(.serialized) struct S3StateBackendTests {
    @Test func aJournalWrittenOnOneMachineIsReadOnAnother() async throws {
        let s3 = try await S3Sandbox.make()
        let writer = s3.backend(machine: "a")
        let journal = try await Journal.create(runID: "run-1", backend: writer)
        var started = JournalRecord(type: .runStarted, time: Date())
        started.run = RunHeader(
            runID: "run-1", runbook: "selftest", environment: "shared", parameters: RunParameters(),
            manifestFingerprint: "m",
            planFingerprint: "p", steps: [], rtoBudgetSeconds: nil, toolVersions: nil, drctlVersion: "test",
            user: "me", host: "here", pid: 1)
        try await journal.append(started)
        var completed = JournalRecord(type: .stepCompleted, time: Date())
        completed.step = "fetch"
        completed.outputs = ["backup": "b.sql.gz"]
        try await journal.append(completed)

        let reader = s3.backend(machine: "b")
        #expect(try await reader.runIDs() == ["run-1"])
        let read = try await Journal.read(runID: "run-1", backend: reader)
        #expect(read.records.map(\.type) == [.runStarted, .stepCompleted])
        #expect(read.records[1].prev != nil)
        await #expect(throws: JournalError.self) { try await Journal.create(runID: "run-1", backend: reader) }
        await #expect(throws: JournalError.self) { try await Journal.read(runID: "no-such-run", backend: reader) }
    }

    @Test func theLockIsAConditionalWriteThatOnlyOneMachineWins() async throws {
        let s3 = try await S3Sandbox.make()
        let first = RunLock(environment: "production", runID: "run-1", identity: .current, startedAt: Date())
        try await s3.backend(machine: "a").acquireLock(first)

        let other = s3.backend(machine: "b")
        await #expect {
            try await other.acquireLock(
                RunLock(environment: "production", runID: "run-2", identity: .current, startedAt: Date()))
        } throws: { error in
            guard case JournalError.lockHeld(let holder, _, let stale) = error else { return false }
            return holder.runID == "run-1" && !stale
        }
        await #expect(throws: JournalError.self) {
            try await other.releaseLock(environment: "production", nonce: "wrong")
        }
        try await other.releaseLock(environment: "production", nonce: first.nonce)
        #expect(try await other.currentLock(environment: "production") == nil)
        try await other.acquireLock(
            RunLock(environment: "production", runID: "run-2", identity: .current, startedAt: Date()))
    }

    @Test func aRunOnSharedStateFailsAndIsResumedFromAnotherMirror() async throws {
        let s3 = try await S3Sandbox.make()
        let work = s3.scratch + "/work"
        let runbook = try SelfTestScenario(directory: work).runbook()
        let service = RunService(
            backend: s3.backend(machine: "a"), runner: CommandRunner(), events: ClosureEventSink { _ in })
        var broken = runbook
        broken.steps[3].action = { _ in throw JournalError.backendFailed(operation: "test", detail: "injected") }
        await #expect(throws: RunbookError.self) { try await service.start(broken) }

        let runID = try #require(try await s3.backend(machine: "b").runIDs().first)
        let resumer = RunService(
            backend: s3.backend(machine: "b"), runner: CommandRunner(), events: ClosureEventSink { _ in })
        try await resumer.resume(runID: runID, registry: .builtIn)

        let history = try await RunCatalog(backend: s3.backend(machine: "c")).history(runID: runID)
        #expect(history.status == .succeeded)
        #expect(history.segments.map(\.kind) == [.started, .resumed])
        #expect(try String(contentsOfFile: work + "/out/ab.txt", encoding: .utf8) == "alpha+bravo")
        #expect(try await s3.backend(machine: "c").currentLock(environment: "selftest") == nil)
    }
}

/// A fresh bucket on the stack's S3 endpoint, and backends with separate local mirrors (as if on separate
/// machines).
private final class S3Sandbox: Sendable {
    let bucket: String
    let scratch: String

    init(bucket: String, scratch: String) {
        self.bucket = bucket
        self.scratch = scratch
    }

    deinit { try? FileManager.default.removeItem(atPath: scratch) }

    static func make() async throws -> S3Sandbox {
        let environment = ProcessInfo.processInfo.environment
        guard environment["AWS_ENDPOINT_URL"] != nil else { throw StackMissing() }
        let bucket = "drctl-state-" + UUID().uuidString.prefix(8).lowercased()
        let result = try await CommandRunner().run(CommandInvocation("aws", ["s3", "mb", "s3://\(bucket)"]))
        try result.checked()
        let scratch = NSTemporaryDirectory() + "drctl-s3-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        return S3Sandbox(bucket: bucket, scratch: scratch)
    }

    func backend(machine: String) -> S3StateBackend {
        S3StateBackend(
            bucket: bucket, prefix: "team/drctl", mirrorDirectory: scratch + "/mirror-" + machine,
            runner: CommandRunner())
    }

    struct StackMissing: Error, CustomStringConvertible {
        var description: String {
            "AWS_ENDPOINT_URL is not set: start the local stack (scripts/bootstrap && scripts/stack up) and load "
                + "its environment (eval \"$(scripts/stack env)\") before the S3 tests"
        }
    }
}
