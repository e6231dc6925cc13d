import Foundation

/// Replaces secret values with `***` in any text that may be printed, logged or journaled. A secret is masked in
/// every form it takes on the way: as written, percent-encoded as in a URL (`DATABASE_URL`, with RFC 3986's
/// unreserved `-._~` left as they are, or with only letters and digits left, in upper- or lowercase hex),
/// form-encoded, and escaped inside a JSON string.
public struct Redactor: Sendable, Hashable {
    public static let mask = "***"
    public let secrets: [String]

    public init(secrets: [String]) {
        let forms = secrets.filter { !$0.isEmpty }.flatMap(Self.encodedForms)
        // Longest first, so a secret that contains another is masked whole.
        self.secrets = Array(Set(forms)).sorted { $0.count > $1.count || ($0.count == $1.count && $0 < $1) }
    }

    public func redact(_ text: String) -> String {
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: Self.mask)
        }
        return result
    }

    /// RFC 3986's unreserved characters: what a URL's user-info keeps unencoded.
    public static let urlUnreserved: CharacterSet = {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        allowed.insert(charactersIn: "-._~")
        return allowed
    }()

    /// The secret percent-encoded for a URL's user-info (`postgresql://user:SECRET@host/db`).
    public static func urlEncoded(_ secret: String) -> String {
        secret.addingPercentEncoding(withAllowedCharacters: urlUnreserved) ?? secret
    }

    /// Every form of `secret` that drctl or the programs it runs may print.
    static func encodedForms(_ secret: String) -> [String] {
        let letters = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        let percent = [urlEncoded(secret), secret.addingPercentEncoding(withAllowedCharacters: letters) ?? secret]
        var forms = [secret] + percent + percent.map(lowercaseHex)
        forms.append(urlEncoded(secret).replacingOccurrences(of: "%20", with: "+"))
        if let json = try? JSONEncoder().encode(secret), let quoted = String(data: json, encoding: .utf8) {
            forms.append(String(quoted.dropFirst().dropLast()))
        }
        return forms
    }

    /// `%2F` → `%2f`: the same encoding with lowercase hex digits.
    private static func lowercaseHex(_ encoded: String) -> String {
        encoded.replacing(/%[0-9A-F]{2}/) { $0.output.lowercased() }
    }
}
