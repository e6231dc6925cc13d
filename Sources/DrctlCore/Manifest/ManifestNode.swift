import Foundation
import Yams

/// What every node of one manifest needs to turn itself into values: the file's name for positions, the
/// environment for `${VAR}`, and the project root for paths.
struct ManifestReadContext: Sendable {
    var file: String
    var interpolation: VariableInterpolation
    var projectRoot: String
    var home: String?
}

/// One YAML node of a manifest together with its key path, so every value read from it, and every error, can say
/// where it is. The readers are strict: a value of the wrong shape is an error, never silently converted.
struct ManifestNode {
    let node: Node
    let keyPath: String
    let context: ManifestReadContext

    var location: ManifestLocation {
        Self.location(of: node, in: context.file)
    }

    static func location(of node: Node, in file: String) -> ManifestLocation {
        ManifestLocation(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1)
    }

    /// A plain `~`, `null` or nothing at all: the key is there but has no value.
    var isNull: Bool { Self.isNullScalar(node) }

    static func isNullScalar(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// How the node looks, for "found …" in errors.
    var foundDescription: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if isNull { return "no value" }
            let text = scalar.string.count > 40 ? scalar.string.prefix(40) + "…" : Substring(scalar.string)
            return "'\(text)'"
        }
    }

    func child(_ node: Node, key: String) -> ManifestNode {
        ManifestNode(node: node, keyPath: keyPath.isEmpty ? key : "\(keyPath).\(key)", context: context)
    }

    func wrongType(expected: String) -> ManifestError {
        .wrongType(location, keyPath: keyPath, expected: expected, found: foundDescription)
    }

    func invalid(_ value: String, expected: String) -> ManifestError {
        .invalidValue(location, keyPath: keyPath, value: value, expected: expected)
    }

    // MARK: Scalars

    /// The scalar's text with `${VAR}` replaced. Numbers and booleans are accepted as their text.
    func string() throws(ManifestError) -> String {
        guard case .scalar(let scalar) = node, !isNull else { throw wrongType(expected: "a string") }
        do {
            return try context.interpolation.interpolate(scalar.string)
        } catch {
            switch error {
            case .unset(let name): throw .unsetVariable(location, keyPath: keyPath, name: name)
            case .malformed(let detail): throw .malformedInterpolation(location, keyPath: keyPath, detail: detail)
            }
        }
    }

    func nonEmptyString() throws(ManifestError) -> String {
        let text = try string()
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw invalid(text, expected: "a non-empty string")
        }
        return text
    }

    /// A whole number within `range`; quoted numbers and `${VAR}` are accepted when their text is a number.
    func integer(in range: ClosedRange<Int>) throws(ManifestError) -> Int {
        guard case .scalar = node, !isNull else { throw wrongType(expected: "a whole number") }
        let text = try string()
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw wrongType(expected: "a whole number")
        }
        guard range.contains(value) else {
            throw invalid(text, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// `true` or `false`.
    func boolean() throws(ManifestError) -> Bool {
        guard case .scalar = node, !isNull else { throw wrongType(expected: "true or false") }
        switch try string().trimmingCharacters(in: .whitespaces) {
        case "true": return true
        case "false": return false
        case let text: throw invalid(text, expected: "true or false")
        }
    }

    func duration() throws(ManifestError) -> Duration {
        guard case .scalar = node, !isNull else { throw wrongType(expected: Duration.acceptedManifestText) }
        let text = try string()
        guard let duration = Duration(manifestText: text) else {
            throw invalid(text, expected: Duration.acceptedManifestText)
        }
        return duration
    }

    func byteSize() throws(ManifestError) -> ByteSize {
        guard case .scalar = node, !isNull else { throw wrongType(expected: "a size like 10MB") }
        let text = try string()
        guard let size = ByteSize(parsing: text) else {
            throw invalid(text, expected: "a size like 10MB or 512KiB (units: \(ByteSize.acceptedUnits))")
        }
        return size
    }

    func url(schemes: Set<String>) throws(ManifestError) -> String {
        let text = try nonEmptyString()
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), schemes.contains(scheme),
            url.host.map({ !$0.isEmpty }) ?? false
        else {
            throw invalid(
                text, expected: "a URL starting with \(schemes.sorted().map { "\($0)://" }.joined(separator: " or "))")
        }
        return text
    }

    /// A path resolved against the project root (`~/` against HOME).
    func path() throws(ManifestError) -> ManifestPath {
        ManifestPath(resolving: try nonEmptyString(), projectRoot: context.projectRoot, home: context.home)
    }

    // MARK: Collections

    func list() throws(ManifestError) -> [ManifestNode] {
        guard case .sequence(let sequence) = node else { throw wrongType(expected: "a list") }
        return sequence.enumerated().map { index, element in
            ManifestNode(node: element, keyPath: "\(keyPath)[\(index)]", context: context)
        }
    }

    /// An argv array such as `[kubectl, version]`: a non-empty list of strings, never one shell string.
    func argumentList() throws(ManifestError) -> [String] {
        guard case .sequence = node else {
            throw wrongType(expected: "a list of arguments like [kubectl, version] (never one shell string)")
        }
        var arguments: [String] = []
        for element in try list() {
            arguments.append(try element.string())
        }
        guard let program = arguments.first, !program.isEmpty else {
            throw invalid("[]", expected: "a list starting with the program to run")
        }
        return arguments
    }

    /// A mapping of names to strings, like a hook's `env`.
    func stringDictionary() throws(ManifestError) -> [String: String] {
        let mapping = try mapping(allowing: nil)
        var dictionary: [String: String] = [:]
        for (key, value) in mapping.entries {
            dictionary[key] = try value.string()
        }
        return dictionary
    }

    /// This node as a mapping whose keys must all be in `allowing` (nil: any key), each at most once.
    func mapping(allowing keys: [String]?) throws(ManifestError) -> ManifestMapping {
        guard case .mapping(let mapping) = node else { throw wrongType(expected: "a mapping") }
        var entries: [String: ManifestNode] = [:]
        var keyNodes: [String: Node] = [:]
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw ManifestError.wrongType(
                    Self.location(of: keyNode, in: context.file), keyPath: keyPath, expected: "keys that are words",
                    found: ManifestNode(node: keyNode, keyPath: keyPath, context: context).foundDescription)
            }
            let key = keyScalar.string
            let keyLocation = Self.location(of: keyNode, in: context.file)
            if let first = keyNodes[key] {
                throw .duplicateKey(
                    keyLocation, key: key, keyPath: keyPath, first: Self.location(of: first, in: context.file))
            }
            if let allowed = keys, !allowed.contains(key) {
                throw .unknownKey(
                    keyLocation, key: key, keyPath: keyPath,
                    suggestion: KeySuggestion.closest(to: key, among: allowed), allowed: allowed)
            }
            keyNodes[key] = keyNode
            entries[key] = child(valueNode, key: key)
        }
        return ManifestMapping(node: self, entries: entries)
    }
}
