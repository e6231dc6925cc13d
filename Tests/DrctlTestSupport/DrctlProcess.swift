import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Starts the real `drctl` binary built by `swift build`, for tests that drive it as a user would.
public enum DrctlProcess {
    public struct Result: Sendable {
        /// The exit status, or the number of the signal that ended drctl (see `signal`).
        public var status: Int32
        public var output: String
        public var errors: String
        /// The signal that ended drctl; nil when it exited.
        public var signal: Int32?
    }

    /// A test's condition for sending the signal never held while drctl ran: the test did not reach the state it
    /// meant to interrupt, so it fails saying so instead of signalling drctl somewhere else.
    public struct ConditionNeverHeld: Error, CustomStringConvertible {
        public var waited: Duration
        public var output: String
        public var description: String {
            "the test's condition for signalling drctl never held in \(waited) while drctl ran (drctl was killed);"
                + " its output so far:\n\(output)"
        }
    }

    /// How long a signal's condition may take to hold: a bound on a hang, not a timing (the condition is a state
    /// the test controls, which a loaded machine reaches later, never otherwise).
    static let conditionLimit: Duration = .seconds(180)

    public struct Killed: Sendable {
        /// False when the run ended before the trigger was seen.
        public var killed: Bool
        public var output: String
        /// From the first `run-started` JSON event.
        public var runID: String?
    }

    public struct BinaryMissing: Error, CustomStringConvertible {
        public var path: String
        public var description: String {
            "\(path) is missing: run `swift build` (or set DRCTL_BINARY) before the integration tests"
        }
    }

    /// `.build/debug/drctl`, or `DRCTL_BINARY`.
    public static func binary() throws -> String {
        if let path = ProcessInfo.processInfo.environment["DRCTL_BINARY"] { return path }
        let path = StackEnvironment.repositoryRoot + "/.build/debug/drctl"
        guard FileManager.default.isExecutableFile(atPath: path) else { throw BinaryMissing(path: path) }
        return path
    }

    /// Runs to the end with exactly `environment` (not merged with the test's own).
    /// `input`: a file read as standard input (default: none).
    public static func run(
        _ path: String, _ arguments: [String], environment: [String: String], input: String? = nil
    ) async throws -> Result {
        let (process, out, err) = try start(path, arguments, environment: environment, input: input)
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        return result(of: process, out: out, err: err)
    }

    /// Runs with `-o json` output and sends SIGKILL as soon as stdout contains `trigger`.
    public static func runKilled(
        _ path: String, _ arguments: [String], environment: [String: String], whenOutputContains trigger: String,
        delay: Duration = .milliseconds(150), andCondition condition: (@Sendable () async -> Bool)? = nil
    ) async throws -> Killed {
        try await runKilled(
            path, arguments, environment: environment, delay: delay, andCondition: condition,
            pollEvery: .milliseconds(10), when: { $0.contains(trigger) })
    }

    private static func runKilled(
        _ path: String, _ arguments: [String], environment: [String: String], delay: Duration,
        andCondition condition: (@Sendable () async -> Bool)?, pollEvery interval: Duration,
        when trigger: (String) -> Bool
    ) async throws -> Killed {
        var ofPID: (@Sendable (pid_t) async -> Bool)?
        if let condition { ofPID = { _ in await condition() } }
        let (sent, result) = try await runSignalling(
            path, arguments, environment: environment, signal: SIGKILL, delay: delay, andCondition: ofPID,
            pollEvery: interval, when: trigger)
        return Killed(killed: sent && result.signal == SIGKILL, output: result.output, runID: runID(in: result.output))
    }

    /// Runs and sends `signal` (`SIGINT`: Ctrl-C; `SIGTERM`) once stdout contains `trigger` and then, if given,
    /// `condition` (called with drctl's pid) holds. `sent` is false when the run ended first. A condition that
    /// never holds while drctl runs (`conditionLimit`) throws `ConditionNeverHeld`, drctl killed.
    public static func runSignalled(
        _ path: String, _ arguments: [String], environment: [String: String], signal: Int32,
        whenOutputContains trigger: String, andCondition condition: (@Sendable (pid_t) async -> Bool)? = nil
    ) async throws -> (sent: Bool, result: Result) {
        try await runSignalling(
            path, arguments, environment: environment, signal: signal, delay: .zero, andCondition: condition,
            pollEvery: .milliseconds(10), when: { $0.contains(trigger) })
    }

