import Foundation

extension Manifest {
    /// The manifest as JSON with sorted keys: the same resolved manifest always gives the same bytes, so a hash
    /// of them can tell whether a manifest changed between a run and its resume. Holds no password.
    public func canonicalEncoding() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
