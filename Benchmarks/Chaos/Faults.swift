/// Synchronous (`ANY 2 (us-east-2, eu-west-1, ap-south-1)`, regions/lab.yaml) or asynchronous
/// replication (`replication: { mode: asynchronous }`, no fencing command).
enum ReplicationMode: String, CaseIterable, Sendable {
    case sync, async
}

/// What the checker holds a trial to: how many promotions the fault must cause, and whether
/// acknowledged writes may be lost (only with asynchronous replication, where they are reported).
struct Expectation: Sendable {
    var promotions: ClosedRange<Int>
    var lossAllowed: Bool
    /// The expected outcome in words, printed with each trial and written in docs/chaos.md.
    var outcome: String
}

/// The fault matrix. Each fault is injected about 4 s after every writer has committed, held, and
/// healed; docs/chaos.md says what each does at the packet and process level.
enum ChaosFault: String, CaseIterable, Sendable {
    /// `kill -9` of us-east-1's postmaster.
    case kill
    /// `SIGSTOP` of every process of us-east-1 for 10 s, then `SIGCONT`.
    case stop
    /// us-east hears only itself for 15 s while its clients keep writing.
    case isolate
    /// The control plane and us-east-1 no longer hear each other for 15 s.
    case cutControl = "cut-control"
    /// us-east is partitioned from eu-west and from ap-south for 15 s (the control plane reaches all).
    case partition
    /// Every server of us-east `kill -9`ed; `heal` restarts them (the old primary comes back).
    case outage
    /// The daemon dies (`FAILOVERD_FAULT_POINT`) at a step of the failover that a `kill -9` of the
    /// primary starts, and is started again on the same state store.
    case daemonKill = "daemon-kill"
    /// `kill -9` of the primary while the alert webhook points at a port where nothing listens.
    case alertDown = "alert-down"
    /// `kill -9` of the primary, then `SIGSTOP` of the new primary for 10 s, inside
    /// `min_failover_interval` (1 m).
    case secondFault = "second-fault"

    /// The faults of `--short` and of the main matrix, in the order of the brief's priorities.
    static let main: [ChaosFault] = [.kill, .stop, .isolate, .cutControl, .partition, .outage]

    /// The daemon's fail points `daemon-kill` goes through, one per trial in turn.
    static let daemonFaultPoints = ["promotion:started", "promotion:sent", "promotion:finished", "after_promotion"]

    func expectation(_ mode: ReplicationMode) -> Expectation {
        let once = 1...1
        let never = 0...0
        switch (self, mode) {
        case (.kill, .sync), (.alertDown, .sync), (.daemonKill, .sync):
            return Expectation(
                promotions: once, lossAllowed: false,
                outcome: "one failover (refused connections, standbys lost their stream), nothing lost")
        case (.kill, .async), (.alertDown, .async), (.daemonKill, .async):
            return Expectation(
                promotions: once, lossAllowed: true,
                outcome: "one failover (the old primary refuses: it cannot commit); loss bounded by the lag, reported")
        case (.stop, .sync):
            return Expectation(
                promotions: once, lossAllowed: false,
                outcome: "one failover after the probes time out; the resumed old primary is fenced, nothing lost")
        case (.stop, .async):
            return Expectation(
                promotions: never, lossAllowed: false,
                outcome: "failover blocked (a hung primary may still commit, no fencing command); resumes as primary")
        case (.isolate, .sync):
            return Expectation(
                promotions: once, lossAllowed: false,
                outcome: "failover to eu-west or ap-south; the isolated us-east-1 cannot commit (ANY 2), nothing lost")
        case (.isolate, .async):
            return Expectation(
                promotions: never, lossAllowed: false,
                outcome: "failover blocked (the isolated primary may commit); us-east clients keep writing")
        case (.cutControl, _):
            return Expectation(
                promotions: never, lossAllowed: false,
                outcome: "no failover: the standbys still receive WAL (partition suspected)")
        case (.partition, .sync):
            return Expectation(
                promotions: never, lossAllowed: false,
                outcome: "no failover (the control plane reaches the primary); commits wait for a second standby")
        case (.partition, .async):
            return Expectation(
                promotions: never, lossAllowed: false,
                outcome: "no failover (the control plane reaches the primary); us-east writes go on, others wait")
        case (.outage, .sync):
            return Expectation(
                promotions: once, lossAllowed: false,
                outcome: "failover to eu-west-1; the returning old primary is fenced, nothing lost")
        case (.outage, .async):
            return Expectation(
                promotions: once, lossAllowed: true,
                outcome: "failover to eu-west-1 (refused connections); loss bounded by the lag, reported")
        case (.secondFault, _):
            return Expectation(
                promotions: once, lossAllowed: mode == .async,
                outcome: "one failover only: the second fault is inside min_failover_interval (failover_blocked)")
        }
    }
}
