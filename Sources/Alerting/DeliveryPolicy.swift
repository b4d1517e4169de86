public import Foundation

/// What to do after one attempt, from the receiver's answer alone.
public enum AttemptOutcome: Equatable, Sendable {
    case delivered
    /// Try again; `after` is the receiver's `Retry-After` when it gave one.
    case retry(after: Duration?)
    /// The receiver refused the request itself (a `4xx` other than `408` and `429`): retrying cannot help.
    case permanent

    /// Any `2xx` (Teams answers `202`) is success; `408`, `429` and `5xx` and no answer at all are
    /// retried; other statuses are permanent.
    public static func classify(status: Int?, retryAfter: String?, now: Date) -> Self {
        guard let status else { return .retry(after: nil) }
        switch status {
        case 200..<300:
            return .delivered
        case 429, 503:
            return .retry(after: retryAfter.flatMap { RetryAfter.parse($0, now: now) })
        case 408, 500..<600:
            return .retry(after: nil)
        default:
            return .permanent
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
public enum RetryAfter {
    /// The delay the header asks for, never negative; nil when it is neither form.
    public static func parse(_ value: String, now: Date) -> Duration? {
        let text = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(text), seconds >= 0 {
            return .seconds(seconds)
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        // IMF-fixdate, then the two obsolete forms RFC 9110 still asks recipients to accept.
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) {
                let delay = max(0, date.timeIntervalSince(now))
                return .milliseconds(Int64((delay * 1000).rounded(.up)))
            }
        }
        return nil
    }
}

/// Exponential backoff with jitter: attempt `n` (1-based) waits between half and all of
/// `initial × 2^(n-1)`, capped at `max`; a receiver's `Retry-After` is honoured as a floor.
public struct Backoff: Sendable {
    public var initial: Duration
    public var max: Duration

    public init(initial: Duration, max: Duration) {
        self.initial = initial
        self.max = max
    }

    /// `random` is a number in 0...1 (a fixed one in tests).
    public func delay(afterAttempt attempt: Int, retryAfter: Duration?, random: Double) -> Duration {
        let exponent = Swift.min(Swift.max(attempt - 1, 0), 30)
        let ceiling = Swift.min(initial * (1 << exponent), max)
        let jittered = ceiling / 2 + (ceiling / 2) * Swift.min(Swift.max(random, 0), 1)
        guard let retryAfter else { return jittered }
        return Swift.max(retryAfter, jittered)
    }
}

/// A per-channel circuit breaker: after `threshold` consecutive failures it opens for `openFor`,
/// then lets one probe through; a success closes it, a failure opens it again.
public struct CircuitBreaker: Sendable {
    public enum Action: Equatable, Sendable {
        case allow
        /// Do not call the receiver before this instant.
        case wait(until: ContinuousClock.Instant)
        case probe
    }

    enum State: Equatable {
        case closed(failures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen
    }

    public let threshold: Int
    public let openFor: Duration
    private(set) var state: State = .closed(failures: 0)

    public init(threshold: Int, openFor: Duration) {
        self.threshold = threshold
        self.openFor = openFor
    }

    public var isOpen: Bool {
        if case .closed = state { return false }
        return true
    }

    public mutating func request(at now: ContinuousClock.Instant) -> Action {
        switch state {
        case .closed:
            return .allow
        case .open(let until):
            guard now >= until else { return .wait(until: until) }
            state = .halfOpen
            return .probe
        case .halfOpen:
            return .probe
        }
    }

    /// Returns true when this result opened the circuit.
    @discardableResult
    public mutating func record(success: Bool, at now: ContinuousClock.Instant) -> Bool {
        if success {
            state = .closed(failures: 0)
            return false
        }
        switch state {
        case .closed(let failures) where failures + 1 < threshold:
            state = .closed(failures: failures + 1)
            return false
        case .closed:
            state = .open(until: now + openFor)
            return true
        case .open, .halfOpen:
            state = .open(until: now + openFor)
            return false
        }
    }
}
