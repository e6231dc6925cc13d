import Foundation

/// A path as written in a manifest together with the absolute path it resolves to.
///
/// Relative paths are resolved against the project root (the parent of the manifest's folder, so
/// `values/production/postgresql.yaml` in `manifests/production.yaml` means `<repo>/values/production/…`), and a
/// leading `~/` against `HOME`. Show `written` to people; hand `absolute` to programs.
public struct ManifestPath: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The text after `${VAR}` interpolation, as the manifest spells it.
    public var written: String
    /// The standardized absolute path.
    public var absolute: String

    public init(written: String, absolute: String) {
        self.written = written
        self.absolute = absolute
    }

    /// Resolves `written` against `projectRoot`, expanding a leading `~` with `home`.
    public init(resolving written: String, projectRoot: String, home: String?) {
        var expanded = written
        if let home, written == "~" || written.hasPrefix("~/") {
            expanded = home + written.dropFirst()
        }
        let url =
            expanded.hasPrefix("/")
            ? URL(fileURLWithPath: expanded)
            : URL(fileURLWithPath: projectRoot, isDirectory: true).appendingPathComponent(expanded)
        self.init(written: written, absolute: url.standardizedFileURL.path)
    }

    public var description: String { written }

    /// Whether the text names a location in the file system rather than something else (a chart reference):
    /// absolute, home-relative or explicitly relative with `./` or `../`.
    static func looksLikePath(_ text: String) -> Bool {
        text.hasPrefix("/") || text.hasPrefix("./") || text.hasPrefix("../") || text.hasPrefix("~/")
            || text == "." || text == ".."
    }
}
