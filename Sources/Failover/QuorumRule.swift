import Foundation
public import Health
public import Topology

/// A primary's `synchronous_standby_names`: a commit is acknowledged once `count` of `members`
/// have flushed it.
public struct SynchronousStandbySet: Sendable, Equatable {
    /// How many members must confirm a commit (`num_sync`).
    public var count: Int
    /// Standby names (`application_name`s); `*` stands for any standby.
    public var members: [String]

    public init(count: Int, members: [String]) {
        self.count = count
        self.members = members
    }

    /// Parses PostgreSQL's three forms: `ANY k (a, b)`, `[FIRST] k (a, b)` and `a, b` (FIRST 1).
    /// Nil for an empty value (asynchronous commits) or one it cannot read.
    ///
    /// FIRST is read as ANY: a FIRST commit is on the k highest-priority connected members, which
    /// are members all the same, so the quorum rule below holds for both.
    public static func parse(_ text: String) -> SynchronousStandbySet? {
        var rest = Substring(text).trimmingCharacters(in: .whitespaces)[...]
        guard !rest.isEmpty else { return nil }
        for keyword in ["ANY", "FIRST"] where rest.uppercased().hasPrefix(keyword + " ") {
            rest = rest.dropFirst(keyword.count).drop(while: \.isWhitespace)
        }
        var count = 1
        if let open = rest.firstIndex(of: "("), rest.hasSuffix(")") {
            guard let number = Int(rest[..<open].trimmingCharacters(in: .whitespaces)), number > 0 else {
                return nil
            }
            count = number
            rest = rest[rest.index(after: open)..<rest.index(before: rest.endIndex)]
        }
        let members = rest.split(separator: ",").map { name in
            var trimmed = name.trimmingCharacters(in: .whitespaces)
            if trimmed.count >= 2, trimmed.hasPrefix("\""), trimmed.hasSuffix("\"") {
                trimmed = String(trimmed.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
            }
            return trimmed
        }.filter { !$0.isEmpty }
        guard !members.isEmpty else { return nil }
        return SynchronousStandbySet(count: count, members: members)
    }
}

/// Whether a failover can keep every acknowledged commit, from what the synchronous standbys say.
public enum QuorumVerdict: Sendable, Equatable {
    /// Fewer than `count` members are unreachable: each acknowledged commit is on a reachable
    /// member, and the most advanced of them holds all (WAL is a sequence).
    case safe
    /// Replication is asynchronous: the loss is bounded by the lag (and measured), provided the
    /// old primary cannot go on committing.
    case asynchronous
    /// `count` or more members are unreachable: a commit may live only on them, and the old
    /// primary, cut off together with them, may still be committing.
    case blocked(unreachable: [String], count: Int)
}

/// The synchronous quorum rule (docs/failover.md): with `ANY k (S)`, a failover that loses no
/// acknowledged commit needs fewer than `k` members of `S` unreachable.
public enum QuorumRule {
    /// - Parameters:
    ///   - oldPrimary: the primary being replaced.
    ///   - synchronousStandbyNames: its `synchronous_standby_names` as last seen; nil when never
    ///     seen (then the cluster file's set is assumed).
    ///   - snapshot: a fresh snapshot of the standbys.
    public static func assess(
        oldPrimary: String, synchronousStandbyNames: String?, snapshot: HealthSnapshot, topology: ClusterTopology
    ) -> QuorumVerdict {
        guard let set = effectiveSet(of: oldPrimary, observed: synchronousStandbyNames, topology: topology) else {
            return .asynchronous
        }
        let standbys = snapshot.endpoints.filter { $0.endpoint != oldPrimary }
        let members =
            set.members.contains("*")
            ? standbys.map(\.endpoint) : set.members.filter { $0 != oldPrimary }
        let unreachable = members.filter { name in
            // A member that is not an endpoint of the file cannot be asked at all.
            guard let health = snapshot[endpoint: name] else { return true }
            return !health.isHealthy
        }
        return unreachable.count >= set.count ? .blocked(unreachable: unreachable, count: set.count) : .safe
    }

    /// What `primary` waits for: what it said last, else what the cluster file configures.
    static func effectiveSet(of primary: String, observed: String?, topology: ClusterTopology)
        -> SynchronousStandbySet?
    {
        if let observed { return SynchronousStandbySet.parse(observed) }
        guard topology.replication.mode == .synchronous else { return nil }
        let members = topology.replication.synchronousStandbys.filter { $0 != primary }
        guard !members.isEmpty else { return nil }
        return SynchronousStandbySet(count: min(topology.replication.synchronousCount, members.count), members: members)
    }
}
