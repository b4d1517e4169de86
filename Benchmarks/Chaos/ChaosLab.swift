import Foundation
import TestSupport
import Topology

/// One namespaced lab of a trial, driven through `failoverctl lab ... --directory DIR` (the same
/// commands an operator types, see docs/lab.md), with a prefix and network of its own so that it
/// never meets a lab of the tests (`fot-`, 10.78) or of an operator (`fo-`, 10.77).
struct ChaosLab {
    /// Where the lab's names and addresses come from (`--netns-prefix`, `--netns-network`).
    struct Network: Sendable {
        var prefix = "foc-"
        var network = "10.79"
        /// The bridge's address in the root namespace, where failoverd runs.
        var controlAddress: String { "\(network).0.1" }
    }

    static let password = "failover-lab"
    static let token = "lab-operator-token"
    /// regions/lab.yaml's API port; `lab up --netns` moves the API to the bridge address.
    static let apiPort = 8008
    static let proxyPort = 6432
    static let initialPrimary = "us-east-1"

    /// The lab's own directory (`--directory`): `lab down` removes it with everything in it.
    let directory: String
    /// The trial's directory, which outlives the lab: cluster files of the proxies, logs, records.
    let recordsDirectory: String
    /// The cluster file given to `lab up` (regions/lab.yaml adapted to the trial's mode).
    let inputConfig: String
    let tools: Tools
    let network: Network

    var clusterFile: String { "\(directory)/cluster.yaml" }
    var controlURL: String { "http://\(network.controlAddress):\(Self.apiPort)" }

    func namespace(of region: String) -> String { network.prefix + region }

    /// `failoverctl lab SUBCOMMAND --directory DIR --config FILE REST...`, bounded.
    @discardableResult
    func ctl(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> String {
        let run = await ChildProcess.run(
            [tools.failoverctl, "lab", arguments[0], "--directory", directory, "--config", inputConfig]
                + arguments.dropFirst(), timeout: timeout)
        guard run.status == 0 else {
            throw ChaosError("lab \(arguments.joined(separator: " ")) failed (\(run.status)): \(run.output)")
        }
        return run.output
    }

    func up() async throws {
        // Registered before anything exists: `lab down` removes whatever a half-done `up` left.
        Interruption.labIsUp([
            tools.failoverctl, "lab", "down", "--directory", directory, "--config", inputConfig,
        ])
        try await ctl(
            ["up", "--netns", "--netns-prefix", network.prefix, "--netns-network", network.network],
            timeout: .seconds(120))
    }

    /// Takes the lab down whatever state it is in; never throws, so it can run after any failure.
    func down() async -> String? {
        // The network log goes with the lab's directory; it is kept with the trial's records.
        try? FileManager.default.copyItem(atPath: "\(directory)/network.log", toPath: "\(recordsDirectory)/network.log")
        do {
            try await ctl(["down"], timeout: .seconds(60))
            Interruption.labIsUp(nil)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// The endpoints of the cluster file `lab up` wrote (namespace addresses).
    func endpoints() throws -> [LabEndpoint] {
        let topology: ClusterTopology
        do {
            topology = try TopologyLoader.load(path: clusterFile, environment: [:])
        } catch {
            throw ChaosError("\(clusterFile): \(error.description)")
        }
        return topology.allEndpoints.map {
            LabEndpoint(name: $0.name, region: $0.region, host: $0.host, port: $0.port)
        }
    }

    /// A copy of the lab's cluster file for the proxy of `region`: the same endpoints and API, with
    /// a `routing:` section listening on the region's own address (`enabled: false` only concerns a
    /// proxy inside the daemon; `failoverd proxy` listens whatever it says).
    func writeProxyFile(region: String, address: String) throws -> String {
        let path = "\(recordsDirectory)/proxy-\(region).yaml"
        let text = try String(contentsOfFile: clusterFile, encoding: .utf8)
        let routing = """

            routing:
              enabled: false
              listen_rw: "\(address):\(Self.proxyPort)"
              listen_ro: "\(address):\(Self.proxyPort + 1)"

            """
        try (text + routing).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// regions/lab.yaml for a trial: no rejoin command (it names the default lab directory), and
    /// with asynchronous replication when asked.
    static func writeInputConfig(template: String, mode: ReplicationMode, to path: String) throws {
        var lines = template.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.removeAll { $0.contains("rejoin_command") }
        if mode == .async {
            lines.removeAll { $0.contains("synchronous_standbys:") || $0.contains("synchronous_count:") }
            lines = lines.map { $0 == "  mode: synchronous" ? "  mode: asynchronous" : $0 }
        }
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }
}

/// An endpoint of the lab as the clients and the checker reach it.
struct LabEndpoint: Sendable {
    var name: String
    var region: String
    var host: String
    var port: Int
    /// `host:port`, as a writer records the acknowledging server.
    var address: String { "\(host):\(port)" }
}

/// The programs a trial starts, found next to the chaos binary (the same build).
struct Tools {
    var chaos: String
    var failoverd: String
    var failoverctl: String
    var ip = "/usr/sbin/ip"
    var curl = "/usr/bin/curl"

    static func locate() throws -> Tools {
        let chaos = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let directory = URL(fileURLWithPath: chaos).deletingLastPathComponent().path
        let tools = Tools(
            chaos: chaos, failoverd: directory + "/failoverd", failoverctl: directory + "/failoverctl")
        for path in [tools.failoverd, tools.failoverctl, tools.ip, tools.curl]
        where !FileManager.default.isExecutableFile(atPath: path) {
            throw ChaosError(
                "\(path) not found: build failoverd and failoverctl (swift build) and install iproute2 and curl")
        }
        return tools
    }
}
