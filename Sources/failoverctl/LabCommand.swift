import ArgumentParser
import Foundation
import Lab
import Topology

/// `failoverctl lab up|status|down`: the local three-region lab of real PostgreSQL servers.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Start, inspect and stop a lab of real PostgreSQL 15 servers on 127.0.0.1.",
        subcommands: [Up.self, Status.self, Down.self, Rejoin.self, Kill.self]
    )

    struct Options: ParsableArguments {
        @Option(help: "Cluster file describing the lab (loopback endpoints only).")
        var config = "regions/lab.yaml"

        @Option(help: "Directory for data directories, logs and the lab's state file.")
        var directory = ".lab"

        var statePath: String { "\(directory)/lab.json" }

        func loadTopology() throws -> ClusterTopology {
            do throws(TopologyLoadError) {
                return try TopologyLoader.load(path: config)
            } catch {
                printError(error.description)
                throw ExitCode(1)
            }
        }

        func attach() throws -> LabCluster {
            guard FileManager.default.fileExists(atPath: statePath) else {
                printError("no lab recorded in \(statePath); start one with `failoverctl lab up`")
                throw ExitCode(1)
            }
            return try LabCluster.attach(statePath: statePath, options: LabOptions(topology: loadTopology()))
        }
    }

    struct Up: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create and start the servers of the cluster file, then print each endpoint's role and port.")

        @OptionGroup var options: Options

        func run() throws {
            if FileManager.default.fileExists(atPath: options.statePath) {
                let earlier = try options.attach()
                if earlier.nodes.contains(where: { earlier.isRunning($0.name) }) {
                    printError("a lab is already running (\(options.statePath)); stop it with `failoverctl lab down`")
                    throw ExitCode(1)
                }
                try earlier.stop()
                try? FileManager.default.removeItem(atPath: options.directory)
            }
            let topology = try options.loadTopology()
            let specs = try LabNodeSpec.layout(of: topology)
            let dataDirectory = URL(fileURLWithPath: options.directory).standardizedFileURL.path + "/data"
            print("starting \(specs.count) servers of \(topology.name) in \(dataDirectory) ...")
            let lab = try LabCluster.start(
                specs, options: LabOptions(topology: topology, baseDirectory: dataDirectory))
            try lab.save(to: options.statePath)
            try printStatus(of: lab)
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each server's role, upstream, port and PID.")

        @OptionGroup var options: Options

        func run() throws {
            try printStatus(of: options.attach())
        }
    }

    struct Rejoin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an endpoint (an old primary) a standby of another: stop, pg_rewind, start streaming.",
            discussion: "The lab's rejoin procedure; a cluster file's failover.rejoin_command can call it.")

        @OptionGroup var options: Options

        @Argument(help: "The endpoint to rejoin.")
        var endpoint: String

        @Option(help: "The endpoint it streams from afterwards (normally the current primary).")
        var upstream: String

        func run() throws {
            let lab = try options.attach()
            for name in [endpoint, upstream] where !lab.nodes.contains(where: { $0.name == name }) {
                printError("the lab has no endpoint named \(name)")
                throw ExitCode(1)
            }
            try lab.rejoin(endpoint, upstream: upstream)
            try lab.save(to: options.statePath)
            try printStatus(of: lab)
        }
    }

    struct Kill: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inject a fault: kill -9 a server, or hang (stop) and resume (cont) all of its processes.")

        enum Fault: String, ExpressibleByArgument, CaseIterable {
            case kill, stop, cont
        }

        @OptionGroup var options: Options

        @Argument(help: "The endpoint to hit, e.g. us-east-1.")
        var endpoint: String

        @Option(help: "kill (SIGKILL of the postmaster), stop (SIGSTOP of every process), cont (SIGCONT).")
        var fault: Fault = .kill

        func run() throws {
            let lab = try options.attach()
            guard lab.nodes.contains(where: { $0.name == endpoint }) else {
                printError("the lab has no endpoint named \(endpoint)")
                throw ExitCode(1)
            }
            switch fault {
            case .kill: try lab.signal(endpoint, SIGKILL)
            case .stop: try lab.signalServer(endpoint, SIGSTOP)
            case .cont: try lab.signalServer(endpoint, SIGCONT)
            }
            print("\(fault.rawValue): \(endpoint) (pid \(lab.node(endpoint).pid))")
        }
    }

    struct Down: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop every server of the lab by PID and remove its data.")

        @OptionGroup var options: Options

        @Flag(help: "Keep data directories and logs.")
        var keepData = false

        func run() throws {
            let lab = try options.attach()
            let count = lab.nodes.count
            try lab.stop()
            if keepData {
                try FileManager.default.removeItem(atPath: options.statePath)
            } else {
                try FileManager.default.removeItem(atPath: options.directory)
            }
            print("stopped \(count) servers")
        }
    }
}

/// One line per server: what it is now, as the server itself says.
private func printStatus(of lab: LabCluster) throws {
    let byPort = Dictionary(lab.nodes.map { ($0.port, $0.name) }, uniquingKeysWith: { first, _ in first })
    let header = ["ENDPOINT", "REGION", "ADDRESS", "PID", "ROLE", "STREAMS FROM"]
    var rows: [[String]] = []
    for node in lab.nodes {
        var role = "stopped"
        var upstream = "-"
        if lab.isRunning(node.name) {
            let answer =
                (try? lab.sql(
                    node.name,
                    "select pg_is_in_recovery(), coalesce((select sender_port::text || ' ' || status "
                        + "from pg_stat_wal_receiver), '')", timeout: .seconds(3))) ?? "unreachable"
            let fields = answer.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            if fields.count == 2 {
                role = fields[0] == "t" ? "standby" : "primary"
                let receiver = fields[1].split(separator: " ")
                if receiver.count == 2, let port = Int(receiver[0]) {
                    upstream = "\(byPort[port] ?? "port \(port)") (\(receiver[1]))"
                } else if fields[0] == "t" {
                    upstream = "not streaming"
                }
            } else {
                role = "unreachable"
            }
        }
        rows.append([node.name, node.region, "\(node.host):\(node.port)", String(node.pid), role, upstream])
    }
    let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
    for row in [header] + rows {
        print(
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces))
    }
}
