/// What kind of failure an error is. `drctl` turns each kind into its documented exit code (README, "Exit
/// codes"); every error type of drctl declares its kind, so the mapping has one case per kind and no guesses.
public enum FailureKind: Sendable, Hashable, CaseIterable {
    /// A step or a check failed; fix the cause and `drctl resume` (exit 1).
    case failed
    /// Bad usage: an unknown flag, a manifest that does not parse, a name that does not exist (exit 2).
    case usage
    /// A safety check said no before anything was changed (exit 3).
    case refused
    /// Ctrl-C or SIGTERM stopped the run; it is resumable (exit 4).
    case interrupted
    /// Another run holds the environment's lock (exit 5).
    case lockHeld
}

/// An error that says which kind of failure it is (and so which exit code it ends drctl with).
public protocol ClassifiedError: Error {
    var failureKind: FailureKind { get }
}
