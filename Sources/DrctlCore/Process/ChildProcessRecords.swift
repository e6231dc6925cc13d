import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The process groups a run's children lead, recorded in the run's folder (`<state>/runs/<id>/children/<pgid>.json`)
/// while they run, so that `drctl resume` can stop the children a killed drctl left behind before it re-runs
/// anything: an orphaned `helm upgrade` or `psql` would otherwise race the resumed run.
///
/// The live `CommandRunner` records each child when it starts and removes the record when it ends. A record holds
/// the group id, the leader's start time (`/proc/<pid>/stat`) and the boot id, so a pid the kernel has since
/// given to another program is recognised and left alone.
public final class ChildProcessRecords: Sendable {
    /// One recorded child.
    public struct Record: Sendable, Hashable, Codable {
        public var processGroup: Int32
        /// Clock ticks since boot when the leader started (`/proc/<pid>/stat` field 22); nil where unknown.
        public var startTime: UInt64?
        /// `/proc/sys/kernel/random/boot_id`: start times are only comparable within one boot.
        public var bootID: String?
        /// The command line, secrets redacted.
        public var command: String

        public init(processGroup: Int32, startTime: UInt64?, bootID: String?, command: String) {
            self.processGroup = processGroup
            self.startTime = startTime
            self.bootID = bootID
            self.command = command
        }
    }

    /// `<state>/runs`: a run's records live in `<runsFolder>/<runID>/children`.
    public let runsFolder: String
    /// Time between SIGTERM and SIGKILL when leftovers are stopped.
    public let gracePeriod: Duration
    /// Where `drctl resume` says what it stopped (the terminal's standard error).
    public let notice: @Sendable (String) -> Void
    private let folder = Mutex<String?>(nil)

    public init(
        runsFolder: String, gracePeriod: Duration = .seconds(5), notice: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.runsFolder = runsFolder
        self.gracePeriod = gracePeriod
        self.notice = notice
    }

    /// The children folder of `runID`.
    public func childrenFolder(runID: String) -> String { runsFolder + "/" + runID + "/children" }

    /// From now on, children are recorded for `runID`.
    public func attach(runID: String) {
        folder.withLock { $0 = childrenFolder(runID: runID) }
    }

    /// A child started, leading `processGroup`. Best effort: a record that cannot be written is not a reason to
    /// fail the command.
    func started(processGroup: Int32, command: String) {
        guard let folder = folder.withLock({ $0 }) else { return }
        let record = Record(
            processGroup: processGroup, startTime: ProcStat.startTime(of: processGroup), bootID: ProcStat.bootID(),
            command: command)
        guard let data = try? JSONEncoder().encode(record) else { return }
        try? FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = folder + "/\(processGroup).json"
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: data, attributes: [.posixPermissions: 0o600])
        else { return }
        _ = rename(temporary, path)
    }

    /// The child leading `processGroup` ended.
    func finished(processGroup: Int32) {
        guard let folder = folder.withLock({ $0 }) else { return }
        try? FileManager.default.removeItem(atPath: folder + "/\(processGroup).json")
    }

    /// What `stopLeftovers` did with one record.
    public enum Outcome: Sendable, Hashable {
        /// The group was still running and got SIGTERM (`killed`: and SIGKILL after the grace period).
        case stopped(Record, killed: Bool)
        /// The group had already ended.
        case gone(Record)
        /// The pid now belongs to another program (or another boot): left alone.
        case recycled(Record)

        /// One line for the terminal and the journal.
        public var message: String {
            switch self {
            case .stopped(let record, let killed):
                return "stopped process group \(record.processGroup) left running by the interrupted run ("
                    + "\(record.command)) with SIGTERM" + (killed ? ", then SIGKILL" : "")
            case .gone(let record):
                return "process group \(record.processGroup) of the interrupted run had already ended"
            case .recycled(let record):
                return "pid \(record.processGroup) recorded by the interrupted run now belongs to another program; "
                    + "left alone"
            }
        }
    }

    /// Stops the recorded children of `runID` that are still running and still the programs the run started:
    /// SIGTERM to each group, then SIGKILL to those left after the grace period. Removes the records.
    public func stopLeftovers(runID: String) async -> [Outcome] {
        let folder = childrenFolder(runID: runID)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        var records: [Record] = []
        for name in names.sorted() where name.hasSuffix(".json") {
            let path = folder + "/" + name
            if let data = FileManager.default.contents(atPath: path),
                let record = try? JSONDecoder().decode(Record.self, from: data)
            {
                records.append(record)
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        var outcomes: [Outcome] = []
        var signalled: [Record] = []
        for record in records {
            guard record.processGroup > 1, Self.hasLiveMembers(record.processGroup) else {
                outcomes.append(.gone(record))
                continue
            }
            guard isSameProgram(record) else {
                outcomes.append(.recycled(record))
                continue
            }
            ProcessGroupSupervisor.signal(record.processGroup, SIGTERM)
            signalled.append(record)
        }
        let killed = Set(
            await ProcessGroupSupervisor.waitUntilGone(
                signalled.map(\.processGroup), until: .now + gracePeriod, every: .milliseconds(50),
                present: Self.hasLiveMembers))
        for group in killed { ProcessGroupSupervisor.signal(group, SIGKILL) }
        outcomes += signalled.map { .stopped($0, killed: killed.contains($0.processGroup)) }
        return outcomes
    }

    /// The group is the one recorded: same boot, and its leader (if it is still there) started when recorded.
    /// A group whose leader has exited keeps its id reserved while any member lives, so its members are the
    /// recorded child's own.
    private func isSameProgram(_ record: Record) -> Bool {
        guard let recordedStart = record.startTime, let bootID = record.bootID, bootID == ProcStat.bootID() else {
            return false
        }
        guard let start = ProcStat.startTime(of: record.processGroup) else {
            return FileManager.default.fileExists(atPath: "/proc/self/stat")
        }
        return start == recordedStart
    }

    /// A process of `group` that is not a zombie. An orphan's zombie waits for whoever adopted it to reap it;
    /// it runs nothing. Without procfs: any member at all.
    static func hasLiveMembers(_ group: Int32) -> Bool {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else {
            return ProcessGroupSupervisor.hasMembers(group)
        }
        guard ProcessGroupSupervisor.hasMembers(group) else { return false }
        for entry in entries where entry.first?.isNumber == true {
            guard let pid = Int32(entry), let stat = ProcStat(pid: pid) else { continue }
            if stat.processGroup == group && stat.isRunning { return true }
        }
        return false
    }
}
