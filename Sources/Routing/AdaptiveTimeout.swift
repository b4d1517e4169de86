public import Topology

/// A connect timeout that follows what connecting to one endpoint has cost lately: the 95th
/// percentile of the last ``capacity`` connect times, times ``AdaptiveTimeoutSettings/factor``,
/// clamped to the configured bounds. A fast local replica then fails over to the next one in tens of
/// milliseconds rather than seconds, while a distant one keeps the time it needs.
public struct AdaptiveTimeout: Sendable, Equatable {
    public static let capacity = 32

    public let settings: AdaptiveTimeoutSettings
    private var samples: [Int64]
    private var next = 0
    /// Recomputed on each sample, so reading it costs nothing.
    public private(set) var current: Duration

    public init(settings: AdaptiveTimeoutSettings) {
        self.settings = settings
        self.samples = []
        self.samples.reserveCapacity(Self.capacity)
        self.current = settings.maximum
    }

    /// Observed connect times so far (at most ``capacity``).
    public var sampleCount: Int { samples.count }

    /// The timeout to use now; `latencyHint` (e.g. the health monitor's smoothed probe latency, in
    /// milliseconds) seeds it before the first connect was measured.
    public func timeout(latencyHintMilliseconds: Double?) -> Duration {
        if samples.isEmpty, let hint = latencyHintMilliseconds {
            return clamp(.nanoseconds(Int64(hint * 1_000_000 * settings.factor)))
        }
        return current
    }

    /// Records how long a successful connect took.
    public mutating func record(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = max(0, seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        if samples.count < Self.capacity {
            samples.append(nanoseconds)
        } else {
            samples[next] = nanoseconds
        }
        next = (next + 1) % Self.capacity
        let sorted = samples.sorted()
        let index = min(sorted.count - 1, (sorted.count * 95 + 99) / 100 - 1)
        let percentile = Double(sorted[max(0, index)])
        current = clamp(.nanoseconds(Int64(min(percentile * settings.factor, 9e18))))
    }

    private func clamp(_ value: Duration) -> Duration {
        min(settings.maximum, max(settings.minimum, value))
    }
}
