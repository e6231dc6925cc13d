import Foundation

/// A secret value that prints as `***`, so it cannot leak through string interpolation, `print` or `dump` of a
/// containing value. Pass `value` only where the secret must go: a child's environment or a 0600 file, and the
/// invocation's `secrets` list so it is redacted.
public struct SecretValue: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    public let value: String

    public init(_ value: String) {
        self.value = value
    }

    public var description: String { "***" }
    public var debugDescription: String { "SecretValue(***)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

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

/// Why a secret could not be read.
public enum SecretError: Error, Sendable, Hashable, LocalizedError {
    case environmentVariableUnset(name: String)
    case fileNotFound(path: String)
    case fileUnreadable(path: String, reason: String)
    case empty(source: String)

    public var errorDescription: String? {
        switch self {
        case .environmentVariableUnset(let name):
            "the database password is read from \(name), which is not set;"
                + " set \(name) (or DB_PASSWORD) or point database.password.file at a file holding it"
        case .fileNotFound(let path):
            "the database password file \(path) does not exist;"
                + " create it (mode 600), set DB_PASSWORD, or point database.password at another file"
        case .fileUnreadable(let path, let reason):
            "cannot read the database password file \(path): \(reason); check its owner and permissions"
        case .empty(let source):
            "the database password from \(source) is empty; set DB_PASSWORD or put the password in the file"
        }
    }
}

/// Reads the database password from where the manifest says: an environment variable or a file.
public struct SecretResolver: Sendable {
    public var environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public func resolve(for manifest: Manifest) throws(SecretError) -> ResolvedSecrets {
        switch manifest.database.password {
        case .env(let name):
            guard let value = environment[name] else { throw .environmentVariableUnset(name: name) }
            guard !value.isEmpty else { throw .empty(source: "environment variable \(name)") }
            return ResolvedSecrets(databasePassword: SecretValue(value))
        case .file(let path):
            return try readPasswordFile(path)
        }
    }

    private func readPasswordFile(_ path: ManifestPath) throws(SecretError) -> ResolvedSecrets {
        let manager = FileManager.default
        guard manager.fileExists(atPath: path.absolute) else { throw .fileNotFound(path: path.written) }
        let contents: String
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path.absolute))
            guard let text = String(data: data, encoding: .utf8) else {
                throw SecretError.fileUnreadable(path: path.written, reason: "it is not UTF-8 text")
            }
            contents = text
        } catch let error as SecretError {
            throw error
        } catch {
            throw .fileUnreadable(path: path.written, reason: error.localizedDescription)
        }
        // Files written with `echo` end in a newline that is not part of the password.
        var password = Substring(contents)
        while let last = password.last, last == "\n" || last == "\r" { password = password.dropLast() }
        guard !password.isEmpty else { throw .empty(source: "file \(path.written)") }

        var warnings: [SecretWarning] = []
        if let permissions = (try? manager.attributesOfItem(atPath: path.absolute))?[.posixPermissions] as? Int,
            permissions & 0o077 != 0
        {
            warnings.append(
                .fileReadableByOthers(path: path.written, mode: "0" + String(permissions & 0o777, radix: 8)))
        }
        return ResolvedSecrets(databasePassword: SecretValue(String(password)), warnings: warnings)
    }
}
