public import Topology

extension LabNodeSpec {
    /// The lab a cluster file describes, as DESIGN's regions model it: the leader of the
    /// highest-priority region is the primary; every other leader and the primary region's replicas
    /// stream from it; a replica of another region cascades from its region's leader.
    ///
    /// Only loopback endpoints can be started here: a lab runs on this machine.
    public static func layout(of topology: ClusterTopology) throws(LabError) -> [LabNodeSpec] {
        guard let primary = topology.initialPrimary else { throw .spec("the cluster file has no regions") }
        var specs: [LabNodeSpec] = []
        for region in topology.regionsByPriority {
            for endpoint in region.endpoints {
                guard endpoint.host == "127.0.0.1" || endpoint.host == "localhost" else {
                    throw .spec(
                        "\(endpoint.name) is on \(endpoint.host); a lab starts servers on 127.0.0.1 only")
                }
                let upstream: String?
                if endpoint.name == primary.name {
                    upstream = nil
                } else if endpoint.role == .leader || region.name == primary.region {
                    upstream = primary.name
                } else {
                    upstream = region.leader.name
                }
                specs.append(
                    LabNodeSpec(name: endpoint.name, region: region.name, port: endpoint.port, upstream: upstream))
            }
        }
        return specs
    }
}

extension LabOptions {
    /// Options matching a cluster file: its password (default `failover-lab`) and synchronous standbys.
    public init(topology: ClusterTopology, baseDirectory: String? = nil) {
        let replication = topology.replication
        self.init(
            password: topology.connection.password?.reveal() ?? "failover-lab",
            synchronousStandbys: replication.mode == .synchronous ? replication.synchronousStandbys : [],
            synchronousCount: replication.synchronousCount,
            baseDirectory: baseDirectory)
    }
}
