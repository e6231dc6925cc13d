import Foundation
import Testing

@testable import DrctlCore

/// A password is masked in every form it takes on the way to a log: as written, inside the app's DATABASE_URL,
/// percent-encoded with only letters and digits left, with lowercase hex, form-encoded, escaped in JSON.
@Suite("Redactor")
struct RedactorTests {
    static let database = Manifest.Database(
        host: "db.example", port: 5432, user: "valeo", name: "valeo_erp", password: .env("DB_PASSWORD"))

    @Test(
        "the password is masked in every encoding",
        arguments: ["a-b!c", "p/w~x.y_z", "s3cret", "with space", "quo\"te\\back", "ümlaut:@%"])
    func everyEncodingIsMasked(password: String) throws {
        let redactor = Redactor(secrets: [password])
        let url = DatabaseURL.make(Self.database, password: password)
        let lowercased = url.replacing(/%[0-9A-F]{2}/) { $0.output.lowercased() }
        let json = String(
            decoding: try JSONEncoder().encode(["DATABASE_URL": url, "password": password]), as: UTF8.self)
        let formEncoded = Redactor.urlEncoded(password).replacingOccurrences(of: "%20", with: "+")
        let alphanumeric = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? password
        for text in [password, url, lowercased, json, "pw=\(formEncoded)&x=1", "secret \(alphanumeric) here"] {
            let redacted = redactor.redact(text)
            #expect(!redacted.contains(password), "\(redacted)")
            #expect(!redacted.contains(Redactor.urlEncoded(password)), "\(redacted)")
            #expect(redacted.contains(Redactor.mask), "\(text) was not masked")
        }
        #expect(redactor.redact(url) == "postgresql://valeo:***@db.example:5432/valeo_erp")
    }

    @Test("text without the secret is left alone")
    func otherTextUnchanged() {
        #expect(Redactor(secrets: ["a-b!c"]).redact("nothing to hide: a-b") == "nothing to hide: a-b")
        #expect(Redactor(secrets: [""]).redact("empty secrets mask nothing") == "empty secrets mask nothing")
    }
}
