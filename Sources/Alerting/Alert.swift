public import Foundation
public import Vocabulary

/// One condition operators should know about, as the alerting pipeline tracks and sends it.
///
/// Built from a ``ControlEvent``; repeats of the same condition share a ``dedupKey`` and update one
/// alert rather than creating another.
public struct Alert: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        case firing, resolved
    }

    /// The alert type, e.g. `failover_triggered`; each has a runbook at `runbooks/<type>.md`.
    public var type: ControlEvent.Kind
    public var severity: ControlEvent.Severity
    public var status: Status
    public var cluster: String
    public var region: String?
    public var endpoint: String?
    /// One line for a human.
    public var summary: String
    /// The facts behind it: latency, lag, error rate, the chosen candidate and why, RTO and RPO.
    public var facts: [String: String]
    public var dedupKey: String
    /// When the condition was first seen.
    public var startsAt: Date
    /// When it was resolved; nil while firing.
    public var endsAt: Date?
    /// Link to the runbook for ``type``.
    public var runbook: String

    public init(
        type: ControlEvent.Kind, severity: ControlEvent.Severity, status: Status = .firing, cluster: String,
        region: String? = nil, endpoint: String? = nil, summary: String, facts: [String: String] = [:],
        dedupKey: String, startsAt: Date, endsAt: Date? = nil, runbook: String
    ) {
        self.type = type
        self.severity = severity
        self.status = status
        self.cluster = cluster
        self.region = region
        self.endpoint = endpoint
        self.summary = summary
        self.facts = facts
        self.dedupKey = dedupKey
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.runbook = runbook
    }

    /// The value of a label used by matchers and `group_by`.
    public func value(of label: AlertLabel) -> String {
        switch label {
        case .type: type.rawValue
        case .severity: severity.rawValue
        case .cluster: cluster
        case .region: region ?? ""
        case .endpoint: endpoint ?? ""
        case .dedupKey: dedupKey
        }
    }
}

/// Labels an alert can be matched, grouped and inhibited by.
public enum AlertLabel: String, Sendable, Codable, CaseIterable {
    case type, severity, cluster, region, endpoint
    case dedupKey = "dedup_key"
}

/// The alert types, their runbooks and which events resolve others.
public enum AlertTypes {
    /// Every type that can fire. The events that end a condition (`endpoint_recovered`,
    /// `circuit_closed`, `synchronous_quorum_restored` and the `*_cleared` ones) are not among them:
    /// each resolves the alert ``resolves(_:)`` names.
    public static let firing: [ControlEvent.Kind] = ControlEvent.Kind.allCases.filter { resolves($0) == nil }

    /// The type an event resolves, for events that end a condition rather than start one.
    public static func resolves(_ kind: ControlEvent.Kind) -> ControlEvent.Kind? {
        switch kind {
        case .endpointRecovered: .endpointDown
        case .circuitClosed: .circuitOpen
        case .synchronousQuorumRestored: .synchronousQuorumLost
        case .endpointSlowCleared: .endpointSlow
        case .replicationLagCleared: .replicationLag
        case .errorRateCleared: .errorRateHigh
        default: nil
        }
    }

    /// `base` followed by `<type>.md`; `base` gets a trailing `/` when it lacks one.
    public static func runbookLink(_ type: ControlEvent.Kind, base: String) -> String {
        let prefix = base.isEmpty || base.hasSuffix("/") ? base : base + "/"
        return prefix + type.rawValue + ".md"
    }
}

/// What one channel is asked to send: the alerts of one group that changed, or are due again.
public struct AlertNotification: Sendable, Codable, Equatable {
    /// Stable for the group: `route index/label values`; PagerDuty uses it (hashed) as its `dedup_key`.
    public var groupKey: String
    /// Firing alerts first, then resolved ones, each group in the order they started.
    public var alerts: [Alert]

    public init(groupKey: String, alerts: [Alert]) {
        self.groupKey = groupKey
        self.alerts = alerts
    }

    /// `firing` while any alert fires.
    public var status: Alert.Status {
        alerts.contains { $0.status == .firing } ? .firing : .resolved
    }

    /// The highest severity among the alerts, or `low` for an empty notification.
    public var severity: ControlEvent.Severity {
        alerts.map(\.severity).max() ?? .low
    }

    /// `[FIRING] critical failover_triggered: <summary>` or, with several alerts, a count.
    public var title: String {
        guard let first = alerts.first else { return "no alerts" }
        let state = status == .firing ? "FIRING" : "RESOLVED"
        if alerts.count == 1 {
            return "[\(state)] \(first.severity.rawValue) \(first.type.rawValue): \(first.summary)"
        }
        return "[\(state)] \(alerts.count) alerts, \(severity.rawValue): \(first.type.rawValue) on \(first.cluster)"
    }
}
