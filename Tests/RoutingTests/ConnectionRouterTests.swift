import Health
import Routing
import Testing
import Topology
import Vocabulary

@Suite struct WriteRoutingTests {
    @Test func writesGoToThePublishedPrimaryOnly() {
        var router = Fixture.router()
        let decision = router.route(.write, snapshot: Fixture.snapshot(), table: Fixture.table, now: Fixture.start)
        #expect(decision.target?.endpoint == "east-1")
        #expect(decision.target?.port == 5432)
        #expect(decision.target?.fallback == false)
    }

    @Test(arguments: [
        (
            RoutingTable.make(epoch: 2, writeTarget: "east-1", writesPaused: true, fenced: []),
            Unavailable.failoverInProgress
        ),
        (RoutingTable.make(epoch: 2, writeTarget: nil, writesPaused: false, fenced: []), .noPrimaryKnown),
        (RoutingTable.make(epoch: 2, writeTarget: "nowhere", writesPaused: false, fenced: []), .noPrimaryKnown),
        (RoutingTable.make(epoch: 2, writeTarget: "east-1", writesPaused: false, fenced: ["east-1"]), .primaryFenced),
    ])
    func noGuessWithoutAUsablePrimary(table: RoutingTable, expected: Unavailable) {
        var router = Fixture.router()
        let decision = router.route(.write, snapshot: Fixture.snapshot(), table: table, now: Fixture.start)
        #expect(decision == .unavailable(expected))
        #expect(expected.isTransient)
    }

    @Test func aNewWriteTargetTakesTheNextConnection() {
        var router = Fixture.router()
        let table = RoutingTable.make(epoch: 3, writeTarget: "west-1", writesPaused: false, fenced: ["east-1"])
        let decision = router.route(.write, snapshot: Fixture.snapshot(), table: table, now: Fixture.start)
        #expect(decision.target?.endpoint == "west-1")
    }

    @Test func anOpenBreakerOnThePrimaryStopsWrites() {
        var router = Fixture.router()
        for second in 0..<3 {
            router.record(0, success: false, took: nil, at: Fixture.at(Double(second)))
        }
        let decision = router.route(.write, snapshot: Fixture.snapshot(), table: Fixture.table, now: Fixture.at(3))
        #expect(decision == .unavailable(.primaryCircuitOpen))
    }
}

@Suite struct ReadEligibilityTests {
    /// (lag seconds, lag bytes) of east-2 against bounds of 30 s and 16 MB.
    struct LagCase: Sendable {
        var seconds: Double?
        var bytes: Int64?
        var expected: Exclusion?
    }

    static let lagCases: [LagCase] = [
        LagCase(seconds: 0, bytes: 0, expected: nil),
        LagCase(seconds: 30, bytes: 16 * 1024 * 1024, expected: nil),
        LagCase(seconds: 30.5, bytes: 0, expected: .lagTime(30.5, .seconds(30))),
        LagCase(seconds: 0, bytes: 16 * 1024 * 1024 + 1, expected: .lagBytes(16 * 1024 * 1024 + 1, .mebibytes(16))),
        LagCase(seconds: nil, bytes: nil, expected: .lagUnknown),
        LagCase(seconds: nil, bytes: 10, expected: nil),
        LagCase(seconds: 2, bytes: nil, expected: nil),
    ]

    @Test(arguments: lagCases)
    func lagBound(case lag: LagCase) {
        let (seconds, bytes, expected) = (lag.seconds, lag.bytes, lag.expected)
        var router = Fixture.router { $0.strategy = .roundRobin }
        let snapshot = Fixture.snapshot {
            $0["east-2"]?.lagSeconds = seconds
            $0["east-2"]?.lagBytes = bytes
            $0["west-1"]?.reachable = false
            $0["west-2"]?.reachable = false
        }
        let explanation = router.explain(.read, snapshot: snapshot, table: Fixture.table, now: Fixture.start)
        if let expected {
            #expect(explanation.reason("east-2") == expected)
            #expect(explanation.decision.target?.fallback == true)
        } else {
            #expect(explanation.decision.target?.endpoint == "east-2")
        }
    }

