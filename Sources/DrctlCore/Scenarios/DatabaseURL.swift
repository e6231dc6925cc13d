import Foundation

/// `postgresql://user:password@host:port/database` with user and password percent-encoded, for the app release.
enum DatabaseURL {
    static func make(_ database: Manifest.Database, password: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let user = database.user.addingPercentEncoding(withAllowedCharacters: allowed) ?? database.user
        let secret = password.addingPercentEncoding(withAllowedCharacters: allowed) ?? password
        return "postgresql://\(user):\(secret)@\(database.host):\(database.port)/\(database.name)"
    }
}
