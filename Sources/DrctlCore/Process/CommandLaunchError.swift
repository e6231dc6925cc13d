import Foundation

/// A program that could not be started at all, as opposed to one that ran and failed (`CommandFailure`).
/// Paths and command lines held here are already redacted.
public enum CommandLaunchError: Error, Sendable, Hashable, LocalizedError {
    /// The executable is not on the `PATH` the child would see, or the path given does not exist.
    case notFound(executable: String, commandLine: String, searchPath: String)
    /// The file exists but is not an executable regular file.
    case notExecutable(path: String, commandLine: String)
    /// The invocation's working directory does not exist or is not a directory.
    case workingDirectoryMissing(path: String, commandLine: String)
    /// The file named as standard input could not be opened.
    case standardInputUnreadable(path: String, commandLine: String, reason: String)
    /// The file a pipeline writes its output to could not be created.
    case outputFileUnwritable(path: String, commandLine: String, reason: String)
    /// The operating system refused to start the program.
    case spawnFailed(commandLine: String, reason: String)
    /// The program started but drctl could no longer follow it (its output or exit could not be read).
    case lostTrack(commandLine: String, reason: String)

    public var errorDescription: String? {
        switch self {
        case .notFound(let executable, let commandLine, let searchPath):
            if executable.contains("/") {
                return "\(executable): no such file — install the program there or point drctl at it with its "
                    + "DRCTL_<PROGRAM> variable (e.g. DRCTL_PSQL=/usr/lib/postgresql/15/bin/psql)\n"
                    + "  command: \(commandLine)"
            }
            return "\(executable): not found on PATH — install it (Debian/Ubuntu: \(Self.installHint(executable))),"
                + " add its folder to PATH, or name its path in DRCTL_\(Self.variableStem(executable)); in a drctl"
                + " checkout, scripts/bootstrap installs the test stack's tools\n  command: \(commandLine)\n"
                + "  PATH: \(searchPath)"
        case .notExecutable(let path, let commandLine):
            return "\(path): not an executable file — check its permissions (chmod +x) or reinstall the program\n"
                + "  command: \(commandLine)"
        case .workingDirectoryMissing(let path, let commandLine):
            return "working directory \(path) does not exist — create it or fix the path\n  command: \(commandLine)"
        case .standardInputUnreadable(let path, let commandLine, let reason):
            return "cannot read standard input from \(path): \(reason)\n  command: \(commandLine)"
        case .outputFileUnwritable(let path, let commandLine, let reason):
            return "cannot create output file \(path): \(reason) — check the folder exists and is writable\n"
                + "  command: \(commandLine)"
        case .spawnFailed(let commandLine, let reason):
            return "could not start the program: \(reason)\n  command: \(commandLine)"
        case .lostTrack(let commandLine, let reason):
            return "lost track of the running program: \(reason) — it may still be running; check with ps\n"
                + "  command: \(commandLine)"
        }
    }
}

extension CommandLaunchError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .notFound, .notExecutable, .workingDirectoryMissing, .standardInputUnreadable, .outputFileUnwritable,
            .spawnFailed, .lostTrack:
            .failed
        }
    }

    /// The override variable's stem for a program: `pg_dump` → `PG_DUMP`.
    static func variableStem(_ executable: String) -> String {
        executable.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Where a platform engineer gets the program.
    static func installHint(_ executable: String) -> String {
        switch executable {
        case "psql", "pg_dump", "pg_restore": "apt-get install postgresql-client-15"
        case "gzip": "apt-get install gzip"
        case "pigz": "apt-get install pigz"
        case "aws": "apt-get install awscli, or pip install awscli"
        case "az": "pip install azure-cli"
        case "alembic": "pip install alembic into the app's Python environment"
        case "kubectl": "apt-get install kubectl from the Kubernetes package repository"
        case "helm": "the helm release binary from helm.sh"
        default: "apt-get install the package that provides it"
        }
    }
}
