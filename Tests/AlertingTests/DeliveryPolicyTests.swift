import Alerting
import Foundation
import Testing

@Suite struct DeliveryPolicyTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func retryAfterTakesSecondsOrAnHTTPDate() {
        #expect(RetryAfter.parse("2", now: now) == .seconds(2))
        let date = Date(timeIntervalSince1970: 1_800_000_010)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        #expect(RetryAfter.parse(formatter.string(from: date), now: now) == .seconds(10))
        #expect(RetryAfter.parse("soon", now: now) == nil)
        #expect(RetryAfter.parse("-3", now: now) == nil)
    }

    @Test(arguments: [
        (200, AttemptOutcome.delivered), (202, .delivered), (400, .permanent), (404, .permanent),
        (500, .retry(after: nil)), (503, .retry(after: .seconds(7))), (429, .retry(after: .seconds(7))),
        (408, .retry(after: nil)),
    ])
    func statusesAreClassified(status: Int, expected: AttemptOutcome) {
        #expect(AttemptOutcome.classify(status: status, retryAfter: "7", now: now) == expected)
    }

    @Test func noAnswerIsRetried() {
        #expect(AttemptOutcome.classify(status: nil, retryAfter: nil, now: now) == .retry(after: nil))
    }

    @Test func backoffDoublesWithJitterUpToItsCapAndHonoursRetryAfter() {
        let backoff = Backoff(initial: .seconds(1), max: .seconds(8))
        #expect(backoff.delay(afterAttempt: 1, retryAfter: nil, random: 0) == .milliseconds(500))
        #expect(backoff.delay(afterAttempt: 1, retryAfter: nil, random: 1) == .seconds(1))
        #expect(backoff.delay(afterAttempt: 3, retryAfter: nil, random: 1) == .seconds(4))
        #expect(backoff.delay(afterAttempt: 10, retryAfter: nil, random: 1) == .seconds(8))
        #expect(backoff.delay(afterAttempt: 1, retryAfter: .seconds(30), random: 1) == .seconds(30))
    }

    @Test func circuitOpensAfterConsecutiveFailuresThenProbes() {
        var breaker = CircuitBreaker(threshold: 3, openFor: .seconds(10))
        let t0 = ContinuousClock.now
        let first = breaker.request(at: t0)
        #expect(first == .allow)
        let opened = (0..<3).map { _ in breaker.record(success: false, at: t0) }
        #expect(opened == [false, false, true])
        let waiting = breaker.request(at: t0 + .seconds(5))
        #expect(waiting == .wait(until: t0 + .seconds(10)))
        let probe = breaker.request(at: t0 + .seconds(10))
        #expect(probe == .probe)
        breaker.record(success: false, at: t0 + .seconds(10))
        let reopened = breaker.request(at: t0 + .seconds(11))
        #expect(reopened == .wait(until: t0 + .seconds(20)))
        let secondProbe = breaker.request(at: t0 + .seconds(20))
        #expect(secondProbe == .probe)
        breaker.record(success: true, at: t0 + .seconds(20))
        let closed = breaker.request(at: t0 + .seconds(20))
        #expect(closed == .allow)
        #expect(!breaker.isOpen)
    }
}
