public import Topology

/// One endpoint's circuit breaker: it stops new connections to an endpoint that keeps failing, then
/// lets a few trials through to find out whether it is back.
///
/// Closed: everything passes; a failure is remembered. ``BreakerSettings/failureThreshold`` failures
/// within ``BreakerSettings/window`` open it. Open: everything is refused until
/// ``BreakerSettings/openDuration`` has passed, then it is half-open. Half-open: at most
/// ``BreakerSettings/halfOpenTrials`` trials at once; a trial's success closes it, a failure opens it
/// again. Pure: time is passed in, so tests drive it with made-up instants.
public struct CircuitBreaker: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case closed
        case open(until: ContinuousClock.Instant)
        case halfOpen
    }

    /// What a new connection may do.
    public enum Action: Sendable, Equatable {
        case allow
        case reject
        /// A half-open trial: its outcome decides the breaker's state.
        case probe
    }

    public let settings: BreakerSettings
    public private(set) var state: State = .closed
    /// Failure instants, oldest first; never more than the threshold, so no allocation after init.
    private var failures: [ContinuousClock.Instant]
    private var trialsInFlight = 0
    /// Times the breaker opened, for status output.
    public private(set) var openings: Int = 0

    public init(settings: BreakerSettings) {
        self.settings = settings
        self.failures = []
        self.failures.reserveCapacity(max(1, settings.failureThreshold))
    }

    /// The state as of `now`: an open breaker whose wait is over reads as half-open.
    public func state(at now: ContinuousClock.Instant) -> State {
        if case .open(let until) = state, now >= until {
            return .halfOpen
        }
        return state
    }

    /// Whether ``request(at:)`` would let a connection through, without counting it.
    public func allows(at now: ContinuousClock.Instant) -> Bool {
        switch state(at: now) {
        case .closed: true
        case .open: false
        case .halfOpen: trialsInFlight < settings.halfOpenTrials
        }
    }

    /// Asks to open a connection; a `probe` must be followed by ``record(success:at:)``.
    public mutating func request(at now: ContinuousClock.Instant) -> Action {
        switch state(at: now) {
        case .closed:
            return .allow
        case .open:
            return .reject
        case .halfOpen:
            state = .halfOpen
            guard trialsInFlight < settings.halfOpenTrials else {
                return .reject
            }
            trialsInFlight += 1
            return .probe
        }
    }

    /// The outcome of a connection attempt to the endpoint.
    public mutating func record(success: Bool, at now: ContinuousClock.Instant) {
        switch state(at: now) {
        case .halfOpen:
            trialsInFlight = max(0, trialsInFlight - 1)
            if success {
                close()
            } else {
                trip(at: now)
            }
        case .open:
            break
        case .closed:
            guard !success else {
                return
            }
            let windowStart = now - settings.window
            failures.removeAll { $0 < windowStart }
            if failures.count == settings.failureThreshold {
                failures.removeFirst()
            }
            failures.append(now)
            if failures.count >= settings.failureThreshold {
                trip(at: now)
            }
        }
    }

    /// Operator reset: closed, with no remembered failures.
    public mutating func reset() {
        close()
    }

    private mutating func close() {
        state = .closed
        failures.removeAll(keepingCapacity: true)
        trialsInFlight = 0
    }

    private mutating func trip(at now: ContinuousClock.Instant) {
        state = .open(until: now + settings.openDuration)
        failures.removeAll(keepingCapacity: true)
        trialsInFlight = 0
        openings += 1
    }
}
