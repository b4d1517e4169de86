public import Foundation
public import Topology

/// Alert channels, routes, grouping, inhibition and silences, as read from a file in `alerts/`
/// (see docs/alerting.md).
public struct AlertConfiguration: Sendable {
    /// The file it was read from, for messages.
    public var sourceFile: String
    /// Prefix of runbook links; `<type>.md` is appended. Default: `runbooks/`.
    public var runbookBase: String
    /// How long a firing alert that is not seen again stays active for inhibition. Default: 5m.
    public var resolveTimeout: Duration
    public var delivery: DeliverySettings
    public var channels: [AlertChannel]
    /// The default route: its channels get what no other route took; its settings are the others' defaults.
    public var route: Route
    /// Tried in order; the first match wins unless it says `continue: true`.
    public var routes: [Route]
    public var inhibitRules: [InhibitRule]
    public var silences: [Silence]

    public init(
        sourceFile: String = "", runbookBase: String = "runbooks/", resolveTimeout: Duration = .seconds(300),
        delivery: DeliverySettings = DeliverySettings(), channels: [AlertChannel], route: Route, routes: [Route] = [],
        inhibitRules: [InhibitRule] = [], silences: [Silence] = []
    ) {
        self.sourceFile = sourceFile
        self.runbookBase = runbookBase
        self.resolveTimeout = resolveTimeout
        self.delivery = delivery
        self.channels = channels
        self.route = route
        self.routes = routes
        self.inhibitRules = inhibitRules
        self.silences = silences
    }

    public func channel(named name: String) -> AlertChannel? {
        channels.first { $0.name == name }
    }
}

/// Retry and circuit-breaker settings shared by all channels.
public struct DeliverySettings: Sendable, Equatable {
    /// First retry delay; each further retry doubles it, with jitter. Default: 1s.
    public var initialBackoff: Duration
    /// Upper bound of one retry delay (a receiver's `Retry-After` may ask for more). Default: 5m.
    public var maxBackoff: Duration
    /// A delivery still failing this long after it was stored is abandoned. Default: 24h.
    public var giveUpAfter: Duration
    /// Consecutive failed attempts that open a channel's circuit. Default: 5.
    public var circuitFailures: Int
    /// How long an open circuit waits before one probe attempt. Default: 30s.
    public var circuitOpenFor: Duration

    public init(
        initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(300),
        giveUpAfter: Duration = .seconds(86_400), circuitFailures: Int = 5, circuitOpenFor: Duration = .seconds(30)
    ) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
        self.giveUpAfter = giveUpAfter
        self.circuitFailures = circuitFailures
        self.circuitOpenFor = circuitOpenFor
    }
}

/// A receiver of notifications.
public struct AlertChannel: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case slack, teams, discord, pagerduty, webhook
    }

    /// Unique name, used by routes and in history.
    public var name: String
    public var kind: Kind
    /// The receiver's URL; it usually holds a token, so it is a secret. For PagerDuty, defaults to
    /// `https://events.pagerduty.com/v2/enqueue`.
    public var url: Secret
    /// PagerDuty's integration (routing) key.
    public var routingKey: Secret?
    /// Signing secret of a `webhook` channel (Standard Webhooks; `whsec_` + base64, or any text).
    public var signingSecret: Secret?
    /// Whether resolved alerts are sent too. Default: true.
    public var sendResolved: Bool
    /// Time allowed to connect. Default: 2s.
    public var connectTimeout: Duration
    /// Time allowed for a whole request. Default: 10s.
    public var timeout: Duration

    public init(
        name: String, kind: Kind, url: Secret, routingKey: Secret? = nil, signingSecret: Secret? = nil,
        sendResolved: Bool = true, connectTimeout: Duration = .seconds(2), timeout: Duration = .seconds(10)
    ) {
        self.name = name
        self.kind = kind
        self.url = url
        self.routingKey = routingKey
        self.signingSecret = signingSecret
        self.sendResolved = sendResolved
        self.connectTimeout = connectTimeout
        self.timeout = timeout
    }

    /// `host` or `host:port` of the URL: the only part of it that may be shown.
    public var host: String {
        Self.host(of: url.reveal())
    }

    static func host(of url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            return "(invalid URL)"
        }
        if let port = components.port {
            return "\(host):\(port)"
        }
        return host
    }
}

/// A set of label conditions, all of which must hold; an empty match takes every alert.
public struct AlertMatch: Sendable, Equatable {
    /// For each label, the values accepted.
    public var conditions: [AlertLabel: Set<String>]

    public init(_ conditions: [AlertLabel: Set<String>] = [:]) {
        self.conditions = conditions
    }

    public func matches(_ alert: Alert) -> Bool {
        conditions.allSatisfy { label, values in values.contains(alert.value(of: label)) }
    }
}

/// Where matching alerts go and how they are grouped.
public struct Route: Sendable, Equatable {
    public var match: AlertMatch
    /// AlertChannel names.
    public var channels: [String]
    /// Alerts with equal values of these labels share notifications. Default: `[cluster, type]`.
    public var groupBy: [AlertLabel]
    /// Wait before the first notification of a new group, to gather its alerts. Default: 30s.
    /// Critical alerts never wait.
    public var groupWait: Duration
    /// Wait before notifying a group again about new or changed alerts. Default: 5m.
    public var groupInterval: Duration
    /// Wait before sending an unchanged firing alert again. Default: 4h.
    public var repeatInterval: Duration
    /// Keep trying the next routes after this one matched. Default: false.
    public var continueMatching: Bool

    public init(
        match: AlertMatch = AlertMatch(), channels: [String], groupBy: [AlertLabel] = [.cluster, .type],
        groupWait: Duration = .seconds(30), groupInterval: Duration = .seconds(300),
        repeatInterval: Duration = .seconds(14_400), continueMatching: Bool = false
    ) {
        self.match = match
        self.channels = channels
        self.groupBy = groupBy
        self.groupWait = groupWait
        self.groupInterval = groupInterval
        self.repeatInterval = repeatInterval
        self.continueMatching = continueMatching
    }
}

/// While an alert matching `source` fires, alerts matching `target` with the same `equal` labels
/// are not sent (e.g. `failover_triggered` inhibits `endpoint_down` of the same cluster).
public struct InhibitRule: Sendable, Equatable {
    public var source: AlertMatch
    public var target: AlertMatch
    public var equal: [AlertLabel]

    public init(source: AlertMatch, target: AlertMatch, equal: [AlertLabel]) {
        self.source = source
        self.target = target
        self.equal = equal
    }
}

/// Mutes matching alerts between two instants (e.g. during maintenance).
public struct Silence: Sendable, Equatable {
    public var match: AlertMatch
    public var startsAt: Date?
    public var endsAt: Date
    public var comment: String

    public init(match: AlertMatch, startsAt: Date? = nil, endsAt: Date, comment: String = "") {
        self.match = match
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.comment = comment
    }

    public func isActive(at now: Date) -> Bool {
        (startsAt.map { $0 <= now } ?? true) && now < endsAt
    }
}
