/// Synthetic trials the checker must judge correctly, run before any real trial: a checker that
/// found nothing wrong is only worth something if it is shown to find each kind of failure.
enum CheckerSelfCheck {
    private static let primary = LabEndpoint(name: "us-east-1", region: "us-east", host: "10.79.1.2", port: 25431)
    private static let promoted = LabEndpoint(name: "eu-west-1", region: "eu-west", host: "10.79.2.2", port: 25433)
    private static let failover = Expectation(promotions: 1...1, lossAllowed: false, outcome: "one failover")
    private static let noFailover = Expectation(promotions: 0...0, lossAllowed: false, outcome: "no failover")

    /// The cases that were judged wrongly; empty when the checker is sound.
    static func run() -> [String] {
        // Writes 1-3 on the old primary, a fault at 3.5, writes 5-6 on the promoted one.
        let clean =
            [write(1, primary, at: 1), write(2, primary, at: 2), write(3, primary, at: 3)]
            + [write(5, promoted, at: 5), write(6, promoted, at: 6)]
        var failures: [String] = []
        func expect(_ name: String, _ condition: Bool) {
            if !condition { failures.append(name) }
        }

        var verdict = judge(clean, final: [promoted], stored: clean, expectation: failover)
        expect("a clean failover is not failed", verdict.broken.isEmpty && verdict.lost == 0)
        expect("a clean failover counts one promotion", verdict.promotions == ["eu-west-1"])
        expect("the client's RTO is the gap around the fault", verdict.rto["c"] == 2)

        verdict = judge(clean, final: [promoted], stored: clean.filter { $0.id != 2 }, expectation: failover)
        expect("a missing acknowledged write is lost", verdict.lost == 1 && !verdict.broken.isEmpty)

        let late = clean + [write(7, primary, at: 7)]
        verdict = judge(late, final: [promoted], stored: late, expectation: failover)
        expect("a write by the old primary after the promotion is split brain", verdict.splitBrain == 1)
        expect("split brain fails the trial", verdict.failed)

        verdict = judge(clean, final: [promoted], stored: clean, expectation: noFailover)
        expect("a promotion where none is expected is a false failover", verdict.failed)

        verdict = judge(clean, final: [primary, promoted], stored: nil, expectation: failover)
        expect("two writable servers fail the trial", verdict.failed)
        return failures
    }

    private static func write(_ id: Int, _ server: LabEndpoint, at: Double) -> AcknowledgedWrite {
        AcknowledgedWrite(client: "c", id: id, server: server.address, at: at)
    }

    private static func judge(
        _ writes: [AcknowledgedWrite], final writable: [LabEndpoint], stored: [AcknowledgedWrite]?,
        expectation: Expectation
    ) -> TrialVerdict {
        var verdict = TrialVerdict(fault: .kill, mode: .sync, number: 0, directory: "")
        verdict.faultAt = 3.5
        let final = FinalState(
            writable: writable, roles: [:], stored: stored.map { Set($0.map { "\($0.client)/\($0.id)" }) })
        Checker.judge(
            &verdict, writes: writes, final: final, endpoints: [primary, promoted], expectation: expectation, end: 8)
        return verdict
    }
}
