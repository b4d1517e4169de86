import Foundation
import Lab
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The namespaced lab (`failoverctl lab up --netns`) through the real CLI, on real PostgreSQL 15
/// servers: each region in its own network namespace, faults made with iptables, and nothing left
/// behind by `lab down`. Needs root; without it every test fails saying so.
///
/// It uses its own names (`fot-`), network (10.78.0.0/16) and ports (26431-26435, API 8118), so it
/// runs beside a loopback lab (25431-25435, 8008) or a person's namespaced lab (`fo-`, 10.77).
@Suite(.serialized) struct NetnsLabTests {
    static let prefix = "fot-"
    static let network = "10.78"
    static let password = "failover-lab"
    static let regions = ["us-east": 1, "eu-west": 2, "ap-south": 3]
    /// Endpoint → (region, port), as in the cluster file below.
    static let endpoints = [
        "us-east-1": ("us-east", 26431), "us-east-2": ("us-east", 26432), "eu-west-1": ("eu-west", 26433),
        "eu-west-2": ("eu-west", 26434), "ap-south-1": ("ap-south", 26435),
    ]

    static func address(of region: String) -> String { "\(network).\(regions[region]!).2" }

    /// A lab directory with the cluster file; `body` runs with the lab up, and `down` runs after it
    /// whatever `body` did.
    static func withLab(upOptions: [String] = [], _ body: (NetnsLab) async throws -> Void) async throws {
        guard geteuid() == 0 else {
            Issue.record("NetnsLabTests need root (network namespaces, veth links, iptables); run swift test as root")
            return
        }
        let lab = try NetnsLab()
        defer { try? FileManager.default.removeItem(atPath: lab.directory) }
        let up = lab.ctl(
            ["up", "--netns", "--netns-prefix", prefix, "--netns-network", network] + upOptions, timeout: .seconds(180))
        guard up.status == 0 else {
            _ = lab.ctl(["down"], timeout: .seconds(60))
            Issue.record("lab up --netns failed (\(up.status)): \(up.output)")
            return
        }
        do {
            try await body(lab)
        } catch {
            _ = lab.ctl(["down"], timeout: .seconds(60))
            throw error
        }
        let down = lab.ctl(["down"], timeout: .seconds(60))
        #expect(down.status == 0, "lab down: \(down.output)")
    }

