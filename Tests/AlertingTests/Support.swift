import Alerting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import StateStore
import Synchronization
import TestSupport
import Testing
import Topology
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// The repository root, found from this file's location so tests run from any directory.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

extension HTTPReceiver {
    /// Waits (at most `timeout`) until `count` requests arrived; records an issue when fewer did.
    func waitForRequests(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [Request] {
        let arrived = try await requests(atLeast: count, within: timeout)
        if arrived.count < count {
            Issue.record("expected \(count) requests within \(timeout), got \(arrived.count)")
        }
        return arrived
    }
}

/// Keeps every log line (message and metadata) so tests can search them for secrets.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    func logger(level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "alerting-test") { _ in CapturingHandler(capture: self) }
        logger.logLevel = level
        return logger
    }
}

private struct CapturingHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let facts = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append("\(event.level) \(event.message) \(facts)")
    }
}

/// A fresh store file in a temporary directory.
func temporaryStorePath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("alerting-\(UUID().uuidString)/state.sqlite")
        .path
}

/// A control event with sensible defaults.
func event(
    _ kind: ControlEvent.Kind, _ severity: ControlEvent.Severity = .critical, cluster: String = "orders",
    region: String? = "us-east", endpoint: String? = "use1-a", summary: String? = nil,
    facts: [String: String] = [:], at: Date = Date(), dedupKey: String? = nil
) -> ControlEvent {
    ControlEvent(
        kind: kind, severity: severity, cluster: cluster, region: region, endpoint: endpoint,
        summary: summary ?? "\(kind.rawValue) on \(endpoint ?? cluster)", facts: facts, at: at,
        dedupKey: dedupKey ?? "\(cluster)/\(kind.rawValue)/\(endpoint ?? "-")")
}

/// Runs `pipeline` in a task; `stop` cancels it and waits (bounded) for it to finish.
struct RunningPipeline {
    let pipeline: AlertPipeline
    let task: Task<Void, any Error>

    init(_ pipeline: AlertPipeline) {
        self.pipeline = pipeline
        task = Task { try await pipeline.run() }
    }

    func stop() async throws {
        task.cancel()
        let finished = Mutex(false)
        let waiter = Task {
            _ = await task.result
            finished.withLock { $0 = true }
        }
        let deadline = ContinuousClock.now + .seconds(15)
        while !finished.withLock({ $0 }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(finished.withLock { $0 }, "the pipeline did not stop within 15 s")
        _ = waiter
    }
}

/// Waits (at most `timeout`) until `condition` holds.
func eventually(
    timeout: Duration = .seconds(10), _ what: String, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("timed out after \(timeout) waiting until \(what)")
}