    private static func runSignalling(
        _ path: String, _ arguments: [String], environment: [String: String], signal: Int32, delay: Duration,
        andCondition condition: (@Sendable (pid_t) async -> Bool)?, pollEvery interval: Duration,
        when trigger: (String) -> Bool
    ) async throws -> (sent: Bool, result: Result) {
        try await runActing(
            path, arguments, environment: environment, pollEvery: interval, when: { output, _ in trigger(output) }
        ) {
            process, output in
            if delay > .zero { try? await Task.sleep(for: delay) }
            // Then, if asked, until the world is in the state the test wants to interrupt.
            if let condition {
                let clock = ContinuousClock()
                let start = clock.now
                while process.isRunning, await !condition(process.processIdentifier) {
                    guard clock.now - start < conditionLimit else {
                        throw ConditionNeverHeld(waited: conditionLimit, output: output())
                    }
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            let sent = process.isRunning
            kill(process.processIdentifier, signal)
            return sent
        }
    }

    /// Runs with `DRCTL_PAUSE_AT=point` (e.g. `effect:database.drop-old`, see `PausePoints`) and, once drctl has
    /// stopped itself there, calls `act` with its pid: it kills drctl, or changes the world and sends SIGCONT. Then
    /// waits for drctl to end. No race: drctl waits at the point for as long as the test takes. `paused` is false
    /// when the run ended without reaching the point.
    /// `act` throwing kills drctl and throws its error.
    public static func runPaused(
        _ path: String, _ arguments: [String], environment: [String: String], at point: String,
        act: (pid_t) async throws -> Void
    ) async throws -> (paused: Bool, result: Result) {
        var environment = environment
        environment["DRCTL_PAUSE_AT"] = point
        return try await runActing(
            path, arguments, environment: environment, pollEvery: .milliseconds(20),
            when: { _, pid in isStopped(pid) }
        ) { process, _ in
            try await act(process.processIdentifier)
            return true
        }
    }

    /// Runs until drctl stops itself at `point` (see `runPaused`), then kills it with SIGKILL there.
    public static func runKilled(
        _ path: String, _ arguments: [String], environment: [String: String], pausedAt point: String
    ) async throws -> Killed {
        let (paused, result) = try await runPaused(path, arguments, environment: environment, at: point) { pid in
            kill(pid, SIGKILL)
        }
        return Killed(
            killed: paused && result.signal == SIGKILL, output: result.output, runID: runID(in: result.output))
    }

    /// Whether `pid` is stopped by a signal (state `T` in /proc/<pid>/stat).
    public static func isStopped(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        return stat[stat.index(close, offsetBy: 2)...].first == "T"
    }

    /// Starts drctl, polls its stdout (and pid) until `trigger` holds, runs `action` once (given the process and
    /// a reader of its stdout so far), then waits for drctl to end. An `action` that throws kills drctl first.
    private static func runActing(
        _ path: String, _ arguments: [String], environment: [String: String], pollEvery interval: Duration,
        when trigger: (String, pid_t) -> Bool, action: (Process, () -> String) async throws -> Bool
    ) async throws -> (Bool, Result) {
        let (process, out, err) = try start(path, arguments, environment: environment)
        var acted = false
        var failure: (any Error)?
        while process.isRunning {
            if trigger(read(out), process.processIdentifier) {
                do { acted = try await action(process) { read(out) } } catch {
                    failure = error
                    kill(process.processIdentifier, SIGKILL)
                }
                break
            }
            try await Task.sleep(for: interval)
        }
        // Not waitUntilExit(): it can spin forever on Linux once swift-subprocess has run children here.
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        if let failure { throw failure }
        return (acted, result(of: process, out: out, err: err))
    }

    private static func result(of process: Process, out: String, err: String) -> Result {
        Result(
            status: process.terminationStatus, output: read(out), errors: read(err),
            signal: process.terminationReason == .uncaughtSignal ? process.terminationStatus : nil)
    }

    /// The processes whose parent is `pid`, with their command names (`/proc/<pid>/comm`).
    public static func children(of pid: pid_t) -> [(pid: pid_t, command: String)] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> (pid_t, String)? in
            guard let child = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(close, offsetBy: 2)...].split(separator: " ")
            guard fields.count > 1, pid_t(fields[1]) == pid else { return nil }
            let command = (try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8)) ?? ""
            return (child, command.trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    /// The run id of the first `run-started` event in JSON-lines output.
    public static func runID(in output: String) -> String? {
        for line in output.split(separator: "\n") where line.contains("\"run-started\"") {
            if let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let id = object["runID"] as? String
            {
                return id
            }
        }
        return nil
    }

    /// The step ids of the JSON events named `event` (e.g. `step-started`).
    public static func steps(withEvent event: String, in output: String) -> [String] {
        output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["event"] as? String == event
            else { return nil }
            return object["step"] as? String
        }
    }

    /// The outputs of the `step-completed` event of `step` in JSON-lines output; nil when it did not complete.
    public static func outputs(ofStep step: String, in output: String) -> [String: String]? {
        for line in output.split(separator: "\n") where line.contains("\"step-completed\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["step"] as? String == step
            else { continue }
            return object["outputs"] as? [String: String] ?? [:]
        }
        return nil
    }

    private static func start(
        _ path: String, _ arguments: [String], environment: [String: String], input: String? = nil
    ) throws -> (Process, String, String) {
        let folder = NSTemporaryDirectory() + "drctl-process-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let out = folder + "/out"
        let err = folder + "/err"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
        if let input { process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: input)) }
        try process.run()
        return (process, out, err)
    }

    private static func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}
