import Crypto
import Foundation

/// One notification target with its secrets read: builds the HTTP request for a notification.
public struct NotificationChannel: Sendable {
    public enum Kind: Sendable {
        case webhook(url: URL, hmacKey: SecretValue?)
        case pagerDuty(routingKey: SecretValue, endpoint: URL)
        case slack(url: URL)
    }

    public var kind: Kind
    /// What a report may name it by (`pagerduty`, `webhook https://hooks.example.com/…`) without a secret.
    public var label: String
    /// Values never printed: routing key, HMAC key, URLs with tokens.
    public var secrets: [String]
    /// PagerDuty's `payload.source`: where drctl runs.
    public var source: String

    public init(kind: Kind, label: String, secrets: [String], source: String) {
        self.kind = kind
        self.label = label
        self.secrets = secrets
        self.source = source
    }

    /// The request that delivers `notification`. PagerDuty gets `resolve` for a success (it ignores a resolve with
    /// no open incident) and `trigger` for everything else.
    public func request(for notification: Notification) -> HTTPRequest {
        switch kind {
        case .webhook(let url, let hmacKey):
            let body = Self.json(Self.webhookBody(notification))
            var headers = ["Content-Type": "application/json"]
            if let hmacKey {
                headers["X-Drctl-Signature"] = "sha256=" + Self.hmacSHA256Hex(key: hmacKey.value, body: body)
            }
            return HTTPRequest(method: "POST", url: url, headers: headers, body: body)
        case .pagerDuty(let routingKey, let endpoint):
            var body: [String: JSONValue] = [
                "routing_key": .string(routingKey.value),
                "event_action": .string(notification.resolves ? "resolve" : "trigger"),
                "dedup_key": .string(notification.dedupKey),
            ]
            if !notification.resolves {
                var details = notification.details.mapValues(JSONValue.string)
                details["event"] = .string(notification.kind.rawValue)
                if let runID = notification.runID { details["runID"] = .string(runID) }
                body["payload"] = .object([
                    "summary": .string(String(notification.summary.prefix(1024))),
                    "severity": .string(notification.severity.rawValue),
                    "source": .string(source),
                    "component": .string(notification.scenario),
                    "group": .string(notification.environment),
                    "timestamp": .string(ISO8601DateFormatter().string(from: notification.time)),
                    "custom_details": .object(details),
                ])
            }
            return HTTPRequest(
                method: "POST", url: endpoint, headers: ["Content-Type": "application/json"], body: Self.json(body))
        case .slack(let url):
            let icon =
                switch notification.severity {
                case .critical, .error: ":red_circle:"
                case .warning: ":warning:"
                case .info: ":white_check_mark:"
                }
            let body: [String: JSONValue] = ["text": .string("\(icon) \(notification.summary)")]
            return HTTPRequest(
                method: "POST", url: url, headers: ["Content-Type": "application/json"], body: Self.json(body))
        }
    }

    static func webhookBody(_ notification: Notification) -> [String: JSONValue] {
        var body: [String: JSONValue] = [
            "event": .string(notification.kind.rawValue),
            "environment": .string(notification.environment),
            "scenario": .string(notification.scenario),
            "summary": .string(notification.summary),
            "severity": .string(notification.severity.rawValue),
            "time": .string(ISO8601DateFormatter().string(from: notification.time)),
            "details": .object(notification.details.mapValues(JSONValue.string)),
        ]
        if let runID = notification.runID { body["runID"] = .string(runID) }
        return body
    }

    /// Hex HMAC-SHA256 of the exact body bytes: what a receiver recomputes to check `X-Drctl-Signature`.
    public static func hmacSHA256Hex(key: String, body: Data) -> String {
        let code = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Data(key.utf8)))
        return code.map { String(format: "%02x", $0) }.joined()
    }

    static func json(_ value: [String: JSONValue]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
