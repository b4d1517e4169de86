import ArgumentParser
import Foundation
import Lab
import Topology

/// `failoverctl lab up|status|down`: the local three-region lab of real PostgreSQL servers, on
/// 127.0.0.1 or (`--netns`) with each region in a network namespace of its own; docs/lab.md.
struct LabCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lab",
        abstract: "Start, inspect, break and stop a lab of real PostgreSQL 15 servers (see docs/lab.md).",
        subcommands: [
            Up.self, Status.self, Down.self, Rejoin.self, Kill.self, StopServer.self, ContinueServer.self,
            Exec.self, Partition.self, Isolate.self, CutControl.self, Outage.self, Latency.self, Heal.self,
        ]
    )

    struct Options: ParsableArguments {
        @Option(help: "Cluster file describing the lab (loopback endpoints only).")
        var config = "regions/lab.yaml"

        @Option(help: "Directory for data directories, logs and the lab's state file.")
        var directory = ".lab"

        var statePath: String { "\(directory)/lab.json" }
        /// The namespaced lab's network plan and faults, written before anything is created.
        var networkPath: String { "\(directory)/network.json" }
        /// Output of every `ip`, `iptables` and `tc` command the lab runs.
        var networkLog: String { "\(directory)/network.log" }
        /// The cluster file for a daemon driving a namespaced lab.
        var clusterFilePath: String { "\(directory)/cluster.yaml" }

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

        @Flag(help: "Each region in a network namespace of its own, joined by a bridge (needs root).")
        var netns = false

        @Option(help: "With --netns: the region whose namespace the control plane runs in (default: root namespace).")
        var controlIn: String?

        @Option(help: "With --netns: prefix of every namespace, link and bridge name (at most 6 characters).")
        var netnsPrefix = "fo-"

        @Option(help: "With --netns: first two octets of the lab's /16; region i gets <octets>.i.0/24.")
        var netnsNetwork = "10.77"

        func run() throws {
            if netns { try requireRoot("failoverctl lab up --netns") }
            if controlIn != nil && !netns { fail("--control-in needs --netns") }
            try removeStoppedLab()
            let topology = try options.loadTopology()
            let dataDirectory = URL(fileURLWithPath: options.directory).standardizedFileURL.path + "/data"
            guard netns else {
                let specs = try LabNodeSpec.layout(of: topology)
                print("starting \(specs.count) servers of \(topology.name) in \(dataDirectory) ...")
                let lab = try LabCluster.start(
                    specs, options: LabOptions(topology: topology, baseDirectory: dataDirectory))
                try lab.save(to: options.statePath)
                try printStatus(of: lab, network: nil)
                return
            }
            try FileManager.default.createDirectory(atPath: options.directory, withIntermediateDirectories: true)
            let network = try createNetwork(regions: topology.regions.map(\.name))
            do {
                let specs = try LabNodeSpec.layout(of: topology, in: network)
                print("starting \(specs.count) servers of \(topology.name) in \(dataDirectory) ...")
                var labOptions = LabOptions(topology: topology, baseDirectory: dataDirectory)
                labOptions.clientNetworks = [network.network]
                let lab = try LabCluster.start(specs, options: labOptions)
                try lab.save(to: options.statePath)
                let text = try String(contentsOfFile: options.config, encoding: .utf8)
                try network.clusterFile(from: text, file: options.config)
                    .write(toFile: options.clusterFilePath, atomically: true, encoding: .utf8)
                try printStatus(of: lab, network: network, clusterFile: options.clusterFilePath)
            } catch {
                // LabCluster.start stops what it started; the network goes too.
                _ = network.destroy(log: options.networkLog)
                try? FileManager.default.removeItem(atPath: options.networkPath)
                throw error
            }
        }

        /// A lab whose servers all stopped (a reboot, a crash of the CLI) is cleaned up before a new one.
        private func removeStoppedLab() throws {
            let manager = FileManager.default
            if manager.fileExists(atPath: options.statePath) {
                let earlier = try options.attach()
                if earlier.nodes.contains(where: { earlier.isRunning($0.name) }) {
                    fail("a lab is already running (\(options.statePath)); stop it with `failoverctl lab down`")
                }
                try earlier.stop()
            }
            if manager.fileExists(atPath: options.networkPath) {
                try requireRoot("removing the earlier namespaced lab's network")
                let problems = try LabNetwork.load(from: options.networkPath).destroy(log: options.networkLog)
                if !problems.isEmpty {
                    fail("cannot remove the earlier lab's network: \(problems.joined(separator: "; "))")
                }
            }
            if manager.fileExists(atPath: options.statePath) || manager.fileExists(atPath: options.networkPath) {
                try? manager.removeItem(atPath: options.directory)
            }
        }

        /// Records the plan first, so that `lab down` can undo a half-made network after a crash.
        private func createNetwork(regions: [String]) throws -> LabNetwork {
            var network = try LabNetwork.plan(
                regions: regions, prefix: netnsPrefix, network: netnsNetwork, controlRegion: controlIn)
            // Names taken by another lab: stop here, before recording them as ours (a failed `up`
            // removes what its plan names, and must never remove another lab's network).
            let taken = network.leftovers(log: options.networkLog)
            if !taken.isEmpty {
                fail(
                    "\(taken.joined(separator: ", ")) already exist (another namespaced lab?); remove it with "
                        + "`failoverctl lab down --directory DIR` or choose another --netns-prefix")
            }
            try network.save(to: options.networkPath)
            do {
                try network.create(log: options.networkLog)
                try network.save(to: options.networkPath)
            } catch {
                _ = network.destroy(log: options.networkLog)
                try? FileManager.default.removeItem(atPath: options.networkPath)
                throw error
            }
            return network
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print each server's role, upstream, port and PID.")

        @OptionGroup var options: Options

        func run() throws {
            let network = try? LabNetwork.load(from: options.networkPath)
            // Each server is asked from its own namespace, which only root can enter.
            if network != nil { try requireRoot("failoverctl lab status of a namespaced lab") }
            try printStatus(of: options.attach(), network: network, clusterFile: options.clusterFilePath)
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
            try printStatus(
                of: lab, network: try? LabNetwork.load(from: options.networkPath), clusterFile: options.clusterFilePath)
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
            abstract: "Stop every server by PID, remove the lab's namespaces, links, bridge and rules, and its data.")

        @OptionGroup var options: Options

        @Flag(help: "Keep data directories and logs.")
        var keepData = false

        func run() throws {
            let manager = FileManager.default
            let network = try? LabNetwork.load(from: options.networkPath)
            if network != nil { try requireRoot("failoverctl lab down of a namespaced lab") }
            if network == nil && !manager.fileExists(atPath: options.statePath) {
                fail("no lab recorded in \(options.directory); start one with `failoverctl lab up`")
            }
            var count = 0
            if manager.fileExists(atPath: options.statePath) {
                let lab = try options.attach()
                count = lab.nodes.count
                try lab.stop()
                try manager.removeItem(atPath: options.statePath)
            }
            if let network {
                let problems = network.destroy(log: options.networkLog) + network.leftovers(log: options.networkLog)
                guard problems.isEmpty else {
                    fail("stopped \(count) servers, but could not remove: \(problems.joined(separator: "; "))")
                }
                try manager.removeItem(atPath: options.networkPath)
                try? manager.removeItem(atPath: options.clusterFilePath)
            }
            if !keepData { try manager.removeItem(atPath: options.directory) }
            print(
                "stopped \(count) servers" + (network == nil ? "" : "; removed the lab's namespaces, links and rules"))
        }
    }
}

/// Prints `message` as one line on standard error and exits 1.
func fail(_ message: String) -> Never {
    printError(message)
    Foundation.exit(1)
}

/// Exits with one line unless the caller is root.
func requireRoot(_ what: String) throws {
    do throws(LabError) {
        try LabNetwork.requireRoot(for: what)
    } catch {
        fail(error.description)
    }
}
