public import Foundation

/// Why an operation was refused or failed; messages name what to do and never hold a secret.
public struct FailoverError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable, Codable {
        case conflict
        case paused
        case unknownEndpoint
        case unknownRegion
        case noCandidate
        case timedOut
        case failed
    }
    public let code: Code
    public let description: String

    static func conflict(_ running: String) -> Self {
        Self(code: .conflict, description: "\(running) is already running; wait for it to finish")
    }
    static var paused: Self {
        Self(code: .paused, description: "automatic failover is paused; resume it or act manually")
    }
    static func unknownEndpoint(_ name: String) -> Self {
        Self(code: .unknownEndpoint, description: "no endpoint named \(name) in the cluster file")
    }
    static func unknownRegion(_ name: String) -> Self {
        Self(code: .unknownRegion, description: "no region named \(name) in the cluster file")
    }
    static func noCandidate(_ reasons: [Rejection]) -> Self {
        let why = reasons.map { "\($0.endpoint): \($0.reason)" }.joined(separator: "; ")
        return Self(code: .noCandidate, description: "no standby can be promoted (\(why))")
    }
    static func timedOut(_ what: String, _ limit: Duration) -> Self {
        Self(code: .timedOut, description: "\(what) did not finish within \(limit)")
    }
    static func failed(_ what: String) -> Self {
        Self(code: .failed, description: what)
    }
}

/// Kinds of operation the service runs.
public enum OperationKind: String, Sendable, Codable {
    case automaticFailover = "automatic_failover"
    case manualFailover = "manual_failover"
    case switchover
}

/// One of the seven steps, timed.
public struct StepRecord: Sendable, Codable, Equatable {
    public var name: String
    public var startedAt: Date
    public var finishedAt: Date?
    /// `ok`, `failed` or `skipped`.
    public var outcome: String
    /// What the step decided and why, or its error.
    public var detail: String

    public var seconds: Double? { finishedAt.map { $0.timeIntervalSince(startedAt) } }
}

/// The history record of one failover or switchover: what happened, when, and what it cost.
public struct OperationRecord: Sendable, Codable, Equatable {
    public var id: String
    public var kind: OperationKind
    /// `in_progress`, `completed`, `failed` or `abandoned` (a crash interrupted it).
    public var status: String
    public var trigger: String
    /// The operator who asked, for manual operations.
    public var requestedBy: String?
    public var oldPrimary: String
    public var oldRegion: String?
    public var newPrimary: String?
    public var newRegion: String?
    public var plan: FailoverPlan?
    /// When the failure began, as closely as the control plane can tell: the start of the first
    /// failed probe of the old primary (for a switchover or manual failover, the start).
    public var onsetAt: Date?
    /// The old primary's last successful probe: the failure began between it and ``onsetAt``.
    public var lastGoodProbeAt: Date?
    public var detectedAt: Date
    public var finishedAt: Date?
    public var steps: [StepRecord]
    /// Old primary's last known WAL position, and how it was known.
    public var oldPrimaryPosition: String?
    /// `measured` (read from the fenced old primary), `last_probe` (from its last good probe), or
    /// `unknown`.
    public var oldPrimaryPositionSource: String
    public var promotedPosition: String?
    /// WAL bytes the old primary had beyond the promoted position; nil when unknown.
    public var rpoBytes: Int64?
    /// Onset (or, for a switchover, the start) to verification done, seconds.
    public var rtoSeconds: Double?
    /// `synchronous` or `asynchronous` when it happened.
    public var replicationMode: String
    public var error: String?

    /// The step named `name`, if it ran.
    public func step(_ name: String) -> StepRecord? { steps.last { $0.name == name } }

    /// How records (and events) are stored: ISO 8601 dates with milliseconds, sorted keys.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(timestampStyle))
        }
        return encoder
    }

    /// Reads what ``encoder()`` wrote.
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = (try? timestampStyle.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text)) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: decoder.codingPath, debugDescription: "not an ISO 8601 date: \(text)"))
            }
            return date
        }
        return decoder
    }

    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
}

/// Something operators should hear about. The alerting pipeline delivers these; the service only
/// emits them and never waits for delivery.
public struct ControlEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case endpointDown = "endpoint_down"
        case endpointRecovered = "endpoint_recovered"
        case failoverTriggered = "failover_triggered"
        case failoverCompleted = "failover_completed"
        case failoverFailed = "failover_failed"
        case failoverBlocked = "failover_blocked"
        case partitionSuspected = "partition_suspected"
        case oldPrimaryReturned = "old_primary_returned"
        case switchoverCompleted = "switchover_completed"
        case endpointSlow = "endpoint_slow"
        case replicationLag = "replication_lag"
        case circuitOpen = "circuit_open"
        /// Resolves the `circuit_open` alert of the same cluster, endpoint and channel.
        case circuitClosed = "circuit_closed"
        case configReloadFailed = "config_reload_failed"
        /// The primary has fewer synchronous standbys streaming than a commit needs: commits wait.
        case synchronousQuorumLost = "synchronous_quorum_lost"
        /// Resolves `synchronous_quorum_lost`: enough synchronous standbys stream again.
        case synchronousQuorumRestored = "synchronous_quorum_restored"
    }
    public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
        case low, medium, high, critical

        /// Ordered from `low` to `critical`.
        public static func < (lhs: Self, rhs: Self) -> Bool {
            lhs.rank < rhs.rank
        }

        private var rank: Int {
            switch self {
            case .low: 0
            case .medium: 1
            case .high: 2
            case .critical: 3
            }
        }
    }
    public var kind: Kind
    public var severity: Severity
    public var cluster: String
    public var region: String?
    public var endpoint: String?
    /// One line for a human.
    public var summary: String
    /// The facts behind it (latency, lag, candidate and why, RTO/RPO...).
    public var facts: [String: String]
    public var at: Date
    /// Groups repeats of the same condition.
    public var dedupKey: String

    public init(
        kind: Kind, severity: Severity, cluster: String, region: String? = nil, endpoint: String? = nil,
        summary: String, facts: [String: String] = [:], at: Date, dedupKey: String
    ) {
        self.kind = kind
        self.severity = severity
        self.cluster = cluster
        self.region = region
        self.endpoint = endpoint
        self.summary = summary
        self.facts = facts
        self.at = at
        self.dedupKey = dedupKey
    }
}

/// Where the service sends events. `emit` must return at once: delivery happens elsewhere.
public protocol EventSink: Sendable {
    func emit(_ event: ControlEvent)
}

/// The write target and everything the router needs from the decision-maker.
public struct RoutingTable: Sendable, Codable, Equatable {
    /// Increases with every change; a consumer ignores a table older than the one it has.
    public var epoch: UInt64
    /// The endpoint that takes writes; nil while unknown.
    public var writeTarget: String?
    /// True while a failover or switchover runs: hold new writes rather than refuse them.
    public var writesPaused: Bool
    /// Endpoints that must never receive traffic (a fenced old primary).
    public var fenced: [String]

    public init(epoch: UInt64, writeTarget: String?, writesPaused: Bool, fenced: [String]) {
        self.epoch = epoch
        self.writeTarget = writeTarget
        self.writesPaused = writesPaused
        self.fenced = fenced
    }
}
