import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the file an invocation will execute, the way a shell does: a bare name is looked up on the `PATH`
/// the child will see (the invocation's overrides included), a name with a slash is a path (relative to the
/// invocation's working directory).
enum ExecutableLocator {
    /// What a look-up found.
    enum Outcome: Equatable {
        case found(String)
        case notFound
        case notExecutable(String)
    }

    static let fallbackSearchPath = "/usr/local/bin:/usr/bin:/bin"

    /// The `PATH` the child will see.
    static func searchPath(for invocation: CommandInvocation) -> String {
        invocation.environment["PATH"] ?? ProcessInfo.processInfo.environment["PATH"] ?? fallbackSearchPath
    }

    static func locate(_ invocation: CommandInvocation) -> Outcome {
        let name = invocation.executable
        guard !name.isEmpty else { return .notFound }
        if name.contains("/") {
            let path: String
            if name.hasPrefix("/") {
                path = name
            } else {
                let base = invocation.workingDirectory ?? FileManager.default.currentDirectoryPath
                path = base + "/" + name
            }
            guard FileManager.default.fileExists(atPath: path) else { return .notFound }
            return isExecutableFile(path) ? .found(path) : .notExecutable(path)
        }
        for directory in searchPath(for: invocation).split(separator: ":", omittingEmptySubsequences: false) {
            // An empty PATH entry means the current directory, as in sh.
            var candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            if !candidate.hasPrefix("/") {
                candidate = FileManager.default.currentDirectoryPath + "/" + candidate
            }
            if isExecutableFile(candidate) { return .found(candidate) }
        }
        return .notFound
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }
}
