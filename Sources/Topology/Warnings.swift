extension ClusterTopology {
    /// Valid settings that weaken what failover can promise, in the compiler's form
    /// (`FILE: warning: FIELD.PATH: reason`), for `failoverctl validate`.
    public func warnings() -> [String] {
        var warnings: [String] = []
        if replication.mode == .synchronous, let primary = initialPrimary {
            // The quorum rule (docs/failover.md): losing the primary's region takes its members
            // of the set with it; once k of them are gone, no failover can promise zero loss.
            let inRegion = replication.synchronousStandbys.filter { name in
                name != primary.name && endpoint(named: name)?.region == primary.region
            }
            if inRegion.count >= replication.synchronousCount {
                warnings.append(
                    "\(sourceFile): warning: replication.synchronous_standbys: \(inRegion.joined(separator: ", ")) "
                        + "\(inRegion.count == 1 ? "is" : "are") in \(primary.region), the primary's region, and "
                        + "\(replication.synchronousCount) acknowledgement(s) make a commit: a commit may exist only "
                        + "in \(primary.region), so losing or cutting off that region blocks automatic failover "
                        + "(failover_blocked); raise synchronous_count or list standbys of other regions")
            }
        }
        if replication.mode == .asynchronous && failover.fencingCommand == nil && !failover.allowUnfencedPromotion {
            warnings.append(
                "\(sourceFile): warning: failover.fencing_command: replication is asynchronous and no fencing command "
                    + "is set: a primary that stops answering without refusing connections (a hang, a cut network) "
                    + "is not failed over automatically, because it could go on committing")
        }
        return warnings
    }
}
