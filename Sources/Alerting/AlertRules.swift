public import Foundation
public import Vocabulary

/// The pure part of the pipeline: which alerts are silenced or inhibited, which routes take them,
/// and when each group is notified. It takes `now` as an argument and performs no I/O, so tests
/// drive it with any clock.
public struct AlertRules: Sendable {
    public let configuration: AlertConfiguration
    /// Silences added at runtime (the admin API's, from the state store), applied together with
    /// the file's ``AlertConfiguration/silences``.
    public var runtimeSilences: [Silence] = []
    /// Alerts seen recently, by dedup key: the sources of inhibition and the state resolutions refer to.
    private var active: [String: Alert] = [:]
    private var lastSeen: [String: Date] = [:]
    private var groups: [GroupID: AlertGroup] = [:]
    /// Creation order of groups, so notifications due at one instant come out in a stable order.
    private var groupOrder: [GroupID] = []

    public init(configuration: AlertConfiguration) {
        self.configuration = configuration
    }

    /// What happened to one alert.
    public enum Disposition: Equatable, Sendable {
        /// Added to (or updated in) this many groups.
        case routed(Int)
        case silenced
        case inhibited
        /// A resolution of something that was never sent, or a route with no channel.
        case dropped
    }

    /// One notification due to a list of channels.
    public struct Outgoing: Sendable, Equatable {
        public var channels: [String]
        public var notification: AlertNotification
    }

    struct GroupID: Hashable {
        var route: Int
        var labels: [String]
    }

    struct AlertGroup {
        var route: Route
        var key: String
        /// Dedup keys in the order they joined.
        var order: [String] = []
        var alerts: [String: Alert] = [:]
        /// What each alert was when last notified, and when.
        var notified: [String: (status: Alert.Status, at: Date)] = [:]
        var dueAt: Date?
        var lastFlush: Date?
    }

    /// Turns an event into its alert: a new firing alert, an update of one, or the resolution of
    /// the alert it ends. Nil when it resolves nothing that is active.
    public mutating func alerts(for event: ControlEvent) -> [Alert] {
        if let resolved = AlertTypes.resolves(event.kind) {
            let matching = active.values.filter {
                // A channel's circuit has no endpoint: the channel fact tells channels apart.
                $0.type == resolved && $0.cluster == event.cluster && $0.endpoint == event.endpoint
                    && $0.facts["channel"] == event.facts["channel"] && $0.status == .firing
            }
            return matching.sorted { $0.startsAt < $1.startsAt }.map { alert in
                var copy = alert
                copy.status = .resolved
                copy.endsAt = event.at
                return copy
            }
        }
        let startsAt = active[event.dedupKey].flatMap { $0.status == .firing ? $0.startsAt : nil } ?? event.at
        return [
            Alert(
                type: event.kind, severity: event.severity, cluster: event.cluster, region: event.region,
                endpoint: event.endpoint, summary: event.summary, facts: event.facts, dedupKey: event.dedupKey,
                startsAt: startsAt, runbook: AlertTypes.runbookLink(event.kind, base: configuration.runbookBase))
        ]
    }

    /// Records the alert and, unless silenced or inhibited, adds it to the groups of the routes it matches.
    public mutating func add(_ alert: Alert, now: Date) -> Disposition {
        expire(now: now)
        if alert.status == .firing {
            active[alert.dedupKey] = alert
            lastSeen[alert.dedupKey] = now
        } else {
            active[alert.dedupKey] = nil
            lastSeen[alert.dedupKey] = nil
        }
        if isSilenced(alert, now: now) {
            return .silenced
        }
        if alert.status == .firing && isInhibited(alert) {
            return .inhibited
        }
        var count = 0
        for (index, route) in matchingRoutes(alert) where !route.channels.isEmpty {
            let id = GroupID(route: index, labels: route.groupBy.map { alert.value(of: $0) })
            if groups[id] == nil {
                if alert.status == .resolved { continue }
                let key =
                    "\(index)/" + zip(route.groupBy, id.labels).map { "\($0.rawValue)=\($1)" }.joined(separator: ",")
                groups[id] = AlertGroup(route: route, key: key)
                groupOrder.append(id)
            }
            if groups[id]?.add(alert, now: now) == true {
                count += 1
            }
        }
        return count > 0 ? .routed(count) : .dropped
    }

