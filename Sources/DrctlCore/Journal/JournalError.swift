import Foundation

/// Errors of the journal, the run lock and the state backends.
public enum JournalError: Error, Sendable, LocalizedError {
    case runNotFound(runID: String, location: String)
    case runAlreadyExists(runID: String, location: String)
    case unreadable(path: String, detail: String)
    case unwritable(path: String, detail: String)
    /// A line in the middle of the journal is not a record: the file was edited or damaged.
    case corruptLine(path: String, line: Int, detail: String)
    /// A line's `prev` does not match the line before it: the file was edited, lines were lost or reordered.
    case brokenHashChain(path: String, line: Int)
    case emptyJournal(path: String)
    case lockHeld(RunLock, location: String, stale: Bool)
    case noLock(environment: String, location: String)
    case wrongNonce(environment: String, location: String)
    case invalidRunID(String)
    case backendFailed(operation: String, detail: String)

    public var errorDescription: String? {
        switch self {
        case .runNotFound(let runID, let location):
            return "no run \(runID) in \(location). `drctl runs list` shows the runs there; "
                + "pass --state-dir if the run was journaled elsewhere."
        case .runAlreadyExists(let runID, let location):
            return "a run \(runID) already exists in \(location)."
        case .unreadable(let path, let detail):
            return "cannot read \(path): \(detail). Check that the state folder (--state-dir, DRCTL_STATE_DIR) exists"
                + " and that this user may read it; drctl does not act on a journal it cannot read."
        case .unwritable(let path, let detail):
            return "cannot write \(path): \(detail). The run stops rather than act without a journal."
        case .corruptLine(let path, let line, let detail):
            return "journal \(path) is damaged at line \(line) (\(detail)); it was edited or the disk lost data. "
                + "drctl will not guess what happened: inspect the file."
        case .brokenHashChain(let path, let line):
            return "journal \(path) has a broken hash chain at line \(line): lines were edited, removed or "
                + "reordered. drctl will not resume from it: inspect the file."
        case .emptyJournal(let path):
            return "journal \(path) holds no complete record: the run was stopped before it wrote its first line, so"
                + " it changed nothing. Start the scenario again; remove that run's folder to tidy `drctl runs list`."
        case .lockHeld(let lock, let location, let stale):
            var text =
                "environment \(lock.environment) is locked by run \(lock.runID) (\(lock.owner)@\(lock.host), "
                + "pid \(lock.pid), since \(ISO8601DateFormatter().string(from: lock.startedAt))) in \(location)."
            if stale {
                text +=
                    "\nThat process is gone: the lock is stale. If no one else is running drctl against "
                    + "\(lock.environment), release it with `drctl unlock \(lock.environment) --nonce \(lock.nonce)`"
                    + " or continue that run with `drctl resume \(lock.runID)`."
            } else {
                text +=
                    "\nOne run at a time per environment: wait for it to finish, or see "
                    + "`drctl runs show \(lock.runID)`."
            }
            return text
        case .noLock(let environment, let location):
            return "environment \(environment) is not locked in \(location); nothing to unlock."
        case .wrongNonce(let environment, let location):
            return "the nonce does not match the lock of \(environment) in \(location); the lock was left in place. "
                + "The error that reported the lock shows the right nonce."
        case .invalidRunID(let runID):
            return "\(runID) is not a run id (letters, digits, '-', '_' and '.' only)."
        case .backendFailed(let operation, let detail):
            return "state backend: \(operation) failed: \(detail). Check --state-dir / DRCTL_STATE_DIR (a folder, or"
                + " s3://bucket/prefix with working aws credentials), then run the command again."
        }
    }
}

extension JournalError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .lockHeld: .lockHeld
        case .runNotFound, .invalidRunID: .usage
        case .noLock, .wrongNonce, .corruptLine, .brokenHashChain, .emptyJournal: .refused
        case .runAlreadyExists, .unreadable, .unwritable, .backendFailed: .failed
        }
    }
}
