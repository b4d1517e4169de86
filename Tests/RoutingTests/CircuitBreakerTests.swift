import Routing
import Testing
import Topology

@Suite struct CircuitBreakerTests {
    static let settings = BreakerSettings(
        failureThreshold: 3, window: .seconds(15), openDuration: .seconds(5), halfOpenTrials: 1)

    @Test func threeFailuresInTheWindowOpenIt() {
        var breaker = CircuitBreaker(settings: Self.settings)
        breaker.record(success: false, at: Fixture.at(0))
        breaker.record(success: false, at: Fixture.at(10))
        #expect(breaker.request(at: Fixture.at(11)) == .allow)
        breaker.record(success: false, at: Fixture.at(14.9))
        #expect(breaker.state == .open(until: Fixture.at(19.9)))
        #expect(breaker.request(at: Fixture.at(15)) == .reject)
        #expect(breaker.openings == 1)
    }

    @Test func failuresOutsideTheWindowDoNotCount() {
        var breaker = CircuitBreaker(settings: Self.settings)
        breaker.record(success: false, at: Fixture.at(0))
        breaker.record(success: false, at: Fixture.at(10))
        breaker.record(success: false, at: Fixture.at(16))
        #expect(breaker.state == .closed)
        breaker.record(success: false, at: Fixture.at(20))
        #expect(breaker.state == .open(until: Fixture.at(25)))
    }

    @Test func halfOpenAllowsLimitedTrialsAndASuccessCloses() {
        var breaker = CircuitBreaker(settings: Self.settings)
        for second in 0..<3 {
            breaker.record(success: false, at: Fixture.at(Double(second)))
        }
        #expect(breaker.state(at: Fixture.at(6.9)) == .open(until: Fixture.at(7)))
        #expect(breaker.state(at: Fixture.at(7)) == .halfOpen)
        #expect(breaker.allows(at: Fixture.at(7)))
        #expect(breaker.request(at: Fixture.at(7)) == .probe)
        #expect(!breaker.allows(at: Fixture.at(7.1)))
        #expect(breaker.request(at: Fixture.at(7.1)) == .reject)
        breaker.record(success: true, at: Fixture.at(7.2))
        #expect(breaker.state == .closed)
        #expect(breaker.request(at: Fixture.at(7.3)) == .allow)
    }

    @Test func aFailedTrialOpensItAgain() {
        var breaker = CircuitBreaker(settings: Self.settings)
        for second in 0..<3 {
            breaker.record(success: false, at: Fixture.at(Double(second)))
        }
        #expect(breaker.request(at: Fixture.at(8)) == .probe)
        breaker.record(success: false, at: Fixture.at(8.5))
        #expect(breaker.state == .open(until: Fixture.at(13.5)))
        #expect(breaker.openings == 2)
    }

    @Test func anOperatorResetClosesIt() {
        var router = Fixture.router()
        for second in 0..<3 {
            router.record(1, success: false, took: nil, at: Fixture.at(Double(second)))
        }
        #expect(router.status(at: Fixture.at(3))[1].breaker == "open")
        let explanation = router.explain(.read, snapshot: Fixture.snapshot(), table: Fixture.table, now: Fixture.at(3))
        #expect(explanation.reason("east-2") == .breakerOpen)
        let reset = router.resetBreaker("east-2")
        let resetUnknown = router.resetBreaker("nowhere")
        #expect(reset)
        #expect(!resetUnknown)
        #expect(router.status(at: Fixture.at(3))[1].breaker == "closed")
        #expect(router.status(at: Fixture.at(3))[1].breakerOpenings == 1)
    }

    @Test func aReplicaTrialIsHandedOutOnceThenItIsExcluded() {
        var router = Fixture.router { $0.strategy = .roundRobin }
        for second in 0..<3 {
            router.record(1, success: false, took: nil, at: Fixture.at(Double(second)))
        }
        let now = Fixture.at(10)
        let snapshot = Fixture.snapshot()
        var probes = 0
        var east2 = 0
        for _ in 0..<6 {
            let target = router.route(.read, snapshot: snapshot, table: Fixture.table, now: now).target
            if target?.endpoint == "east-2" {
                east2 += 1
                probes += target?.probe == true ? 1 : 0
            }
        }
        #expect(east2 == 1)
        #expect(probes == 1)
        router.record(1, success: true, took: .milliseconds(2), at: now)
        #expect(router.status(at: now)[1].breaker == "closed")
    }
}

@Suite struct AdaptiveTimeoutTests {
    static let settings = AdaptiveTimeoutSettings(minimum: .milliseconds(100), maximum: .seconds(2), factor: 4)

    @Test func withoutSamplesTheHintOrTheMaximumApplies() {
        let timeout = AdaptiveTimeout(settings: Self.settings)
        #expect(timeout.timeout(latencyHintMilliseconds: nil) == .seconds(2))
        #expect(timeout.timeout(latencyHintMilliseconds: 50) == .milliseconds(200))
        #expect(timeout.timeout(latencyHintMilliseconds: 1) == .milliseconds(100))
        #expect(timeout.timeout(latencyHintMilliseconds: 5000) == .seconds(2))
    }

    @Test func aHighPercentileTimesTheFactorClamped() {
        var timeout = AdaptiveTimeout(settings: Self.settings)
        for _ in 0..<31 {
            timeout.record(.milliseconds(50))
        }
        timeout.record(.milliseconds(400))  // one outlier in 32 is above the 95th percentile
        #expect(timeout.timeout(latencyHintMilliseconds: 1) == .milliseconds(200))
        for _ in 0..<4 {
            timeout.record(.milliseconds(400))
        }
        #expect(timeout.current == .milliseconds(1600))
        for _ in 0..<32 {
            timeout.record(.microseconds(100))
        }
        #expect(timeout.current == .milliseconds(100))
        #expect(timeout.sampleCount == AdaptiveTimeout.capacity)
    }

    @Test func theRouterFeedsConnectTimesIntoTheTarget() {
        var router = Fixture.router()
        for _ in 0..<10 {
            router.record(0, success: true, took: .milliseconds(100), at: Fixture.start)
        }
        let target = router.route(.write, snapshot: Fixture.snapshot(), table: Fixture.table, now: Fixture.start).target
        #expect(target?.connectTimeout == .milliseconds(400))
    }
}
