import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Starts the real `drctl` binary built by `swift build`, for tests that drive it as a user would.
public enum DrctlProcess {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
        public var errors: String
    }

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
        return Result(status: process.terminationStatus, output: read(out), errors: read(err))
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

    /// Runs with `-o json` output and sends SIGKILL, with no delay, as soon as a JSON event `event` (e.g.
    /// `step-completed`) for `step` is on stdout: the kill lands on that step's boundary.
    public static func runKilled(
        _ path: String, _ arguments: [String], environment: [String: String], afterEvent event: String,
        step: String
    ) async throws -> Killed {
        try await runKilled(
            path, arguments, environment: environment, delay: .zero, andCondition: nil, pollEvery: .milliseconds(1),
            when: { output in
                // A cheap look first: this runs every millisecond, and the next step may be as short.
                output.contains("\"step\":\"\(step)\"") && steps(withEvent: event, in: output).contains(step)
            })
    }

    private static func runKilled(
        _ path: String, _ arguments: [String], environment: [String: String], delay: Duration,
        andCondition condition: (@Sendable () async -> Bool)?, pollEvery interval: Duration,
        when trigger: (String) -> Bool
    ) async throws -> Killed {
        let (process, out, _) = try start(path, arguments, environment: environment)
        var killed = false
        while process.isRunning {
            if trigger(read(out)) {
                if delay > .zero { try await Task.sleep(for: delay) }
                // Then, if asked, until the world is in the state the test wants to interrupt (at most 20 s).
                if let condition {
                    for _ in 0..<200 where process.isRunning {
                        if await condition() { break }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                }
                kill(process.processIdentifier, SIGKILL)
                killed = true
                break
            }
            try await Task.sleep(for: interval)
        }
        // Not waitUntilExit(): it can spin forever on Linux once swift-subprocess has run children here.
        while process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        let output = read(out)
        return Killed(
            killed: killed && process.terminationReason == .uncaughtSignal, output: output, runID: runID(in: output))
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
