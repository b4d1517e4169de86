import Foundation
import Postgres

/// The independent judge of a trial. It reads only what the clients recorded (their acknowledged
/// writes) and what the servers answer now; never the daemon's state store or its history.
///
/// - **Lost writes**: acknowledged `(client, id)` pairs missing on the final primary.
/// - **Split brain**: writes acknowledged by a server other than the final primary after the final
///   primary's promotion time. That time is the earliest write the final primary acknowledged (it
///   accepted no write before it was promoted, and the writers commit every 20 ms, so this is at
///   most a few tens of milliseconds after the promotion); when the final primary is the initial
///   one, every write acknowledged by another server counts.
/// - **Promotions**: every server other than us-east-1 that acknowledged a write, plus the final
///   primary; more than the fault's expectation is a false failover, fewer a missed one.
/// - **RTO** per client: the longest gap between two of its acknowledged writes from its last one
///   before the fault to the end, counting the time to the end when it never wrote again.
/// - **One writable server** after `heal` and the settle period: exactly one server answers
///   `pg_is_in_recovery() = false` with `default_transaction_read_only = off`.
enum Checker {
    static func connection(_ endpoint: LabEndpoint) async throws -> PostgresConnection {
        let configuration = PostgresConfiguration(
            host: endpoint.host, port: endpoint.port, password: ChaosLab.password, sslMode: "disable",
            applicationName: "chaos-checker", connectTimeout: .seconds(2))
        return try await PostgresConnection.connect(configuration, workload: .failover)
    }

    @discardableResult
    static func sql(_ endpoint: LabEndpoint, _ statement: String) async throws -> PostgresResult {
        let connection = try await connection(endpoint)
        defer { connection.close() }
        return try await connection.query(statement, timeout: .seconds(10))
    }

    /// Each server's role; polled for up to 30 s until exactly one is writable, since an old
    /// primary restarted by `heal` is writable until the daemon fences it.
    static func finalState(_ endpoints: [LabEndpoint]) async -> FinalState {
        var state = FinalState()
        _ = await poll(timeout: .seconds(30)) {
            state = FinalState()
            for endpoint in endpoints {
                let answer = try? await sql(
                    endpoint,
                    "select pg_is_in_recovery() as recovery, current_setting('default_transaction_read_only') as ro")
                guard let row = answer?.first else {
                    state.roles[endpoint.name] = "no answer"
                    continue
                }
                if row.bool("recovery") == true {
                    state.roles[endpoint.name] = "standby"
                } else if row.string("ro") == "on" {
                    state.roles[endpoint.name] = "read-only primary (fenced)"
                } else {
                    state.roles[endpoint.name] = "writable primary"
                    state.writable.append(endpoint)
                }
            }
            return state.writable.count == 1
        }
        if state.writable.count == 1, let primary = state.writable.first,
            let rows = try? await sql(primary, "select client, id from chaos")
        {
            state.stored = Set(
                rows.rows.compactMap { row in row.string(0).flatMap { c in row.string(1).map { "\(c)/\($0)" } } })
        }
        return state
    }

    static func judge(
        _ verdict: inout TrialVerdict, writes: [AcknowledgedWrite], final: FinalState, endpoints: [LabEndpoint],
        expectation: Expectation, end: Double
    ) {
        let names = Dictionary(endpoints.map { ($0.address, $0.name) }, uniquingKeysWith: { first, _ in first })
        verdict.acknowledged = writes.count
        verdict.roles = final.roles
        verdict.writable = final.writable.map(\.name)
        if final.writable.count != 1 {
            verdict.broken.append("\(final.writable.count) writable servers after heal: \(final.roles)")
        }

        var promoted = Set(writes.compactMap { names[$0.server] }.filter { $0 != ChaosLab.initialPrimary })
        if final.writable.count == 1, let primary = final.writable.first {
            verdict.finalPrimary = primary.name
            if primary.name != ChaosLab.initialPrimary { promoted.insert(primary.name) }
            countLost(&verdict, writes: writes, on: primary, stored: final.stored, lossAllowed: expectation.lossAllowed)
            countSplitBrain(&verdict, writes: writes, finalPrimary: primary)
        }
        verdict.promotions = promoted.sorted()
        if promoted.count > expectation.promotions.upperBound {
            verdict.broken.append("false failover: promoted \(verdict.promotions) (\(expectation.outcome))")
        } else if promoted.count < expectation.promotions.lowerBound {
            verdict.findings.append("missed failover: none promoted (\(expectation.outcome))")
        }
        verdict.rto = clientRTO(writes: writes, faultAt: verdict.faultAt ?? end, end: end)
    }

