/// The secrets of one run, read at run time and never stored in the manifest, journal or reports.
public struct ResolvedSecrets: Sendable {
    public var databasePassword: SecretValue
    /// Things the operator should fix that do not stop the run, such as a password file others can read.
    public var warnings: [SecretWarning]

    public init(databasePassword: SecretValue, warnings: [SecretWarning] = []) {
        self.databasePassword = databasePassword
        self.warnings = warnings
    }

    /// Every secret value, for `CommandInvocation.secrets`.
    public var values: [String] { [databasePassword.value] }
}

/// A problem with how a secret is kept that does not stop the run.
public enum SecretWarning: Sendable, Hashable, CustomStringConvertible {
    /// The password file can be read by its group or by everyone; `mode` is octal like `0644`.
    case fileReadableByOthers(path: String, mode: String)

    public var description: String {
        switch self {
        case .fileReadableByOthers(let path, let mode):
            "password file \(path) can be read by others (mode \(mode)); run: chmod 600 \(path)"
        }
    }
}
