/// A position in a manifest file, printed `file:line:column` as compilers do, so editors can jump to it.
public struct ManifestLocation: Sendable, Hashable, CustomStringConvertible {
    /// The manifest file as the user named it.
    public var file: String
    /// 1-based.
    public var line: Int
    /// 1-based, counted in Unicode scalars.
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}