    /// Routes that take the alert, each with its index (0 is the default route).
    public func matchingRoutes(_ alert: Alert) -> [(Int, Route)] {
        var result: [(Int, Route)] = []
        for (index, route) in configuration.routes.enumerated() where route.match.matches(alert) {
            result.append((index + 1, route))
            if !route.continueMatching {
                return result
            }
        }
        if result.isEmpty {
            result.append((0, configuration.route))
        }
        return result
    }

    /// Whether a silence of the file or a runtime silence active at `now` matches the alert.
    public func isSilenced(_ alert: Alert, now: Date) -> Bool {
        (configuration.silences + runtimeSilences).contains { $0.isActive(at: now) && $0.match.matches(alert) }
    }

    public func isInhibited(_ alert: Alert) -> Bool {
        configuration.inhibitRules.contains { rule in
            guard rule.target.matches(alert) else { return false }
            return active.values.contains { source in
                source.dedupKey != alert.dedupKey && source.status == .firing && rule.source.matches(source)
                    && rule.equal.allSatisfy { source.value(of: $0) == alert.value(of: $0) }
            }
        }
    }

    /// The notifications due at `now`, in group creation order. With `force`, every group with a
    /// pending change is flushed now, whatever its timer says (at shutdown).
    public mutating func due(now: Date, force: Bool = false) -> [Outgoing] {
        var result: [Outgoing] = []
        for id in groupOrder {
            guard var group = groups[id], let dueAt = group.dueAt, force || dueAt <= now else { continue }
            if let notification = group.flush(now: now) {
                result.append(Outgoing(channels: group.route.channels, notification: notification))
            }
            if group.alerts.isEmpty {
                groups[id] = nil
            } else {
                groups[id] = group
            }
        }
        groupOrder.removeAll { groups[$0] == nil }
        return result
    }

    /// The earliest instant a group is due, if any.
    public var nextDue: Date? {
        groups.values.compactMap(\.dueAt).min()
    }

    private mutating func expire(now: Date) {
        let limit = configuration.resolveTimeout.seconds
        for (key, seen) in lastSeen where now.timeIntervalSince(seen) > limit {
            active[key] = nil
            lastSeen[key] = nil
        }
    }
}

extension AlertRules.AlertGroup {
    /// Returns true when the group took the alert.
    mutating func add(_ alert: Alert, now: Date) -> Bool {
        let previous = alerts[alert.dedupKey]
        if alert.status == .resolved && previous == nil {
            return false
        }
        if previous == nil {
            order.append(alert.dedupKey)
        }
        alerts[alert.dedupKey] = alert
        let changed = previous?.status != alert.status || notified[alert.dedupKey] == nil
        guard changed else { return true }
        let earliest: Date
        if alert.severity == .critical {
            earliest = now
        } else if let lastFlush {
            earliest = max(now, lastFlush.addingTimeInterval(route.groupInterval.seconds))
        } else {
            earliest = now.addingTimeInterval(route.groupWait.seconds)
        }
        dueAt = min(dueAt ?? earliest, earliest)
        return true
    }

    /// The notification for this flush, or nil when nothing changed and no repeat is due.
    mutating func flush(now: Date) -> AlertNotification? {
        let current = order.compactMap { alerts[$0] }
        let changed = current.contains { alert in
            guard let last = notified[alert.dedupKey] else { return true }
            if last.status != alert.status { return true }
            return alert.status == .firing && now.timeIntervalSince(last.at) >= route.repeatInterval.seconds
        }
        lastFlush = now
        // Resolved alerts never notified (fired and resolved within one wait) need no message.
        let sendable = current.filter { $0.status == .firing || notified[$0.dedupKey]?.status == .firing }
        var notification: AlertNotification?
        if changed && !sendable.isEmpty {
            let firing = sendable.filter { $0.status == .firing }
            let resolved = sendable.filter { $0.status == .resolved }
            notification = AlertNotification(groupKey: key, alerts: firing + resolved)
            for alert in sendable {
                notified[alert.dedupKey] = (alert.status, now)
            }
        }
        for alert in current where alert.status == .resolved {
            alerts[alert.dedupKey] = nil
            notified[alert.dedupKey] = nil
        }
        order.removeAll { alerts[$0] == nil }
        dueAt = alerts.isEmpty ? nil : now.addingTimeInterval(route.repeatInterval.seconds)
        return notification
    }
}

extension Duration {
    /// As a `TimeInterval`.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
