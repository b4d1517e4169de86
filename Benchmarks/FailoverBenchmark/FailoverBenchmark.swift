import ArgumentParser
import Failover
import Foundation
import Health
import Lab
import Logging
import Postgres
import StateStore
import Synchronization
import TestSupport
import Topology
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// Crash, hang and switchover trials on fresh three-region labs under a continuous writer, with
/// the control plane running as failoverd runs it and regions/lab.yaml's settings.
///
/// The writer is an ordinary libpq client: one session committing single-row inserts through a
/// multi-host connection string with `target_session_attrs=read-write`, reconnecting every 50 ms
/// after an error. Client RTO is the time from the fault to its first commit on the new primary;
/// rows lost are acknowledged ids missing on the new primary afterwards.
@main
struct FailoverBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover-benchmark",
        abstract: "Measure failover RTO/RPO and switchover pauses on real labs; last line is one JSON object.")

    @Option(help: "Trials per scenario.")
    var trials = 5

    @Option(help: "Scenarios, comma-separated: crash, hang, switchover.")
    var scenarios = "crash,hang,switchover"

    @Option(help: "Cluster file whose settings the trials use (its ports are replaced by free ones).")
    var config = "regions/lab.yaml"

    func run() async throws {
        let template = try String(contentsOfFile: config, encoding: .utf8)
        var summary: [String: Any] = ["trials": trials]
        for scenario in scenarios.split(separator: ",").map(String.init) {
            guard let fault = Fault(rawValue: scenario) else {
                throw ValidationError("unknown scenario \(scenario); use crash, hang or switchover")
            }
            var results: [TrialResult] = []
            for trial in 1...trials {
                let result = try await Trial(fault: fault, template: template).run()
                results.append(result)
                print(
                    "\(scenario) trial \(trial): client_rto=\(format(result.clientRTO)) s "
                        + "reported_rto=\(format(result.reportedRTO)) s pause=\(format(result.pause)) s "
                        + "acked=\(result.acknowledged) lost=\(result.lost) rpo_bytes=\(result.rpoBytes.map(String.init) ?? "?") "
                        + "new_primary=\(result.newPrimary ?? "none")")
            }
            summary.merge(fault.summarize(results), uniquingKeysWith: { $1 })
        }
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }
}

enum Fault: String {
    case crash, hang, switchover

    func summarize(_ results: [TrialResult]) -> [String: Any] {
        let lost = results.map(\.lost).reduce(0, +)
        switch self {
        case .crash:
            return [
                "rto_client_p50_s": percentile(results.compactMap(\.clientRTO), 0.5),
                "rto_client_max_s": results.compactMap(\.clientRTO).max() ?? -1,
                "rto_reported_p50_s": percentile(results.compactMap(\.reportedRTO), 0.5),
                "acked_rows_lost": lost,
                "crash_failed_trials": results.filter { $0.clientRTO == nil }.count,
            ]
        case .hang:
            return [
                "hang_rto_client_p50_s": percentile(results.compactMap(\.clientRTO), 0.5),
                "hang_rto_client_max_s": results.compactMap(\.clientRTO).max() ?? -1,
                "hang_rto_reported_p50_s": percentile(results.compactMap(\.reportedRTO), 0.5),
                "hang_acked_rows_lost": lost,
                "hang_failed_trials": results.filter { $0.clientRTO == nil }.count,
            ]
        case .switchover:
            return [
                "switchover_pause_p50_s": percentile(results.compactMap(\.pause), 0.5),
                "switchover_pause_max_s": results.compactMap(\.pause).max() ?? -1,
                "switchover_rows_lost": lost,
                "switchover_failed_trials": results.filter { $0.pause == nil }.count,
            ]
        }
    }
}

struct TrialResult {
    var clientRTO: Double?
    var reportedRTO: Double?
    var pause: Double?
    var acknowledged: Int
    var lost: Int
    var rpoBytes: Int64?
    var newPrimary: String?
}

/// Discards events: the benchmark reads the history instead.
struct DiscardEvents: EventSink {
    func emit(_ event: ControlEvent) {}
}

struct Trial {
    let fault: Fault
    let template: String