    @Test func everyExclusionIsExplained() {
        var router = Fixture.router()
        let snapshot = Fixture.snapshot {
            $0["east-2"]?.isDown = true
            $0["west-2"]?.reachable = false
        }
        let table = RoutingTable.make(epoch: 1, writeTarget: "east-1", writesPaused: false, fenced: ["west-1"])
        let explanation = router.explain(.read, snapshot: snapshot, table: table, now: Fixture.start)
        #expect(explanation.decision.target?.endpoint == "east-1")
        #expect(explanation.decision.target?.fallback == true)
        #expect(explanation.exclusions.map(\.endpoint) == ["east-2", "west-1", "west-2"])
        #expect(explanation.reason("east-2") == .down)
        #expect(explanation.reason("west-1") == .fenced)
        #expect(explanation.reason("west-2") == .unreachable)
        #expect(Exclusion.breakerOpen.label == "circuit_open")
    }

    @Test(arguments: [true, false])
    func fallbackToThePrimary(allowed: Bool) {
        var router = Fixture.router { $0.fallbackToPrimary = allowed }
        let snapshot = Fixture.snapshot {
            for name in ["east-2", "west-1", "west-2"] {
                $0[name]?.lagSeconds = 600
            }
        }
        let decision = router.route(.read, snapshot: snapshot, table: Fixture.table, now: Fixture.start)
        if allowed {
            #expect(decision.target?.endpoint == "east-1")
            #expect(decision.target?.fallback == true)
        } else {
            #expect(decision == .unavailable(.noEligibleReplica))
            #expect(!Unavailable.noEligibleReplica.isTransient)
        }
    }

    @Test func noFallbackWhileWritesArePaused() {
        var router = Fixture.router()
        let snapshot = Fixture.snapshot {
            for name in ["east-2", "west-1", "west-2"] {
                $0[name]?.reachable = false
            }
        }
        let table = RoutingTable.make(epoch: 2, writeTarget: "east-1", writesPaused: true, fenced: [])
        let result1 = router.route(.read, snapshot: snapshot, table: table, now: Fixture.start)
        #expect(result1 == .unavailable(.noEligibleReplica))
    }

    @Test func aPromotedReplicaIsNoLongerAReader() {
        var router = Fixture.router { $0.strategy = .roundRobin }
        let snapshot = Fixture.snapshot { $0["west-1"]?.role = .primary }
        let table = RoutingTable.make(epoch: 2, writeTarget: "west-1", writesPaused: false, fenced: ["east-1"])
        let result2 = router.sequence(6, snapshot: snapshot, table: table)
        #expect(Set(result2) == ["east-2", "west-2"])
    }
}

@Suite struct StrategyTests {
    @Test func roundRobinTakesEachReplicaInTurn() {
        var router = Fixture.router { $0.strategy = .roundRobin }
        let result3 = router.sequence(6)
        #expect(result3 == ["east-2", "west-1", "west-2", "east-2", "west-1", "west-2"])
    }

    @Test func roundRobinSkipsAReplicaThatLeaves() {
        var router = Fixture.router { $0.strategy = .roundRobin }
        let result4 = router.sequence(2)
        #expect(result4 == ["east-2", "west-1"])
        let without = Fixture.snapshot { $0["west-2"]?.reachable = false }
        let result5 = router.sequence(3, snapshot: without)
        #expect(result5 == ["east-2", "west-1", "east-2"])
    }

    @Test(arguments: [(70, 30), (1, 1), (9, 1), (0, 5)])
    func weightedSplitIsExactOverManyPicks(first: Int, second: Int) {
        var router = Fixture.router {
            $0.strategy = .weighted
            $0.weights = ["east-2": first, "west-1": second, "west-2": 0]
        }
        let picks = 100 * (first + second)
        let counts = router.tally(picks)
        #expect(counts["east-2", default: 0] == 100 * first)
        #expect(counts["west-1", default: 0] == 100 * second)
        #expect(counts["west-2"] == nil)
    }

    @Test func weightedInterleavesRatherThanBursts() {
        var router = Fixture.router {
            $0.strategy = .weighted
            $0.weights = ["east-2": 7, "west-1": 3, "west-2": 0]
        }
        let picks = router.sequence(10)
        // Smooth weighted round robin never sends more than three in a row to the heavier one here.
        var longest = 0
        var run = 0
        for (index, name) in picks.enumerated() {
            run = index > 0 && picks[index - 1] == name ? run + 1 : 1
            longest = max(longest, run)
        }
        #expect(longest <= 3)
        #expect(picks.filter { $0 == "west-1" }.count == 3)
    }

