import Crypto
public import Foundation
public import Topology
public import Vocabulary

/// A request ready for libcurl: body and headers. Secrets are in it; it is never logged or stored.
public struct RenderedRequest: Sendable {
    public var body: Data
    public var headers: [(name: String, value: String)]
}

/// Payloads as each receiver documents them (see docs/alerting.md for examples). Pure functions:
/// the outbox stores the notification, and the payload is rendered again for every attempt, so no
/// secret (a PagerDuty routing key) is ever stored.
public enum Payloads {
    /// The version of the generic webhook schema; a change that breaks consumers bumps it.
    public static let webhookSchema = "failoverd.alerts/v1"

    /// Renders `notification` for `channel`. `idempotencyKey` identifies the delivery across retries;
    /// `now` stamps the webhook signature.
    public static func render(
        _ notification: AlertNotification, for channel: AlertChannel, idempotencyKey: String, now: Date
    ) -> RenderedRequest {
        let json: [String: Any]
        switch channel.kind {
        case .slack: json = slack(notification)
        case .teams: json = teams(notification)
        case .discord: json = discord(notification)
        case .pagerduty: json = pagerDuty(notification, routingKey: channel.routingKey?.reveal() ?? "")
        case .webhook: json = webhook(notification, id: idempotencyKey)
        }
        let body = encode(json)
        var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
        if channel.kind == .webhook {
            let timestamp = String(Int64(now.timeIntervalSince1970))
            headers.append(("webhook-id", idempotencyKey))
            headers.append(("webhook-timestamp", timestamp))
            if let secret = channel.signingSecret {
                let signature = WebhookSignature.sign(
                    id: idempotencyKey, timestamp: timestamp, body: body, secret: secret)
                headers.append(("webhook-signature", signature))
            }
        } else {
            headers.append(("Idempotency-Key", idempotencyKey))
        }
        return RenderedRequest(body: body, headers: headers)
    }

