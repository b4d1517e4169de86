import Foundation
import Lab

/// One line per server, what it is now as the server itself says, then (for a namespaced lab) the
/// network, the faults in force and how to run the control plane.
func printStatus(of lab: LabCluster, network: LabNetwork?, clusterFile: String = ".lab/cluster.yaml") throws {
    let byAddress = Dictionary(
        lab.nodes.map { ("\($0.host):\($0.port)", $0.name) }, uniquingKeysWith: { first, _ in first })
    var header = ["ENDPOINT", "REGION", "ADDRESS", "PID", "ROLE", "STREAMS FROM"]
    if network != nil { header.insert("NAMESPACE", at: 2) }
    var rows: [[String]] = []
    for node in lab.nodes {
        var role = "stopped"
        var upstream = "-"
        if lab.isRunning(node.name) {
            // Asked from the server's own namespace: the answer holds even while a fault cuts it off.
            let answer =
                (try? lab.sql(
                    node.name,
                    "select pg_is_in_recovery(), coalesce((select sender_host || ':' || sender_port || ' ' || status "
                        + "from pg_stat_wal_receiver), '')", timeout: .seconds(3), fromItsNamespace: true))
                ?? "unreachable"
            let fields = answer.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            if fields.count == 2 {
                role = fields[0] == "t" ? "standby" : "primary"
                let receiver = fields[1].split(separator: " ")
                if receiver.count == 2 {
                    let address = String(receiver[0])
                    upstream = "\(byAddress[address] ?? address) (\(receiver[1]))"
                } else if fields[0] == "t" {
                    upstream = "not streaming"
                }
            } else {
                role = "unreachable"
            }
        }
        var row = [node.name, node.region, "\(node.host):\(node.port)", String(node.pid), role, upstream]
        if network != nil { row.insert(node.namespace ?? "-", at: 2) }
        rows.append(row)
    }
    printTable([header] + rows)
    if let network { printNetwork(network, clusterFile: clusterFile) }
}

private func printNetwork(_ network: LabNetwork, clusterFile: String) {
    print("")
    print("network \(network.network) on bridge \(network.bridge) (root namespace \(network.bridgeAddress))")
    printTable(
        [["REGION", "NAMESPACE", "ADDRESS", "SUBNET", "LINK"]]
            + network.regions.map { [$0.name, $0.namespace, $0.address, $0.subnet, $0.hostLink] })
    print("faults: " + (network.faults.isEmpty ? "none" : network.faults.map(\.description).joined(separator: "; ")))
    for (namespace, rules) in network.rules() {
        for rule in rules { print("  \(namespace): iptables \(rule)") }
    }
    let control = network.control
    let state = (clusterFile as NSString).deletingLastPathComponent + "/failoverd.sqlite"
    let apiURL = "http://\(control.address):8008"
    if let region = network.controlRegion {
        print("control plane: in \(region)'s namespace (\(control.address)); run it with the prefix")
        print("  " + network.controlCommandPrefix.joined(separator: " "))
        print(
            "  e.g. failoverctl lab exec \(region) -- .build/debug/failoverd --config \(clusterFile) --state \(state)")
    } else {
        print("control plane: root namespace (\(control.address)); no prefix needed")
        print("  e.g. .build/debug/failoverd --config \(clusterFile) --state \(state)")
    }
    print("  its API (api.listen in \(clusterFile)): FAILOVER_API_URL=\(apiURL)")
}

private func printTable(_ rows: [[String]]) {
    guard let header = rows.first else { return }
    let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
    for row in rows {
        print(
            zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces))
    }
}
