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
                return "\(executable): no such file — install it or fix the path (run scripts/bootstrap for the "
                    + "project's tools)\n  command: \(commandLine)"
            }
            return "\(executable): not found on PATH — run scripts/bootstrap (and `eval \"$(scripts/stack env)\"`) "
                + "or install it\n  command: \(commandLine)\n  PATH: \(searchPath)"
        case .notExecutable(let path, let commandLine):
            return "\(path): not an executable file — check its permissions (chmod +x) or reinstall it with "
                + "scripts/bootstrap\n  command: \(commandLine)"
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
