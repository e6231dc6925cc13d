/// A mapping whose keys have been checked; hands out its values by key.
struct ManifestMapping {
    let node: ManifestNode
    let entries: [String: ManifestNode]

    /// The value of a key that must be there and have a value.
    func required(_ key: String) throws(ManifestError) -> ManifestNode {
        guard let value = entries[key] else {
            throw .missingKey(node.location, key: key, keyPath: node.keyPath)
        }
        guard !value.isNull else {
            throw .wrongType(
                value.location, keyPath: value.keyPath, expected: "given a value", found: value.foundDescription)
        }
        return value
    }

    /// The value of a key that may be left out; `key: ~` counts as left out.
    func optional(_ key: String) -> ManifestNode? {
        guard let value = entries[key], !value.isNull else { return nil }
        return value
    }
}
