public import Foundation

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

    public init(name: String, startedAt: Date, finishedAt: Date? = nil, outcome: String, detail: String) {
        self.name = name
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.detail = detail
    }
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

    public init(
        id: String, kind: OperationKind, status: String, trigger: String, requestedBy: String? = nil,
        oldPrimary: String, oldRegion: String? = nil, newPrimary: String? = nil, newRegion: String? = nil,
        plan: FailoverPlan? = nil, onsetAt: Date? = nil, lastGoodProbeAt: Date? = nil, detectedAt: Date,
        finishedAt: Date? = nil, steps: [StepRecord], oldPrimaryPosition: String? = nil,
        oldPrimaryPositionSource: String, promotedPosition: String? = nil, rpoBytes: Int64? = nil,
        rtoSeconds: Double? = nil, replicationMode: String, error: String? = nil
    ) {
        self.id = id
        self.kind = kind
        self.status = status
        self.trigger = trigger
        self.requestedBy = requestedBy
        self.oldPrimary = oldPrimary
        self.oldRegion = oldRegion
        self.newPrimary = newPrimary
        self.newRegion = newRegion
        self.plan = plan
        self.onsetAt = onsetAt
        self.lastGoodProbeAt = lastGoodProbeAt
        self.detectedAt = detectedAt
        self.finishedAt = finishedAt
        self.steps = steps
        self.oldPrimaryPosition = oldPrimaryPosition
        self.oldPrimaryPositionSource = oldPrimaryPositionSource
        self.promotedPosition = promotedPosition
        self.rpoBytes = rpoBytes
        self.rtoSeconds = rtoSeconds
        self.replicationMode = replicationMode
        self.error = error
    }
}
