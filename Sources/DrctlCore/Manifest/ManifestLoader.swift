import Foundation
import Yams

/// Loads an environment manifest strictly: unknown keys, duplicate keys, values of the wrong type and missing
/// required keys are `ManifestError`s naming `file:line:column` and the key path.
///
/// The YAML is composed into a node tree (not decoded) so every value keeps its position. String values get
/// `${VAR}` / `${VAR:-default}` from `environment`; then the runbook's variables override the manifest:
/// `DB_HOST`, `DB_PORT`, `DB_USER`, `DB_NAME` replace the database's values, and a set `DB_PASSWORD` becomes the
/// password source whatever the manifest says. Relative paths are resolved against the project root, the parent
/// of the manifest's folder.
public struct ManifestLoader: Sendable {
    /// The variables for interpolation and overrides; the process environment unless a test injects one.
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    /// Loads the manifest at `path` (relative to the current directory or absolute).
    public func load(from path: String) throws(ManifestError) -> Manifest {
        let file = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file.path, isDirectory: &isDirectory), !isDirectory.boolValue
        else {
            throw .fileNotFound(path: path)
        }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw .unreadable(path: path, reason: error.localizedDescription)
        }
        guard let yaml = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path, reason: "it is not UTF-8 text")
        }
        let projectRoot = file.deletingLastPathComponent().deletingLastPathComponent().path
        return try load(
            yaml: yaml,
            source: Manifest.Source(file: ManifestPath(written: path, absolute: file.path), projectRoot: projectRoot)
        )
    }

    /// Loads a manifest from text; `source` names the file in errors and gives the project root for paths.
    public func load(yaml: String, source: Manifest.Source) throws(ManifestError) -> Manifest {
        let file = source.file.written
        let tree = try compose(yaml, file: file)
        let context = ManifestReadContext(
            file: file,
            interpolation: VariableInterpolation(environment: environment),
            projectRoot: source.projectRoot,
            home: environment["HOME"]
        )
        var manifest = try ManifestParser(root: ManifestNode(node: tree, keyPath: "", context: context), source: source)
            .manifest()
        try applyRunbookOverrides(to: &manifest)
        return manifest
    }

    private func compose(_ yaml: String, file: String) throws(ManifestError) -> Node {
        let composed: Node?
        do {
            composed = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw Self.manifestError(from: error, yaml: yaml, file: file)
        } catch {
            throw .unreadable(path: file, reason: String(describing: error))
        }
        guard let composed else { throw .emptyDocument(file: file) }
        if case .scalar = composed, ManifestNode.isNullScalar(composed) {
            throw .emptyDocument(file: file)
        }
        return composed
    }

    private static func manifestError(from error: YamlError, yaml: String, file: String) -> ManifestError {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            var detail = [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
            let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.indices.contains(mark.line - 1), lines[mark.line - 1].contains("${") {
                // `{` and `}` end a flow mapping, so `{ url: ${URL} }` needs `{ url: "${URL}" }`.
                detail += " (inside { } or [ ], quote values that use ${VAR}: \"${VAR}\")"
            }
            return .syntax(ManifestLocation(file: file, line: mark.line, column: mark.column), problem: detail)
        case .reader(let problem, _, _, _):
            return .unreadable(path: file, reason: problem)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return DuplicateKeyLocator(yaml: yaml, file: file).error(
                duplicates: duplicates, firstMark: context.mark)
        default:
            return .unreadable(path: file, reason: error.description)
        }
    }
}
