import Alerting
import Foundation
import StateStore
import TestSupport
import Testing
import Topology
import Vocabulary

/// Silences added at runtime (stored in the state store) applied by a real pipeline delivering to
/// an HTTP receiver on 127.0.0.1, together with the file's silences.
@Suite(.timeLimit(.minutes(1))) struct RuntimeSilenceTests {
    func configuration(_ receiver: HTTPReceiver, silences: [Silence] = []) -> AlertConfiguration {
        let channel = AlertChannel(
            name: "hook", kind: .webhook, url: Secret(receiver.url("/hook")), connectTimeout: .seconds(1),
            timeout: .seconds(3))
        return AlertConfiguration(
            channels: [channel], route: Route(channels: ["hook"], groupBy: [.dedupKey], groupWait: .zero),
            silences: silences)
    }

    func sent(_ requests: [HTTPReceiver.Request]) -> [String] {
        requests.flatMap { request in
            ((request.json["alerts"] as? [[String: Any]]) ?? []).map {
                "\($0["type"] as? String ?? "?")@\($0["endpoint"] as? String ?? "?")"
            }
        }
    }

    @Test func aStoredSilenceMutesMatchingAlertsUntilRemoved() async throws {
        let receiver = try await HTTPReceiver.start()
        let store = try StateStore(path: temporaryStorePath())
        let now = Date()
        let fileSilence = Silence(match: AlertMatch([.endpoint: ["use1-c"]]), endsAt: now.addingTimeInterval(3600))
        let stored = try await store.addSilence(
            matchers: ["region": ["ap-south"], "severity": ["medium", "high"]], startsAt: now,
            endsAt: now.addingTimeInterval(3600), comment: "storage migration", createdBy: "oncall", createdAt: now)
        // Ended already: ignored.
        _ = try await store.addSilence(
            matchers: ["endpoint": ["use1-b"]], startsAt: now.addingTimeInterval(-7200),
            endsAt: now.addingTimeInterval(-3600), comment: "over", createdBy: "oncall", createdAt: now)
        let pipeline = AlertPipeline(
            configuration: configuration(receiver, silences: [fileSilence]), store: store,
            logger: LogCapture().logger(), tick: .milliseconds(20))
        let running = RunningPipeline(pipeline)
        pipeline.emit(event(.endpointSlow, .medium, region: "ap-south", endpoint: "aps1-a"))
        pipeline.emit(event(.endpointSlow, .medium, region: "us-east", endpoint: "use1-c"))
        pipeline.emit(event(.endpointSlow, .critical, region: "ap-south", endpoint: "aps1-b"))
        pipeline.emit(event(.endpointSlow, .medium, region: "us-east", endpoint: "use1-b"))
        let first = try await receiver.waitForRequests(2)
        try await Task.sleep(for: .milliseconds(300))
        #expect(receiver.requests.count == 2)
        #expect(Set(sent(first)) == ["endpoint_slow@aps1-b", "endpoint_slow@use1-b"])

        // Removed: the next matching alert goes out.
        #expect(try await store.removeSilence(id: stored.id))
        #expect(try await !store.removeSilence(id: stored.id))
        pipeline.emit(event(.endpointDown, .high, region: "ap-south", endpoint: "aps1-c"))
        let all = try await receiver.waitForRequests(3)
        try await running.stop()
        try await receiver.stop()
        #expect(sent(all).last == "endpoint_down@aps1-c")
    }

    @Test func matchersAreChecked() throws {
        let match = try Silence.checkMatchers(["region": ["ap-south"], "type": ["endpoint_down"]])
        #expect(match == AlertMatch([.region: ["ap-south"], .type: ["endpoint_down"]]))
        func field(_ matchers: [String: [String]], known: [AlertLabel: Set<String>] = [:]) -> String? {
            do {
                _ = try Silence.checkMatchers(matchers, known: known)
                return nil
            } catch {
                return error.field
            }
        }
        #expect(field([:]) == "matchers")
        #expect(field(["regoin": ["ap-south"]]) == "matchers.regoin")
        #expect(field(["type": ["endpoint_gone"]]) == "matchers.type")
        #expect(field(["severity": ["urgent"]]) == "matchers.severity")
        #expect(field(["region": []]) == "matchers.region")
        #expect(field(["region": ["mars"]], known: [.region: ["ap-south"]]) == "matchers.region")
        let stored = StateStore.StoredSilence(
            id: 1, matchers: ["colour": ["red"]], startsAt: Date(), endsAt: Date().addingTimeInterval(60),
            comment: "", createdBy: "x", createdAt: Date())
        #expect(Silence(stored: stored) == nil)
    }
}
