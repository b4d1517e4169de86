import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// The network of a namespaced lab: one network namespace per region, each with its own /24 and a
/// veth pair to a bridge in the root namespace, where the control plane runs by default.
///
/// Layout for the default network `10.77`: the bridge holds `10.77.0.1/16`; region number i (in the
/// order given, from 1) has the namespace `fo-<region>` with `10.77.i.2/24` on its end of the veth
/// pair and a route to all of `10.77.0.0/16` over it. Every address is thus on one Ethernet segment:
/// namespaces reach each other and the root namespace without IP forwarding, so nothing changes in
/// the host's own routing.
///
/// Faults are iptables rules in a chain of our own in each namespace (``chain``) and in the root
/// namespace (``rootChain``), hooked into INPUT only: a dropped packet is dropped by its receiver,
/// so the sender sees silence, as over a real WAN cut (a DROP in OUTPUT would fail the sender's
/// `connect` at once with EPERM).
///
/// The value is written to the lab directory before anything is created (``save(to:)``), so that
/// ``destroy(log:)`` can remove all of it even if the command that created it died half-way.
public struct LabNetwork: Sendable, Codable, Equatable {
    public struct Region: Sendable, Codable, Equatable {
        public var name: String
        /// The network namespace (`ip netns`), e.g. `fo-us-east`.
        public var namespace: String
        /// The veth end in the root namespace, a port of the bridge.
        public var hostLink: String
        /// The veth end inside the namespace.
        public var namespaceLink: String
        /// The region's address, on which all its servers listen, e.g. `10.77.1.2`.
        public var address: String
        /// The region's own subnet, e.g. `10.77.1.0/24`.
        public var subnet: String
    }

    /// The bridge in the root namespace joining every region, e.g. `fo-br`.
    public var bridge: String
    /// The root namespace's address on the bridge: the control plane's, unless it runs in a region.
    public var bridgeAddress: String
    /// The whole lab network, e.g. `10.77.0.0/16`; every server's pg_hba admits it.
    public var network: String
    /// The iptables chain holding the fault rules inside each region's namespace.
    public var chain: String
    /// The iptables chain holding the fault rules in the root namespace (the host's own tables,
    /// so its name carries the bridge's to stay apart from another lab's).
    public var rootChain: String
    /// The iptables program used, `/usr/sbin/iptables` (nf_tables) or `/usr/sbin/iptables-legacy`.
    public var iptables: String
    public var regions: [Region]
    /// The region whose namespace the control plane runs in; nil: the root namespace.
    public var controlRegion: String?
    /// The faults in force, in the order they were made; `heal` undoes them all.
    public var faults: [LabFault]

    /// Linux limits interface names to 15 characters.
    static let maximumNameLength = 15

    /// Plans (without creating anything) the network of `regions`.
    ///
    /// - Parameters:
    ///   - prefix: Starts every name this lab creates. Default `fo-`.
    ///   - network: The first two octets of the lab's /16. Default `10.77`.
    ///   - controlRegion: Where the control plane runs; nil: the root namespace.
    public static func plan(
        regions: [String], prefix: String = "fo-", network: String = "10.77", controlRegion: String? = nil
    ) throws(LabError) -> LabNetwork {
        let octets = network.split(separator: ".").compactMap { UInt8($0) }
        guard octets.count == 2, network.split(separator: ".").count == 2 else {
            throw .spec("network \"\(network)\" must be two octets, e.g. 10.77 (the lab takes 10.77.0.0/16)")
        }
        guard !regions.isEmpty, regions.count < 255 else { throw .spec("a namespaced lab needs 1 to 254 regions") }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        guard prefix.allSatisfy(allowed.contains), prefix.count <= 6 else {
            throw .spec("prefix \"\(prefix)\" must be at most 6 of a-z, 0-9 and -, e.g. fo-")
        }
        if let controlRegion, !regions.contains(controlRegion) {
            throw .spec("--control-in \(controlRegion): no such region (regions: \(regions.joined(separator: ", ")))")
        }
        var planned: [Region] = []
        for (index, name) in regions.enumerated() {
            let number = index + 1
            var base = prefix + name.lowercased().filter(allowed.contains)
            // The host link adds "-h"; a long or clashing name falls back to the region's number.
            if base.count > maximumNameLength - 2 || planned.contains(where: { $0.namespace == base }) {
                base = "\(prefix)r\(number)"
            }
            planned.append(
                Region(
                    name: name, namespace: base, hostLink: base + "-h", namespaceLink: "lab0",
                    address: "\(network).\(number).2", subnet: "\(network).\(number).0/24"))
        }
        let bridge = prefix + "br"
        return LabNetwork(
            bridge: bridge, bridgeAddress: "\(network).0.1", network: "\(network).0.0/16", chain: "FAILOVER-LAB",
            rootChain: "FAILOVER-LAB-\(bridge)", iptables: "/usr/sbin/iptables", regions: planned,
            controlRegion: controlRegion, faults: [])
    }

