import Foundation

/// One external program to run: what `plan` prints and what the runner starts are the same value.
public struct CommandInvocation: Sendable, Hashable, Codable {
    /// A program name looked up on `PATH`, or an absolute path.
    public var executable: String
    public var arguments: [String]
    /// Variables set (or overridden) for the child on top of the inherited environment.
    public var environment: [String: String]
    public var workingDirectory: String?
    public var standardInput: StandardInput
    /// Values that must never be printed: they are replaced by `***` in every rendering of this invocation.
    public var secrets: [String]
    /// Wall-clock limit; on expiry the process group gets SIGTERM, then SIGKILL.
    public var timeout: Duration?
    /// What the program's ways of ending mean, as the wrapper that built this invocation declared them
    /// (`declaring`). Not encoded: a plan or journal shows the command, and the meaning belongs to the code.
    public var exitMeanings = ExitMeanings()

    private enum CodingKeys: String, CodingKey {
        case executable, arguments, environment, workingDirectory, standardInput, secrets, timeout
    }

    public init(
        _ executable: String,
        _ arguments: [String] = [],
        environment: [String: String] = [:],
        workingDirectory: String? = nil,
        standardInput: StandardInput = .none,
        secrets: [String] = [],
        timeout: Duration? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.standardInput = standardInput
        self.secrets = secrets
        self.timeout = timeout
    }

    /// Where the child's standard input comes from.
    public enum StandardInput: Sendable, Hashable, Codable {
        case none
        case file(String)
        case bytes(Data)
    }

    /// The shell-quoted command line with every secret replaced by `***`, as printed by `plan` and in errors.
    /// Environment overrides are shown as `NAME=value` prefixes; values of secret-bearing variables are redacted.
    public var redactedCommandLine: String {
        let redactor = Redactor(secrets: secrets)
        var words: [String] = []
        for key in environment.keys.sorted() {
            let value = environment[key] ?? ""
            words.append("\(key)=" + ShellQuoting.quote(redactor.redact(value)))
        }
        words.append(ShellQuoting.quote(redactor.redact(executable)))
        words += arguments.map { ShellQuoting.quote(redactor.redact($0)) }
        var line = words.joined(separator: " ")
        switch standardInput {
        case .none: break
        case .file(let path): line += " < " + ShellQuoting.quote(redactor.redact(path))
        case .bytes(let data): line += " <<< (\(data.count) bytes)"
        }
        return line
    }

    public func adding(secrets more: [String]) -> CommandInvocation {
        var copy = self
        copy.secrets += more.filter { !$0.isEmpty }
        return copy
    }

    public func with(timeout: Duration?) -> CommandInvocation {
        var copy = self
        copy.timeout = timeout
        return copy
    }

    public func with(environment more: [String: String]) -> CommandInvocation {
        var copy = self
        copy.environment.merge(more) { _, new in new }
        return copy
    }
}

extension CommandInvocation: CustomStringConvertible {
    public var description: String { redactedCommandLine }
}
