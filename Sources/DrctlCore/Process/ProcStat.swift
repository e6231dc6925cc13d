import Foundation

/// What `/proc/<pid>/stat` says about a process (Linux): its state, parent, process group and start time. `nil`
/// without procfs or when the process is gone.
struct ProcStat: Sendable, Hashable {
    /// Field 3: `R`, `S`, `D`, … or `Z` (zombie) and `X` (dead).
    var state: Character
    /// Field 4.
    var parent: Int32
    /// Field 5.
    var processGroup: Int32
    /// Field 22: clock ticks since boot when the process started.
    var startTime: UInt64?

    init?(pid: Int32) {
        // The fields after `pid (comm)`: comm may hold spaces and parentheses, so split after the last `)`.
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
            let text = String(data: data, encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 2, let state = fields[0].first, let parent = Int32(fields[1]),
            let group = Int32(fields[2])
        else { return nil }
        self.state = state
        self.parent = parent
        processGroup = group
        startTime = fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// A zombie waits for whoever adopted it to reap it; it runs nothing and holds nothing.
    var isRunning: Bool { state != "Z" && state != "X" }

    /// Stopped by a signal (`T`): SIGSTOP, as a run at a `DRCTL_PAUSE_AT` point stops itself.
    var isStopped: Bool { state == "T" }

    static func startTime(of pid: Int32) -> UInt64? { ProcStat(pid: pid)?.startTime }

    /// The pids of `parent`'s children whose command line holds `argument` as one of its words.
    static func children(of parent: Int32, withArgument argument: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard entry.first?.isNumber == true, let pid = Int32(entry), ProcStat(pid: pid)?.parent == parent,
                let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return nil }
            let words = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.contains(argument) ? pid : nil
        }
    }

    static func bootID() -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/sys/kernel/random/boot_id") else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