    public func region(_ name: String) throws(LabError) -> Region {
        guard let region = regions.first(where: { $0.name == name }) else {
            throw .spec("no region named \(name) (regions: \(regions.map(\.name).joined(separator: ", ")))")
        }
        return region
    }

    /// The namespace the control plane runs in (nil: the root namespace) and its address.
    public var control: (namespace: String?, address: String) {
        if let name = controlRegion, let region = regions.first(where: { $0.name == name }) {
            return (region.namespace, region.address)
        }
        return (nil, bridgeAddress)
    }

    /// What a command needs in front of it to run where the control plane runs; empty in the root namespace.
    public var controlCommandPrefix: [String] {
        control.namespace.map { [Processes.ipTool, "netns", "exec", $0] } ?? []
    }

    // MARK: Root and tools

    /// Throws unless the caller is root: namespaces, links and iptables rules need it.
    public static func requireRoot(for what: String) throws(LabError) {
        guard Processes.callerIsRoot else {
            throw LabError(
                description: "\(what) needs root (network namespaces, veth links and iptables rules); "
                    + "run it as root, e.g. with sudo")
        }
    }

    /// The iptables that works here: the nf_tables one (Debian's default), else the legacy one.
    static func workingIPTables(log: String) throws(LabError) -> String {
        for candidate in ["/usr/sbin/iptables", "/usr/sbin/iptables-legacy"]
        where FileManager.default.isExecutableFile(atPath: candidate) {
            if (try? Processes.run(
                candidate, ["-w", "-S", "INPUT"], logPath: log, timeout: .seconds(10), asServerUser: false))
                != nil
            {
                return candidate
            }
        }
        throw LabError(
            description: "iptables is missing or does not work here; install it with `apt-get install -y iptables`")
    }

    // MARK: Creating and destroying

