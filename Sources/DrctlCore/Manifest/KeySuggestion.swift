/// Finds the allowed key a misspelt one was probably meant to be: `passwrod` → `password`, `smoke_query` →
/// `smokeQuery`.
enum KeySuggestion {
    static func closest(to key: String, among candidates: [String]) -> String? {
        let normalizedKey = normalized(key)
        if let sameLetters = candidates.first(where: { normalized($0) == normalizedKey }) {
            return sameLetters
        }
        let limit = max(1, min(3, key.count / 3))
        let scored = candidates.map { (candidate: $0, distance: distance(normalizedKey, normalized($0))) }
        guard let best = scored.min(by: { $0.distance < $1.distance }), best.distance <= limit else { return nil }
        return best.candidate
    }

    /// Case and separators do not count: `Smoke-Query`, `smoke_query` and `smokeQuery` are the same key.
    private static func normalized(_ key: String) -> [Character] {
        Array(key.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// Optimal string alignment distance: edits, where swapping two neighbours counts as one.
    static func distance(_ lhs: [Character], _ rhs: [Character]) -> Int {
        guard !lhs.isEmpty else { return rhs.count }
        guard !rhs.isEmpty else { return lhs.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: rhs.count + 1), count: lhs.count + 1)
        for i in 0...lhs.count { table[i][0] = i }
        for j in 0...rhs.count { table[0][j] = j }
        for i in 1...lhs.count {
            for j in 1...rhs.count {
                let cost = lhs[i - 1] == rhs[j - 1] ? 0 : 1
                var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, lhs[i - 1] == rhs[j - 2], lhs[i - 2] == rhs[j - 1] {
                    best = min(best, table[i - 2][j - 2] + 1)
                }
                table[i][j] = best
            }
        }
        return table[lhs.count][rhs.count]
    }
}
