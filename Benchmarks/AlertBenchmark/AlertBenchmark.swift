import Alerting
import ArgumentParser
import Foundation
import Logging
import StateStore
import Synchronization
import TestSupport
import Topology
import Vocabulary

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Enqueue → receiver latency, burst throughput, connections per receiver and exactly-once
/// arrival across a clean restart, for an `AlertPipeline` with a SQLite outbox delivering over
/// libcurl to a real HTTP/1.1 receiver on 127.0.0.1 (SwiftNIO, in this process).
///
/// Every alert is critical (never waits for a group timer) and distinct (`group_by: [dedup_key]`),
/// so each one is one outbox row and one signed webhook request. The receiver records when each
/// request ends, its `webhook-id` (the outbox row's idempotency key) and the alert's dedup key;
/// lost = emitted dedup keys never received, duplicates = `webhook-id`s received more than once.
@main
struct AlertBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alert-benchmark",
        abstract: "Measure alert delivery latency, burst rate, connections and loss; last line is one JSON object.")

    @Option(help: "Critical alerts sent one at a time for the latency figures.")
    var samples = 500

    @Option(help: "Distinct alerts emitted at once in the burst (and in the restart trial).")
    var burst = 2000

    @Option(help: "Alerts the receiver must have got before the pipeline is stopped in the restart trial.")
    var restartAfter = 500

    @Option(help: "Channels, each a webhook to the same receiver.")
    var channels = 1

    @Option(
        help: """
            Run the same trials against Prometheus Alertmanager started from this binary (e.g. \
            /usr/bin/prometheus-alertmanager, Debian's prometheus-alertmanager) on 127.0.0.1, for comparison.
            """)
    var alertmanager: String?

    func run() async throws {
        let arrivals = Arrivals()
        let receiver = try await HTTPReceiver.start(keepsRequests: false, observer: arrivals.observe)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "alert-benchmark-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try StateStore(path: directory.appendingPathComponent("state.sqlite").path)
        var logger = Logger(label: "alert-benchmark")
        logger.logLevel = .critical
        let names = (1...max(1, channels)).map { "bench-\($0)" }
        let configuration = AlertConfiguration(
            channels: names.map { name in
                AlertChannel(
                    name: name, kind: .webhook, url: Secret(receiver.url("/\(name)")),
                    signingSecret: Secret("whsec_" + Data("benchmark signing key".utf8).base64EncodedString()),
                    connectTimeout: .seconds(1), timeout: .seconds(5))
            },
            route: Route(channels: names, groupBy: [.dedupKey], groupWait: .zero))
        let copies = alertmanager == nil ? names.count : 1
        var sent: [String] = []
        var summary: [String: Any] = ["channels": copies, "samples": samples, "burst": burst]
        let sender: any Sender
        if let alertmanager {
            sender = try await AlertmanagerSender.start(
                binary: alertmanager, directory: directory.path, receiver: receiver.url("/alertmanager"))
            summary["system"] = "alertmanager"
        } else {
            sender = PipelineSender(configuration: configuration, store: store, logger: logger)
            summary["system"] = "failoverd"
        }

        // Latency: one at a time; the first few open the connection and warm the store.
        for index in 0..<20 {
            let key = "warmup-\(index)"
            sent.append(key)
            try await sender.emit([key])
            _ = try await arrivals.waitForAll([key], copies: copies, timeout: .seconds(10))
        }
        var latencies: [Double] = []
        for index in 0..<samples {
            let key = "latency-\(index)"
            sent.append(key)
            let start = ContinuousClock.now
            try await sender.emit([key])
            let arrival = try await arrivals.waitForAll([key], copies: copies, timeout: .seconds(10))
            latencies.append(milliseconds(arrival - start))
        }
        let p50 = percentile(latencies, 0.5)
        let p99 = percentile(latencies, 0.99)
        print(
            "latency: n=\(latencies.count) p50=\(format(p50)) ms p99=\(format(p99)) ms "
                + "max=\(format(latencies.max() ?? -1)) ms (emit → request received, "
                + (alertmanager == nil ? "outbox write included)" : "POST to Alertmanager included)"))
        summary["p50_ms"] = p50
        summary["p99_ms"] = p99
        summary["max_ms"] = latencies.max() ?? -1

        // Burst: everything emitted at once; the rate counts until the last one arrives.
        let burstKeys = (0..<burst).map { "burst-\($0)" }
        sent += burstKeys
        let burstStart = ContinuousClock.now
        try await sender.emit(burstKeys)
        let burstEnd = try await arrivals.waitForAll(burstKeys, copies: copies, timeout: .seconds(300))
        let burstSeconds = seconds(burstEnd - burstStart)
        let rate = Double(burst) / burstSeconds
        print(
            "burst: \(burst) alerts in \(format(burstSeconds)) s = \(format(rate)) alerts/s "
                + "(\(format(rate * Double(copies))) requests/s over \(copies) channel(s))")
        summary["burst_seconds"] = burstSeconds
        summary["burst_alerts_per_s"] = rate

        // Clean restart in the middle of a burst: stop once `restartAfter` arrived, start again on the same store.
        let restartKeys = (0..<burst).map { "restart-\($0)" }
        sent += restartKeys
        try await sender.emit(restartKeys)
        try await arrivals.waitForCount(restartKeys, atLeast: min(restartAfter, burst), timeout: .seconds(120))
        try await sender.stop()
        let beforeRestart = arrivals.received(restartKeys)
        let pending = alertmanager == nil ? try await store.pendingAlertDeliveries().count : -1
        print(
            "restart: stopped after \(beforeRestart) of \(burst) arrived; "
                + (pending >= 0 ? "\(pending) deliveries pending in the outbox" : "Alertmanager keeps alerts in memory")
        )
        try await sender.start()
        // What never comes after the restart is lost; a bounded wait, then late duplicates have had time.
        _ = try? await arrivals.waitForAll(
            restartKeys, copies: copies, timeout: alertmanager == nil ? .seconds(120) : .seconds(15))
        try await Task.sleep(for: .milliseconds(500))
        try await sender.stop()
        summary["restart_pending_at_stop"] = pending

        let tally = arrivals.tally(sent: sent, copies: copies)
        print(
            "delivery: sent=\(sent.count * copies) received=\(tally.requests) lost=\(tally.lost) "
                + "duplicates=\(tally.duplicates)")
        print(
            "connections: max_concurrent=\(receiver.maxOpenConnections) opened=\(receiver.connectionsOpened) "
                + "(one receiver, \(copies) channel(s))")
        summary["lost"] = tally.lost
        summary["duplicates"] = tally.duplicates
        summary["max_connections_per_receiver"] = receiver.maxOpenConnections
        summary["connections_opened"] = receiver.connectionsOpened
        try await receiver.stop()

        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    static func event(_ key: String) -> ControlEvent {
        ControlEvent(
            kind: .failoverTriggered, severity: .critical, cluster: "bench", region: "us-east", endpoint: "use1-a",
            summary: "benchmark alert \(key)", facts: ["candidate": "use1-b", "why": "most advanced LSN"],
            at: Date(), dedupKey: key)
    }
}

