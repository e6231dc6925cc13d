import Foundation

/// A scenario's flags as one value: what its command parsed, what the journal keeps (as JSON) and what
/// `drctl resume` decodes to rebuild the same runbook. Journaled: never a secret.
public protocol ScenarioOptions: Codable, Sendable, Hashable {
    /// Reads the options of a run journaled by an earlier drctl, when they were flat strings
    /// (`["table": "documents_header", "overwrite": "yes"]`), so such a run still resumes.
    init(legacyParameters: [String: String]) throws
}

/// What a run was started with, journaled in its first record so `drctl resume` rebuilds the same runbook: the
/// manifest's path, the scratch root and the scenario's options (its `ScenarioOptions` value, as JSON).
public struct RunParameters: Sendable, Hashable, Codable {
    /// The manifest's absolute path; nil for a scenario without one (`selftest`).
    public var manifest: String?
    /// Where the scenario keeps per-run scratch files (`ScenarioLoader.workRoot`).
    public var workRoot: String?
    /// The scenario's options as JSON (an empty object for none).
    public var options: JSONValue
    /// The options of a run journaled before they were JSON: flat strings, read through
    /// `ScenarioOptions.init(legacyParameters:)`. Encoded back as they were read (`drctl runs show -o json`);
    /// a run's new records are written from its rebuilt runbook, in the JSON shape.
    public var legacyOptions: [String: String]?

    public init(manifest: String? = nil, workRoot: String? = nil) {
        self.manifest = manifest
        self.workRoot = workRoot
        self.options = .object([:])
    }

    public init(manifest: String? = nil, workRoot: String? = nil, options: some ScenarioOptions) throws {
        self.init(manifest: manifest, workRoot: workRoot)
        try set(options)
    }

    /// These parameters with `options` as the scenario's options.
    public mutating func set(_ options: some ScenarioOptions) throws {
        self.options = try JSONValue(encoding: options)
        legacyOptions = nil
    }

    public func setting(_ options: some ScenarioOptions) throws -> RunParameters {
        var parameters = self
        try parameters.set(options)
        return parameters
    }

    /// The scenario's options, decoded as `type`; a run journaled by an older drctl is read through its legacy
    /// form. Options that cannot be read are an error that says to start a new run.
    public func options<Options: ScenarioOptions>(_ type: Options.Type) throws -> Options {
        do {
            if let legacyOptions { return try Options(legacyParameters: legacyOptions) }
            return try options.decode(type)
        } catch let error as DecodingError {
            throw RunbookError.unreadableOptions(detail: Self.describe(error))
        }
    }

    /// The manifest path, or an error naming what is missing from the journal.
    public func requireManifest() throws -> String {
        guard let manifest, !manifest.isEmpty else {
            throw RunbookError.missingOutput(step: "run-started", key: "parameter manifest")
        }
        return manifest
    }

    public func requireWorkRoot() throws -> String {
        guard let workRoot, !workRoot.isEmpty else {
            throw RunbookError.missingOutput(step: "run-started", key: "parameter workRoot")
        }
        return workRoot
    }

    /// Every parameter as text, each option by its path (`table`, `ids`): for `drctl runs show`.
    public var leaves: [String: String] {
        var leaves: [String: String] = [:]
        if let manifest { leaves["manifest"] = manifest }
        if let workRoot { leaves["workRoot"] = workRoot }
        if let legacyOptions {
            for (key, value) in legacyOptions where key != "manifest" && key != "workRoot" { leaves[key] = value }
        } else {
            for (path, value) in options.leaves where !path.isEmpty { leaves[path] = value }
        }
        return leaves
    }

    enum CodingKeys: String, CodingKey { case manifest, workRoot, options }

    public func encode(to encoder: any Encoder) throws {
        if let legacyOptions {
            var container = encoder.singleValueContainer()
            try container.encode(legacyOptions)
            return
        }
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(manifest, forKey: .manifest)
        try container.encodeIfPresent(workRoot, forKey: .workRoot)
        try container.encode(options, forKey: .options)
    }

    /// Reads both shapes: `{"manifest", "workRoot", "options": {…}}`, and the flat string map older drctl wrote.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if container.contains(.options) {
            manifest = try container.decodeIfPresent(String.self, forKey: .manifest)
            workRoot = try container.decodeIfPresent(String.self, forKey: .workRoot)
            options = try container.decode(JSONValue.self, forKey: .options)
        } else {
            let legacy = try decoder.singleValueContainer().decode([String: String].self)
            manifest = legacy["manifest"]
            workRoot = legacy["workRoot"]
            options = .object([:])
            legacyOptions = legacy
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        switch error {
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return String(describing: error)
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.isEmpty ? "the options" : "option " + keys.map(\.stringValue).joined(separator: ".")
    }
}

/// No options (a scenario whose runs all run the same steps).
public struct NoScenarioOptions: ScenarioOptions {
    public init() {}
    public init(legacyParameters: [String: String]) {}
}

extension KeyedEncodingContainer {
    /// A duration as the manifest writes it (`10m`, `90s`).
    mutating func encodeDuration(_ duration: Duration?, forKey key: Key) throws {
        try encodeIfPresent(duration?.manifestText, forKey: key)
    }
}

extension KeyedEncodingContainer {
    /// A backup choice as two optional keys: a file name, or a time; neither for the newest backup.
    mutating func encodeBackupChoice(_ choice: BackupChoice, name: Key, before: Key) throws {
        switch choice {
        case .latest: break
        case .named(let file): try encode(file, forKey: name)
        case .before(let date): try encode(date, forKey: before)
        }
    }
}

extension KeyedDecodingContainer {
    func decodeBackupChoice(name: Key, before: Key) throws -> BackupChoice {
        if let file = try decodeIfPresent(String.self, forKey: name) { return .named(file) }
        if let date = try decodeIfPresent(Date.self, forKey: before) { return .before(date) }
        return .latest
    }

    func decodeDuration(forKey key: Key) throws -> Duration? {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let duration = Duration(manifestText: text) else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "'\(text)' is not a duration such as 90s or 10m")
        }
        return duration
    }
}
