import DrctlCore
import DrctlTestSupport
import Foundation
import Synchronization

/// Records which steps ran, and makes chosen steps fail.
final class StepLog: Sendable {
    private let runs = Mutex<[StepID]>([])
    private let failing = Mutex<Set<StepID>>([])

    func record(_ step: StepID) throws {
        runs.withLock { $0.append(step) }
        if failing.withLock({ $0.contains(step) }) { throw InjectedFailure(step: step) }
    }

    func fail(_ steps: Set<StepID>) { failing.withLock { $0 = steps } }
    var all: [StepID] { runs.withLock { $0 } }
    func count(_ step: StepID) -> Int { all.filter { $0 == step }.count }
}

struct InjectedFailure: Error, LocalizedError {
    var step: StepID
    var errorDescription: String? { "injected failure in \(step)" }
}

/// A one-shot signal a test can await (a step started, a file appeared).
final class Signal: Sendable {
    private let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation

    init() { (stream, continuation) = AsyncStream.makeStream(of: Void.self) }
    func fire() { continuation.yield() }
    func wait() async { for await _ in stream { return } }
}

/// A temporary state directory, removed at deinit.
final class TemporaryStateDirectory: Sendable {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "drctl-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    var backend: LocalStateBackend { LocalStateBackend(root: path) }
}

enum TestRunbooks {
    static let diamondSteps: [StepID] = ["fetch", "left", "right", "join", "report"]

    /// fetch → (left, right) → join → report; each step's output is built from its dependencies' outputs, so
    /// a resumed run only ends with the right `report` value if outputs were carried forward.
    static func diamond(log: StepLog, input: String = "1", environment: String = "test") -> Runbook {
        func step(
            _ id: StepID, after: [StepID], inputs: [String: String] = [:],
            value: @escaping @Sendable (StepContext) throws -> String
        )
            -> RunbookStep
        {
            RunbookStep(id: id, title: "Step \(id)", dependsOn: after, inputs: inputs) { context in
                try log.record(id)
                return ["value": try value(context)]
            }
        }
        return Runbook(
            id: "diamond", environment: environment,
            parameters: (try? RunParameters(options: DiamondOptions(input: input))) ?? RunParameters(),
            manifestFingerprint: "manifest-1",
            steps: [
                step("fetch", after: []) { _ in "f" },
                step("left", after: ["fetch"]) { try value($0, "fetch") + "L" },
                step("right", after: ["fetch"], inputs: ["input": input]) { try value($0, "fetch") + "R" + input },
                step("join", after: ["left", "right"]) { try value($0, "left") + "+" + value($0, "right") },
                step("report", after: ["join"]) { try value($0, "join") + "!" },
            ])
    }

    @Sendable static func value(_ context: StepContext, _ step: StepID) throws -> String {
        try context.outputs(of: step).require("value", from: step)
    }

    static func registry(_ make: @escaping @Sendable (RunParameters) -> Runbook) -> ScenarioRegistry {
        var registry = ScenarioRegistry()
        registry.register("diamond") { make($0) }
        return registry
    }
}

/// The diamond's one option: what its `right` step takes as input.
struct DiamondOptions: ScenarioOptions {
    var input: String
    init(input: String) { self.input = input }
    init(legacyParameters parameters: [String: String]) { input = parameters["input"] ?? "" }
}

extension RunService {
    init(_ directory: TemporaryStateDirectory, events: any EventSink = EventRecorder(), clock: any RunClock = .system) {
        self.init(backend: directory.backend, runner: RecordingCommandRunner(), events: events, clock: clock)
    }
}

extension LocalStateBackend {
    func history(_ runID: String) throws -> RunHistory {
        try RunHistory(try JournalReader.read(try readJournal(runID: runID), path: runID), path: runID)
    }

    func onlyRunID() throws -> String {
        let ids = try runIDs()
        guard ids.count == 1, let id = ids.first else { throw InjectedFailure(step: "expected exactly one run") }
        return id
    }
}
