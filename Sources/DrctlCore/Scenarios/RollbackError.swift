import Foundation

/// Why `drctl rollback app` or `drctl rollback migration` refused or stopped, and what the operator does next.
///
/// Refusals (`isRefusal`) happen before anything is changed; the CLI maps them to exit code 3.
public enum RollbackError: Error, Sendable, Hashable, LocalizedError, RefusalError {
    // MARK: application (helm)
    case releaseNotFound(release: String, namespace: String)
    case emptyHistory(release: String)
    /// `--revision N` names a revision helm no longer has: pruned by `--history-max`, or never created.
    case revisionNotInHistory(release: String, revision: Int, history: String, pruned: Bool)
    case revisionIsCurrent(release: String, revision: Int)
    case revisionNotGood(release: String, revision: Int, status: String, history: String)
    case noGoodRevision(release: String, current: Int, history: String)
    /// The newest revision is `pending-install/-upgrade/-rollback`: helm will not act on it (helm PR #7653).
    case releasePending(release: String, revision: Int, status: String, history: String)
    /// A release stuck in `pending-install` has no earlier revision to go back to.
    case pendingInstall(release: String, revision: Int)
    /// `--recover-pending` was asked for, but the newest revision changed between reading and acting.
    case pendingChanged(release: String, expected: String, found: String)
    case helmRollbackFailed(release: String, target: Int, detail: String)
    case rolledBackToWrongRevision(release: String, target: Int, found: String)
    case noRecordedMigrationRevision(release: String, revision: Int)

    // MARK: schema (alembic)
    case migrationsNotConfigured(manifest: String)
    case atBase(database: String)
    case multipleHeads(heads: [String])
    case multipleCurrentRevisions(revisions: [String])
    /// The database holds a revision the migration scripts do not know (alembic's `Can't locate revision`).
    case unknownDatabaseRevision(database: String, alembicMessage: String)
    case unknownTargetRevision(revision: String, known: [String])
    case targetNotBelowCurrent(target: String, current: String)
    case tooManySteps(steps: Int, current: String, available: Int)
    case mergePointInPath(revision: String)
    case downgradeFailed(from: String, to: String, databaseNowAt: String, detail: String)
    case verifyMismatch(expected: String, actual: String)

    /// True when nothing was changed: the run stopped at a safety check (exit code 3).
    public var isRefusal: Bool {
        switch self {
        case .helmRollbackFailed, .rolledBackToWrongRevision, .downgradeFailed, .verifyMismatch: false
        default: true
        }
    }

