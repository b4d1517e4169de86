public import Foundation

/// Whether an event met a recovery objective.
public enum TargetStatus: String, Sendable, Codable, Equatable, CaseIterable {
    case met
    case breached
    /// The number needed to decide is not known (say so rather than guess).
    case unknown
    /// Nothing to compare: e.g. no RPO when nothing was promoted.
    case notApplicable = "not_applicable"
}

/// The recovery objectives of the cluster, from the cluster file's health settings.
public struct ReportTargets: Sendable, Codable, Equatable {
    /// Longest acceptable time from a failure's onset to a verified new primary, seconds.
    public var rtoSeconds: Double
    /// Longest acceptable window of lost commits with synchronous replication, seconds.
    public var rpoSecondsSynchronous: Double
    /// Longest acceptable window of lost commits with asynchronous replication, seconds.
    public var rpoSecondsAsynchronous: Double

    public init(rtoSeconds: Double, rpoSecondsSynchronous: Double, rpoSecondsAsynchronous: Double) {
        self.rtoSeconds = rtoSeconds
        self.rpoSecondsSynchronous = rpoSecondsSynchronous
        self.rpoSecondsAsynchronous = rpoSecondsAsynchronous
    }

    /// The RPO target that applies to an event under `replicationMode` (`synchronous` or not).
    public func rpoSeconds(replicationMode: String) -> Double {
        replicationMode == "synchronous" ? rpoSecondsSynchronous : rpoSecondsAsynchronous
    }
}

/// An endpoint and the region it belongs to.
public struct EndpointReference: Sendable, Codable, Equatable {
    public var endpoint: String
    public var region: String?

    public init(endpoint: String, region: String?) {
        self.endpoint = endpoint
        self.region = region
    }
}

/// A standby the selection considered eligible, best first.
public struct CandidateReport: Sendable, Codable, Equatable {
    public var endpoint: String
    public var region: String
    /// Its most advanced WAL position when it was ranked.
    public var position: String?
    public var lagBytes: Int64?
    /// True for the one that was promoted.
    public var promoted: Bool
}

/// A standby that was not chosen, and why.
public struct RejectionReport: Sendable, Codable, Equatable {
    public var endpoint: String
    public var reason: String
}

/// One of the journaled steps, as run.
public struct StepReport: Sendable, Codable, Equatable {
    public var name: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var seconds: Double?
    /// `ok`, `failed` or `skipped`.
    public var outcome: String
    public var detail: String
}

/// The instants an event passed through; nil where it never got there.
public struct EventTimeline: Sendable, Codable, Equatable {
    /// Last successful probe of the old primary: the failure began after it. For a switchover or a
    /// manual failover, the moment it was requested.
    public var onsetAt: Date?
    /// The failure was confirmed (or the operation requested) and the operation started.
    public var detectedAt: Date
    /// The candidate was chosen (selection finished).
    public var decidedAt: Date?
    /// The new primary left recovery.
    public var promotedAt: Date?
    /// The write target was switched to it.
    public var routedAt: Date?
    /// It was verified writable with its standbys attached.
    public var verifiedAt: Date?
    /// The operation was closed (completed, failed or abandoned).
    public var finishedAt: Date?
}

/// One phase between two consecutive instants of the timeline.
public struct PhaseReport: Sendable, Codable, Equatable {
    /// The names of the phases in order; each ends at the instant it is named after.
    public static let names = ["detection", "decision", "promotion", "routing", "verification"]

    public var name: String
    public var startedAt: Date?
    public var finishedAt: Date?
    /// Nil when either end is unknown.
    public var seconds: Double?
}

/// Recovery time of one event.
public struct RTOReport: Sendable, Codable, Equatable {
    /// How `seconds` was obtained.
    public enum Method: String, Sendable, Codable, Equatable {
        /// From the onset (last good probe of the old primary) to verification: the definition.
        case fromOnset = "from_onset"
        /// From detection to verification: the onset is unknown, so the true RTO is at least this.
        case fromDetection = "from_detection"
        /// No verified new primary: there is no recovery time.
        case notRecovered = "not_recovered"
    }
    public var seconds: Double?
    public var method: Method
    public var targetSeconds: Double
    public var status: TargetStatus
}

/// Data lost by one event.
public struct RPOReport: Sendable, Codable, Equatable {
    /// What `bytes` is.
    public enum Method: String, Sendable, Codable, Equatable {
        /// The old primary's final position was read after fencing it: the bytes are exact.
        case measured
        /// The old primary's position comes from its last good probe; it may have written more
        /// before it died, so the true loss is at least `bytes`.
        case lowerBound = "lower_bound"
        /// The old primary's position is not known: the loss is unknown (never reported as 0).
        case unknown
        /// Nothing was promoted, so this event lost nothing by itself.
        case notApplicable = "not_applicable"
    }
    /// How `estimatedSeconds` relates to the truth.
    public enum EstimateKind: String, Sendable, Codable, Equatable {
        /// Exactly this window (0 when no WAL was lost).
        case exact
        /// At most this window.
        case upperBound = "upper_bound"
        /// No justified estimate.
        case none
    }
    public var bytes: Int64?
    public var method: Method
    /// The old primary's last known WAL position, where it came from (`measured`, `last_probe`,
    /// `unknown`), and the promoted position.
    public var oldPrimaryPosition: String?
    public var oldPrimaryPositionSource: String
    public var promotedPosition: String?
    public var estimatedSeconds: Double?
    public var estimateKind: EstimateKind
    /// One sentence saying what the numbers mean.
    public var meaning: String
    public var targetSeconds: Double
    public var status: TargetStatus
}

/// An alert the operation raised.
public struct AlertReport: Sendable, Codable, Equatable {
    /// Event kind, e.g. `failover_triggered`.
    public var kind: String
    public var at: Date?
    /// `delivered`, `failed`, `pending` or `not_recorded` (delivery is tracked by the alerting
    /// pipeline; until it records an outcome, the report says so).
    public var delivery: String
}

/// The window in which the cluster had no verified writable primary because of this event.
public struct OutageWindow: Sendable, Codable, Equatable {
    public var start: Date
    public var end: Date
    /// False when the end is only when the operation stopped, not when writes came back (a failed
    /// automatic failover, an interrupted or running operation).
    public var endKnown: Bool
}

/// The report of one failover, switchover or failed attempt.
public struct EventReport: Sendable, Codable, Equatable {
    public var id: String
    /// `automatic_failover`, `manual_failover` or `switchover`.
    public var kind: String
    /// `completed`, `failed`, `abandoned` or `in_progress`.
    public var outcome: String
    public var trigger: String
    /// The operator, for manual operations.
    public var requestedBy: String?
    public var oldPrimary: EndpointReference
    public var newPrimary: EndpointReference?
    /// `synchronous` or `asynchronous` when it happened.
    public var replicationMode: String
    public var candidates: [CandidateReport]
    public var rejected: [RejectionReport]
    /// The selection's reasoning, one line per decision.
    public var reasons: [String]
    public var timeline: EventTimeline
    public var phases: [PhaseReport]
    public var steps: [StepReport]
    public var rto: RTOReport
    public var rpo: RPOReport
    public var alerts: [AlertReport]
    public var outage: OutageWindow?
    public var error: String?

    /// The phase named `name`.
    public func phase(_ name: String) -> PhaseReport? { phases.first { $0.name == name } }
}
