import Foundation

/// `postgresql://user:password@host:port/database` with user and password percent-encoded, for the app release.
enum DatabaseURL {
    static func make(_ database: Manifest.Database, password: String) -> String {
        let user = Redactor.urlEncoded(database.user)
        let secret = Redactor.urlEncoded(password)
        return "postgresql://\(user):\(secret)@\(database.host):\(database.port)/\(database.name)"
    }
}
