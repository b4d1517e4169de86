import Foundation
import Lab
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The harness itself, on real PostgreSQL 15 servers: the three-region layout comes up with the
/// right upstreams, and a stop leaves no process and no bound port behind.
@Suite(.serialized) struct LabTests {
    /// us-east: primary + replica; eu-west: standby leader + cascaded replica; ap-south: standby leader.
    static func threeRegions() throws -> [LabNodeSpec] {
        let ports = try LabCluster.freePorts(5)
        return [
            LabNodeSpec(name: "us-east-1", region: "us-east", port: ports[0], upstream: nil),
            LabNodeSpec(name: "us-east-2", region: "us-east", port: ports[1], upstream: "us-east-1"),
            LabNodeSpec(name: "eu-west-1", region: "eu-west", port: ports[2], upstream: "us-east-1"),
            LabNodeSpec(name: "eu-west-2", region: "eu-west", port: ports[3], upstream: "eu-west-1"),
            LabNodeSpec(name: "ap-south-1", region: "ap-south", port: ports[4], upstream: "us-east-1"),
        ]
    }

    @Test(.timeLimit(.minutes(3)))
    func threeRegionLabStreamsFromTheExpectedUpstreams() async throws {
        let specs = try Self.threeRegions()
        let options = LabOptions(synchronousStandbys: ["us-east-2", "eu-west-1"])
        var pids: [Int32] = []
        var children: [Int32] = []
        try await LabCluster.withCluster(specs, options: options) { lab in
            pids = lab.nodes.map(\.pid)
            children = lab.nodes.flatMap { LabCluster.childProcesses(of: $0.pid) }
            #expect(!children.isEmpty)

            #expect(try lab.sql("us-east-1", "select pg_is_in_recovery()") == "f")
            for standby in specs where standby.upstream != nil {
                #expect(try lab.sql(standby.name, "select pg_is_in_recovery()") == "t")
                #expect(try lab.sql(standby.name, "select status from pg_stat_wal_receiver") == "streaming")
                let upstream = lab.node(standby.upstream!)
                #expect(
                    try lab.sql(standby.name, "select sender_port from pg_stat_wal_receiver") == String(upstream.port))
            }
            // Who streams from whom, as each sender sees it.
            let senders = { (name: String) throws -> [String] in
                try lab.sql(name, "select application_name from pg_stat_replication order by 1")
                    .split(separator: "\n").map(String.init)
            }
            #expect(try senders("us-east-1") == ["ap-south-1", "eu-west-1", "us-east-2"])
            #expect(try senders("eu-west-1") == ["eu-west-2"])
            #expect(try senders("ap-south-1") == [])

            // Synchronous commit: a row written on the primary is on the cascaded replica soon after.
            #expect(
                try lab.sql("us-east-1", "show synchronous_standby_names") == "ANY 1 (\"us-east-2\", \"eu-west-1\")")
            _ = try lab.sql("us-east-1", "create table lab_probe(id int); insert into lab_probe values (42)")
            var seen = ""
            for _ in 0..<100 where seen != "42" {
                seen = (try? lab.sql("eu-west-2", "select id from lab_probe")) ?? ""
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(seen == "42")
        }
        for pid in pids + children {
            #expect(!LabCluster.processIsAlive(pid), "process \(pid) outlived the lab")
        }
        for spec in specs {
            #expect(LabCluster.portIsFree(spec.port), "port \(spec.port) of \(spec.name) is still bound")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aKilledPrimaryIsStillCleanedUp() async throws {
        let ports = try LabCluster.freePorts(2)
        let specs = [
            LabNodeSpec(name: "p", region: "r", port: ports[0], upstream: nil),
            LabNodeSpec(name: "s", region: "r", port: ports[1], upstream: "p"),
        ]
        var pids: [Int32] = []
        try await LabCluster.withCluster(specs) { lab in
            pids = lab.nodes.map(\.pid) + lab.nodes.flatMap { LabCluster.childProcesses(of: $0.pid) }
            try lab.signal("p", SIGKILL)
            try lab.signal("s", SIGSTOP)
        }
        for pid in pids { #expect(!LabCluster.processIsAlive(pid)) }
        for port in ports { #expect(LabCluster.portIsFree(port)) }
    }

    @Test func aLayoutWithTwoPrimariesIsRejected() async throws {
        let specs = [
            LabNodeSpec(name: "a", region: "r", port: 1, upstream: nil),
            LabNodeSpec(name: "b", region: "r", port: 2, upstream: nil),
        ]
        await #expect(throws: LabError.self) { _ = try await LabCluster.start(specs) }
    }

    @Test func aMissingServerBinaryNamesThePackageToInstall() async throws {
        let specs = [LabNodeSpec(name: "a", region: "r", port: try LabCluster.freePorts(1)[0], upstream: nil)]
        let error = await #expect(throws: LabError.self) {
            _ = try await LabCluster.start(specs, options: LabOptions(binDirectory: "/nonexistent/bin"))
        }
        #expect(error?.description.contains("apt-get install postgresql-15") == true)
    }
}
