import Foundation

/// What `/proc/<pid>/stat` says about a process (Linux): its state, process group and start time. `nil` without
/// procfs or when the process is gone.
struct ProcStat: Sendable, Hashable {
    /// Field 3: `R`, `S`, `D`, … or `Z` (zombie) and `X` (dead).
    var state: Character
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
        guard fields.count > 2, let state = fields[0].first, let group = Int32(fields[2]) else { return nil }
        self.state = state
        processGroup = group
        startTime = fields.count > 19 ? UInt64(fields[19]) : nil
    }

    /// A zombie waits for whoever adopted it to reap it; it runs nothing and holds nothing.
    var isRunning: Bool { state != "Z" && state != "X" }

    static func startTime(of pid: Int32) -> UInt64? { ProcStat(pid: pid)?.startTime }

    static func bootID() -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/sys/kernel/random/boot_id") else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
