import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The chaos suite: trials of a fault matrix on fresh namespaced labs, with `failoverd` as its own
/// process and clients inside every region, judged by an independent checker (docs/chaos.md).
@main
struct FailoverChaos: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover-chaos",
        abstract: "Fault-matrix trials on namespaced labs, judged by a checker; last line is one JSON object.",
        subcommands: [RunMatrix.self, WriterCommand.self],
        defaultSubcommand: RunMatrix.self)
}

struct RunMatrix: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the trials and print the figures (default).")

    @Option(help: "Trials per fault and mode.")
    var trials = 1

    @Option(help: "Faults, comma-separated: \(ChaosFault.allCases.map(\.rawValue).joined(separator: ", ")).")
    var faults = ChaosFault.main.map(\.rawValue).joined(separator: ",")

    @Option(help: "Replication modes, comma-separated: sync, async.")
    var modes = "sync"

    @Flag(help: "One trial of each main fault in synchronous mode (what scripts/test runs).")
    var short = false

    @Option(help: "Cluster file the labs are made from.")
    var config = "regions/lab.yaml"

    @Option(help: "Prefix of the labs' namespaces and links (at most 6 characters); differs from other labs'.")
    var netnsPrefix = "foc-"

    @Option(help: "First two octets of the labs' /16; differs from other labs'.")
    var netnsNetwork = "10.79"

    @Option(help: "Directory for the trials' logs and records (a new one under /tmp by default).")
    var output: String?

    func validate() throws {
        guard trials >= 1 else { throw ValidationError("--trials must be at least 1") }
    }

    func run() async throws {
        let checkerFailures = CheckerSelfCheck.run()
        guard checkerFailures.isEmpty else {
            printError("failover-chaos: the checker judges synthetic trials wrongly: \(checkerFailures)")
            throw ExitCode(1)
        }
        guard getuid() == 0 else {
            printError("failover-chaos needs root: the namespaced lab creates network namespaces and iptables rules")
            throw ExitCode(1)
        }
        Interruption.install()
        let faultList = try short ? ChaosFault.main : parse(faults, as: ChaosFault.self, "--faults")
        let modeList = try short ? [.sync] : parse(modes, as: ReplicationMode.self, "--modes")
        let trialCount = short ? 1 : trials
        let template = try String(contentsOfFile: config, encoding: .utf8)
        let tools = try Tools.locate()
        let root = output ?? "/tmp/failover-chaos-\(Int(Date().timeIntervalSince1970))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        // The servers run as `postgres` and must reach their data directories below it.
        chmod(root, 0o755)
        say(
            "failover-chaos: \(trialCount) trial(s) of \(faultList.map(\.rawValue)) in \(modeList.map(\.rawValue)); "
                + "records in \(root)")

        var verdicts: [TrialVerdict] = []
        for mode in modeList {
            for fault in faultList {
                for number in 1...trialCount {
                    let directory = "\(root)/\(mode.rawValue)-\(fault.rawValue)-\(number)"
                    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                    chmod(directory, 0o755)
                    let verdict = await Trial(
                        fault: fault, mode: mode, number: number, template: template, tools: tools,
                        directory: directory,
                        network: ChaosLab.Network(prefix: netnsPrefix, network: netnsNetwork)
                    ).run()
                    say(Summary.line(verdict))
                    Summary.record(verdict)
                    // Progress shows as it happens, also when the output is a file.
                    verdicts.append(verdict)
                }
            }
        }
        let summary = Summary.figures(verdicts)
        for verdict in verdicts where verdict.failed {
            say(
                "FAILED \(verdict.mode.rawValue) \(verdict.fault.rawValue) #\(verdict.number) (\(verdict.directory)):")
            if let error = verdict.error { say("  error: \(error)") }
            for broken in verdict.broken { say("  broken: \(broken)") }
        }
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        say(String(decoding: data, as: UTF8.self))
        if verdicts.contains(where: \.failed) { throw ExitCode(1) }
    }

    private func parse<Value: RawRepresentable<String>>(_ list: String, as: Value.Type, _ option: String) throws
        -> [Value]
    {
        try list.split(separator: ",").map {
            guard let value = Value(rawValue: String($0)) else { throw ValidationError("\(option): unknown \($0)") }
            return value
        }
    }
}

/// One line on standard output at once (unbuffered), so progress shows as it happens also when
/// the output goes to a file.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