/// What the trials drive: failoverd's pipeline, or Alertmanager for comparison.
protocol Sender: Sendable {
    /// Hands the alerts over and returns as soon as the system has them.
    func emit(_ keys: [String]) async throws
    /// A clean stop: what is in flight finishes.
    func stop() async throws
    /// Starts again on the same storage.
    func start() async throws
}

/// `AlertPipeline` on a SQLite outbox, as `failoverd` runs it.
final class PipelineSender: Sender {
    private let configuration: AlertConfiguration
    private let store: StateStore
    private let logger: Logger
    private let running = Mutex<Running?>(nil)

    init(configuration: AlertConfiguration, store: StateStore, logger: Logger) {
        self.configuration = configuration
        self.store = store
        self.logger = logger
        running.withLock {
            $0 = Running(AlertPipeline(configuration: configuration, store: store, logger: logger))
        }
    }

    func emit(_ keys: [String]) async throws {
        guard let pipeline = running.withLock({ $0?.pipeline }) else { return }
        for key in keys {
            pipeline.emit(AlertBenchmark.event(key))
        }
    }

    func stop() async throws {
        let current = running.withLock { running in
            defer { running = nil }
            return running
        }
        await current?.stop()
    }

    func start() async throws {
        let next = Running(AlertPipeline(configuration: configuration, store: store, logger: logger))
        running.withLock { $0 = next }
    }
}

