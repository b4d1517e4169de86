import Foundation
import Postgres
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// One trial: a fresh namespaced lab, `failoverd` as a separate process in the root namespace, a
/// `failoverd proxy` and two writers inside every region's namespace, one fault, `heal`, a settle
/// period, then the checker. Everything started is stopped by PID and the lab is taken down, also
/// when the trial fails half-way.
struct Trial {
    let fault: ChaosFault
    let mode: ReplicationMode
    let number: Int
    let template: String
    let tools: Tools
    /// The trial's own directory: lab state, logs, cluster files and the writers' records.
    let directory: String
    let network: ChaosLab.Network

    /// How long a network fault is held before `heal`.
    static let hold: Duration = .seconds(15)
    /// After `heal`, how long the writers go on before they are stopped and the checker runs.
    static let settle: Duration = .seconds(10)

    func run() async -> TrialVerdict {
        var verdict = TrialVerdict(fault: fault, mode: mode, number: number, directory: directory)
        let input = "\(directory)/input.yaml"
        let lab = ChaosLab(
            directory: "\(directory)/lab", recordsDirectory: directory, inputConfig: input, tools: tools,
            network: network)
        var processes = Processes()
        do {
            try ChaosLab.writeInputConfig(template: template, mode: mode, to: input)
            try await lab.up()
            try await drive(lab: lab, processes: &processes, verdict: &verdict)
        } catch {
            verdict.error = "\(error)"
        }
        processes.stopAll()
        if let failure = await lab.down() {
            verdict.error = (verdict.error.map { $0 + "; " } ?? "") + failure
        }
        return verdict
    }

    private func drive(lab: ChaosLab, processes: inout Processes, verdict: inout TrialVerdict) async throws {
        let endpoints = try lab.endpoints()
        guard let primary = endpoints.first(where: { $0.name == ChaosLab.initialPrimary }) else {
            throw ChaosError("no \(ChaosLab.initialPrimary) in \(lab.clusterFile)")
        }
        try await Checker.sql(
            primary, "create table chaos (client text not null, id bigint not null, primary key (client, id))")

        let faultPoint =
            fault == .daemonKill ? ChaosFault.daemonFaultPoints[(number - 1) % ChaosFault.daemonFaultPoints.count] : nil
        verdict.faultPoint = faultPoint
        let daemon = try await startDaemon(lab: lab, processes: &processes, faultPoint: faultPoint, log: "failoverd")
        for region in Set(endpoints.map(\.region)).sorted() {
            try startRegionClients(region: region, lab: lab, endpoints: endpoints, processes: &processes)
        }
        let clients = processes.writerFiles
        let everyoneWrites = await poll(timeout: .seconds(30)) {
            clients.allSatisfy { !AcknowledgedWrite.read($0.value).isEmpty }
        }
        guard everyoneWrites else {
            let silent = clients.filter { AcknowledgedWrite.read($0.value).isEmpty }.keys.sorted()
            throw ChaosError("before the fault, these writers never committed: \(silent.joined(separator: ", "))")
        }
        try await Task.sleep(for: .seconds(4))

        verdict.faultAt = Date().timeIntervalSince1970
        try await inject(lab: lab, endpoints: endpoints, daemon: daemon, processes: &processes)
        try await lab.ctl(["heal"])
        verdict.healedAt = Date().timeIntervalSince1970
        try await Task.sleep(for: Self.settle)

        // Writers stop first: the rows read from the final primary must include every write a
        // writer recorded, or a write acknowledged after the read would count as lost.
        processes.stopWriters()
        let end = Date().timeIntervalSince1970
        let final = await Checker.finalState(endpoints)
        verdict.reportedRPOBytes = await reportedRPO(lab: lab)
        Checker.judge(
            &verdict, writes: clients.values.flatMap(AcknowledgedWrite.read), final: final, endpoints: endpoints,
            expectation: fault.expectation(mode), end: end)
    }

    /// The fault itself, held for its time; returns once it is ready for `heal`.
    private func inject(
        lab: ChaosLab, endpoints: [LabEndpoint], daemon: ChildProcess, processes: inout Processes
    ) async throws {
        let primary = ChaosLab.initialPrimary
        switch fault {
        case .kill, .alertDown:
            try await lab.ctl(["kill", primary])
            try await Task.sleep(for: Self.hold)
        case .stop:
            try await lab.ctl(["stop", primary])
            try await Task.sleep(for: .seconds(10))
            try await lab.ctl(["cont", primary])
            try await Task.sleep(for: .seconds(5))
        case .isolate:
            try await lab.ctl(["isolate", "us-east"])
            try await Task.sleep(for: Self.hold)
        case .cutControl:
            try await lab.ctl(["cut-control", primary])
            try await Task.sleep(for: Self.hold)
        case .partition:
            try await lab.ctl(["partition", "us-east", "eu-west"])
            try await lab.ctl(["partition", "us-east", "ap-south"])
            try await Task.sleep(for: Self.hold)
        case .outage:
            try await lab.ctl(["outage", "us-east"])
            try await Task.sleep(for: Self.hold)
        case .daemonKill:
            try await lab.ctl(["kill", primary])
            // The daemon kills itself at its fail point; bounded, then it is started again.
            let died = await poll(timeout: .seconds(30)) { !daemon.isRunning }
            guard died else { throw ChaosError("failoverd never reached its fail point within 30 s") }
            _ = try await startDaemon(lab: lab, processes: &processes, faultPoint: nil, log: "failoverd-restarted")
            try await Task.sleep(for: Self.hold)
        case .secondFault:
            try await lab.ctl(["kill", primary])
            let files = processes.writerFiles
            var promoted: LabEndpoint?
            _ = await poll(timeout: .seconds(30)) {
                let servers = Set(files.values.flatMap(AcknowledgedWrite.read).map(\.server))
                promoted = endpoints.first { $0.name != primary && servers.contains($0.address) }
                return promoted != nil
            }
            guard let promoted else { throw ChaosError("no failover within 30 s of the first fault") }
            try await Task.sleep(for: .seconds(3))
            try await lab.ctl(["stop", promoted.name])
            try await Task.sleep(for: .seconds(10))
            try await lab.ctl(["cont", promoted.name])
            try await Task.sleep(for: .seconds(5))
        }
    }

