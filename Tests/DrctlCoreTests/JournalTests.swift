import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

@Suite struct JournalTests {
    private func header(_ runID: String) -> RunHeader {
        RunHeader(
            runID: runID, runbook: "diamond", environment: "test", parameters: RunParameters(),
            manifestFingerprint: "m",
            planFingerprint: "p", steps: [], rtoBudgetSeconds: nil, toolVersions: nil, drctlVersion: "test",
            user: "me", host: "here", pid: 1)
    }

    private func writeThreeRecords(_ backend: LocalStateBackend, runID: String = "run-1") async throws {
        let journal = try await Journal.create(runID: runID, backend: backend)
        var started = JournalRecord(type: .runStarted, time: Date())
        started.run = header(runID)
        try await journal.append(started)
        var step = JournalRecord(type: .stepStarted, time: Date())
        step.step = "fetch"
        step.attempt = 1
        try await journal.append(step)
        var completed = JournalRecord(type: .stepCompleted, time: Date())
        completed.step = "fetch"
        completed.outputs = ["backup": "valeo_erp_backup_20251009_020000.sql.gz"]
        try await journal.append(completed)
    }

    @Test func recordsAreChainedAndReadBack() async throws {
        let state = try TemporaryStateDirectory()
        try await writeThreeRecords(state.backend)
        let read = try await Journal.read(runID: "run-1", backend: state.backend)
        #expect(read.records.map(\.type) == [.runStarted, .stepStarted, .stepCompleted])
        #expect(read.records[0].prev == nil)
        #expect(read.records[2].outputs?["backup"] == "valeo_erp_backup_20251009_020000.sql.gz")
        #expect(read.tornTail == nil)
        let lines = try String(contentsOfFile: state.backend.journalPath(runID: "run-1"), encoding: .utf8)
            .split(separator: "\n")
        #expect(read.records[1].prev == Fingerprint.of(String(lines[0])))
    }

    @Test func aTornLastLineIsReportedAndCutBeforeAppending() async throws {
        let state = try TemporaryStateDirectory()
        try await writeThreeRecords(state.backend)
        try state.backend.append(Data(#"{"type":"step-star"#.utf8), runID: "run-1")

        let read = try await Journal.read(runID: "run-1", backend: state.backend)
        #expect(read.records.count == 3)
        #expect(read.tornTail == #"{"type":"step-star"#)

        let journal = try await Journal.reopen(runID: "run-1", backend: state.backend, after: read)
        try await journal.append(JournalRecord(type: .runInterrupted, time: Date()))
        let again = try await Journal.read(runID: "run-1", backend: state.backend)
        #expect(again.tornTail == nil)
        #expect(again.records.map(\.type).last == .runInterrupted)
    }

    @Test func anEditedLineBreaksTheHashChain() async throws {
        let state = try TemporaryStateDirectory()
        try await writeThreeRecords(state.backend)
        let path = state.backend.journalPath(runID: "run-1")
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try text.replacingOccurrences(of: "\"fetch\"", with: "\"fetcx\"").write(
            toFile: path, atomically: true, encoding: .utf8)

        await #expect {
            try await Journal.read(runID: "run-1", backend: state.backend)
        } throws: { error in
            guard case JournalError.brokenHashChain(_, let line) = error else { return false }
            return line == 3
        }
    }

    @Test func aRemovedLineBreaksTheHashChain() async throws {
        let state = try TemporaryStateDirectory()
        try await writeThreeRecords(state.backend)
        let path = state.backend.journalPath(runID: "run-1")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        try ([lines[0], lines[2]].joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)

        await #expect(throws: JournalError.self) { try await Journal.read(runID: "run-1", backend: state.backend) }
    }

    @Test func aDamagedMiddleLineIsAnErrorNotATornTail() async throws {
        let state = try TemporaryStateDirectory()
        try await writeThreeRecords(state.backend)
        let path = state.backend.journalPath(runID: "run-1")
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[1] = "garbage"
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)

        await #expect {
            try await Journal.read(runID: "run-1", backend: state.backend)
        } throws: { error in
            guard case JournalError.corruptLine(_, let line, _) = error else { return false }
            return line == 2
        }
    }

    @Test func aRunIDCannotEscapeTheStateDirectory() async throws {
        let state = try TemporaryStateDirectory()
        await #expect(throws: JournalError.self) { try await Journal.create(runID: "../evil", backend: state.backend) }
    }

    @Test func stateDirectoryFollowsFlagThenEnvironmentThenXDG() {
        #expect(StateDirectory.resolve(flag: "/flag", environment: ["DRCTL_STATE_DIR": "/env"]) == "/flag")
        #expect(
            StateDirectory.resolve(flag: nil, environment: ["DRCTL_STATE_DIR": "/env", "XDG_STATE_HOME": "/x"])
                == "/env")
        #expect(StateDirectory.resolve(flag: nil, environment: ["XDG_STATE_HOME": "/x", "HOME": "/h"]) == "/x/drctl")
        #expect(StateDirectory.resolve(flag: nil, environment: ["HOME": "/h"]) == "/h/.local/state/drctl")
    }
}

@Suite struct RunLockTests {
    private let identity = ProcessIdentity.current

    @Test func aSecondRunOfTheSameEnvironmentIsRefused() async throws {
        let state = try TemporaryStateDirectory()
        let first = RunLock(environment: "production", runID: "run-1", identity: identity, startedAt: Date())
        try state.backend.acquireLock(first)
        let second = RunLock(environment: "production", runID: "run-2", identity: identity, startedAt: Date())

        #expect {
            try state.backend.acquireLock(second)
        } throws: { error in
            guard case JournalError.lockHeld(let holder, _, let stale) = error else { return false }
            return holder.runID == "run-1" && !stale
        }
        // Another environment is not affected.
        try state.backend.acquireLock(
            RunLock(environment: "staging", runID: "run-3", identity: identity, startedAt: Date()))
    }

    @Test func aLockOfAGoneProcessIsReportedStaleWithTheUnlockCommand() async throws {
        let state = try TemporaryStateDirectory()
        let dead = RunLock(
            environment: "production", runID: "run-1", owner: "ops", host: identity.host, pid: 2_000_000_000,
            startedAt: Date(), nonce: "abc123")
        try state.backend.acquireLock(dead)

        let error = #expect(throws: JournalError.self) {
            try state.backend.acquireLock(
                RunLock(environment: "production", runID: "run-2", identity: identity, startedAt: Date()))
        }
        guard case .lockHeld(_, _, let stale) = error else {
            Issue.record("expected lockHeld, got \(String(describing: error))")
            return
        }
        #expect(stale)
        #expect(error?.errorDescription?.contains("drctl unlock production --nonce abc123") == true)
    }

    @Test func unlockNeedsTheRightNonce() async throws {
        let state = try TemporaryStateDirectory()
        let lock = RunLock(environment: "production", runID: "run-1", identity: identity, startedAt: Date())
        try state.backend.acquireLock(lock)

        #expect(throws: JournalError.self) { try state.backend.releaseLock(environment: "production", nonce: "wrong") }
        #expect(try state.backend.currentLock(environment: "production")?.nonce == lock.nonce)
        try state.backend.releaseLock(environment: "production", nonce: lock.nonce)
        #expect(try state.backend.currentLock(environment: "production") == nil)
        #expect(throws: JournalError.self) {
            try state.backend.releaseLock(environment: "production", nonce: lock.nonce)
        }
    }
}
