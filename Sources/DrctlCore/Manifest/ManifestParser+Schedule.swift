import Foundation

/// The `schedule` and `notifications` sections. Secrets (routing keys, HMAC keys, webhook URLs with tokens) are
/// only accepted as `{ env: NAME }` or `{ file: PATH }` references; an inline secret is an error that does not
/// repeat the value.
extension ManifestParser {
    func schedule(_ node: ManifestNode) throws(ManifestError) -> Manifest.Schedule {
        let schedule = try node.mapping(allowing: [
            "backups", "image", "passwordSecret", "volumeClaim", "environmentSecret",
        ])
        let backupsNode = try schedule.required("backups")
        let cron: CronSchedule
        switch CronSchedule.parse(try backupsNode.nonEmptyString()) {
        case .success(let parsed): cron = parsed
        case .failure(let error):
            throw backupsNode.invalid(
                try backupsNode.string(),
                expected: "a five-field cron schedule in UTC like \"0 2 * * *\" (\(error.reason))")
        }
        let imageNode = try schedule.required("image")
        let image = try imageNode.nonEmptyString()
        guard !image.contains(where: \.isWhitespace) else {
            throw imageNode.invalid(image, expected: "a container image reference like ghcr.io/valeo/drctl:1.4.0")
        }
        let secret = try schedule.required("passwordSecret").mapping(allowing: ["name", "key"])
        return Manifest.Schedule(
            backups: cron,
            image: image,
            passwordSecret: Manifest.KubernetesSecretKey(
                name: try kubernetesName(secret.required("name")),
                key: try secretKey(secret.required("key"))
            ),
            volumeClaim: try schedule.optional("volumeClaim").map(kubernetesName),
            environmentSecret: try schedule.optional("environmentSecret").map(kubernetesName)
        )
    }

    func notifications(_ node: ManifestNode) throws(ManifestError) -> [Manifest.NotificationTarget] {
        var targets: [Manifest.NotificationTarget] = []
        for element in try node.list() {
            targets.append(try notificationTarget(element))
        }
        return targets
    }

    private func notificationTarget(_ node: ManifestNode) throws(ManifestError) -> Manifest.NotificationTarget {
        let typeNode = try node.mapping(allowing: nil).required("type")
        switch try typeNode.nonEmptyString() {
        case "webhook":
            let webhook = try node.mapping(allowing: ["type", "url", "hmacSecret"])
            let urlNode = try webhook.required("url")
            let url: Manifest.URLReference
            if case .mapping = urlNode.node {
                url = .secret(try secretReference(urlNode, secret: "the URL"))
            } else {
                url = .literal(try urlNode.url(schemes: ["http", "https"]))
            }
            return .webhook(
                url: url,
                hmacSecret: try webhook.optional("hmacSecret").map { node throws(ManifestError) in
                    try secretReference(node, secret: "the HMAC key")
                })
        case "pagerduty":
            let pagerDuty = try node.mapping(allowing: ["type", "routingKey", "url"])
            return .pagerDuty(
                routingKey: try secretReference(pagerDuty.required("routingKey"), secret: "the routing key"),
                endpoint: try pagerDuty.optional("url")?.url(schemes: ["http", "https"])
                    ?? Manifest.NotificationTarget.pagerDutyEndpoint)
        case "slack":
            let slack = try node.mapping(allowing: ["type", "url"])
            return .slack(
                url: try secretReference(slack.required("url"), secret: "the webhook URL (it holds a token)"))
        case let other:
            throw typeNode.invalid(other, expected: "one of webhook, pagerduty, slack")
        }
    }

    /// A Kubernetes object name (RFC 1123 subdomain): lowercase letters, digits, '-' and '.', at most 253.
    func kubernetesName(_ node: ManifestNode) throws(ManifestError) -> String {
        let name = try node.nonEmptyString()
        let allowed = name.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" || $0 == "." }
        guard allowed, name.count <= 253, let first = name.first, let last = name.last,
            first.isLetter || first.isNumber, last.isLetter || last.isNumber
        else {
            throw node.invalid(name, expected: "a Kubernetes name: lowercase letters, digits, '-' and '.'")
        }
        return name
    }

    /// A key of a Secret's data: letters, digits, '-', '_' and '.'.
    func secretKey(_ node: ManifestNode) throws(ManifestError) -> String {
        let key = try node.nonEmptyString()
        guard key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
            throw node.invalid(key, expected: "a Secret key: letters, digits, '-', '_' and '.'")
        }
        return key
    }
}
