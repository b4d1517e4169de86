import Foundation

/// A fault in force in a namespaced lab, as recorded in its state so that `heal` can undo it and
/// `status` can show it.
public enum LabFault: Sendable, Codable, Equatable, CustomStringConvertible {
    /// Packets between two regions dropped both ways.
    case partition(String, String)
    /// A region cut off from every other region and from the root namespace.
    case isolate(String)
    /// Packets between the control plane and a region (`port` nil) or one endpoint of it dropped.
    case cutControl(region: String, port: Int?, target: String)
    /// Delay added both ways between two regions (`tc netem`).
    case latency(String, String, milliseconds: Int)
    /// Every server of a region killed with SIGKILL; `heal` starts them again.
    case outage(String)

    public var description: String {
        switch self {
        case .partition(let a, let b): "partition \(a) \(b)"
        case .isolate(let region): "isolate \(region)"
        case .cutControl(_, _, let target): "cut-control \(target)"
        case .latency(let a, let b, let milliseconds): "latency \(a) \(b) \(milliseconds)ms"
        case .outage(let region): "outage \(region)"
        }
    }
}

/// Faults, each a set of DROP rules appended to the lab's own chains (``LabNetwork/chain`` in the
/// regions' namespaces, ``LabNetwork/rootChain`` in the root namespace), always in the receiver's
/// INPUT path: the sender's SYN or segment leaves and is never answered, so TCP waits and times out
/// (no reset, no ICMP error), as when a WAN link is cut. `heal` flushes exactly those chains.
extension LabNetwork {
    /// Drops every packet between regions `a` and `b`, both ways.
    public mutating func partition(_ a: String, _ b: String, log: String) throws(LabError) {
        let first = try region(a)
        let second = try region(b)
        guard first != second else { throw .spec("partition needs two different regions") }
        try append(in: first.namespace, ["-s", second.subnet, "-j", "DROP"], log: log)
        try append(in: second.namespace, ["-s", first.subnet, "-j", "DROP"], log: log)
        faults.append(.partition(a, b))
    }

    /// Cuts `name` off from every other region and from the root namespace (the control plane),
    /// both ways; clients inside its own namespace still reach its servers.
    public mutating func isolate(_ name: String, log: String) throws(LabError) {
        let isolated = try region(name)
        // Inside: keep its own traffic (loopback, its own subnet), drop everything else.
        try append(in: isolated.namespace, ["-i", "lo", "-j", "RETURN"], log: log)
        try append(in: isolated.namespace, ["-s", isolated.subnet, "-j", "RETURN"], log: log)
        try append(in: isolated.namespace, ["-j", "DROP"], log: log)
        // Outside: its answers and its own new connections are dropped by every receiver.
        for other in regions where other != isolated {
            try append(in: other.namespace, ["-s", isolated.subnet, "-j", "DROP"], log: log)
        }
        try append(in: nil, ["-s", isolated.subnet, "-j", "DROP"], log: log)
        faults.append(.isolate(name))
    }

    /// Drops packets between the control plane and region `name` (all of it when `port` is nil, else
    /// only the server on that port), both ways; the region still talks to every other region.
    public mutating func cutControl(region name: String, port: Int?, target: String, log: String) throws(LabError) {
        let cut = try region(name)
        let control = self.control
        var toTarget = ["-s", control.address]
        var toControl = ["-s", cut.address]
        if let port {
            toTarget += ["-p", "tcp", "--dport", String(port)]
            toControl += ["-p", "tcp", "--sport", String(port)]
        }
        try append(in: cut.namespace, toTarget + ["-j", "DROP"], log: log)
        try append(in: control.namespace, toControl + ["-j", "DROP"], log: log)
        faults.append(.cutControl(region: name, port: port, target: target))
    }

    /// Records that every server of `name` was killed, so that `heal` starts them again.
    public mutating func recordOutage(_ name: String) throws(LabError) {
        _ = try region(name)
        if !faults.contains(.outage(name)) { faults.append(.outage(name)) }
    }

