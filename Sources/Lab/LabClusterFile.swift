import Foundation
public import Topology

extension LabNetwork {
    /// The cluster file a daemon uses to drive this lab: `text` (the cluster file the lab was made
    /// from) with every endpoint's `host` set to its region's address and `api.listen` moved to the
    /// control plane's address, same port (so it cannot clash with a loopback lab's API on
    /// 127.0.0.1). Only those values change: comments, order and every other section stay as written,
    /// so a later edit of the original (its replication section, say) carries over on the next `up`.
    public func clusterFile(from text: String, file: String) throws(LabError) -> String {
        let diagnostics = DiagnosticCollector(file: file)
        guard let root = YAMLTreeBuilder.build(text, diagnostics: diagnostics) else {
            throw .spec("cannot read \(file) as YAML; check it with `failoverctl validate \(file)`")
        }
        var edits: [(mark: SourceMark, old: YAMLNode, new: String)] = []
        for regionNode in Self.items(Self.value(root, "regions")) {
            guard let name = Self.value(regionNode, "name")?.rawText else { continue }
            let address = try region(name).address
            let endpoints =
                [Self.value(regionNode, "leader")].compactMap { $0 }
                + Self.items(Self.value(regionNode, "replicas"))
            for endpoint in endpoints {
                if let host = Self.value(endpoint, "host") { edits.append((host.mark, host, address)) }
            }
        }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let apiListen = Self.value(Self.value(root, "api"), "listen")
        let port = apiListen.flatMap { APISettings.parseListen($0.rawText)?.port } ?? 8008
        let listen = "\"\(control.address):\(port)\""
        if let apiListen {
            edits.append((apiListen.mark, apiListen, listen))
        } else {
            lines += ["", "# Added by `failoverctl lab up --netns`: the API on the control plane's address.", "api:"]
            lines.append("  listen: \(listen)")
        }
        // Right to left, so that an edit never moves the column of one still to come.
        for edit in edits.sorted(by: { ($0.mark.line, $0.mark.column) > ($1.mark.line, $1.mark.column) }) {
            let index = edit.mark.line - 1
            guard lines.indices.contains(index) else { continue }
            lines[index] = Self.replacingScalar(
                in: lines[index], at: edit.mark.column - 1, old: edit.old, new: edit.new)
        }
        let header = [
            "# Written by `failoverctl lab up --netns` from \(file): every endpoint's host is its region's",
            "# namespace address. Edit \(file), not this file; the next `lab up --netns` writes it again.",
        ]
        return (header + lines).joined(separator: "\n")
    }

    private static func value(_ node: YAMLNode?, _ key: String) -> YAMLNode? {
        guard let node, case .mapping(let entries) = node.content else { return nil }
        return entries.first { $0.key == key }?.value
    }

    private static func items(_ node: YAMLNode?) -> [YAMLNode] {
        guard let node, case .sequence(let items) = node.content else { return [] }
        return items
    }

    /// `line` with the scalar starting at character `column` (quoted or plain) replaced by `new`.
    private static func replacingScalar(in line: String, at column: Int, old: YAMLNode, new: String) -> String {
        var characters = Array(line)
        guard characters.indices.contains(column) else { return line }
        var end = column + old.rawText.count
        if characters[column] == "\"" || characters[column] == "'" {
            let quote = characters[column]
            end = characters[(column + 1)...].firstIndex(of: quote).map { $0 + 1 } ?? end
        }
        characters.replaceSubrange(column..<min(end, characters.count), with: Array(new))
        return String(characters)
    }
}

extension LabNodeSpec {
    /// ``layout(of:)`` for a namespaced lab: each server in its region's namespace, on its address.
    public static func layout(of topology: ClusterTopology, in network: LabNetwork) throws(LabError) -> [LabNodeSpec] {
        var specs = try layout(of: topology)
        for index in specs.indices {
            let region = try network.region(specs[index].region)
            specs[index].host = region.address
            specs[index].namespace = region.namespace
        }
        return specs
    }
}
