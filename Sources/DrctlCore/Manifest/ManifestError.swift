import Foundation

/// Why a manifest could not be loaded. Every error about the file's content carries its position and key path.
///
/// Key paths are written `database.password` or `provision[0].command`; an empty key path is the top level.
public enum ManifestError: Error, Sendable, Hashable, LocalizedError {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    /// The file is not well-formed YAML.
    case syntax(ManifestLocation, problem: String)
    case emptyDocument(file: String)
    case unknownKey(ManifestLocation, key: String, keyPath: String, suggestion: String?, allowed: [String])
    /// `first` is where the key appeared before, when known.
    case duplicateKey(ManifestLocation, key: String, keyPath: String?, first: ManifestLocation?)
    case missingKey(ManifestLocation, key: String, keyPath: String)
    case wrongType(ManifestLocation, keyPath: String, expected: String, found: String)
    case invalidValue(ManifestLocation, keyPath: String, value: String, expected: String)
    /// `${NAME}` without a default names a variable that is not set.
    case unsetVariable(ManifestLocation, keyPath: String, name: String)
    case malformedInterpolation(ManifestLocation, keyPath: String, detail: String)
    /// A runbook variable (`DB_PORT`, …) that should override the manifest holds an unusable value.
    case invalidEnvironmentOverride(variable: String, value: String, expected: String)
    /// A key that is optional in general but required by another setting (`because` says which and why).
    case missingKeyFor(ManifestLocation, key: String, keyPath: String, because: String)

    /// Where in the manifest the problem is, when it is in the manifest.
    public var location: ManifestLocation? {
        switch self {
        case .syntax(let location, _), .unknownKey(let location, _, _, _, _), .duplicateKey(let location, _, _, _),
            .missingKey(let location, _, _), .wrongType(let location, _, _, _), .invalidValue(let location, _, _, _),
            .unsetVariable(let location, _, _), .malformedInterpolation(let location, _, _),
            .missingKeyFor(let location, _, _, _):
            location
        case .fileNotFound, .unreadable, .emptyDocument, .invalidEnvironmentOverride:
            nil
        }
    }

    public var errorDescription: String? {
        switch self {
        case .fileNotFound(let path):
            "manifest \(path) not found: pass -f with an environment manifest, e.g. manifests/production.yaml"
        case .unreadable(let path, let reason):
            "cannot read manifest \(path): \(reason)"
        case .syntax(let location, let problem):
            "\(location): invalid YAML: \(problem)"
        case .emptyDocument(let file):
            "\(file): the manifest is empty; see manifests/production.yaml for a complete one"
        case .unknownKey(let location, let key, let keyPath, let suggestion, let allowed):
            if let suggestion {
                "\(location): unknown key '\(key)' \(Self.place(keyPath)) (did you mean '\(suggestion)'?)"
            } else {
                "\(location): unknown key '\(key)' \(Self.place(keyPath)); allowed: \(allowed.joined(separator: ", "))"
            }
        case .duplicateKey(let location, let key, let keyPath, let first):
            "\(location): duplicate key '\(key)'"
                + (keyPath.map { " \(Self.place($0))" } ?? "")
                + (first.map { " (first set at line \($0.line), column \($0.column)); keep one of them" }
                    ?? "; keep one of them")
        case .missingKey(let location, let key, let keyPath):
            "\(location): missing required key '\(key)' \(Self.place(keyPath))"
        case .missingKeyFor(let location, let key, let keyPath, let because):
            "\(location): missing key '\(key)' \(Self.place(keyPath)): \(because)"
        case .wrongType(let location, let keyPath, let expected, let found):
            "\(location): \(Self.subject(keyPath)) must be \(expected), found \(found)"
        case .invalidValue(let location, let keyPath, let value, let expected):
            "\(location): \(Self.subject(keyPath)) must be \(expected), found '\(value)'"
        case .unsetVariable(let location, let keyPath, let name):
            "\(location): \(Self.subject(keyPath)) uses ${\(name)} but \(name) is not set;"
                + " export it or write ${\(name):-default}"
        case .malformedInterpolation(let location, let keyPath, let detail):
            "\(location): \(Self.subject(keyPath)): \(detail); write ${NAME} or ${NAME:-default}"
        case .invalidEnvironmentOverride(let variable, let value, let expected):
            "environment variable \(variable)='\(value)' overrides the manifest but is not \(expected);"
                + " fix or unset it"
        }
    }

    private static func subject(_ keyPath: String) -> String {
        keyPath.isEmpty ? "the manifest" : keyPath
    }

    private static func place(_ keyPath: String) -> String {
        keyPath.isEmpty ? "at the top level" : "in \(keyPath)"
    }
}

extension ManifestError: ClassifiedError {
    /// Every manifest problem is the user's to fix in the file or the environment (exit 2).
    public var failureKind: FailureKind {
        switch self {
        case .fileNotFound, .unreadable, .syntax, .emptyDocument, .unknownKey, .duplicateKey, .missingKey,
            .missingKeyFor, .wrongType,
            .invalidValue, .unsetVariable, .malformedInterpolation, .invalidEnvironmentOverride:
            .usage
        }
    }
}
