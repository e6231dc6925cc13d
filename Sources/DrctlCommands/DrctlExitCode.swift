import ArgumentParser
import DrctlCore
import Foundation

/// The documented exit codes (see `drctl --help` and README, "Exit codes"), and the one place errors are mapped
/// to them: every drctl error declares its `FailureKind`, argument-parser's usage errors are bad usage (2).
enum DrctlExitCode: Int32, CaseIterable {
    case success = 0
    case stepFailed = 1
    case usage = 2
    case refused = 3
    case interrupted = 4
    case lockHeld = 5

    init(_ kind: FailureKind) {
        switch kind {
        case .failed: self = .stepFailed
        case .usage: self = .usage
        case .refused: self = .refused
        case .interrupted: self = .interrupted
        case .lockHeld: self = .lockHeld
        }
    }

    /// The exit code for an error of drctl's own domains; nil for argument-parser's errors (help, version,
    /// usage, validation) and for errors of other libraries, which `main` handles.
    static func forError(_ error: any Error) -> DrctlExitCode? {
        switch error {
        case let error as any ClassifiedError: DrctlExitCode(error.failureKind)
        case is CancellationError: .interrupted
        default: nil
        }
    }

    /// argument-parser's code for its own errors, with its usage code (64, EX_USAGE) turned into drctl's 2.
    static func forParserError(_ error: any Error) -> Int32 {
        let code = DrctlCommand.exitCode(for: error)
        return code == .validationFailure ? DrctlExitCode.usage.rawValue : code.rawValue
    }
}

extension DrctlCommand {
    /// The entry point: runs the command and exits with the documented code for every error.
    public static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch {
            if let code = DrctlExitCode.forError(error) {
                let message = (error as? LocalizedError)?.errorDescription ?? String(describing: error)
                StandardStreams.err("Error: " + message)
                Foundation.exit(code.rawValue)
            }
            // Help, version, usage and validation errors: argument-parser's text (with the usage line), drctl's code.
            let code = DrctlExitCode.forParserError(error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == DrctlExitCode.success.rawValue {
                    StandardStreams.out(message)
                } else {
                    StandardStreams.err(message)
                }
            }
            Foundation.exit(code)
        }
    }
}