    static func encode(_ json: [String: Any]) -> Data {
        // Every value put in these dictionaries is a string, number, bool, array or dictionary.
        (try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data("{}".utf8)
    }

    // MARK: Slack (incoming webhook: text, and blocks inside a coloured attachment)

    /// Slack accepts up to 50 blocks; each alert takes two, so longer lists are cut with a note.
    static let slackAlertLimit = 20

    static func slack(_ notification: AlertNotification) -> [String: Any] {
        var blocks: [[String: Any]] = [
            [
                "type": "section",
                "text": ["type": "mrkdwn", "text": truncate("*\(escapeSlack(notification.title))*", 3000)],
            ]
        ]
        for alert in notification.alerts.prefix(slackAlertLimit) {
            var fields: [[String: Any]] = [
                ["type": "mrkdwn", "text": "*Severity*\n\(alert.severity.rawValue)"],
                ["type": "mrkdwn", "text": "*Cluster*\n\(escapeSlack(alert.cluster))"],
            ]
            if let region = alert.region {
                fields.append(["type": "mrkdwn", "text": "*Region*\n\(escapeSlack(region))"])
            }
            if let endpoint = alert.endpoint {
                fields.append(["type": "mrkdwn", "text": "*Endpoint*\n\(escapeSlack(endpoint))"])
            }
            for (key, value) in alert.facts.sorted(by: { $0.key < $1.key }) where fields.count < 10 {
                fields.append([
                    "type": "mrkdwn", "text": truncate("*\(escapeSlack(key))*\n\(escapeSlack(value))", 2000),
                ])
            }
            let status = alert.status == .firing ? "" : " (resolved)"
            blocks.append([
                "type": "section",
                "text": [
                    "type": "mrkdwn",
                    "text": truncate("*\(alert.type.rawValue)*\(status): \(escapeSlack(alert.summary))", 3000),
                ],
                "fields": fields,
            ])
            blocks.append([
                "type": "context",
                "elements": [
                    [
                        "type": "mrkdwn",
                        "text": "Runbook: \(link(alert.runbook)) · since \(timestamp(alert.startsAt))",
                    ]
                ],
            ])
        }
        if notification.alerts.count > slackAlertLimit {
            blocks.append([
                "type": "context",
                "elements": [
                    ["type": "mrkdwn", "text": "…and \(notification.alerts.count - slackAlertLimit) more alerts"]
                ],
            ])
        }
        return [
            "text": truncate(notification.title, 3000),
            "attachments": [["color": colour(notification), "blocks": blocks]],
        ]
    }

    private static func link(_ runbook: String) -> String {
        isAbsolute(runbook) ? "<\(runbook)|\(runbookName(runbook))>" : runbook
    }

    /// Slack treats `&`, `<` and `>` as control characters in mrkdwn.
    private static func escapeSlack(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    /// Hex colour by severity; resolved notifications are green.
    static func colour(_ notification: AlertNotification) -> String {
        if notification.status == .resolved { return "#2EB67D" }
        switch notification.severity {
        case .critical: return "#D40E0D"
        case .high: return "#E8700A"
        case .medium: return "#ECB22E"
        case .low: return "#36C5F0"
        }
    }

    // MARK: Microsoft Teams (workflow webhook: an Adaptive Card in `attachments`)

    static func teams(_ notification: AlertNotification) -> [String: Any] {
        let colour: String
        switch (notification.status, notification.severity) {
        case (.resolved, _): colour = "Good"
        case (_, .critical), (_, .high): colour = "Attention"
        case (_, .medium): colour = "Warning"
        case (_, .low): colour = "Default"
        }
        var body: [[String: Any]] = [
            [
                "type": "TextBlock", "text": notification.title, "weight": "Bolder", "size": "Medium",
                "color": colour, "wrap": true,
            ]
        ]
        var actions: [[String: Any]] = []
        for alert in notification.alerts.prefix(20) {
            body.append(["type": "TextBlock", "text": alert.summary, "wrap": true, "separator": true])
            var facts: [[String: Any]] = [
                ["title": "Type", "value": alert.type.rawValue],
                ["title": "Severity", "value": alert.severity.rawValue],
                ["title": "Status", "value": alert.status.rawValue],
                ["title": "Cluster", "value": alert.cluster],
            ]
            if let region = alert.region { facts.append(["title": "Region", "value": region]) }
            if let endpoint = alert.endpoint { facts.append(["title": "Endpoint", "value": endpoint]) }
            for (key, value) in alert.facts.sorted(by: { $0.key < $1.key }) {
                facts.append(["title": key, "value": value])
            }
            facts.append(["title": "Since", "value": timestamp(alert.startsAt)])
            facts.append(["title": "Runbook", "value": alert.runbook])
            body.append(["type": "FactSet", "facts": facts])
            if isAbsolute(alert.runbook), !actions.contains(where: { $0["url"] as? String == alert.runbook }) {
                actions.append([
                    "type": "Action.OpenUrl", "title": "Runbook: \(alert.type.rawValue)", "url": alert.runbook,
                ])
            }
        }
        var card: [String: Any] = [
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body,
        ]
        if !actions.isEmpty { card["actions"] = actions }
        return [
            "type": "message",
            "attachments": [
                ["contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": NSNull(), "content": card]
            ],
        ]
    }

    // MARK: Discord (execute webhook: content and embeds within Discord's limits)

    /// Discord's documented limits; longer text is cut and marked rather than rejected by Discord.
    enum DiscordLimit {
        static let content = 2000
        static let embeds = 10
        static let title = 256
        static let description = 4096
        static let fields = 25
        static let fieldName = 256
        static let fieldValue = 1024
        static let footer = 2048
        /// All text of all embeds of one message together.
        static let total = 6000
    }

    static func discord(_ notification: AlertNotification) -> [String: Any] {
        var embeds: [[String: Any]] = []
        var total = 0
        let colour = Int(colour(notification).dropFirst(), radix: 16) ?? 0
        for alert in notification.alerts.prefix(DiscordLimit.embeds) {
            let title = truncate(
                "\(alert.type.rawValue) (\(alert.severity.rawValue), \(alert.status.rawValue))", DiscordLimit.title)
            let description = truncate(alert.summary, DiscordLimit.description)
            var fields: [[String: Any]] = []
            var used = title.count + description.count
            var pairs: [(String, String)] = [("cluster", alert.cluster)]
            if let region = alert.region { pairs.append(("region", region)) }
            if let endpoint = alert.endpoint { pairs.append(("endpoint", endpoint)) }
            pairs += alert.facts.sorted { $0.key < $1.key }
            for (name, value) in pairs.prefix(DiscordLimit.fields) {
                let name = truncate(name, DiscordLimit.fieldName)
                let value = truncate(value.isEmpty ? "-" : value, DiscordLimit.fieldValue)
                fields.append(["name": name, "value": value, "inline": value.count <= 40])
                used += name.count + value.count
            }
            let footer = truncate("Runbook: \(alert.runbook)", DiscordLimit.footer)
            used += footer.count
            guard total + used <= DiscordLimit.total else { break }
            total += used
            var embed: [String: Any] = [
                "title": title, "description": description, "color": colour, "fields": fields,
                "footer": ["text": footer], "timestamp": timestamp(alert.startsAt),
            ]
            if isAbsolute(alert.runbook) { embed["url"] = alert.runbook }
            embeds.append(embed)
        }
        var content = notification.title
        if embeds.count < notification.alerts.count {
            content += " (\(notification.alerts.count - embeds.count) more not shown)"
        }
        return [
            "content": truncate(content, DiscordLimit.content), "embeds": embeds,
            "allowed_mentions": ["parse": [String]()],
        ]
    }

    // MARK: PagerDuty Events API v2

    /// critical → critical, high → error, medium → warning, low → info.
    public static func pagerDutySeverity(_ severity: ControlEvent.Severity) -> String {
        switch severity {
        case .critical: "critical"
        case .high: "error"
        case .medium: "warning"
        case .low: "info"
        }
    }

    /// Stable for a group, at most 255 characters as PagerDuty requires.
    public static func pagerDutyDedupKey(_ notification: AlertNotification) -> String {
        let key = "failoverd/" + notification.groupKey
        guard key.utf8.count > 255 else { return key }
        let digest = SHA256.hash(data: Data(notification.groupKey.utf8))
        return "failoverd/" + digest.map { String(format: "%02x", $0) }.joined()
    }

    static func pagerDuty(_ notification: AlertNotification, routingKey: String) -> [String: Any] {
        var event: [String: Any] = [
            "routing_key": routingKey,
            "event_action": notification.status == .firing ? "trigger" : "resolve",
            "dedup_key": pagerDutyDedupKey(notification),
        ]
        guard notification.status == .firing, let first = notification.alerts.first else { return event }
        let details: [[String: Any]] = notification.alerts.map(alertJSON)
        event["payload"] =
            [
                "summary": truncate(notification.title, 1024),
                "source": first.endpoint ?? first.region ?? first.cluster,
                "severity": pagerDutySeverity(notification.severity),
                "timestamp": timestamp(first.startsAt),
                "component": first.endpoint ?? first.cluster,
                "group": first.region ?? first.cluster,
                "class": first.type.rawValue,
                "custom_details": ["alerts": details],
            ] as [String: Any]
        event["client"] = "failoverd"
        let links = Set(notification.alerts.map(\.runbook).filter(isAbsolute)).sorted()
        if !links.isEmpty {
            event["links"] = links.map { ["href": $0, "text": "Runbook: \(runbookName($0))"] }
        }
        return event
    }

    // MARK: Generic webhook (schema failoverd.alerts/v1, signed per Standard Webhooks)

    static func webhook(_ notification: AlertNotification, id: String) -> [String: Any] {
        [
            "schema": webhookSchema,
            "id": id,
            "status": notification.status.rawValue,
            "severity": notification.severity.rawValue,
            "group_key": notification.groupKey,
            "title": notification.title,
            "alerts": notification.alerts.map(alertJSON),
        ]
    }

    static func alertJSON(_ alert: Alert) -> [String: Any] {
        var json: [String: Any] = [
            "type": alert.type.rawValue, "severity": alert.severity.rawValue, "status": alert.status.rawValue,
            "cluster": alert.cluster, "summary": alert.summary, "facts": alert.facts, "dedup_key": alert.dedupKey,
            "starts_at": timestamp(alert.startsAt), "runbook": alert.runbook,
        ]
        if let region = alert.region { json["region"] = region }
        if let endpoint = alert.endpoint { json["endpoint"] = endpoint }
        if let endsAt = alert.endsAt { json["ends_at"] = timestamp(endsAt) }
        return json
    }

    // MARK: Helpers

    /// Cuts `text` to at most `limit` characters, ending with a marker when cut.
    static func truncate(_ text: String, _ limit: Int) -> String {
        guard text.count > limit else { return text }
        let marker = "… [truncated]"
        return String(text.prefix(max(0, limit - marker.count))) + marker
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    private static func isAbsolute(_ link: String) -> Bool {
        link.hasPrefix("https://") || link.hasPrefix("http://")
    }

    private static func runbookName(_ link: String) -> String {
        link.split(separator: "/").last.map(String.init) ?? link
    }
}

/// Standard Webhooks signatures: `v1,` + base64 of HMAC-SHA256 over `id.timestamp.body`.
public enum WebhookSignature {
    /// The signing key: the base64 after `whsec_`, or the secret's UTF-8 bytes without that prefix.
    static func key(_ secret: Secret) -> SymmetricKey {
        let text = secret.reveal()
        if text.hasPrefix("whsec_"), let bytes = Data(base64Encoded: String(text.dropFirst(6))) {
            return SymmetricKey(data: bytes)
        }
        return SymmetricKey(data: Data(text.utf8))
    }

    /// The `webhook-signature` header value.
    public static func sign(id: String, timestamp: String, body: Data, secret: Secret) -> String {
        var message = Data("\(id).\(timestamp).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: key(secret))
        return "v1," + Data(mac).base64EncodedString()
    }
}