    public var errorDescription: String? {
        switch self {
        case .releaseNotFound(let release, let namespace):
            return "helm knows no release \(release) in namespace \(namespace); there is nothing to roll back.\n"
                + "  Check releases.app.name and kube.namespace in the manifest (`helm list -n \(namespace) --all`);"
                + " after a cluster loss use `drctl rebuild` instead."
        case .emptyHistory(let release):
            return "helm history of \(release) is empty; there is nothing to roll back to."
        case .revisionNotInHistory(let release, let revision, let history, let pruned):
            let why =
                pruned
                ? "it was pruned: helm keeps only the newest revisions (`--history-max`, 10 by default)"
                : "helm never created it"
            return "revision \(revision) of \(release) does not exist: \(why).\n\(history)\n"
                + "  Pick one of the revisions above with --revision, or leave --revision out to go back to the"
                + " last good one."
        case .revisionIsCurrent(let release, let revision):
            return "revision \(revision) is the current revision of \(release); rolling back to it changes nothing.\n"
                + "  Pick an earlier revision (`helm history \(release)`), or leave --revision out."
        case .revisionNotGood(let release, let revision, let status, let history):
            return "revision \(revision) of \(release) is \(status), not a revision that was ever deployed"
                + " successfully.\n\(history)\n"
                + "  Pick a revision whose status is deployed or superseded with a successful description."
        case .noGoodRevision(let release, let current, let history):
            return "\(release) has no successfully deployed revision before \(current) to go back to.\n\(history)\n"
                + "  Fix forward with a new release, or name a revision with --revision if you know it is good."
        case .releasePending(let release, let revision, let status, let history):
            return "\(release) is wedged in \(status) at revision \(revision): an earlier helm run was interrupted,"
                + " and helm refuses to act on a pending release.\n\(history)\n"
                + "  If no other helm or drctl run is working on it, pass --recover-pending: drctl then deletes only"
                + " the pending revision's record (the secret labelled status=\(status)) and rolls back."
        case .pendingInstall(let release, let revision):
            return "\(release) is stuck in pending-install at revision \(revision): there is no earlier revision to"
                + " roll back to.\n  Uninstall it (`helm uninstall \(release)`) and install again, e.g. with"
                + " `drctl rebuild`."
        case .pendingChanged(let release, let expected, let found):
            return "refusing to recover \(release): its newest revision changed since it was read (expected"
                + " \(expected), found \(found)). Another helm run may be active; run the rollback again once it"
                + " has finished."
        case .helmRollbackFailed(let release, let target, let detail):
            return "helm rollback of \(release) to revision \(target) failed:\n  \(indent(detail))\n"
                + "  helm records the attempt as a failed revision; check `helm history \(release)` and"
                + " `kubectl get pods`, fix the cause, then `drctl resume` the run."
        case .rolledBackToWrongRevision(let release, let target, let found):
            return "after helm rollback of \(release) to revision \(target), helm status shows \(found)."
                + "\n  Check `helm history \(release)`: another helm run may have changed the release."
        case .noRecordedMigrationRevision(let release, let revision):
            return "revision \(revision) of \(release) records no schema revision (drctl writes"
                + " `migration-revision=REV` into the helm description when it deploys).\n"
                + "  Pass --migration-revision REV with the alembic revision that release expects."
        case .migrationsNotConfigured(let manifest):
            return "the manifest \(manifest) has no `migrations:` section, so drctl does not know where the alembic"
                + " project is.\n  Add `migrations: { directory: ., config: alembic.ini }` to the manifest."
        case .atBase(let database):
            return "database \(database) is at base: no migration is applied, so there is nothing to downgrade.\n"
                + "  Check that the manifest names the right database (`alembic current`)."
        case .multipleHeads(let heads):
            return "the migration scripts have \(heads.count) heads (\(heads.joined(separator: ", "))): a downgrade"
                + " by steps is ambiguous.\n  Merge the branches (`alembic merge heads`) or name the revision with"
                + " --to REV."
        case .multipleCurrentRevisions(let revisions):
            return "the database is on \(revisions.count) branches at once (\(revisions.joined(separator: ", ")));"
                + " drctl downgrades one line of history only.\n  Downgrade the branches by hand with"
                + " `alembic downgrade BRANCH@REV`."
        case .unknownDatabaseRevision(let database, let message):
            return "database \(database) holds a revision the migration scripts do not know: \(message)\n"
                + "  The database was migrated by a newer (or different) release than this migrations folder."
                + " Run drctl from the checkout of the release that migrated it, or check the alembic_version"
                + " table; the database was not changed."
        case .unknownTargetRevision(let revision, let known):
            return "revision \(revision) is not in the migration scripts (known: \(known.joined(separator: ", "))).\n"
                + "  Pick one from `alembic history`, or `base`."
        case .targetNotBelowCurrent(let target, let current):
            return "revision \(target) is not below the database's current revision \(current); a downgrade only"
                + " goes back.\n  Use `alembic upgrade \(target)` to move forward, or pick a revision from"
                + " `alembic history` below \(current)."
        case .tooManySteps(let steps, let current, let available):
            return "cannot go back \(steps) step(s) from \(current): only \(available) migration(s) are applied.\n"
                + "  Use --steps \(available) (or --to base) to remove all of them."
        case .mergePointInPath(let revision):
            return "going back by steps crosses the merge revision \(revision), which has several parents; the"
                + " target is ambiguous.\n  Name the target with --to REV."
        case .downgradeFailed(let from, let to, let now, let detail):
            return "alembic downgrade from \(from) to \(to) failed:\n  \(indent(detail))\n"
                + "  The database stays at \(now): PostgreSQL runs the downgrade's DDL in one transaction and rolled"
                + " it back. Fix the failing migration's downgrade(), then `drctl resume` the run."
        case .verifyMismatch(let expected, let actual):
            return "after the downgrade alembic current reports \(actual), not \(expected).\n"
                + "  Check `alembic current` and `alembic history`; another process may have migrated the database."
        }
    }

    private func indent(_ text: String) -> String {
        text.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "\n", with: "\n  ")
    }
}
