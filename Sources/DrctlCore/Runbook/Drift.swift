import Foundation

/// What changed between the plan a run started with and the runbook rebuilt for its resume.
public enum Drift {
    public static func changes(from recorded: RunHeader, to runbook: Runbook) -> [String] {
        var changes: [String] = []
        if recorded.manifestFingerprint != runbook.manifestFingerprint {
            changes.append(
                "the manifest changed (fingerprint \(recorded.manifestFingerprint.prefix(12)) → "
                    + "\(runbook.manifestFingerprint.prefix(12)))")
        }
        changes += optionChanges(from: recorded.parameters, to: runbook.parameters)
        let old = Dictionary(recorded.steps.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let new = Dictionary(runbook.steps.map { ($0.id, PlannedStep($0)) }, uniquingKeysWith: { first, _ in first })
        for step in recorded.steps where new[step.id] == nil { changes.append("step \(step.id) was removed") }
        for step in runbook.steps where old[step.id] == nil { changes.append("step \(step.id) was added") }
        for step in recorded.steps {
            guard let now = new[step.id] else { continue }
            for key in Set(step.inputs.keys).union(now.inputs.keys).sorted() where step.inputs[key] != now.inputs[key] {
                changes.append(
                    "step \(step.id): input \(key) changed from \(describe(step.inputs[key])) to \(describe(now.inputs[key]))"
                )
            }
            if step.inputs == now.inputs, step.inputFingerprint != now.inputFingerprint {
                changes.append("step \(step.id): inputs changed")
            }
            if Set(step.dependsOn) != Set(now.dependsOn) {
                changes.append("step \(step.id): dependencies changed")
            }
            if step.destructive != now.destructive { changes.append("step \(step.id): destructive flag changed") }
            if let before = step.commandsFingerprint, before != now.commandsFingerprint {
                changes.append("step \(step.id): its command lines changed")
            }
        }
        if changes.isEmpty, recorded.planFingerprint != runbook.planFingerprint {
            changes.append(
                "the plan changed (step order or command lines; drctl \(recorded.drctlVersion) → \(DrctlVersion.current))"
            )
        }
        return changes
    }

    /// The scenario's options compared as values, each differing field named by its path. A run journaled before
    /// the options were JSON is compared through its steps' inputs only.
    static func optionChanges(from recorded: RunParameters, to rebuilt: RunParameters) -> [String] {
        guard recorded.legacyOptions == nil, recorded.options != rebuilt.options else { return [] }
        let before = recorded.options.leaves
        let after = rebuilt.options.leaves
        return Set(before.keys).union(after.keys).sorted().compactMap { path in
            guard before[path] != after[path] else { return nil }
            return
                "option \(path.isEmpty ? "(all)" : path) changed from \(describe(before[path])) to \(describe(after[path]))"
        }
    }

    private static func describe(_ value: String?) -> String {
        guard let value else { return "(unset)" }
        return "'\(value)'"
    }
}