    /// Polls the standby's `pg_stat_wal_receiver.status` ("" when it has none) until `condition`
    /// holds; false after 15 s.
    static func walReceiver(
        of standby: String, in cluster: LabCluster, becomes condition: (String) -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            let status = try cluster.sql(standby, "select coalesce((select status from pg_stat_wal_receiver), '')")
            if condition(status) { return true }
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    @Test(.timeLimit(.minutes(4)))
    func everyServerIsReachableAtItsAddressAndDownLeavesNothing() async throws {
        var pids: [Int32] = []
        try await Self.withLab { lab in
            let cluster = try lab.attach()
            pids = cluster.nodes.map(\.pid) + cluster.nodes.flatMap { LabCluster.childProcesses(of: $0.pid) }
            for (name, (region, port)) in Self.endpoints {
                #expect(
                    TCPProbe.connect(host: Self.address(of: region), port: port) == .connected,
                    "\(name) from the root namespace")
            }
            // Each server listens only on its namespace's address.
            #expect(TCPProbe.connect(host: "127.0.0.1", port: 26431) == .refused)
            // A client inside us-east reaches its own region's servers.
            #expect(lab.psql(from: "us-east", endpoint: "us-east-1").result == .connected)
            #expect(lab.psql(from: "us-east", endpoint: "us-east-2").result == .connected)
            // Standbys stream from their upstream's namespace address.
            let upstreams = [
                "us-east-2": "us-east", "eu-west-1": "us-east", "eu-west-2": "eu-west", "ap-south-1": "us-east",
            ]
            for (standby, upstreamRegion) in upstreams {
                let sender = try cluster.sql(standby, "select sender_host || ' ' || status from pg_stat_wal_receiver")
                #expect(sender == "\(Self.address(of: upstreamRegion)) streaming", "\(standby)")
            }
            // The daemon's cluster file names the namespace addresses and moves the API off 127.0.0.1.
            let clusterFile = try String(contentsOfFile: "\(lab.directory)/cluster.yaml", encoding: .utf8)
            #expect(clusterFile.contains("{ name: eu-west-2, host: \(Self.address(of: "eu-west")), port: 26434 }"))
            #expect(clusterFile.contains("listen: \"\(Self.network).0.1:8118\""))
            #expect(!clusterFile.contains("127.0.0.1"))
            let status = lab.ctl(["status"], timeout: .seconds(30))
            #expect(status.output.contains("\(Self.prefix)eu-west"))
            #expect(status.output.contains("eu-west-1 (streaming)"))
        }
        guard geteuid() == 0 else { return }
        for pid in pids { #expect(!LabCluster.processIsAlive(pid), "process \(pid) outlived lab down") }
        #expect(!NetnsLab.command(["/usr/sbin/ip", "netns", "list"]).contains(Self.prefix))
        #expect(!NetnsLab.command(["/usr/sbin/ip", "link"]).contains(Self.prefix))
        #expect(!NetnsLab.command(["/usr/sbin/iptables", "-w", "-S"]).contains("FAILOVER-LAB-\(Self.prefix)"))
    }

    @Test(.timeLimit(.minutes(5)))
    func faultsDropPacketsAndHealRestoresThem() async throws {
        try await Self.withLab { lab in
            // partition: us-east → eu-west is silence (a timeout, not a refusal); us-east → ap-south works.
            lab.expectSuccess(["partition", "us-east", "eu-west"])
            let cut = lab.psql(from: "us-east", endpoint: "eu-west-1")
            #expect(cut.result == .timedOut, "\(cut.output)")
            #expect(cut.elapsed >= .milliseconds(1_500))
            #expect(lab.psql(from: "us-east", endpoint: "ap-south-1").result == .connected)
            #expect(lab.psql(from: "eu-west", endpoint: "ap-south-1").result == .connected)
            // The established WAL stream us-east-1 → eu-west-1 falls silent too: the standby gives up
            // after wal_receiver_timeout (2 s) and streams again once healed.
            let cluster = try lab.attach()
            #expect(try await Self.walReceiver(of: "eu-west-1", in: cluster, becomes: { $0 != "streaming" }))
            lab.expectSuccess(["heal"])
            #expect(lab.psql(from: "us-east", endpoint: "eu-west-1").result == .connected)
            #expect(try await Self.walReceiver(of: "eu-west-1", in: cluster, becomes: { $0 == "streaming" }))

            // isolate: the root namespace hears nothing from eu-west; inside eu-west all is well.
            lab.expectSuccess(["isolate", "eu-west"])
            #expect(TCPProbe.connect(host: Self.address(of: "eu-west"), port: 26433) == .timedOut)
            #expect(lab.psql(from: "ap-south", endpoint: "eu-west-1").result == .timedOut)
            #expect(lab.psql(from: "eu-west", endpoint: "eu-west-1").result == .connected)
            #expect(lab.psql(from: "eu-west", endpoint: "eu-west-2").result == .connected)
            lab.expectSuccess(["heal"])
            #expect(TCPProbe.connect(host: Self.address(of: "eu-west"), port: 26433) == .connected)

            // cut-control of one endpoint: the control plane loses us-east-1 only.
            lab.expectSuccess(["cut-control", "us-east-1"])
            #expect(TCPProbe.connect(host: Self.address(of: "us-east"), port: 26431) == .timedOut)
            #expect(TCPProbe.connect(host: Self.address(of: "us-east"), port: 26432) == .connected)
            #expect(lab.psql(from: "eu-west", endpoint: "us-east-1").result == .connected)
            lab.expectSuccess(["heal"])
            #expect(TCPProbe.connect(host: Self.address(of: "us-east"), port: 26431) == .connected)

            // outage: both eu-west servers killed by PID; heal starts them again.
            let before = try lab.attach().nodes.filter { $0.region == "eu-west" }.map(\.pid)
            lab.expectSuccess(["outage", "eu-west"])
            for pid in before { #expect(!LabCluster.processIsAlive(pid)) }
            #expect(TCPProbe.connect(host: Self.address(of: "eu-west"), port: 26433) == .refused)
            lab.expectSuccess(["heal"], timeout: .seconds(120))
            #expect(lab.psql(from: "us-east", endpoint: "eu-west-1").result == .connected)

            // latency: this kernel has no netem; one line, non-zero, nothing changed.
            let latency = lab.ctl(["latency", "us-east", "eu-west", "40ms"])
            if latency.status != 0 {
                #expect(latency.output.contains("not supported here"))
                #expect(latency.output.split(separator: "\n").count == 1)
            }
            lab.expectSuccess(["heal"])
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func controlInARegionAndDownAfterACrashOfTheCLI() async throws {
        var pids: [Int32] = []
        try await Self.withLab(upOptions: ["--control-in", "eu-west"]) { lab in
            let status = lab.ctl(["status"])
            #expect(status.output.contains("/usr/sbin/ip netns exec \(Self.prefix)eu-west"), "\(status.output)")
            let clusterFile = try String(contentsOfFile: "\(lab.directory)/cluster.yaml", encoding: .utf8)
            #expect(clusterFile.contains("listen: \"\(Self.address(of: "eu-west")):8118\""))

            // The control plane is eu-west: cutting it from us-east-1 leaves the root namespace alone.
            lab.expectSuccess(["cut-control", "us-east-1"])
            #expect(lab.psql(from: "eu-west", endpoint: "us-east-1").result == .timedOut)
            #expect(lab.psql(from: "eu-west", endpoint: "us-east-2").result == .connected)
            #expect(TCPProbe.connect(host: Self.address(of: "us-east"), port: 26431) == .connected)
            lab.expectSuccess(["heal"])
            #expect(lab.psql(from: "eu-west", endpoint: "us-east-1").result == .connected)

            // The CLI dies after starting the servers and before recording them: only network.json
            // is left, and `down` must still stop every server and remove every namespace.
            let cluster = try lab.attach()
            pids = cluster.nodes.map(\.pid) + cluster.nodes.flatMap { LabCluster.childProcesses(of: $0.pid) }
            try FileManager.default.removeItem(atPath: "\(lab.directory)/lab.json")
        }
        guard geteuid() == 0 else { return }
        for pid in pids { #expect(!LabCluster.processIsAlive(pid), "process \(pid) outlived lab down") }
        #expect(!NetnsLab.command(["/usr/sbin/ip", "netns", "list"]).contains(Self.prefix))
        #expect(!NetnsLab.command(["/usr/sbin/ip", "link"]).contains(Self.prefix))
        #expect(!NetnsLab.command(["/usr/sbin/iptables", "-w", "-S"]).contains("FAILOVER-LAB-\(Self.prefix)"))
    }

    @Test(.timeLimit(.minutes(1)))
    func withoutRootTheCommandsSayRootIsNeeded() async throws {
        guard geteuid() == 0 else {
            Issue.record("NetnsLabTests need root (network namespaces, veth links, iptables); run swift test as root")
            return
        }
        // As `nobody`, through setpriv: the CLI must refuse, in one line, not skip.
        for arguments in [["up", "--netns"], ["partition", "us-east", "eu-west"], ["heal"]] {
            let run = NetnsLab.run(
                ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", NetnsLab.ctlPath, "lab"]
                    + arguments + ["--directory", "/tmp/fot-not-root"], timeout: .seconds(30))
            #expect(run.status != 0)
            #expect(run.output.contains("needs root"), "\(arguments): \(run.output)")
            #expect(run.output.split(separator: "\n").count == 1, "\(arguments): \(run.output)")
        }
    }
}

/// The namespaced lab's plan and cluster file, without creating anything (no root needed).
struct NetnsLabPlanTests {
    @Test func namesFitLinuxInterfaceLimitAndAddressesFollowTheRegionOrder() throws {
        let network = try LabNetwork.plan(
            regions: ["us-east", "eu-west", "asia-pacific-southeast"], controlRegion: "eu-west")
        #expect(network.regions.map(\.namespace) == ["fo-us-east", "fo-eu-west", "fo-r3"])
        #expect(network.regions.map(\.hostLink) == ["fo-us-east-h", "fo-eu-west-h", "fo-r3-h"])
        for region in network.regions { #expect(region.hostLink.count <= 15 && region.namespace.count <= 15) }
        #expect(network.regions.map(\.address) == ["10.77.1.2", "10.77.2.2", "10.77.3.2"])
        #expect(network.regions.map(\.subnet) == ["10.77.1.0/24", "10.77.2.0/24", "10.77.3.0/24"])
        #expect(network.bridge == "fo-br" && network.bridgeAddress == "10.77.0.1" && network.network == "10.77.0.0/16")
        #expect(network.control.namespace == "fo-eu-west" && network.control.address == "10.77.2.2")
        #expect(network.controlCommandPrefix == ["/usr/sbin/ip", "netns", "exec", "fo-eu-west"])
        #expect(throws: LabError.self) { try LabNetwork.plan(regions: ["a"], controlRegion: "b") }
        #expect(throws: LabError.self) { try LabNetwork.plan(regions: ["a"], network: "10.300") }
    }

    @Test func theClusterFileChangesOnlyHostsAndTheAPIAddress() throws {
        let network = try LabNetwork.plan(regions: ["us-east", "eu-west"], network: "10.78")
        let original = """
            cluster: t # a comment stays
            regions:
              - name: us-east
                priority: 10
                leader: { name: a, host: 127.0.0.1, port: 1 }
                replicas:
                  - name: b
                    host: "localhost"
                    port: 2
              - name: eu-west
                priority: 8
                leader: { name: c, host: '127.0.0.1', port: 3 }
            api:
              listen: "127.0.0.1:8118"
            """
        let rewritten = try network.clusterFile(from: original, file: "t.yaml")
        let lines = rewritten.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.contains("cluster: t # a comment stays"))
        #expect(lines.contains("    leader: { name: a, host: 10.78.1.2, port: 1 }"))
        #expect(lines.contains("        host: 10.78.1.2"))
        #expect(lines.contains("    leader: { name: c, host: 10.78.2.2, port: 3 }"))
        #expect(lines.contains("  listen: \"10.78.0.1:8118\""))
        #expect(lines.count == original.split(separator: "\n").count + 2)
        // Without an api section, one is added on the control plane's address.
        let withoutAPI = try network.clusterFile(from: "regions:\n  - name: us-east\n", file: "t.yaml")
        #expect(withoutAPI.hasSuffix("api:\n  listen: \"10.78.0.1:8008\""))
    }
}
