import Alerting
import Foundation
import Testing
import Topology
import Vocabulary

@Suite struct AlertRulesTests {
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    func configuration(
        groupWait: Duration = .seconds(30), inhibit: [InhibitRule] = [], silences: [Silence] = [],
        routes: [Route] = []
    ) -> AlertConfiguration {
        AlertConfiguration(
            channels: [AlertChannel(name: "oncall", kind: .slack, url: Secret("http://127.0.0.1:1/x"))],
            route: Route(
                channels: ["oncall"], groupWait: groupWait, groupInterval: .seconds(300),
                repeatInterval: .seconds(3600)),
            routes: routes, inhibitRules: inhibit, silences: silences)
    }

    func add(_ rules: inout AlertRules, _ event: ControlEvent, at: Date) -> [AlertRules.Disposition] {
        rules.alerts(for: event).map { rules.add($0, now: at) }
    }

    @Test func groupWaitGathersAlertsOfOneGroupIntoOneNotification() {
        var rules = AlertRules(configuration: configuration())
        for name in ["a", "b", "c"] {
            _ = add(&rules, event(.endpointSlow, .medium, endpoint: name), at: start)
        }
        #expect(rules.due(now: start.addingTimeInterval(29)).isEmpty)
        let due = rules.due(now: start.addingTimeInterval(30))
        #expect(due.count == 1)
        #expect(due.first?.notification.alerts.map(\.endpoint) == ["a", "b", "c"])
        #expect(due.first?.channels == ["oncall"])
    }

    @Test func criticalAlertsDoNotWait() {
        var rules = AlertRules(configuration: configuration())
        _ = add(&rules, event(.failoverTriggered, .critical), at: start)
        #expect(rules.due(now: start).count == 1)
    }

    @Test func anUnchangedAlertIsRepeatedOnlyAfterTheRepeatInterval() {
        var rules = AlertRules(configuration: configuration(groupWait: .zero))
        _ = add(&rules, event(.replicationLag, .high), at: start)
        #expect(rules.due(now: start).count == 1)
        _ = add(&rules, event(.replicationLag, .high, facts: ["lag": "20MB"]), at: start.addingTimeInterval(10))
        #expect(rules.due(now: start.addingTimeInterval(400)).isEmpty)
        let repeated = rules.due(now: start.addingTimeInterval(3600))
        #expect(repeated.count == 1)
        #expect(repeated.first?.notification.alerts.first?.facts["lag"] == "20MB")
    }

    @Test func newAlertsInANotifiedGroupWaitForTheGroupInterval() {
        var rules = AlertRules(configuration: configuration(groupWait: .zero))
        _ = add(&rules, event(.endpointSlow, .medium, endpoint: "a"), at: start)
        #expect(rules.due(now: start).count == 1)
        _ = add(&rules, event(.endpointSlow, .medium, endpoint: "b"), at: start.addingTimeInterval(1))
        #expect(rules.due(now: start.addingTimeInterval(299)).isEmpty)
        let next = rules.due(now: start.addingTimeInterval(300))
        #expect(next.first?.notification.alerts.map(\.endpoint) == ["a", "b"])
    }

    @Test(arguments: [
        (ControlEvent.Kind.endpointSlow, ControlEvent.Kind.endpointSlowCleared),
        (.replicationLag, .replicationLagCleared),
        (.errorRateHigh, .errorRateCleared),
    ])
    func aClearedThresholdResolvesItsAlert(firing: ControlEvent.Kind, cleared: ControlEvent.Kind) throws {
        #expect(AlertTypes.firing.contains(firing))
        #expect(!AlertTypes.firing.contains(cleared))
        var rules = AlertRules(configuration: configuration(groupWait: .zero))
        _ = add(&rules, event(firing, .medium, at: start), at: start)
        #expect(rules.due(now: start).count == 1)
        let later = start.addingTimeInterval(5)
        #expect(add(&rules, event(cleared, .low, at: later), at: later) == [.routed(1)])
        let resolved = try #require(rules.due(now: start.addingTimeInterval(300)).first)
        #expect(resolved.notification.status == .resolved)
        #expect(resolved.notification.alerts.map(\.type) == [firing])
    }

    @Test func recoveryResolvesTheDownAlert() throws {
        var rules = AlertRules(configuration: configuration(groupWait: .zero))
        _ = add(&rules, event(.endpointDown, .high, at: start), at: start)
        #expect(rules.due(now: start).count == 1)
        let dispositions = add(
            &rules, event(.endpointRecovered, .low, at: start.addingTimeInterval(5)), at: start.addingTimeInterval(5))
        #expect(dispositions == [.routed(1)])
        let resolved = try #require(rules.due(now: start.addingTimeInterval(300)).first)
        #expect(resolved.notification.status == .resolved)
        #expect(resolved.notification.alerts.first?.endsAt == start.addingTimeInterval(5))
        #expect(resolved.notification.alerts.first?.startsAt == start)
        // Nothing left to resolve or repeat.
        #expect(add(&rules, event(.endpointRecovered, .low), at: start.addingTimeInterval(6)).isEmpty)
        #expect(rules.due(now: start.addingTimeInterval(100_000)).isEmpty)
    }

    @Test func silencesDropMatchingAlertsWhileActive() {
        let silence = Silence(
            match: AlertMatch([.region: ["ap-south"]]), startsAt: start, endsAt: start.addingTimeInterval(60))
        var rules = AlertRules(configuration: configuration(groupWait: .zero, silences: [silence]))
        #expect(add(&rules, event(.endpointDown, region: "ap-south"), at: start) == [.silenced])
        #expect(add(&rules, event(.endpointDown, region: "us-east", endpoint: "b"), at: start) == [.routed(1)])
        #expect(
            add(&rules, event(.endpointDown, region: "ap-south", endpoint: "c"), at: start.addingTimeInterval(60))
                == [.routed(1)])
    }

    @Test func failoverTriggeredInhibitsEndpointDownOfTheSameCluster() {
        let rule = InhibitRule(
            source: AlertMatch([.type: ["failover_triggered"]]), target: AlertMatch([.type: ["endpoint_down"]]),
            equal: [.cluster])
        var rules = AlertRules(configuration: configuration(groupWait: .zero, inhibit: [rule]))
        _ = add(&rules, event(.failoverTriggered), at: start)
        #expect(add(&rules, event(.endpointDown), at: start) == [.inhibited])
        #expect(add(&rules, event(.endpointDown, cluster: "billing"), at: start) == [.routed(1)])
        // The source expires after resolve_timeout (5 min) without being seen again.
        #expect(add(&rules, event(.endpointDown, endpoint: "z"), at: start.addingTimeInterval(301)) == [.routed(1)])
    }

    @Test func routesMatchInOrderAndContinueOnlyWhenAsked() {
        let pager = Route(match: AlertMatch([.severity: ["critical"]]), channels: ["pager"], continueMatching: true)
        let lag = Route(match: AlertMatch([.type: ["replication_lag"]]), channels: ["dba"])
        let rules = AlertRules(configuration: configuration(routes: [pager, lag]))
        let critical = Alert(
            type: .replicationLag, severity: .critical, cluster: "c", summary: "s", dedupKey: "k", startsAt: start,
            runbook: "r")
        #expect(rules.matchingRoutes(critical).map(\.1.channels) == [["pager"], ["dba"]])
        var low = critical
        low.severity = .low
        #expect(rules.matchingRoutes(low).map(\.1.channels) == [["dba"]])
        low.type = .endpointSlow
        #expect(rules.matchingRoutes(low).map(\.1.channels) == [["oncall"]])
    }
}