/// Prometheus Alertmanager on 127.0.0.1 (clustering off), sent alerts as Prometheus sends them:
/// `POST /api/v2/alerts`, up to 64 per request; `group_by: [dedup_key]`, `group_wait: 0s`.
final class AlertmanagerSender: Sender {
    private let binary: String
    private let directory: String
    private let port: Int
    private let process = Mutex<Process?>(nil)

    private init(binary: String, directory: String, port: Int) {
        self.binary = binary
        self.directory = directory
        self.port = port
    }

    static func start(binary: String, directory: String, receiver: String) async throws -> AlertmanagerSender {
        let config = """
            route:
              receiver: bench
              group_by: [dedup_key]
              group_wait: 0s
              group_interval: 1s
              repeat_interval: 4h
            receivers:
              - name: bench
                webhook_configs:
                  - url: \(receiver)
                    send_resolved: false
            """
        try config.write(toFile: directory + "/alertmanager.yml", atomically: true, encoding: .utf8)
        let sender = AlertmanagerSender(binary: binary, directory: directory, port: try freePort())
        try await sender.start()
        return sender
    }

    func start() async throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: binary)
        child.arguments = [
            "--config.file=\(directory)/alertmanager.yml", "--storage.path=\(directory)/alertmanager",
            "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=", "--log.level=error",
        ]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        child.standardOutput = log
        child.standardError = log
        try child.run()
        process.withLock { $0 = child }
        // Ready: `/-/ready` answers 200 (bounded).
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if let (_, response) = try? await URLSession.shared.data(
                from: URL(string: "http://127.0.0.1:\(port)/-/ready")!),
                (response as? HTTPURLResponse)?.statusCode == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ValidationError("Alertmanager (pid \(child.processIdentifier)) not ready within 15 s")
    }

    func emit(_ keys: [String]) async throws {
        var index = 0
        while index < keys.count {
            let batch = keys[index..<min(index + 64, keys.count)].map { key in
                [
                    "labels": [
                        "alertname": "failover_triggered", "severity": "critical", "cluster": "bench",
                        "dedup_key": key,
                    ],
                    "annotations": ["summary": "benchmark alert \(key)"],
                ]
            }
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v2/alerts")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: batch)
            let (_, response) = try await URLSession.shared.data(for: request)
            guard (response as? HTTPURLResponse)?.statusCode == 200 else {
                throw ValidationError("Alertmanager refused alerts: \(response)")
            }
            index += 64
        }
    }

    /// SIGTERM by PID, a bounded wait, then SIGKILL.
    func stop() async throws {
        guard let child = process.withLock({ $0 }) else { return }
        kill(child.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while child.isRunning && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        if child.isRunning {
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
        }
        process.withLock { $0 = nil }
    }
}

/// A port free on 127.0.0.1 when returned.
func freePort() throws -> Int {
    let reservation = try HTTPReceiver.PortReservation()
    defer { reservation.release() }
    return reservation.port
}

/// The pipeline running in a task of its own, as a `ServiceGroup` would run it.
struct Running {
    let pipeline: AlertPipeline
    let task: Task<Void, any Error>

    init(_ pipeline: AlertPipeline) {
        self.pipeline = pipeline
        task = Task { try await pipeline.run() }
    }

    /// Cancels the pipeline and waits for it: the request in flight finishes and is recorded.
    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

/// What the benchmark keeps of the requests an ``HTTPReceiver`` answers (every one with `200`):
/// per request, when it ended, its `webhook-id` and the dedup key of its first alert.
final class Arrivals: Sendable {
    private struct State {
        /// Arrival times by dedup key, one per request.
        var arrivals: [String: [ContinuousClock.Instant]] = [:]
        var ids: [String: Int] = [:]
        /// Keys a caller waits for, until each arrived `copies` times; kept here so that waiting
        /// costs nothing while requests arrive.
        var waiting: Set<String> = []
        var copies = 1
        var lastCompletion: ContinuousClock.Instant?
        var requests = 0
    }