    private func startDaemon(
        lab: ChaosLab, processes: inout Processes, faultPoint: String?, log: String
    ) async throws -> ChildProcess {
        var arguments = ["--config", lab.clusterFile, "--state", "\(directory)/state.sqlite"]
        var environment = ["FAILOVER_API_TOKEN": ChaosLab.token]
        if let faultPoint { environment["FAILOVERD_FAULT_POINT"] = faultPoint }
        if fault == .alertDown {
            // Port 9 of the control plane's address: nothing listens, every delivery is refused.
            arguments += ["--alerts", "alerts/lab.yaml"]
            environment["LAB_ALERT_URL"] = "http://\(lab.network.controlAddress):9/alerts"
        }
        let daemon = try ChildProcess(
            name: "failoverd", executable: tools.failoverd, arguments: arguments, environment: environment,
            output: "\(directory)/\(log).log")
        processes.others.append(daemon)
        let ready = await poll(timeout: .seconds(30)) {
            let answer = await ChildProcess.run(
                [tools.curl, "-sf", "-m", "1", "\(lab.controlURL)/readyz"], timeout: .seconds(3))
            return answer.status == 0 || !daemon.isRunning
        }
        guard ready, daemon.isRunning else { throw ChaosError("failoverd not ready; see \(directory)/\(log).log") }
        return daemon
    }

    /// The region's proxy and its two writers, all inside the region's namespace.
    private func startRegionClients(
        region: String, lab: ChaosLab, endpoints: [LabEndpoint], processes: inout Processes
    ) throws {
        guard let address = endpoints.first(where: { $0.region == region })?.host else { return }
        let proxyFile = try lab.writeProxyFile(region: region, address: address)
        let namespace = lab.namespace(of: region)
        processes.others.append(
            try ChildProcess(
                name: "proxy-\(region)", executable: tools.ip,
                arguments: [
                    "netns", "exec", namespace, tools.failoverd, "proxy", "--config", proxyFile, "--control",
                    lab.controlURL,
                ], environment: ["FAILOVER_API_TOKEN": ChaosLab.token], output: "\(directory)/proxy-\(region).log"))
        let direct = endpoints.map { ["--host", $0.address] }.joined()
        for (kind, hosts) in [("proxy", ["--host", "\(address):\(ChaosLab.proxyPort)"]), ("direct", Array(direct))] {
            let client = "\(region)-\(kind)"
            let out = "\(directory)/writes-\(client).jsonl"
            let writer = try ChildProcess(
                name: client, executable: tools.ip,
                arguments: ["netns", "exec", namespace, tools.chaos, "writer", "--client", client, "--out", out]
                    + hosts,
                environment: ["PGPASSWORD": ChaosLab.password], output: "\(directory)/writer-\(client).log")
            processes.writers.append(writer)
            processes.writerFiles[client] = out
        }
    }

    /// The daemon's own RPO figure of its last failover, only to compare with the checker's count
    /// in asynchronous mode (never used to judge).
    private func reportedRPO(lab: ChaosLab) async -> Int? {
        let answer = await ChildProcess.run(
            [tools.failoverctl, "history", "--json", "--limit", "1"],
            environment: ["FAILOVER_API_URL": lab.controlURL, "FAILOVER_API_TOKEN": ChaosLab.token],
            timeout: .seconds(10))
        try? answer.output.write(toFile: "\(directory)/history.json", atomically: true, encoding: .utf8)
        guard let range = answer.output.range(of: #""rpoBytes"\s*:\s*[0-9]+"#, options: .regularExpression) else {
            return nil
        }
        return Int(answer.output[range].split(separator: ":").last!.trimmingCharacters(in: .whitespaces))
    }
}

/// What a trial started, stopped by PID: writers first (their records must end before the checker
/// reads them), then proxies and daemons.
struct Processes {
    var writers: [ChildProcess] = []
    var writerFiles: [String: String] = [:]
    var others: [ChildProcess] = []

    mutating func stopWriters() {
        for writer in writers { writer.stop() }
    }

    mutating func stopAll() {
        stopWriters()
        for process in others.reversed() { process.stop() }
    }
}
