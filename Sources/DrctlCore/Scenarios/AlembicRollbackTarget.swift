import Foundation

/// Where `drctl rollback migration` takes the schema: a number of steps back, or a named revision.
public enum MigrationRollbackRequest: Sendable, Hashable {
    /// `--steps N`: N revisions back along the database's line of history.
    case steps(Int)
    /// `--to REV`: an earlier revision id, or `base`.
    case revision(String)

    /// How it is journaled in the run's options: `steps:1`, `to:0002`.
    public var parameter: String {
        switch self {
        case .steps(let count): "steps:\(count)"
        case .revision(let id): "to:\(id)"
        }
    }

    public init?(parameter: String) {
        if parameter.hasPrefix("steps:"), let count = Int(parameter.dropFirst("steps:".count)), count >= 1 {
            self = .steps(count)
        } else if parameter.hasPrefix("to:"), parameter.count > 3 {
            self = .revision(String(parameter.dropFirst("to:".count)))
        } else {
            return nil
        }
    }
}

/// The revision a schema downgrade goes to, resolved to an absolute id before anything runs, so that a resumed
/// run never goes back further than the first attempt would have.
public struct AlembicRollbackTarget: Sendable, Hashable {
    /// The revision the database is at.
    public var current: String
    /// An absolute revision id, or `base`.
    public var target: String
    /// The revisions the downgrade removes, newest first (empty when already at the target).
    public var undone: [String]

    public init(current: String, target: String, undone: [String]) {
        self.current = current
        self.target = target
        self.undone = undone
    }

    public static let base = "base"

    /// Resolves `request` against what alembic printed.
    /// - Parameter allowNoop: accept a target equal to the current revision (the schema is already there);
    ///   a plain `rollback migration` refuses instead, because the operator expected a change.
    public static func choose(
        database: String,
        current: [AlembicRevision],
        heads: [AlembicRevision],
        history: [AlembicHistoryEntry],
        request: MigrationRollbackRequest,
        allowNoop: Bool = false
    ) throws(RollbackError) -> AlembicRollbackTarget {
        let parents = Dictionary(history.map { ($0.revision.id, $0.parents) }, uniquingKeysWith: { first, _ in first })
        let known = history.map(\.revision.id).reversed().map { $0 }
        guard current.count <= 1 else { throw .multipleCurrentRevisions(revisions: current.map(\.id)) }
        guard let now = current.first?.id else {
            if allowNoop, request == .revision(base) {
                return AlembicRollbackTarget(current: base, target: base, undone: [])
            }
            throw .atBase(database: database)
        }
        guard let nowParents = parents[now] else {
            throw .unknownDatabaseRevision(
                database: database, alembicMessage: "revision \(now) is not in `alembic history`")
        }
        switch request {
        case .steps(let count):
            if heads.count > 1 { throw .multipleHeads(heads: heads.map(\.id)) }
            var undone: [String] = []
            var cursor = now
            var cursorParents = nowParents
            for _ in 0..<count {
                guard cursor != base else {
                    throw .tooManySteps(steps: count, current: now, available: undone.count)
                }
                guard cursorParents.count <= 1 else { throw .mergePointInPath(revision: cursor) }
                undone.append(cursor)
                cursor = cursorParents.first ?? base
                cursorParents = parents[cursor] ?? []
            }
            return AlembicRollbackTarget(current: now, target: cursor, undone: undone)
        case .revision(let wanted):
            if wanted == now {
                guard allowNoop else { throw .targetNotBelowCurrent(target: wanted, current: now) }
                return AlembicRollbackTarget(current: now, target: now, undone: [])
            }
            guard wanted == base || parents[wanted] != nil else {
                throw .unknownTargetRevision(revision: wanted, known: known + [base])
            }
            // Walk every ancestor of the current revision; the target must be one of them.
            var undone: [String] = []
            var queue = [now]
            var seen: Set<String> = []
            var found = false
            while !queue.isEmpty {
                let revision = queue.removeFirst()
                guard seen.insert(revision).inserted else { continue }
                if revision == wanted { found = true; continue }
                undone.append(revision)
                let next = parents[revision] ?? []
                if next.isEmpty && wanted == base { found = true }
                queue += next
            }
            guard found else { throw .targetNotBelowCurrent(target: wanted, current: now) }
            // Ancestors of the target stay; only what lies between target and current is undone.
            let kept = ancestors(of: wanted, parents: parents)
            return AlembicRollbackTarget(current: now, target: wanted, undone: undone.filter { !kept.contains($0) })
        }
    }

    private static func ancestors(of revision: String, parents: [String: [String]]) -> Set<String> {
        var result: Set<String> = []
        var queue = parents[revision] ?? []
        while let next = queue.popLast() {
            guard result.insert(next).inserted else { continue }
            queue += parents[next] ?? []
        }
        return result
    }
}
