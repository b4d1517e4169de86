import ArgumentParser
import Foundation
import Lab

#if canImport(Glibc)
    import Glibc
#endif

/// The namespaced lab's commands: run a command in a region, break the network, heal it.
/// Each needs root and a lab started with `failoverctl lab up --netns`; docs/lab.md.
extension LabCommand.Options {
    /// The namespaced lab's network, or one line saying why there is none.
    func loadNetwork(for what: String) throws -> LabNetwork {
        try requireRoot("failoverctl lab \(what)")
        guard FileManager.default.fileExists(atPath: networkPath) else {
            fail("lab \(what) needs a namespaced lab; start one with `failoverctl lab up --netns`")
        }
        return try LabNetwork.load(from: networkPath)
    }

    /// Runs `change` on the network and records the result, also when it failed half-way (the rules
    /// it added are in the chains either way; `heal` flushes them).
    func changeNetwork(_ what: String, _ change: (inout LabNetwork) throws(LabError) -> Void) throws {
        var network = try loadNetwork(for: what)
        do throws(LabError) {
            try change(&network)
        } catch {
            try network.save(to: networkPath)
            fail(error.description)
        }
        try network.save(to: networkPath)
    }
}

extension LabCommand {
    struct Exec: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a command inside a region's network namespace, as `ip netns exec` does.",
            discussion: "E.g. failoverctl lab exec us-east -- psql -h 10.77.2.2 -p 25433 -U postgres")

        @OptionGroup var options: LabCommand.Options

        @Argument(help: "The region whose namespace the command runs in.")
        var region: String

        @Argument(parsing: .postTerminator, help: "The command and its arguments, after --.")
        var command: [String] = []

        func validate() throws {
            guard !command.isEmpty else { throw ValidationError("give the command after --, e.g. -- psql ...") }
        }

        func run() throws {
            let network = try options.loadNetwork(for: "exec")
            let namespace: String
            do throws(LabError) { namespace = try network.region(region).namespace } catch { fail(error.description) }
            // Replaces this process, so the command owns the terminal and its exit status is ours.
            let argv = ["/usr/sbin/ip", "netns", "exec", namespace] + command
            let cArguments = argv.map { strdup($0) } + [nil]
            execv(argv[0], cArguments)
            fail("exec \(argv[0]): \(String(cString: strerror(errno)))")
        }
    }

    struct Partition: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop every packet between two regions, both ways (TCP sees silence); undo with heal.")

        @OptionGroup var options: LabCommand.Options
        @Argument(help: "A region.") var first: String
        @Argument(help: "Another region.") var second: String

        func run() throws {
            try options.changeNetwork("partition") { (network) throws(LabError) in
                try network.partition(first, second, log: options.networkLog)
            }
            print("partition: \(first) and \(second) no longer hear each other")
        }
    }

    struct Isolate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cut a region off from every other region and from the root namespace; undo with heal.")

        @OptionGroup var options: LabCommand.Options
        @Argument(help: "The region.") var region: String

        func run() throws {
            try options.changeNetwork("isolate") { (network) throws(LabError) in
                try network.isolate(region, log: options.networkLog)
            }
            print("isolate: \(region) hears only itself")
        }
    }

    struct CutControl: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cut-control",
            abstract: "Drop packets between the control plane and one endpoint or region; undo with heal.")

        @OptionGroup var options: LabCommand.Options
        @Argument(help: "An endpoint (only its port is cut) or a region (all of it).") var target: String

        func run() throws {
            let network = try options.loadNetwork(for: "cut-control")
            var region = target
            var port: Int?
            if !network.regions.contains(where: { $0.name == target }) {
                guard let node = try options.attach().nodes.first(where: { $0.name == target }) else {
                    fail("no region or endpoint named \(target)")
                }
                region = node.region
                port = node.port
            }
            try options.changeNetwork("cut-control") { (network) throws(LabError) in
                try network.cutControl(region: region, port: port, target: target, log: options.networkLog)
            }
            print("cut-control: the control plane (\(network.control.address)) and \(target) no longer hear each other")
        }
    }

    struct Outage: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "kill -9 every server of a region (by PID); heal starts them again.")

        @OptionGroup var options: LabCommand.Options
        @Argument(help: "The region.") var region: String

        func run() throws {
            _ = try options.loadNetwork(for: "outage")
            let lab = try options.attach()
            let victims = lab.nodes.filter { $0.region == region }
            if victims.isEmpty { fail("the lab has no servers in a region named \(region)") }
            try options.changeNetwork("outage") { (network) throws(LabError) in
                try network.recordOutage(region)
                for node in victims where lab.isRunning(node.name) {
                    try lab.signalServer(node.name, SIGKILL)
                }
            }
            print("outage \(region): killed " + victims.map { "\($0.name) (pid \($0.pid))" }.joined(separator: ", "))
        }
    }

    struct Latency: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delay packets between two regions with tc netem, where the kernel has it; undo with heal.")

        @OptionGroup var options: LabCommand.Options
        @Argument(help: "A region.") var first: String
        @Argument(help: "Another region.") var second: String
        @Argument(help: "The delay each way, e.g. 40ms.") var delay: String

        func run() throws {
            let digits = delay.hasSuffix("ms") ? String(delay.dropLast(2)) : delay
            guard let milliseconds = Int(digits) else { fail("latency: \"\(delay)\" is not a delay; write e.g. 40ms") }
            try options.changeNetwork("latency") { (network) throws(LabError) in
                try network.addLatency(first, second, milliseconds: milliseconds, log: options.networkLog)
            }
            print("latency: \(milliseconds) ms each way between \(first) and \(second)")
        }
    }

    struct Heal: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Undo every fault: flush the lab's iptables chains, remove delays, restart servers of an outage.")

        @OptionGroup var options: LabCommand.Options

        func run() throws {
            var network = try options.loadNetwork(for: "heal")
            let undone = network.faults
            var (outages, problems) = network.heal(log: options.networkLog)
            if !outages.isEmpty {
                let lab = try options.attach()
                for node in lab.nodes where outages.contains(node.region) {
                    do throws(LabError) {
                        try lab.restartAfterCrash(node.name)
                    } catch {
                        problems.append(error.description)
                        // Still down: the next heal tries again.
                        try? network.recordOutage(node.region)
                    }
                }
                try lab.save(to: options.statePath)
            }
            try network.save(to: options.networkPath)
            if !problems.isEmpty { fail("heal: " + problems.joined(separator: "; ")) }
            print(
                "healed: "
                    + (undone.isEmpty ? "no faults were in force" : undone.map(\.description).joined(separator: "; ")))
        }
    }

    struct StopServer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Hang a server: SIGSTOP to every one of its processes (lab kill --fault stop).")

        @OptionGroup var options: LabCommand.Options
        @Argument(help: "The endpoint.") var endpoint: String

        func run() throws {
            var kill = try LabCommand.Kill.parse([endpoint, "--fault", "stop", "--directory", options.directory])
            kill.options = options
            try kill.run()
        }
    }

    struct ContinueServer: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cont", abstract: "Resume a hung server: SIGCONT to every one of its processes.")

        @OptionGroup var options: LabCommand.Options
        @Argument(help: "The endpoint.") var endpoint: String

        func run() throws {
            var kill = try LabCommand.Kill.parse([endpoint, "--fault", "cont", "--directory", options.directory])
            kill.options = options
            try kill.run()
        }
    }
}