    private static func countLost(
        _ verdict: inout TrialVerdict, writes: [AcknowledgedWrite], on final: LabEndpoint, stored: Set<String>?,
        lossAllowed: Bool
    ) {
        guard let stored else {
            verdict.broken.append("cannot read the rows of the final primary \(final.name)")
            return
        }
        let missing = writes.filter { !stored.contains("\($0.client)/\($0.id)") }
        verdict.lost = missing.count
        verdict.lostSample = missing.prefix(5).map { "\($0.client)/\($0.id) by \($0.server) at \($0.at)" }
        if !missing.isEmpty && !lossAllowed {
            verdict.broken.append(
                "\(missing.count) acknowledged writes missing on \(final.name): \(verdict.lostSample)")
        }
    }

    private static func countSplitBrain(
        _ verdict: inout TrialVerdict, writes: [AcknowledgedWrite], finalPrimary: LabEndpoint
    ) {
        let promotedAt: Double =
            finalPrimary.name == ChaosLab.initialPrimary
            ? 0 : writes.filter { $0.server == finalPrimary.address }.map(\.at).min() ?? .infinity
        verdict.promotionAt = promotedAt.isFinite && promotedAt > 0 ? promotedAt : nil
        let others = writes.filter { $0.server != finalPrimary.address && $0.at > promotedAt }
        verdict.splitBrain = others.count
        if !others.isEmpty {
            let sample = others.prefix(5).map { "\($0.client)/\($0.id) by \($0.server) at \($0.at)" }
            verdict.broken.append(
                "split brain: \(others.count) writes acknowledged by another server after \(finalPrimary.name) "
                    + "took its first write at \(promotedAt): \(sample)")
        }
    }

    /// Longest gap per client around the fault, in seconds.
    static func clientRTO(writes: [AcknowledgedWrite], faultAt: Double, end: Double) -> [String: Double] {
        var result: [String: Double] = [:]
        for (client, own) in Dictionary(grouping: writes, by: \.client) {
            let times = own.map(\.at).sorted()
            var previous = times.last { $0 < faultAt } ?? faultAt
            var longest = 0.0
            var wroteAfter = false
            for time in times where time >= faultAt {
                longest = max(longest, time - previous)
                previous = time
                wroteAfter = true
            }
            result[client] = wroteAfter ? longest : end - previous
        }
        return result
    }
}

struct FinalState {
    var writable: [LabEndpoint] = []
    var roles: [String: String] = [:]
    /// `client/id` of every row of `chaos` on the one writable server; nil when there is not
    /// exactly one, or it did not answer.
    var stored: Set<String>?
}

/// Everything the checker found in one trial.
struct TrialVerdict {
    let fault: ChaosFault
    let mode: ReplicationMode
    let number: Int
    let directory: String
    var faultPoint: String?
    /// The trial could not run as planned (lab, daemon or writers did not start, a fault command failed).
    var error: String?
    var faultAt: Double?
    var healedAt: Double?
    var acknowledged = 0
    var lost: Int?
    var lostSample: [String] = []
    var splitBrain = 0
    var promotionAt: Double?
    var promotions: [String] = []
    var finalPrimary: String?
    var writable: [String] = []
    var roles: [String: String] = [:]
    var rto: [String: Double] = [:]
    var reportedRPOBytes: Int?
    /// Broken checker promises: lost writes (synchronous), split brain, false failover, not exactly
    /// one writable server.
    var broken: [String] = []
    /// Expected outcomes not met that break no promise (a missed failover).
    var findings: [String] = []

    var failed: Bool { error != nil || !broken.isEmpty }
}