    /// Creates the bridge, the namespaces, the veth pairs, the addresses and the empty fault chains.
    /// On failure, the caller runs ``destroy(log:)``: every step here is one it can undo.
    public mutating func create(log: String) throws(LabError) {
        try Self.requireRoot(for: "a namespaced lab")
        guard FileManager.default.isExecutableFile(atPath: Processes.ipTool) else {
            throw LabError(description: "\(Processes.ipTool) is missing; install it with `apt-get install -y iproute2`")
        }
        iptables = try Self.workingIPTables(log: log)
        // A lab /16 over one of the host's own networks would reroute the host's traffic into the lab.
        let hostNetworks = try Processes.capture(
            Processes.ipTool, ["-o", "-4", "addr", "show"], scratchPath: scratch(), timeout: .seconds(10),
            asServerUser: false)
        for clash in Self.networksOverlapping(network, in: hostNetworks) {
            throw .spec(
                "the lab network \(network) overlaps \(clash), already on this host; choose another --netns-network")
        }
        for existing in try namespacesPresent() where regions.contains(where: { $0.namespace == existing }) {
            throw .spec(
                "network namespace \(existing) already exists; remove the earlier lab with `failoverctl lab down`")
        }
        try ip(["link", "add", bridge, "type", "bridge"], log: log)
        try ip(["addr", "add", "\(bridgeAddress)/16", "dev", bridge], log: log)
        try ip(["link", "set", bridge, "up"], log: log)
        for region in regions {
            try ip(["netns", "add", region.namespace], log: log)
            // The peer is born inside the namespace: no second name in the root namespace to clash.
            try ip(
                [
                    "link", "add", region.hostLink, "type", "veth", "peer", "name", region.namespaceLink, "netns",
                    region.namespace,
                ],
                log: log)
            try ip(["link", "set", region.hostLink, "master", bridge], log: log)
            try ip(["link", "set", region.hostLink, "up"], log: log)
            let inside = ["-n", region.namespace]
            try ip(inside + ["link", "set", "lo", "up"], log: log)
            try ip(inside + ["addr", "add", "\(region.address)/24", "dev", region.namespaceLink], log: log)
            try ip(inside + ["link", "set", region.namespaceLink, "up"], log: log)
            // The whole lab /16 on-link: other regions and the bridge answer ARP on the one segment.
            try ip(inside + ["route", "add", network, "dev", region.namespaceLink], log: log)
            try iptablesRule(in: region.namespace, ["-N", chain], log: log)
            try iptablesRule(in: region.namespace, ["-I", "INPUT", "1", "-j", chain], log: log)
        }
        try iptablesRule(in: nil, ["-N", rootChain], log: log)
        try iptablesRule(in: nil, ["-I", "INPUT", "1", "-j", rootChain], log: log)
    }

    /// Removes everything ``create(log:)`` may have made, whatever exists of it: kills (by PID) any
    /// process still inside a lab namespace, deletes the veth pairs, the namespaces, the bridge and the
    /// root namespace's chain. Returns what could not be removed; empty means nothing is left.
    public func destroy(log: String) -> [String] {
        var problems: [String] = []
        let namespaces = (try? namespacesPresent()) ?? []
        for region in regions where namespaces.contains(region.namespace) {
            // A process left in a namespace keeps it alive after `ip netns del`, and its veth with it.
            for pid in processes(in: region.namespace) {
                _ = kill(pid, SIGKILL)
                if Processes.waitForExit(pid, timeout: .seconds(5)) == nil {
                    problems.append("process \(pid) in \(region.namespace) survived SIGKILL")
                }
            }
        }
        for region in regions where linkExists(region.hostLink) {
            // Deleting one end of a veth pair deletes both.
            do throws(LabError) { try ip(["link", "del", region.hostLink], log: log) } catch {
                problems.append(error.description)
            }
        }
        for region in regions where namespaces.contains(region.namespace) {
            do throws(LabError) { try ip(["netns", "del", region.namespace], log: log) } catch {
                problems.append(error.description)
            }
        }
        if linkExists(bridge) {
            do throws(LabError) { try ip(["link", "del", bridge], log: log) } catch {
                problems.append(error.description)
            }
        }
        if rootChainExists(log: log) {
            // Bounded: one jump is ours, but a repeated `up` after a crash might have added another.
            for _ in 0..<10 {
                guard (try? iptablesRule(in: nil, ["-D", "INPUT", "-j", rootChain], log: log)) != nil else { break }
            }
            for step in [["-F", rootChain], ["-X", rootChain]] {
                do throws(LabError) { try iptablesRule(in: nil, step, log: log) } catch {
                    problems.append(error.description)
                }
            }
        }
        return problems
    }

    /// What of this network exists now, one line per item; empty when nothing is left.
    public func leftovers(log: String) -> [String] {
        let namespaces = (try? namespacesPresent()) ?? []
        var found = regions.filter { namespaces.contains($0.namespace) }.map { "network namespace \($0.namespace)" }
        found += (regions.map(\.hostLink) + [bridge]).filter(linkExists).map { "link \($0)" }
        if rootChainExists(log: log) { found.append("iptables chain \(rootChain)") }
        return found
    }

