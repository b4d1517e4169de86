extension ClusterTopology {
    /// A one-screen description for `failoverctl validate`: what the control plane understood from the file.
    /// The password is shown as `***`.
    public func summary() -> String {
        var lines: [String] = []
        let fmt = ValueSyntax.format
        lines.append("cluster \(name) (\(sourceFile))")
        let password = connection.password.map { "\($0)" } ?? "(none)"
        lines.append(
            "  connection: user \(connection.user), database \(connection.database), password \(password), "
                + "sslmode \(connection.sslMode.rawValue), connect timeout \(fmt(connection.connectTimeout))"
        )
        switch replication.mode {
        case .asynchronous:
            lines.append("  replication: asynchronous")
        case .synchronous:
            lines.append(
                "  replication: synchronous, ANY \(replication.synchronousCount) of "
                    + "[\(replication.synchronousStandbys.joined(separator: ", "))]"
            )
        }
        lines.append("  regions, highest priority first:")
        let nameWidth = allEndpoints.map(\.name.count).max() ?? 0
        for region in regionsByPriority {
            var header = "    \(region.name)  priority \(region.priority)"
            if let hint = region.latencyHint {
                header += ", latency hint \(fmt(hint))"
            }
            lines.append(header)
            for endpoint in region.endpoints {
                let role = endpoint.role == .leader ? "leader " : "replica"
                let padded = endpoint.name.padding(to: nameWidth)
                var line = "      \(role)  \(padded)  \(endpoint.address)"
                let differences = endpoint.health.differences(from: defaults)
                if !differences.isEmpty {
                    line += "  (\(differences.joined(separator: ", ")))"
                }
                lines.append(line)
            }
        }
        let d = defaults
        lines.append("  health checks (defaults):")
        lines.append(
            "    probe every \(fmt(d.probeInterval)), timeout \(fmt(d.probeTimeout)), "
                + "failed after \(d.failureThreshold) consecutive failures"
        )
        lines.append(
            "    response time warning \(fmt(d.responseTimeWarning)), critical \(fmt(d.responseTimeCritical))"
        )
        lines.append(
            "    replication lag warning \(fmt(d.replicationLagWarning)), critical \(fmt(d.replicationLagCritical))"
        )
        lines.append(
            "    error rate warning \(ValueSyntax.formatPercent(d.errorRateWarning)), "
                + "critical \(ValueSyntax.formatPercent(d.errorRateCritical))"
        )
        lines.append("  failover: max lag on failover \(d.maxLagOnFailover), RTO target \(fmt(d.rtoTarget))")
        lines.append(
            "    RPO target \(fmt(d.rpoTargetSynchronous)) synchronous, \(fmt(d.rpoTargetAsynchronous)) asynchronous"
        )
        return lines.joined(separator: "\n")
    }
}

extension HealthSettings {
    /// The per-endpoint settings that differ from `defaults`, in file syntax.
    func differences(from defaults: HealthSettings) -> [String] {
        let fmt = ValueSyntax.format
        var result: [String] = []
        if probeInterval != defaults.probeInterval {
            result.append("probe every \(fmt(probeInterval))")
        }
        if probeTimeout != defaults.probeTimeout {
            result.append("timeout \(fmt(probeTimeout))")
        }
        if failureThreshold != defaults.failureThreshold {
            result.append("failed after \(failureThreshold)")
        }
        if responseTimeWarning != defaults.responseTimeWarning {
            result.append("response warning \(fmt(responseTimeWarning))")
        }
        if responseTimeCritical != defaults.responseTimeCritical {
            result.append("response critical \(fmt(responseTimeCritical))")
        }
        return result
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