    func run() async throws -> TrialResult {
        // The lab file's settings, on free ports; no rejoin command (it drives `failoverctl lab`).
        let names = ["us-east-1", "us-east-2", "eu-west-1", "eu-west-2", "ap-south-1"]
        let ports = try LabCluster.freePorts(names.count)
        var yaml = template.split(separator: "\n", omittingEmptySubsequences: false).filter {
            !$0.contains("rejoin_command")
        }.joined(separator: "\n")
        for (index, port) in zip(25431...25435, ports) {
            yaml = yaml.replacingOccurrences(of: "\(index)", with: "\(port)")
        }
        let topology = try TopologyLoader.parse(yaml: yaml, file: "benchmark.yaml", environment: [:])
        let specs = try LabNodeSpec.layout(of: topology)
        let lab = try await LabCluster.start(specs, options: LabOptions(topology: topology))
        do {
            let result = try await measure(lab: lab, topology: topology, ports: ports)
            try await lab.stop()
            return result
        } catch {
            try? await lab.stop()
            throw error
        }
    }

    private func measure(lab: LabCluster, topology: ClusterTopology, ports: [Int]) async throws -> TrialResult {
        _ = try lab.sql("us-east-1", "create table bench(id bigint primary key)")
        var logger = Logger(label: "benchmark")
        logger.logLevel = .critical
        let store = try StateStore(path: lab.baseDirectory + "/control/state.sqlite")
        let monitor = HealthMonitor(
            topology: topology,
            options: HealthMonitor.Options(fastReprobeInterval: topology.failover.fastReprobeInterval),
            logger: logger)
        let service = RegionalFailoverService(
            topology: topology, settings: FailoverSettings(policy: topology.failover), monitor: monitor,
            store: store, events: DiscardEvents(), logger: logger)
        let control = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await monitor.run() }
                group.addTask { try await service.run() }
                try await group.waitForAll()
            }
        }
        defer { control.cancel() }
        try await waitUntil(timeout: .seconds(15)) { await service.status().writeTarget == "us-east-1" }

        // A hung server never answers: the client gives up on a commit after a second, as applications do.
        let writer = AcknowledgingWriter(
            ports: ports, password: lab.password, table: "bench", commitTimeout: .seconds(1))
        let writing = Task { await writer.run(for: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(1500))

        let oldPort = lab.node("us-east-1").port
        let faultAt = ContinuousClock.now
        var record: OperationRecord?
        switch fault {
        case .crash:
            try lab.signal("us-east-1", SIGKILL)
        case .hang:
            try lab.signalServer("us-east-1", SIGSTOP)
        case .switchover:
            record = try await service.switchover(endpoint: "us-east-2", requestedBy: "benchmark")
        }
        // Until the writer commits on another server than the old primary (bounded).
        try? await waitUntil(timeout: .seconds(30)) {
            writer.firstAcknowledgement(after: faultAt, notOn: oldPort) != nil
        }
        try await Task.sleep(for: .milliseconds(500))
        writer.stop()
        let acknowledged = await writing.value
        if fault == .hang { try? lab.signalServer("us-east-1", SIGCONT) }
        if record == nil {
            try? await waitUntil(timeout: .seconds(15)) {
                (try? await service.history(limit: 1).first { $0.status != "in_progress" }) != nil
            }
            record = try await service.history(limit: 1).first
        }
        control.cancel()
        _ = await control.result

        let newPrimary = record?.newPrimary
        var lost = 0
        if let newPrimary {
            let stored = Set(
                try lab.sql(newPrimary, "select id from bench").split(separator: "\n").compactMap { Int($0) })
            lost = acknowledged.filter { !stored.contains($0.id) }.count
        }
        let firstNew = acknowledged.first { $0.at > faultAt && $0.port != oldPort }
        let lastOld = acknowledged.last { $0.port == oldPort }
        let clientRTO = firstNew.map { seconds($0.at - faultAt) }
        let pause = firstNew.flatMap { new in lastOld.map { seconds(new.at - $0.at) } }
        return TrialResult(
            clientRTO: clientRTO, reportedRTO: record?.rtoSeconds, pause: fault == .switchover ? pause : nil,
            acknowledged: acknowledged.count, lost: lost, rpoBytes: record?.rpoBytes, newPrimary: newPrimary)
    }
}

func waitUntil(timeout: Duration, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw CancellationError()
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func percentile(_ values: [Double], _ fraction: Double) -> Double {
    guard !values.isEmpty else { return -1 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
}

func format(_ value: Double?) -> String {
    value.map { String(format: "%.3f", $0) } ?? "-"
}
