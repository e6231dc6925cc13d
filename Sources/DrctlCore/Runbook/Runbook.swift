import Foundation

/// A small graph of named steps that one scenario runs against one environment.
///
/// Scenarios build a `Runbook` from a manifest and their flags; the executor runs it, the journal records it,
/// and `drctl resume` rebuilds it from `parameters` (via `ScenarioRegistry`) to continue an interrupted run.
public struct Runbook: Sendable {
    /// The scenario name, e.g. `rebuild`; the key under which `ScenarioRegistry` can rebuild this runbook.
    public var id: String
    /// The environment the run acts on; also the scope of the run lock.
    public var environment: String
    /// Everything needed to rebuild this runbook on resume (manifest path, the scenario's options). Journaled:
    /// never a secret.
    public var parameters: RunParameters
    /// A fingerprint of the loaded manifest (see `Fingerprint.of(_:)`); a change is drift on resume.
    public var manifestFingerprint: String
    /// The recovery time objective from the manifest; tracked with warnings at 50 % and 80 %.
    public var rtoBudget: Duration?
    public var steps: [RunbookStep]
    /// The manifest the runbook was built from, loaded once: the commands read the objectives and the
    /// notification targets from here instead of loading the file again. Not journaled (the path is, in
    /// `parameters`); nil for runbooks built without a manifest.
    public var manifest: Manifest?
    /// The `kubectl port-forward` the run's database commands go through (`database.dataPlane: port-forward`);
    /// nil: they connect to `database.host` directly. Set from the toolbox by `ScenarioRegistry`.
    public var databaseTunnel: DatabaseTunnel?

    public init(
        id: String,
        environment: String,
        parameters: RunParameters = RunParameters(),
        manifestFingerprint: String,
        rtoBudget: Duration? = nil,
        steps: [RunbookStep],
        manifest: Manifest? = nil
    ) {
        self.id = id
        self.environment = environment
        self.parameters = parameters
        self.manifestFingerprint = manifestFingerprint
        self.rtoBudget = rtoBudget
        self.steps = steps
        self.manifest = manifest
    }

    public func step(_ id: StepID) -> RunbookStep? { steps.first { $0.id == id } }
}

/// A step's stable name: it is what the journal and `drctl resume` match on, so never derive it from data
/// that changes between runs.
public struct StepID: Hashable, Comparable, Sendable, Codable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: StepID, rhs: StepID) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One step: what it does, what it needs, how to tell from the real world whether it already happened.
public struct RunbookStep: Sendable {
    public typealias Action = @Sendable (StepContext) async throws -> StepOutputs
    public typealias Probe = @Sendable (StepContext) async throws -> ProbeVerdict

    public var id: StepID
    public var title: String
    public var dependsOn: [StepID]
    /// Drops, overwrites or downgrades something. A destructive step that started but never completed is not
    /// re-run on resume unless its probe says it is safe to.
    public var destructive: Bool
    public var retry: RetryPolicy
    public var timeout: Duration?
    /// The resolved inputs (backup file, revision, database name). Fingerprinted and journaled: never a secret.
    public var inputs: [String: String]
    /// What `plan` prints: the redacted command lines this step will run.
    public var commands: [String]
    public var action: Action
    /// Reads the real state (helm status, does the database exist, alembic current) to decide on resume
    /// whether a step that started but never completed actually finished.
    public var probe: Probe?
    /// What puts the world back when a later step of the run fails or is refused (the app a restore scaled down
    /// is scaled back up). See `StepUndo`.
    public var undo: StepUndo?

    public init(
        id: StepID,
        title: String,
        dependsOn: [StepID] = [],
        destructive: Bool = false,
        retry: RetryPolicy = .none,
        timeout: Duration? = nil,
        inputs: [String: String] = [:],
        commands: [String] = [],
        probe: Probe? = nil,
        undo: StepUndo? = nil,
        action: @escaping Action
    ) {
        self.id = id
        self.title = title
        self.dependsOn = dependsOn
        self.destructive = destructive
        self.retry = retry
        self.timeout = timeout
        self.inputs = inputs
        self.commands = commands
        self.probe = probe
        self.undo = undo
        self.action = action
    }

