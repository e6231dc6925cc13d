import Foundation

/// A tiny diagnostic runbook (`drctl selftest --dir DIR`) that touches only files in DIR: it exercises the
/// engine end to end (parallel steps, outputs carried between steps, probes, kill and resume) without any
/// cluster or database. Each step appends `start ID` and `end ID` to `DIR/steps.log`.
///
/// Environment variables read when a step runs (never journaled, so a resume is not drift):
/// `DRCTL_SELFTEST_DELAY` seconds that `write-b` sleeps before writing, `DRCTL_SELFTEST_FAIL` a step id that
/// fails. `DRCTL_SELFTEST_CHILD_SLEEP` seconds that `write-b` runs `sleep` as a child process.
public struct SelfTestScenario: Sendable {
    public static let runbookID = "selftest"
    public var directory: String
    public var rtoBudget: Duration?

    public init(directory: String, rtoBudget: Duration? = nil) {
        self.directory = directory
        self.rtoBudget = rtoBudget
    }

    /// What the run journals: the folder and the RTO budget in whole seconds.
    public struct Options: ScenarioOptions {
        public var dir: String
        public var rtoSeconds: Int?

        public init(dir: String, rtoSeconds: Int? = nil) {
            self.dir = dir
            self.rtoSeconds = rtoSeconds
        }

        public init(legacyParameters parameters: [String: String]) {
            self.init(dir: parameters["dir"] ?? "", rtoSeconds: parameters["rtoSeconds"].flatMap(Int.init))
        }
    }

    public init(options: Options) throws(RunbookError) {
        guard options.dir.hasPrefix("/") else {
            throw .missingOutput(step: "selftest", key: "dir (an absolute path parameter)")
        }
        self.directory = options.dir
        self.rtoBudget = options.rtoSeconds.map { Duration.seconds($0) }
    }

    public var options: Options { Options(dir: directory, rtoSeconds: rtoBudget.map { Int($0.seconds) }) }

    /// The fingerprint a run of this folder and budget records (as the flat map it always was).
    private var fingerprint: String {
        var values = ["dir": directory]
        if let rtoBudget { values["rtoSeconds"] = String(Int(rtoBudget.seconds)) }
        return Fingerprint.of(values)
    }

    public func runbook() throws -> Runbook {
        let dir = directory
        return Runbook(
            id: Self.runbookID, environment: "selftest", parameters: try RunParameters(options: options),
            manifestFingerprint: fingerprint, rtoBudget: rtoBudget,
            steps: [
                RunbookStep(id: "prepare", title: "Create the work folder", inputs: ["dir": dir]) { context in
                    try Self.logged(context, dir) {
                        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
                        return ["folder": dir + "/out"]
                    }
                },
                RunbookStep(
                    id: "write-a", title: "Write a.txt", dependsOn: ["prepare"], inputs: ["content": "alpha"],
                    probe: { context in try Self.probeFile(context, dir + "/out/a.txt", expected: "alpha") }
                ) { context in
                    try Self.logged(context, dir) {
                        try Self.write(
                            "alpha",
                            to: try context.outputs(of: "prepare").require("folder", from: "prepare") + "/a.txt")
                    }
                },
                RunbookStep(
                    id: "write-b", title: "Write b.txt (slow)", dependsOn: ["prepare"], inputs: ["content": "bravo"],
                    probe: { context in try Self.probeFile(context, dir + "/out/b.txt", expected: "bravo") }
                ) { context in
                    try Self.append("start \(context.step)\n", dir)
                    let delay = ProcessInfo.processInfo.environment["DRCTL_SELFTEST_DELAY"].flatMap(Double.init) ?? 0
                    if delay > 0 {
                        context.log("sleeping \(delay)s")
                        try await context.clock.sleep(for: .milliseconds(Int64(delay * 1000)))
                    }
                    if let seconds = ProcessInfo.processInfo.environment["DRCTL_SELFTEST_CHILD_SLEEP"].flatMap(
                        Int.init),
                        seconds > 0
                    {
                        // A child process that outlives a killed drctl, for `drctl resume`'s clean-up.
                        context.log("running sleep \(seconds) as a child process")
                        try await context.runner.runChecked(CommandInvocation("sleep", [String(seconds)]))
                    }
                    try Self.failIfAsked(context)
                    let outputs = try Self.write("bravo", to: dir + "/out/b.txt")
                    try Self.append("end \(context.step)\n", dir)
                    return outputs
                },
                RunbookStep(
                    id: "combine", title: "Combine a.txt and b.txt into ab.txt (overwrites)",
                    dependsOn: ["write-a", "write-b"], destructive: true,
                    probe: { context in try Self.probeFile(context, dir + "/out/ab.txt", expected: "alpha+bravo") }
                ) { context in
                    try Self.logged(context, dir) {
                        let a = try String(
                            contentsOfFile: try context.outputs(of: "write-a").require("file", from: "write-a"),
                            encoding: .utf8)
                        let b = try String(
                            contentsOfFile: try context.outputs(of: "write-b").require("file", from: "write-b"),
                            encoding: .utf8)
                        return try Self.write(a + "+" + b, to: dir + "/out/ab.txt")
                    }
                },
                RunbookStep(id: "finish", title: "Mark the run done", dependsOn: ["combine"]) { context in
                    try Self.logged(context, dir) {
                        let checksum = try context.outputs(of: "combine").require("sha256", from: "combine")
                        return try Self.write("done \(checksum)", to: dir + "/out/done.txt")
                    }
                },
            ])
    }

    private static func logged(_ context: StepContext, _ dir: String, _ body: () throws -> StepOutputs) throws
        -> StepOutputs
    {
        try append("start \(context.step)\n", dir)
        try failIfAsked(context)
        let outputs = try body()
        try append("end \(context.step)\n", dir)
        return outputs
    }

    private static func failIfAsked(_ context: StepContext) throws {
        if ProcessInfo.processInfo.environment["DRCTL_SELFTEST_FAIL"] == context.step.rawValue {
            throw SelfTestFailure(step: context.step)
        }
    }

    @discardableResult
    private static func write(_ content: String, to path: String) throws -> StepOutputs {
        try Data(content.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return ["file": path, "sha256": Fingerprint.of(content)]
    }

    private static func probeFile(_ context: StepContext, _ path: String, expected: String) throws -> ProbeVerdict {
        guard let data = FileManager.default.contents(atPath: path) else { return .notDone }
        let content = String(decoding: data, as: UTF8.self)
        guard content == expected else { return .unknown(reason: "\(path) holds something else") }
        context.log("\(path) is already in place")
        return .done(["file": path, "sha256": Fingerprint.of(content)])
    }

    private static func append(_ line: String, _ dir: String) throws {
        let path = dir + "/steps.log"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(line.utf8))
        try handle.synchronize()
    }
}

struct SelfTestFailure: Error, LocalizedError {
    var step: StepID
    var errorDescription: String? { "step \(step) failed because DRCTL_SELFTEST_FAIL=\(step) asked it to" }
}