    @Test func leastConnectionsPrefersTheEmptiest() {
        var router = Fixture.router { $0.strategy = .leastConnections }
        router.connectionCount(1, delta: 1)
        router.connectionCount(1, delta: 1)
        router.connectionCount(2, delta: 1)
        let result6 = router.sequence(1)
        #expect(result6 == ["west-2"])
        router.connectionCount(3, delta: 1)
        // All of west-1, west-2 have one; east-2 has two: ties go in turn.
        let result7 = router.sequence(2)
        #expect(result7 == ["west-1", "west-2"])
        router.connectionCount(1, delta: -2)
        let result8 = router.sequence(1)
        #expect(result8 == ["east-2"])
    }

    @Test func leastConnectionsSpreadsAsConnectionsOpen() {
        var router = Fixture.router { $0.strategy = .leastConnections }
        var opened: [String: Int] = [:]
        for _ in 0..<30 {
            let target = router.route(.read, snapshot: Fixture.snapshot(), table: Fixture.table, now: Fixture.start)
                .target
            if let target {
                router.connectionCount(target.index, delta: 1)
                opened[target.endpoint, default: 0] += 1
            }
        }
        #expect(opened == ["east-2": 10, "west-1": 10, "west-2": 10])
    }

    @Test func failoverStrategyUsesThePrimaryWhileItIsHealthy() {
        var router = Fixture.router { $0.strategy = .failover }
        let result9 = router.sequence(4)
        #expect(Set(result9) == ["east-1"])
        let down = Fixture.snapshot { $0["east-1"]?.reachable = false }
        let result10 = router.sequence(1, snapshot: down)
        #expect(result10 == ["east-2"])
    }

    @Test func latencyPrefersTheFastest() {
        var router = Fixture.router()
        let snapshot = Fixture.snapshot {
            $0["east-2"]?.smoothedLatencyMilliseconds = 10
            $0["west-1"]?.smoothedLatencyMilliseconds = 2
            $0["west-2"]?.smoothedLatencyMilliseconds = 30
        }
        let result11 = router.sequence(5, snapshot: snapshot)
        #expect(Set(result11) == ["west-1"])
    }

    @Test func latencySharesNearEqualReplicasInsteadOfHerding() {
        var router = Fixture.router()
        let snapshot = Fixture.snapshot {
            $0["east-2"]?.smoothedLatencyMilliseconds = 10
            $0["west-1"]?.smoothedLatencyMilliseconds = 11
            $0["west-2"]?.smoothedLatencyMilliseconds = 50
        }
        let result12 = router.tally(10, snapshot: snapshot)
        #expect(result12 == ["east-2": 5, "west-1": 5])
    }

    /// Latencies of west-1 over time while east-2 stays at 10 ms, with a 20% band: it joins at
    /// <= 12 ms and leaves only beyond 14 ms.
    @Test func latencyBandHasHysteresis() {
        var router = Fixture.router()
        func picks(_ west: Double) -> Set<String> {
            let snapshot = Fixture.snapshot {
                $0["east-2"]?.smoothedLatencyMilliseconds = 10
                $0["west-1"]?.smoothedLatencyMilliseconds = west
                $0["west-2"]?.smoothedLatencyMilliseconds = 100
            }
            return Set(router.sequence(4, snapshot: snapshot))
        }
        #expect(picks(13) == ["east-2"])  // outside: not yet in the band
        #expect(picks(12) == ["east-2", "west-1"])  // joins
        #expect(picks(13.5) == ["east-2", "west-1"])  // noise: stays
        #expect(picks(14.5) == ["east-2"])  // clearly slower: leaves
        #expect(picks(13.5) == ["east-2"])  // and must come back under 12 ms to rejoin
    }

    @Test func regionAffinityPrefersTheClientsRegion() {
        var router = Fixture.router { $0.strategy = .roundRobin }
        let west = RouteRequest(.read, clientRegion: "west")
        let result13 = router.sequence(4, west)
        #expect(Set(result13) == ["west-1", "west-2"])
        let explanation = router.explain(west, snapshot: Fixture.snapshot(), table: Fixture.table, now: Fixture.start)
        #expect(explanation.reason("east-2") == .otherRegion)
    }

    @Test func regionAffinityFallsBackToTheFastestElsewhere() {
        var router = Fixture.router()
        let snapshot = Fixture.snapshot {
            $0["west-1"]?.reachable = false
            $0["west-2"]?.lagBytes = 1 << 30
            $0["east-2"]?.smoothedLatencyMilliseconds = 40
        }
        let west = RouteRequest(.read, clientRegion: "west")
        let result14 = router.sequence(2, west, snapshot: snapshot)
        #expect(result14 == ["east-2", "east-2"])
    }
}