    /// Convenience for steps whose command lines come from tool wrappers.
    public init(
        id: StepID,
        title: String,
        dependsOn: [StepID] = [],
        destructive: Bool = false,
        retry: RetryPolicy = .none,
        timeout: Duration? = nil,
        inputs: [String: String] = [:],
        invocations: [CommandInvocation],
        pipelines: [CommandPipeline] = [],
        probe: Probe? = nil,
        undo: StepUndo? = nil,
        action: @escaping Action
    ) {
        self.init(
            id: id, title: title, dependsOn: dependsOn, destructive: destructive, retry: retry, timeout: timeout,
            inputs: inputs,
            commands: invocations.map(\.redactedCommandLine) + pipelines.map(\.redactedCommandLine),
            probe: probe, undo: undo, action: action
        )
    }

    /// The fingerprint of `inputs`: equal inputs give equal fingerprints, whatever their order.
    public var inputFingerprint: String { Fingerprint.of(inputs) }
}

/// What undoes a completed step's effect when a later step of the same run fails or is refused: a restore that
/// scaled the app to 0 and then stopped would otherwise leave production down.
///
/// The executor runs it once when the run ends failed, in reverse step order, for every completed step (also one
/// completed in an earlier attempt of the run) whose undo no completed step of `settledBy` already took care of,
/// and journals it. An undone step counts as not done: `drctl resume` runs it again before the steps after it.
/// Not run when the run is interrupted (Ctrl-C, SIGTERM): that run is resumed as it stands.
public struct StepUndo: Sendable {
    /// Returns what it did, for the summary and the journal. Throws `StepUndoDeclined` when it must not act.
    public typealias Action = @Sendable (StepContext) async throws -> String

    /// What it does, for the plan: "scale deployment valeo-erp back to its recorded replica count".
    public var title: String
    /// The steps that undo the effect in the normal course of the run (`app.scale-up`): once one of them
    /// completed, there is nothing left to undo.
    public var settledBy: [StepID]
    /// Gets the step's own outputs (`context.outputs(of: step)`) and those of the steps it depends on.
    public var action: Action

    public init(title: String, settledBy: [StepID], action: @escaping Action) {
        self.title = title
        self.settledBy = settledBy
        self.action = action
    }
}

/// Thrown by a `StepUndo` that must not act (the database the app would serve is gone); `reason` says what to do.
/// Journaled and shown; the step stays done.
public struct StepUndoDeclined: Error, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// The typed values a step hands to later steps (chosen backup, checksum, helm revision, row counts).
/// Journaled as strings: never put a secret here.
public struct StepOutputs: Sendable, Hashable, Codable, ExpressibleByDictionaryLiteral {
    public var values: [String: String]

    public init(_ values: [String: String] = [:]) { self.values = values }
    public init(dictionaryLiteral elements: (String, String)...) {
        values = Dictionary(elements, uniquingKeysWith: { _, last in last })
    }

    public init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: String].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }

    public static let empty = StepOutputs()

    public subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// The value, or an error naming the step and key (a scenario bug or a journal from another version).
    public func require(_ key: String, from step: StepID) throws(RunbookError) -> String {
        guard let value = values[key] else { throw .missingOutput(step: step, key: key) }
        return value
    }

    public func integer(_ key: String, from step: StepID) throws(RunbookError) -> Int {
        let text = try require(key, from: step)
        guard let value = Int(text) else { throw .missingOutput(step: step, key: "\(key) (not an integer: \(text))") }
        return value
    }
}

/// What a probe learned from the real world about a step that started but never completed.
public enum ProbeVerdict: Sendable, Hashable {
    /// The step's effect is in place; these are its outputs.
    case done(StepOutputs)
    /// The effect is not there; running the step again is right.
    case notDone
    /// The probe could not tell.
    case unknown(reason: String)
}
