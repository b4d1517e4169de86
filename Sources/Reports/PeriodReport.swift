public import Foundation

/// RTO distribution over the events that recovered.
public struct RTOSummary: Sendable, Codable, Equatable {
    /// Events with an RTO (completed and verified).
    public var samples: Int
    /// Percentiles by the nearest-rank method: the smallest RTO with at least p % of samples at or
    /// below it. Nil without samples.
    public var p50Seconds: Double?
    public var p95Seconds: Double?
    public var maxSeconds: Double?
}

/// Data loss over the period.
public struct RPOSummary: Sendable, Codable, Equatable {
    /// Largest and summed `bytes` over the events that have a number (measured or lower bound).
    public var maxBytes: Int64?
    public var totalBytes: Int64
    /// Events whose bytes are exact.
    public var measuredEvents: Int
    /// Events whose bytes are only a lower bound: the totals are then lower bounds too.
    public var lowerBoundEvents: Int
    /// Events where a primary was promoted but the loss is unknown.
    public var unknownEvents: Int
}

/// How many events met or breached each objective.
public struct TargetCounts: Sendable, Codable, Equatable {
    public var met: Int
    public var breached: Int
    public var unknown: Int
    public var notApplicable: Int

    init(_ statuses: [TargetStatus]) {
        met = statuses.count { $0 == .met }
        breached = statuses.count { $0 == .breached }
        unknown = statuses.count { $0 == .unknown }
        notApplicable = statuses.count { $0 == .notApplicable }
    }
}

/// Share of the period with a writable, verified primary.
public struct AvailabilitySummary: Sendable, Codable, Equatable {
    public var periodSeconds: Double
    /// The union of the events' outage windows inside the period.
    public var outageSeconds: Double
    /// `(period - outage) / period`, between 0 and 1; nil for an empty period.
    public var ratio: Double?
    /// False when an outage's end is only when its operation stopped: the ratio is then an upper
    /// bound (writes may have stayed unavailable longer).
    public var exact: Bool
}

/// Aggregates over a period.
public struct PeriodSummary: Sendable, Codable, Equatable {
    public var eventCount: Int
    /// Events per kind (`automatic_failover`, `manual_failover`, `switchover`); every kind is listed.
    public var byKind: [String: Int]
    /// Events per outcome (`completed`, `failed`, `abandoned`, `in_progress`); every outcome is listed.
    public var byOutcome: [String: Int]
    public var rto: RTOSummary
    public var rpo: RPOSummary
    public var rtoTargets: TargetCounts
    public var rpoTargets: TargetCounts
    public var availability: AvailabilitySummary
    /// Failovers (automatic and manual, any outcome): switchovers are planned and not failures.
    public var failovers: Int
    /// Time with a writable primary divided by the number of failovers; nil without failovers.
    public var meanTimeBetweenFailoversSeconds: Double?
}

/// The whole report of a period: what the exports render.
public struct Report: Sendable, Codable, Equatable {
    /// Version of this document's schema (`docs/reports.schema.json`); raised on any change that
    /// is not a pure addition.
    public static let currentSchemaVersion = 1

    public var schemaVersion: Int
    public var cluster: String
    public var generatedAt: Date
    public var from: Date
    public var to: Date
    public var targets: ReportTargets
    public var summary: PeriodSummary
    /// Oldest first.
    public var events: [EventReport]
    /// One sentence when the period has no event, else nil.
    public var note: String?

    public init(
        cluster: String, generatedAt: Date, from: Date, to: Date, targets: ReportTargets, events: [EventReport]
    ) {
        self.schemaVersion = Self.currentSchemaVersion
        self.cluster = cluster
        self.generatedAt = generatedAt
        self.from = from
        self.to = to
        self.targets = targets
        self.events = events.sorted { $0.timeline.detectedAt < $1.timeline.detectedAt }
        self.summary = PeriodSummary.compute(events: self.events, from: from, to: to)
        self.note =
            events.isEmpty
            ? "No failover or switchover happened between \(Formatting.date(from)) and \(Formatting.date(to))."
            : nil
    }
}

extension PeriodSummary {
    static let kinds = ["automatic_failover", "manual_failover", "switchover"]
    static let outcomes = ["completed", "failed", "abandoned", "in_progress"]

    static func compute(events: [EventReport], from: Date, to: Date) -> PeriodSummary {
        var byKind = Dictionary(uniqueKeysWithValues: kinds.map { ($0, 0) })
        var byOutcome = Dictionary(uniqueKeysWithValues: outcomes.map { ($0, 0) })
        for event in events {
            byKind[event.kind, default: 0] += 1
            byOutcome[event.outcome, default: 0] += 1
        }
        let rtos = events.compactMap(\.rto.seconds).sorted()
        let withBytes = events.filter { $0.rpo.bytes != nil }
        let availability = availability(events.compactMap(\.outage), from: from, to: to)
        let failovers = events.count { $0.kind != "switchover" }
        let available = availability.periodSeconds - availability.outageSeconds
        return PeriodSummary(
            eventCount: events.count,
            byKind: byKind,
            byOutcome: byOutcome,
            rto: RTOSummary(
                samples: rtos.count, p50Seconds: percentile(rtos, 50), p95Seconds: percentile(rtos, 95),
                maxSeconds: rtos.last),
            rpo: RPOSummary(
                maxBytes: withBytes.compactMap(\.rpo.bytes).max(),
                totalBytes: withBytes.compactMap(\.rpo.bytes).reduce(0) { $0.addingReportingOverflow($1).partialValue },
                measuredEvents: events.count { $0.rpo.method == .measured },
                lowerBoundEvents: events.count { $0.rpo.method == .lowerBound },
                unknownEvents: events.count { $0.rpo.method == .unknown }),
            rtoTargets: TargetCounts(events.map(\.rto.status)),
            rpoTargets: TargetCounts(events.map(\.rpo.status)),
            availability: availability,
            failovers: failovers,
            meanTimeBetweenFailoversSeconds: failovers > 0 ? available / Double(failovers) : nil)
    }

    /// Nearest rank: the value at rank ⌈p/100 × n⌉ of the sorted samples.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    /// The union of the windows, clipped to the period.
    static func availability(_ windows: [OutageWindow], from: Date, to: Date) -> AvailabilitySummary {
        let period = max(0, to.timeIntervalSince(from))
        let clipped =
            windows
            .map { (start: max($0.start, from), end: min($0.end, to), known: $0.endKnown) }
            .filter { $0.end > $0.start }
            .sorted { $0.start < $1.start }
        var outage = 0.0
        var current: (start: Date, end: Date)?
        for window in clipped {
            if let open = current, window.start <= open.end {
                current = (open.start, max(open.end, window.end))
            } else {
                if let open = current { outage += open.end.timeIntervalSince(open.start) }
                current = (window.start, window.end)
            }
        }
        if let open = current { outage += open.end.timeIntervalSince(open.start) }
        return AvailabilitySummary(
            periodSeconds: period, outageSeconds: outage, ratio: period > 0 ? (period - outage) / period : nil,
            exact: clipped.allSatisfy(\.known))
    }
}