    /// The `inet A.B.C.D/N` networks in `ipOutput` (`ip -o -4 addr show`) that share addresses with `cidr`.
    static func networksOverlapping(_ cidr: String, in ipOutput: String) -> [String] {
        guard let ours = IPv4Network(cidr) else { return [] }
        let words = ipOutput.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\t" })
        return zip(words, words.dropFirst()).compactMap { word, next in
            guard word == "inet", let theirs = IPv4Network(String(next)), theirs.overlaps(ours) else { return nil }
            return String(next)
        }
    }

    // MARK: Saving

    /// Writes the plan and the faults in force (atomically, so a crash leaves the old or the new one).
    public func save(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(self).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    public static func load(from path: String) throws -> LabNetwork {
        try JSONDecoder().decode(LabNetwork.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    // MARK: Plumbing

    func ip(_ arguments: [String], log: String) throws(LabError) {
        try Processes.run(Processes.ipTool, arguments, logPath: log, timeout: .seconds(20), asServerUser: false)
    }

    /// Runs iptables inside `namespace` (nil: the root namespace). `-w` waits for the xtables lock
    /// instead of failing when another iptables runs at the same moment.
    func iptablesRule(in namespace: String?, _ arguments: [String], log: String) throws(LabError) {
        try Processes.run(
            iptables, ["-w"] + arguments, logPath: log, timeout: .seconds(20), namespace: namespace,
            asServerUser: false)
    }

    /// The names `ip netns list` shows (each line is a name, sometimes followed by its id).
    func namespacesPresent() throws(LabError) -> Set<String> {
        let output = try Processes.capture(
            Processes.ipTool, ["netns", "list"], scratchPath: scratch(), timeout: .seconds(10), asServerUser: false)
        return Set(output.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
    }

    /// The PIDs of every process in `namespace` (`ip netns pids`).
    public func processes(in namespace: String) -> [Int32] {
        let output =
            (try? Processes.capture(
                Processes.ipTool, ["netns", "pids", namespace], scratchPath: scratch(), timeout: .seconds(10),
                asServerUser: false)) ?? ""
        return output.split(separator: "\n").compactMap { Int32($0.trimmingCharacters(in: .whitespaces)) }
    }

    func linkExists(_ name: String) -> Bool {
        let output = try? Processes.capture(
            Processes.ipTool, ["link", "show", "dev", name], scratchPath: scratch(), timeout: .seconds(10),
            asServerUser: false)
        return output != nil
    }

    func rootChainExists(log: String) -> Bool {
        let output = try? Processes.capture(
            iptables, ["-w", "-S", rootChain], scratchPath: scratch(), timeout: .seconds(10), asServerUser: false)
        return output != nil
    }

    /// A throwaway output file for a command whose output is read or ignored.
    func scratch() -> String {
        NSTemporaryDirectory() + "failover-lab-net-\(UUID().uuidString).out"
    }
}

/// An IPv4 network in CIDR notation, for overlap checks.
struct IPv4Network {
    var address: UInt32
    var prefixLength: Int

    init?(_ cidr: String) {
        let parts = cidr.split(separator: "/")
        let octets = parts.first?.split(separator: ".").compactMap { UInt32($0) } ?? []
        guard parts.count == 2, octets.count == 4, octets.allSatisfy({ $0 < 256 }),
            let length = Int(parts[1]), (0...32).contains(length)
        else { return nil }
        address = octets.reduce(0) { $0 << 8 | $1 }
        prefixLength = length
    }

    private func mask(_ length: Int) -> UInt32 { length == 0 ? 0 : UInt32.max << UInt32(32 - length) }

    /// Two networks overlap when the shorter prefix contains the other's address.
    func overlaps(_ other: IPv4Network) -> Bool {
        let shorter = mask(min(prefixLength, other.prefixLength))
        return address & shorter == other.address & shorter
    }
}
