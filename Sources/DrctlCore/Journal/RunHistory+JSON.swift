import Foundation

extension RunHistory: Encodable {
    private enum CodingKeys: String, CodingKey {
        case runID, runbook, environment, parameters, status, startedAt, endedAt, manifestFingerprint
        case planFingerprint, drctlVersion, toolVersions, rtoBudgetSeconds, tornTail, timeline, steps
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(header.runID, forKey: .runID)
        try container.encode(header.runbook, forKey: .runbook)
        try container.encode(header.environment, forKey: .environment)
        try container.encode(header.parameters, forKey: .parameters)
        try container.encode(status.rawValue, forKey: .status)
        try container.encode(startedAt, forKey: .startedAt)
        try container.encodeIfPresent(endedAt, forKey: .endedAt)
        try container.encode(header.manifestFingerprint, forKey: .manifestFingerprint)
        try container.encode(header.planFingerprint, forKey: .planFingerprint)
        try container.encode(header.drctlVersion, forKey: .drctlVersion)
        try container.encodeIfPresent(header.toolVersions, forKey: .toolVersions)
        try container.encodeIfPresent(header.rtoBudgetSeconds, forKey: .rtoBudgetSeconds)
        try container.encodeIfPresent(tornTail, forKey: .tornTail)
        try container.encode(segments, forKey: .timeline)
        try container.encode(steps, forKey: .steps)
    }

    /// The `drctl runs show -o json` document, with `status` as displayed (e.g. `crashed`).
    public func json(status: String) throws -> String {
        var data = try JournalCoding.prettyEncoder.encode(self)
        if var object = try JSONSerialization.jsonObject(with: data) as? [String: Any] {
            object["status"] = status
            data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        }
        return String(decoding: data, as: UTF8.self)
    }
}

extension RunHistory.Step: Encodable {
    private enum CodingKeys: String, CodingKey { case id, title, destructive, state, attempts, outputs, undo }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(title, forKey: .title)
        try container.encode(destructive, forKey: .destructive)
        try container.encode(attempts, forKey: .attempts)
        try container.encodeIfPresent(undo, forKey: .undo)
        switch state {
        case .notStarted: try container.encode("not-run", forKey: .state)
        case .inDoubt: try container.encode("never-completed", forKey: .state)
        case .failed: try container.encode("failed", forKey: .state)
        case .undone: try container.encode("undone", forKey: .state)
        case .completed(let outputs):
            try container.encode("completed", forKey: .state)
            try container.encode(outputs, forKey: .outputs)
        }
    }
}
