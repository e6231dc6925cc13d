import Foundation

/// A tool ran but printed something drctl cannot read: a version drift or a wrong command, not a user mistake.
public enum ToolOutputError: Error, Sendable, Hashable, LocalizedError {
    case unparseable(tool: String, what: String, detail: String, excerpt: String)

    public var errorDescription: String? {
        switch self {
        case .unparseable(let tool, let what, let detail, let excerpt):
            var text = "could not read the \(what) printed by \(tool): \(detail)."
            let shown = excerpt.trimmingCharacters(in: .whitespacesAndNewlines)
            if !shown.isEmpty { text += "\n  output began with: \(shown)" }
            text += "\n  Check that the installed \(tool) is a supported version (see README, scripts/bootstrap)."
            return text
        }
    }

    /// Decodes `Value` from JSON printed by `tool`, turning a `DecodingError` into a readable `unparseable`.
    static func decodeJSON<Value: Decodable>(
        _ type: Value.Type,
        from data: Data,
        tool: String,
        what: String,
        decoder: JSONDecoder = JSONDecoder()
    ) throws(ToolOutputError) -> Value {
        do {
            return try decoder.decode(type, from: data)
        } catch {
            throw .unparseable(tool: tool, what: what, detail: describe(error), excerpt: excerpt(of: data))
        }
    }

    static func excerpt(of data: Data, limit: Int = 200) -> String {
        String(decoding: data.prefix(limit), as: UTF8.self)
    }

    private static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ codingPath: [any CodingKey]) -> String {
            let joined = codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return joined.isEmpty ? "the top level" : joined
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "missing key \(key.stringValue) at \(path(context.codingPath))"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(context.debugDescription) at \(path(context.codingPath))"
        case .dataCorrupted(let context):
            return "\(context.debugDescription) at \(path(context.codingPath))"
        @unknown default:
            return String(describing: error)
        }
    }
}

extension ToolOutputError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .unparseable: .failed
        }
    }
}
