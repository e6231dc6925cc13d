import Yams

/// Yams refuses a mapping with a repeated key but reports only the first occurrence and no key path. This finds
/// the repeated occurrence (the one to delete) in a block mapping and the path of the mapping it is in, so the
/// error reads like every other manifest error.
struct DuplicateKeyLocator {
    let yaml: String
    let file: String

    func error(duplicates: [String], firstMark: Mark) -> ManifestError {
        let key = duplicates.first ?? "?"
        let first = ManifestLocation(file: file, line: firstMark.line, column: firstMark.column)
        guard let repeated = repeatedOccurrence(of: key, after: firstMark) else {
            return .duplicateKey(first, key: key, keyPath: nil, first: nil)
        }
        return .duplicateKey(
            repeated, key: key, keyPath: keyPath(ofKeyAt: firstMark, hiding: repeated, keyLength: key.count),
            first: first)
    }

    private var lines: [Substring] {
        yaml.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.last == "\r" ? line.dropLast() : line
        }
    }

    /// Looks below the first occurrence for the same key at the same indentation, until the mapping ends.
    private func repeatedOccurrence(of key: String, after firstMark: Mark) -> ManifestLocation? {
        let lines = lines
        let indentation = firstMark.column - 1
        var index = firstMark.line
        while index < lines.count {
            let line = lines[index]
            let content = line.drop { $0 == " " }
            let lead = line.count - content.count
            index += 1
            if content.isEmpty || content.hasPrefix("#") { continue }
            if lead < indentation || content.hasPrefix("---") || content.hasPrefix("...") { return nil }
            if lead == indentation, Self.startsWithKey(content, key) {
                return ManifestLocation(file: file, line: index, column: indentation + 1)
            }
        }
        return nil
    }

    private static func startsWithKey(_ content: Substring, _ key: String) -> Bool {
        for spelling in [key, "\"\(key)\"", "'\(key)'"] where content.hasPrefix(spelling) {
            let rest = content.dropFirst(spelling.count).drop { $0 == " " }
            if rest == ":" || rest.hasPrefix(": ") || rest.hasPrefix(":\t") { return true }
        }
        return false
    }

    /// Renames the repeated key so Yams accepts the text, then finds the mapping holding the first occurrence.
    private func keyPath(ofKeyAt firstMark: Mark, hiding repeated: ManifestLocation, keyLength: Int) -> String? {
        var lines = lines
        let lineIndex = repeated.line - 1
        guard lines.indices.contains(lineIndex) else { return nil }
        let line = lines[lineIndex]
        let start = line.index(line.startIndex, offsetBy: repeated.column - 1)
        guard let end = line.index(start, offsetBy: keyLength, limitedBy: line.endIndex) else { return nil }
        lines[lineIndex] = line[..<start] + "drctl-repeated-key-\(repeated.line)" + line[end...]
        guard let tree = try? Yams.compose(yaml: lines.joined(separator: "\n")) else { return nil }
        return Self.path(toKeyAt: firstMark, in: tree, path: "")
    }

    private static func path(toKeyAt mark: Mark, in node: Node, path: String) -> String? {
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                if key.mark?.line == mark.line, key.mark?.column == mark.column { return path }
                let name = key.string ?? "?"
                if let found = Self.path(toKeyAt: mark, in: value, path: path.isEmpty ? name : "\(path).\(name)") {
                    return found
                }
            }
            return nil
        case .sequence(let sequence):
            for (index, element) in sequence.enumerated() {
                if let found = Self.path(toKeyAt: mark, in: element, path: "\(path)[\(index)]") { return found }
            }
            return nil
        case .scalar, .alias:
            return nil
        }
    }
}