    /// Adds `milliseconds` of delay each way between regions `a` and `b` with `tc netem`, on each
    /// namespace's link, for packets to the other region only. Throws, changing nothing, where the
    /// kernel has no netem qdisc.
    public mutating func addLatency(_ a: String, _ b: String, milliseconds: Int, log: String) throws(LabError) {
        let first = try region(a)
        let second = try region(b)
        guard first != second else { throw .spec("latency needs two different regions") }
        guard (1...10_000).contains(milliseconds) else { throw .spec("latency must be 1 to 10000 ms") }
        for busy in [a, b] {
            let taken = faults.contains {
                if case .latency(let x, let y, _) = $0 { return x == busy || y == busy }
                return false
            }
            if taken { throw .spec("\(busy) already has a latency fault; run `failoverctl lab heal` first") }
        }
        guard netemWorks(in: first, log: log) else {
            throw LabError(description: "latency: tc netem is not supported here (this kernel has no netem qdisc)")
        }
        do throws(LabError) {
            try delay(from: first, to: second, milliseconds: milliseconds, log: log)
            try delay(from: second, to: first, milliseconds: milliseconds, log: log)
        } catch {
            for region in [first, second] { removeQueueingDiscipline(region, log: log) }
            throw error
        }
        faults.append(.latency(a, b, milliseconds: milliseconds))
    }

    /// Removes every network fault: flushes the lab's chains (rules of other chains are never
    /// touched) and the latency qdiscs. Returns the regions under an outage, whose servers the caller
    /// starts again, and what could not be undone.
    public mutating func heal(log: String) -> (outages: [String], problems: [String]) {
        var problems: [String] = []
        for region in regions {
            do throws(LabError) { try iptablesRule(in: region.namespace, ["-F", chain], log: log) } catch {
                problems.append(error.description)
            }
        }
        do throws(LabError) { try iptablesRule(in: nil, ["-F", rootChain], log: log) } catch {
            problems.append(error.description)
        }
        for fault in faults {
            if case .latency(let a, let b, _) = fault {
                for region in regions where region.name == a || region.name == b {
                    removeQueueingDiscipline(region, log: log)
                }
            }
        }
        let outages = faults.compactMap { fault -> String? in
            if case .outage(let region) = fault { return region }
            return nil
        }
        faults.removeAll()
        return (outages, problems)
    }

    /// The rules in force, per namespace (`root` for the root namespace), as `iptables -S` prints them.
    public func rules() -> [(namespace: String, rules: [String])] {
        var result: [(namespace: String, rules: [String])] = []
        let places = regions.map { ($0.namespace as String?, chain) } + [(nil, rootChain)]
        for (namespace, chainName) in places {
            let output =
                (try? Processes.capture(
                    iptables, ["-w", "-S", chainName], scratchPath: scratch(), timeout: .seconds(10),
                    namespace: namespace, asServerUser: false)) ?? "(unreadable)"
            let rules = output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("-A ") }
            if !rules.isEmpty { result.append((namespace ?? "root", rules)) }
        }
        return result
    }

    // MARK: Plumbing

    /// Appends a rule to the lab's chain in `namespace` (nil: the root namespace's chain).
    private func append(in namespace: String?, _ rule: [String], log: String) throws(LabError) {
        try iptablesRule(in: namespace, ["-A", namespace == nil ? rootChain : chain] + rule, log: log)
    }

    private static let tcTool = "/usr/sbin/tc"

    private func tc(in region: Region, _ arguments: [String], log: String) throws(LabError) {
        try Processes.run(
            Self.tcTool, arguments, logPath: log, timeout: .seconds(20), namespace: region.namespace,
            asServerUser: false)
    }

    /// Adds and removes a netem qdisc on the region's link: the only reliable test for the module.
    private func netemWorks(in region: Region, log: String) -> Bool {
        guard
            (try? tc(
                in: region, ["qdisc", "add", "dev", region.namespaceLink, "root", "netem", "delay", "1ms"], log: log))
                != nil
        else { return false }
        removeQueueingDiscipline(region, log: log)
        return true
    }

    /// A prio qdisc whose third band delays, and a filter sending packets for `to`'s subnet there.
    private func delay(from: Region, to: Region, milliseconds: Int, log: String) throws(LabError) {
        let link = from.namespaceLink
        try tc(in: from, ["qdisc", "add", "dev", link, "root", "handle", "1:", "prio"], log: log)
        try tc(
            in: from,
            ["qdisc", "add", "dev", link, "parent", "1:3", "handle", "30:", "netem", "delay", "\(milliseconds)ms"],
            log: log)
        try tc(
            in: from,
            [
                "filter", "add", "dev", link, "parent", "1:0", "protocol", "ip", "prio", "1", "u32", "match", "ip",
                "dst", to.subnet, "flowid", "1:3",
            ],
            log: log)
    }

    private func removeQueueingDiscipline(_ region: Region, log: String) {
        _ = try? tc(in: region, ["qdisc", "del", "dev", region.namespaceLink, "root"], log: log)
    }
}
