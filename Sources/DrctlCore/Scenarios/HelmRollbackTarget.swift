import Foundation

/// The revision `drctl rollback app` goes back to, chosen from `helm history`.
public struct HelmRollbackTarget: Sendable, Hashable {
    /// The newest revision (what is deployed, failed or wedged now).
    public var current: HelmRevision
    public var target: HelmRevision
    /// Set when the newest revision is `pending-*` and `--recover-pending` allows clearing it first.
    public var pending: HelmRevision?

    public init(current: HelmRevision, target: HelmRevision, pending: HelmRevision? = nil) {
        self.current = current
        self.target = target
        self.pending = pending
    }

    /// Chooses the target: `requested`, or the last good revision before the newest one.
    ///
    /// A good revision was deployed successfully: status `deployed` or `superseded`, and a description that does
    /// not report a failure. A newest revision in `pending-*` is refused unless `recoverPending`.
    public static func choose(
        release: String, history: [HelmRevision], requested: Int?, recoverPending: Bool
    ) throws(RollbackError) -> HelmRollbackTarget {
        let history = history.sorted { $0.revision < $1.revision }
        guard let newest = history.last else { throw .emptyHistory(release: release) }
        let table = Self.table(history)
        var pending: HelmRevision?
        if newest.status.hasPrefix("pending-") {
            guard recoverPending else {
                throw .releasePending(
                    release: release, revision: newest.revision, status: newest.status, history: table)
            }
            guard newest.status != "pending-install", history.count > 1 else {
                throw .pendingInstall(release: release, revision: newest.revision)
            }
            pending = newest
        }
        if let requested {
            guard let chosen = history.first(where: { $0.revision == requested }) else {
                let oldest = history.first?.revision ?? 1
                throw .revisionNotInHistory(
                    release: release, revision: requested, history: table,
                    pruned: requested >= 1 && requested < oldest)
            }
            guard chosen.revision != newest.revision else {
                throw .revisionIsCurrent(release: release, revision: requested)
            }
            guard isGood(chosen) else {
                throw .revisionNotGood(release: release, revision: requested, status: chosen.status, history: table)
            }
            return HelmRollbackTarget(current: newest, target: chosen, pending: pending)
        }
        guard let chosen = history.last(where: { $0.revision < newest.revision && isGood($0) }) else {
            throw .noGoodRevision(release: release, current: newest.revision, history: table)
        }
        return HelmRollbackTarget(current: newest, target: chosen, pending: pending)
    }

    /// Deployed successfully at some point: `deployed`/`superseded`, no failure in the description, and not a
    /// rebuild's staged install (its app ran at 0 replicas: going back to it would stop the app).
    public static func isGood(_ revision: HelmRevision) -> Bool {
        ["deployed", "superseded"].contains(revision.status) && !revision.description.lowercased().contains("fail")
            && !isStagedInstall(revision.description)
    }

    /// The helm description of a rebuild's app release installed at 0 replicas while its database loads.
    public static let stagedInstallDescription =
        "drctl rebuild: staged at 0 replicas while the database loaded (not a rollback target)"

    /// Whether a helm description is that of a rebuild's staged install.
    public static func isStagedInstall(_ description: String) -> Bool {
        description.contains("staged at 0 replicas while the database loaded")
    }

    /// The schema revision drctl recorded in the helm description when it deployed (`migration-revision=0003`).
    public static func recordedMigrationRevision(_ revision: HelmRevision) -> String? {
        let marker = "migration-revision="
        guard let range = revision.description.range(of: marker) else { return nil }
        let value = revision.description[range.upperBound...].prefix { !$0.isWhitespace && $0 != "," && $0 != ";" }
        return value.isEmpty ? nil : String(value)
    }

    /// The schema revision of `revision`, following helm's rollback revisions: a revision helm created for a
    /// rollback ("Rollback to 1") carries no `migration-revision`; it runs what the revision it restored ran, so
    /// that one's recorded revision is the answer (through any chain of rollbacks; a cycle or a pruned revision
    /// gives nil).
    public static func recordedMigrationRevision(_ revision: HelmRevision, history: [HelmRevision]) -> String? {
        var current = revision
        var seen: Set<Int> = []
        while seen.insert(current.revision).inserted {
            if let recorded = recordedMigrationRevision(current) { return recorded }
            guard let restored = rolledBackTo(current), let next = history.first(where: { $0.revision == restored })
            else { return nil }
            current = next
        }
        return nil
    }

    /// N for a revision helm created by `helm rollback RELEASE N` (description `Rollback to N`).
    public static func rolledBackTo(_ revision: HelmRevision) -> Int? {
        let prefix = "Rollback to "
        guard revision.description.hasPrefix(prefix) else { return nil }
        return Int(revision.description.dropFirst(prefix.count).prefix { $0.isNumber })
    }

    /// `helm history` as a table, oldest first, for refusal messages.
    public static func table(_ history: [HelmRevision]) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let header = ["REVISION", "UPDATED", "STATUS", "CHART", "APP VERSION", "DESCRIPTION"]
        let rows =
            [header]
            + history.map {
                [
                    String($0.revision), $0.updated.map(formatter.string(from:)) ?? "-", $0.status, $0.chart,
                    $0.appVersion, $0.description,
                ]
            }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            let cells = row.indices.map { column in
                column == row.count - 1
                    ? row[column]
                    : row[column].padding(
                        toLength: widths[column], withPad: " ", startingAt: 0)
            }
            var line = "    " + cells.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}
