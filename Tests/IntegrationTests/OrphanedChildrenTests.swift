import DrctlCore
import DrctlTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A SIGKILL of drctl leaves its children running (they lead their own process groups). The live runner records
/// each child's group in the run's folder; `drctl resume` stops the ones still running before it re-runs
/// anything, and leaves alone a pid that now belongs to another program.
@Suite("Resume stops the children a killed run left running")
struct OrphanedChildrenTests {
    @Test("drctl killed while its child runs: resume stops the orphan first, says so, and finishes the run")
    func resumeStopsTheOrphan() async throws {
        let drctl = try DrctlProcess.binary()
        let folder = NSTemporaryDirectory() + "drctl-orphans-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let work = folder + "/work"
        let state = folder + "/state"
        var environment = ProcessInfo.processInfo.environment
        environment["DRCTL_SELFTEST_CHILD_SLEEP"] = "300"

        let killed = try await DrctlProcess.runKilled(
            drctl, ["selftest", "--dir", work, "--state-dir", state, "-o", "json"], environment: environment,
            whenOutputContains: "running sleep 300 as a child process", delay: .zero,
            andCondition: { !Self.records(in: state).isEmpty })
        #expect(killed.killed, "the run ended before it could be killed:\n\(killed.output)")
        let runID = try #require(killed.runID)
        let record = try #require(Self.records(in: state).first, "no child recorded in \(state)/runs/\(runID)")
        let orphan = record.processGroup
        defer { if Self.isRunning(orphan) { kill(-orphan, SIGKILL) } }
        #expect(record.command.hasPrefix("sleep 300"), "\(record)")
        #expect(Self.isRunning(orphan), "the child did not outlive drctl: nothing to test")

        environment["DRCTL_SELFTEST_CHILD_SLEEP"] = nil
        let resumed = try await DrctlProcess.run(
            drctl, ["resume", runID, "--state-dir", state, "-o", "json"], environment: environment)
        #expect(resumed.status == 0, "drctl resume failed:\n\(resumed.output)\n\(resumed.errors)")
        #expect(resumed.errors.contains("stopped process group \(orphan)"), "\(resumed.errors)")
        #expect(!Self.isRunning(orphan), "the orphaned sleep is still running")
        #expect(Self.records(in: state).isEmpty, "records left behind")
        let journal = try String(contentsOfFile: state + "/runs/\(runID)/journal.jsonl", encoding: .utf8)
        #expect(journal.contains("stopped process group \(orphan)"), "the resume's journal does not say so")
    }

    @Test("a recorded pid that now belongs to another program is left alone; the recorded program is stopped")
    func recycledPidIsLeftAlone() async throws {
        let folder = NSTemporaryDirectory() + "drctl-orphans-" + UUID().uuidString.prefix(8)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let records = ChildProcessRecords(runsFolder: folder, gracePeriod: .seconds(2))
        records.attach(runID: "r1")
        let child = Task { try await CommandRunner(childRecords: records).run(CommandInvocation("sleep", ["300"])) }
        var recorded: ChildProcessRecords.Record?
        for _ in 0..<250 where recorded == nil {
            try await Task.sleep(for: .milliseconds(20))
            recorded = Self.records(in: folder + "/..", runsFolder: folder).first
        }
        let record = try #require(recorded, "the runner recorded no child in \(folder)/r1/children")
        let group = record.processGroup
        defer { kill(-group, SIGKILL) }
        #expect(record.command == "sleep 300")
        #expect(record.startTime != nil && record.startTime == Self.startTime(of: group))

        // Another start time: as if the kernel had given the pid to another program since.
        var other = record
        other.startTime = (record.startTime ?? 0) + 1
        try Self.write(other, to: records.childrenFolder(runID: "r1"))
        let recycled = await records.stopLeftovers(runID: "r1")
        #expect(recycled == [.recycled(other)])
        #expect(Self.isRunning(group), "another program's process was signalled")

        try Self.write(record, to: records.childrenFolder(runID: "r1"))
        let stopped = await records.stopLeftovers(runID: "r1")
        #expect(stopped.count == 1)
        if case .stopped = stopped.first {} else { Issue.record("not stopped: \(stopped)") }
        let result = try await child.value
        #expect(!result.status.isSuccess, "\(result.status)")
        #expect(!Self.isRunning(group))
    }

    static func records(in state: String, runsFolder: String? = nil) -> [ChildProcessRecords.Record] {
        let runs = runsFolder ?? state + "/runs"
        var found: [ChildProcessRecords.Record] = []
        for run in (try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? [] {
            let folder = runs + "/" + run + "/children"
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
            where name.hasSuffix(".json") {
                if let data = FileManager.default.contents(atPath: folder + "/" + name),
                    let record = try? JSONDecoder().decode(ChildProcessRecords.Record.self, from: data)
                {
                    found.append(record)
                }
            }
        }
        return found
    }

    static func write(_ record: ChildProcessRecords.Record, to folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try JSONEncoder().encode(record).write(to: URL(fileURLWithPath: folder + "/\(record.processGroup).json"))
    }

    /// Alive and not a zombie waiting to be reaped by whoever adopted it.
    static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }

    static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? UInt64(fields[19]) : nil
    }
}
