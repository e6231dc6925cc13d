import Foundation

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

    /// The key that signs and checks backup content records (`backups.signingKey`); nil when the manifest names
    /// none.
    public func signingKey(for manifest: Manifest) throws(SecretError) -> SecretValue? {
        guard let reference = manifest.backups.signingKey else { return nil }
        return try resolve(reference)
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
