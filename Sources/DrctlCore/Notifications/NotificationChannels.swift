import Foundation

/// Reads the manifest's notification targets' secrets and builds their channels. A target whose secret cannot be
/// read is left out and reported, so a missing routing key never stops a recovery.
public struct NotificationChannels: Sendable {
    public var environment: [String: String]
    /// PagerDuty's `payload.source`.
    public var source: String

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        source: String = "drctl@" + ProcessInfo.processInfo.hostName
    ) {
        self.environment = environment
        self.source = source
    }

    /// The channels of `manifest`, and a line per target that was left out.
    public func channels(for manifest: Manifest) -> (channels: [NotificationChannel], problems: [String]) {
        var channels: [NotificationChannel] = []
        var problems: [String] = []
        for (index, target) in manifest.notifications.enumerated() {
            do {
                channels.append(try channel(for: target))
            } catch {
                problems.append(
                    "warning: notifications[\(index)] (\(target.type)) is left out: \(error.localizedDescription)")
            }
        }
        return (channels, problems)
    }

    func channel(for target: Manifest.NotificationTarget) throws -> NotificationChannel {
        let resolver = SecretResolver(environment: environment)
        switch target {
        case .webhook(let urlReference, let hmacSecret):
            var secrets: [String] = []
            let urlText: String
            let label: String
            switch urlReference {
            case .literal(let text):
                urlText = text
                label = "webhook \(text)"
            case .secret(let reference):
                urlText = try resolver.resolve(reference).value
                secrets.append(urlText)
                label = "webhook (URL from \(reference))"
            }
            let url = try Self.url(urlText, of: label)
            let key = try hmacSecret.map { reference throws -> SecretValue in try resolver.resolve(reference) }
            if let key { secrets.append(key.value) }
            return NotificationChannel(
                kind: .webhook(url: url, hmacKey: key), label: label, secrets: secrets, source: source)
        case .pagerDuty(let routingKeyReference, let endpoint):
            let routingKey = try resolver.resolve(routingKeyReference)
            return NotificationChannel(
                kind: .pagerDuty(routingKey: routingKey, endpoint: try Self.url(endpoint, of: "pagerduty")),
                label: "pagerduty", secrets: [routingKey.value], source: source)
        case .slack(let urlReference):
            let urlText = try resolver.resolve(urlReference).value
            return NotificationChannel(
                kind: .slack(url: try Self.url(urlText, of: "slack")), label: "slack (URL from \(urlReference))",
                secrets: [urlText], source: source)
        }
    }

    private static func url(_ text: String, of label: String) throws -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme)
        else {
            throw SecretError.fileUnreadable(path: label, reason: "its URL is not an http(s) URL (not shown)")
        }
        return url
    }
}

extension SecretResolver {
    /// Reads one secret from an environment variable or a file (a trailing newline is ignored).
    public func resolve(_ reference: Manifest.SecretReference) throws(SecretError) -> SecretValue {
        switch reference {
        case .env(let name):
            guard let value = environment[name] else { throw .environmentVariableUnset(name: name) }
            guard !value.isEmpty else { throw .empty(source: "environment variable \(name)") }
            return SecretValue(value)
        case .file(let path):
            guard FileManager.default.fileExists(atPath: path.absolute) else { throw .fileNotFound(path: path.written) }
            guard let data = FileManager.default.contents(atPath: path.absolute),
                let text = String(data: data, encoding: .utf8)
            else { throw .fileUnreadable(path: path.written, reason: "it is not readable UTF-8 text") }
            var value = Substring(text)
            while let last = value.last, last == "\n" || last == "\r" { value = value.dropLast() }
            guard !value.isEmpty else { throw .empty(source: "file \(path.written)") }
            return SecretValue(String(value))
        }
    }
}