    private let state = Mutex(State())

    /// Records `request`; the receiver calls this on its event loop as each request ends.
    func observe(_ request: HTTPReceiver.Request) {
        record(id: request.headers["webhook-id"], key: Self.dedupKey(in: request.body), at: request.at)
    }

    private func record(id: String?, key: String?, at: ContinuousClock.Instant) {
        state.withLock { state in
            state.requests += 1
            if let id { state.ids[id, default: 0] += 1 }
            if let key {
                state.arrivals[key, default: []].append(at)
                if state.arrivals[key, default: []].count >= state.copies, state.waiting.remove(key) != nil {
                    state.lastCompletion = max(state.lastCompletion ?? at, at)
                }
            }
        }
    }

    /// How many of `keys` arrived at least once.
    func received(_ keys: [String]) -> Int {
        state.withLock { state in keys.filter { state.arrivals[$0] != nil }.count }
    }

    /// Waits until each key arrived `copies` times (once per channel); returns the last such arrival.
    func waitForAll(_ keys: [String], copies: Int, timeout: Duration) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + timeout
        var last: ContinuousClock.Instant? = state.withLock { state in
            state.copies = copies
            state.lastCompletion = nil
            var last: ContinuousClock.Instant?
            for key in keys {
                if let times = state.arrivals[key], times.count >= copies {
                    last = max(last ?? times.sorted()[copies - 1], times.sorted()[copies - 1])
                } else {
                    state.waiting.insert(key)
                }
            }
            return last
        }
        while true {
            let done: Bool = state.withLock { state in
                guard state.waiting.isEmpty else { return false }
                if let completion = state.lastCompletion { last = max(last ?? completion, completion) }
                return true
            }
            if done, let last { return last }
            guard ContinuousClock.now < deadline else {
                state.withLock { $0.waiting.removeAll() }
                throw ValidationError("only \(received(keys)) of \(keys.count) alerts arrived within \(timeout)")
            }
            try await Task.sleep(for: .microseconds(200))
        }
    }

    /// Waits until at least `count` of `keys` arrived.
    func waitForCount(_ keys: [String], atLeast count: Int, timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while received(keys) < count {
            // A scan per millisecond: cheap next to the deliveries it waits for.
            guard ContinuousClock.now < deadline else {
                throw ValidationError("only \(received(keys)) of \(count) alerts arrived within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Lost: (key, channel) pairs never received; duplicates: requests whose `webhook-id` came
    /// before, or (Alertmanager sends no id) arrivals of an alert beyond one per channel.
    func tally(sent: [String], copies: Int) -> (requests: Int, lost: Int, duplicates: Int) {
        state.withLock { state in
            let lost = sent.map { max(0, copies - (state.arrivals[$0]?.count ?? 0)) }.reduce(0, +)
            let byID = state.ids.values.map { $0 - 1 }.reduce(0, +)
            let byKey = state.arrivals.values.map { max(0, $0.count - copies) }.reduce(0, +)
            return (state.requests, lost, max(byID, byKey))
        }
    }

    /// The first `"dedup_key":"…"` of the body, found without parsing the whole document (the
    /// receiver shares two cores with the pipeline it measures).
    static func dedupKey(in body: Data) -> String? {
        let marker = Array(#""dedup_key":""#.utf8)
        let bytes = Array(body)
        guard bytes.count > marker.count else { return nil }
        for start in 0...(bytes.count - marker.count) where bytes[start] == marker[0] {
            guard bytes[start..<start + marker.count].elementsEqual(marker) else { continue }
            let valueStart = start + marker.count
            guard let end = bytes[valueStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
            return String(decoding: bytes[valueStart..<end], as: UTF8.self)
        }
        return nil
    }
}

func milliseconds(_ duration: Duration) -> Double {
    seconds(duration) * 1000
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    guard !values.isEmpty else { return -1 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
}

func format(_ value: Double) -> String {
    String(format: "%.3f", value)
}
