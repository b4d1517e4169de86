import Foundation

/// The figures of a run: one line per trial, and per mode and fault the totals of the checker.
enum Summary {
    static func line(_ verdict: TrialVerdict) -> String {
        let rto = verdict.rto.values
        var parts = [
            "\(verdict.mode.rawValue) \(verdict.fault.rawValue) #\(verdict.number)",
            verdict.faultPoint.map { "fault_point=\($0)" },
            "acked=\(verdict.acknowledged)",
            "lost=\(verdict.lost.map(String.init) ?? "?")",
            "split_brain=\(verdict.splitBrain)",
            "promoted=\(verdict.promotions.isEmpty ? "none" : verdict.promotions.joined(separator: "+"))",
            "final=\(verdict.finalPrimary ?? "none")",
            "rto_max=\(format(rto.max()))",
            "rto_p50=\(format(percentile(Array(rto), 0.5)))",
            verdict.reportedRPOBytes.map { "reported_rpo_bytes=\($0)" },
            verdict.failed ? "FAILED" : "ok",
        ].compactMap { $0 }
        parts += verdict.findings.map { "finding: \($0)" }
        return parts.joined(separator: " ")
    }

    /// The checker's findings of one trial as JSON, kept in the trial's directory (`verdict.json`)
    /// so that runs can be combined later without the daemon's records.
    static func record(_ verdict: TrialVerdict) {
        var object: [String: Any] = [
            "fault": verdict.fault.rawValue, "mode": verdict.mode.rawValue, "trial": verdict.number,
            "acknowledged": verdict.acknowledged, "split_brain": verdict.splitBrain, "promotions": verdict.promotions,
            "writable": verdict.writable, "roles": verdict.roles, "rto_s": verdict.rto, "broken": verdict.broken,
            "findings": verdict.findings, "failed": verdict.failed,
        ]
        object["lost"] = verdict.lost
        object["error"] = verdict.error
        object["fault_point"] = verdict.faultPoint
        object["fault_at"] = verdict.faultAt
        object["healed_at"] = verdict.healedAt
        object["final_primary"] = verdict.finalPrimary
        object["promotion_at"] = verdict.promotionAt
        object["reported_rpo_bytes"] = verdict.reportedRPOBytes
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        _ = FileManager.default.createFile(atPath: verdict.directory + "/verdict.json", contents: data)
    }

    /// `{"sync": {"kill": {...}, ...}, "async": {...}, "failed_trials": N, "trials": N}`.
    static func figures(_ verdicts: [TrialVerdict]) -> [String: Any] {
        var result: [String: Any] = [
            "trials": verdicts.count, "failed_trials": verdicts.filter(\.failed).count,
        ]
        for (mode, ofMode) in Dictionary(grouping: verdicts, by: \.mode) {
            var faults: [String: Any] = [:]
            for (fault, ofFault) in Dictionary(grouping: ofMode, by: \.fault) {
                let rto = ofFault.flatMap { $0.rto.values }
                var figures: [String: Any] = [
                    "trials": ofFault.count,
                    "failed_trials": ofFault.filter(\.failed).count,
                    "errors": ofFault.filter { $0.error != nil }.count,
                    "acknowledged": ofFault.map(\.acknowledged).reduce(0, +),
                    "lost_writes": ofFault.compactMap(\.lost).reduce(0, +),
                    "split_brain_writes": ofFault.map(\.splitBrain).reduce(0, +),
                    "false_failovers": ofFault.filter { $0.broken.contains { $0.hasPrefix("false failover") } }.count,
                    "missed_failovers": ofFault.filter { !$0.findings.isEmpty }.count,
                    "not_one_writable": ofFault.filter { $0.writable.count != 1 }.count,
                    "rto_client_p50_s": round(percentile(rto, 0.5)),
                    "rto_client_max_s": round(rto.max() ?? -1),
                ]
                let reported = ofFault.compactMap(\.reportedRPOBytes)
                if mode == .async { figures["reported_rpo_bytes_max"] = reported.max() ?? -1 }
                faults[fault.rawValue] = figures
            }
            result[mode.rawValue] = faults
        }
        return result
    }

    static func percentile(_ values: [Double], _ fraction: Double) -> Double {
        guard !values.isEmpty else { return -1 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * fraction).rounded(.up)) - 1))]
    }

    static func round(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }

    static func format(_ value: Double?) -> String {
        value.map { String(format: "%.3f", $0) } ?? "-"
    }
}
