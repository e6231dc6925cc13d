import Foundation

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

extension SecretError: ClassifiedError {
    public var failureKind: FailureKind {
        switch self {
        case .environmentVariableUnset, .fileNotFound, .fileUnreadable, .empty: .usage
        }
    }
}
