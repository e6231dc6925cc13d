import Foundation

/// A JSON value: request bodies whose shape is fixed by someone else's API, and a scenario's options as the
/// journal holds them before `ScenarioRegistry` decodes them into the scenario's `Options` type.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let text): try container.encode(text)
        case .array(let values): try container.encode(values)
        case .object(let object): try container.encode(object)
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let text = try? container.decode(String.self) {
            self = .string(text)
        } else if let values = try? container.decode([JSONValue].self) {
            self = .array(values)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// The JSON of an encodable value, in the journal's encoding (times as ISO 8601 text).
    public init(encoding value: some Encodable) throws {
        self = try JournalCoding.decoder.decode(JSONValue.self, from: JournalCoding.encoder.encode(value))
    }

    /// Decodes this JSON as `type`, in the journal's encoding.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JournalCoding.decoder.decode(type, from: JournalCoding.encoder.encode(self))
    }

    /// Every leaf by its path (`selection.ids`, `timeout`), as compact JSON text: what a person reads in a
    /// drift message or `drctl runs show`.
    public var leaves: [String: String] {
        var leaves: [String: String] = [:]
        func walk(_ value: JSONValue, path: String) {
            if case .object(let members) = value, !members.isEmpty {
                for (key, member) in members { walk(member, path: path.isEmpty ? key : path + "." + key) }
            } else {
                leaves[path] = value.text
            }
        }
        walk(self, path: "")
        return leaves
    }

    /// Compact JSON text; a string is shown without its quotes.
    public var text: String {
        if case .string(let text) = self { return text }
        let data = (try? JournalCoding.encoder.encode(self)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
