/// The `routing:` section.
extension TopologyDecoding {
    static let routingKeys = [
        "enabled", "listen_rw", "listen_ro", "strategy", "weights", "max_lag", "max_lag_bytes",
        "fallback_to_primary", "latency_hysteresis", "hold_timeout", "drain_grace", "max_connections", "pools",
        "queue_timeout", "breaker", "connect_timeout",
    ]
    static let breakerKeys = ["failures", "window", "open_for", "half_open_trials"]
    static let connectTimeoutKeys = ["min", "max", "factor"]

    func decodeRouting(_ node: YAMLNode, path: String, endpointNames: [String]) -> RoutingSettings {
        var settings = RoutingSettings(enabled: true)
        guard
            let fields = decoder.mapping(
                node,
                path: path,
                allowed: Self.routingKeys,
                example: "routing: { listen_rw: 127.0.0.1:6432, listen_ro: 127.0.0.1:6433 }"
            )
        else {
            return settings
        }
        if let value = fields["enabled"],
            let enabled = decoder.boolean(value, path: fields.path("enabled"), key: "enabled")
        {
            settings.enabled = enabled
        }
        if let value = fields["listen_rw"], let address = listenAddress(value, path: fields.path("listen_rw")) {
            settings.listenReadWrite = address
        }
        if let value = fields["listen_ro"], let address = listenAddress(value, path: fields.path("listen_ro")) {
            settings.listenReadOnly = address
        }
        if let rw = fields["listen_rw"], fields["listen_ro"] != nil,
            settings.listenReadWrite == settings.listenReadOnly, settings.listenReadWrite.port != 0
        {
            decoder.report(
                rw.mark,
                fields.path("listen_rw"),
                "listen_rw and listen_ro are both \(settings.listenReadWrite); give each listener its own port"
            )
        }
        if let value = fields["strategy"],
            let strategy = decoder.choice(value, path: fields.path("strategy"), key: "strategy", as: ReadStrategy.self)
        {
            settings.strategy = strategy
        }
        if let value = fields["weights"] {
            settings.weights = weights(value, path: fields.path("weights"), endpointNames: endpointNames)
        }
        if let value = fields["max_lag"],
            let lag = decoder.duration(value, path: fields.path("max_lag"), key: "max_lag", positive: false)
        {
            settings.maxLagTime = lag
        }
        if let value = fields["max_lag_bytes"],
            let lag = decoder.byteSize(value, path: fields.path("max_lag_bytes"), key: "max_lag_bytes")
        {
            settings.maxLagBytes = lag
        }
        if let value = fields["fallback_to_primary"],
            let fallback = decoder.boolean(value, path: fields.path("fallback_to_primary"), key: "fallback_to_primary")
        {
            settings.fallbackToPrimary = fallback
        }
        if let value = fields["latency_hysteresis"],
            let fraction = decoder.fraction(value, path: fields.path("latency_hysteresis"), key: "latency_hysteresis")
        {
            settings.latencyHysteresis = fraction
        }
        if let value = fields["hold_timeout"],
            let timeout = decoder.duration(
                value, path: fields.path("hold_timeout"), key: "hold_timeout", positive: false)
        {
            settings.holdTimeout = timeout
        }
        if let value = fields["drain_grace"],
            let grace = decoder.duration(value, path: fields.path("drain_grace"), key: "drain_grace", positive: false)
        {
            settings.drainGrace = grace
        }
        if let value = fields["queue_timeout"],
            let timeout = decoder.duration(
                value, path: fields.path("queue_timeout"), key: "queue_timeout", positive: false)
        {
            settings.queueTimeout = timeout
        }
        var maxMark: SourceMark?
        if let value = fields["max_connections"],
            let total = decoder.integer(
                value, path: fields.path("max_connections"), key: "max_connections", range: 1...100_000, example: "100")
        {
            settings.maxConnections = total
            maxMark = value.mark
        }
        if let value = fields["pools"] {
            if let pools = pools(value, path: fields.path("pools")) {
                settings.pools = pools
                let sum = pools.reduce(0) { $0 + $1.size }
                if sum > settings.maxConnections {
                    decoder.report(
                        value.mark,
                        fields.path("pools"),
                        "pool sizes add up to \(sum), more than max_connections (\(settings.maxConnections)); "
                            + "shrink the pools or raise max_connections"
                    )
                }
            }
        } else if maxMark != nil {
            // Without an explicit split, the default shares scale to the total.
            settings.pools = Self.scaledDefaultPools(total: settings.maxConnections)
        }
        if let value = fields["breaker"] {
            settings.breaker = breaker(value, path: fields.path("breaker"))
        }
        if let value = fields["connect_timeout"] {
            settings.connectTimeout = connectTimeout(value, path: fields.path("connect_timeout"))
        }
        return settings
    }

    /// 60% writes, 35% reads, the rest admin, each at least 1 when the total allows it.
    static func scaledDefaultPools(total: Int) -> [ConnectionPool] {
        let writes = max(total >= 2 ? 1 : total, total * 60 / 100)
        let reads = max(total - writes >= 1 ? 1 : 0, total * 35 / 100)
        return [
            ConnectionPool(name: "writes", size: writes), ConnectionPool(name: "reads", size: reads),
            ConnectionPool(name: "admin", size: max(0, total - writes - reads)),
        ]
    }

    private func listenAddress(_ node: YAMLNode, path: String) -> ListenAddress? {
        guard let value = decoder.scalar(node, path: path, expected: "host:port", example: "127.0.0.1:6432") else {
            return nil
        }
        let text = value.text.trimmingSpaces()
        let bad = "\"\(value.raw)\" is not a listen address; write host:port, e.g. 127.0.0.1:6432 or [::1]:6432"
        guard let colon = text.lastIndex(of: ":") else {
            decoder.report(node.mark, path, bad)
            return nil
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = String(host.dropFirst().dropLast())
        }
        guard !host.isEmpty, !host.contains(" "), let port = Int(text[text.index(after: colon)...]) else {
            decoder.report(node.mark, path, bad)
            return nil
        }
        guard (0...65535).contains(port) else {
            decoder.report(
                node.mark, path, "port must be from 0 to 65535 in \"\(value.raw)\"; write e.g. 127.0.0.1:6432")
            return nil
        }
        return ListenAddress(host: host, port: port)
    }

    private func weights(_ node: YAMLNode, path: String, endpointNames: [String]) -> [String: Int] {
        guard case .mapping(let entries) = node.content else {
            decoder.report(
                node.mark, path,
                "expected a mapping of endpoint names to weights, got \(node.kindDescription); write e.g. weights: { eu-west-1: 70, eu-west-2: 30 }"
            )
            return [:]
        }
        var result: [String: Int] = [:]
        for entry in entries {
            let entryPath = "\(path).\(entry.key)"
            guard endpointNames.contains(entry.key) else {
                var reason = "\"\(entry.key)\" is not an endpoint in this file"
                if let suggestion = NodeDecoder.suggestion(for: entry.key, among: endpointNames) {
                    reason += "; did you mean \"\(suggestion)\"?"
                } else {
                    reason += "; weigh endpoints by name: \(endpointNames.joined(separator: ", "))"
                }
                decoder.report(entry.keyMark, entryPath, reason)
                continue
            }
            if let weight = decoder.integer(
                entry.value, path: entryPath, key: entry.key, range: 0...1000, example: "70")
            {
                result[entry.key] = weight
            }
        }
        return result
    }

    private func pools(_ node: YAMLNode, path: String) -> [ConnectionPool]? {
        guard case .mapping(let entries) = node.content else {
            decoder.report(
                node.mark, path,
                "expected a mapping of pool names to sizes, got \(node.kindDescription); write e.g. pools: { writes: 60, reads: 35, admin: 5 }"
            )
            return nil
        }
        var result: [ConnectionPool] = []
        var ok = true
        for entry in entries {
            let entryPath = "\(path).\(entry.key)"
            guard NodeDecoder.isValidName(entry.key) else {
                decoder.report(
                    entry.keyMark, entryPath,
                    "pool name \"\(entry.key)\" is not valid; use lowercase letters, digits and '-', e.g. writes")
                ok = false
                continue
            }
            if let size = decoder.integer(
                entry.value, path: entryPath, key: entry.key, range: 0...100_000, example: "60")
            {
                result.append(ConnectionPool(name: entry.key, size: size))
            } else {
                ok = false
            }
        }
        for required in ["writes", "reads"] where !result.contains(where: { $0.name == required }) && ok {
            decoder.report(
                node.mark, "\(path).\(required)",
                "missing pool \"\(required)\"; the \(required == "writes" ? "read-write" : "read-only") listener draws from it, add e.g. \(required): 10"
            )
            ok = false
        }
        return ok ? result : nil
    }

    private func breaker(_ node: YAMLNode, path: String) -> BreakerSettings {
        var settings = BreakerSettings()
        guard
            let fields = decoder.mapping(
                node, path: path, allowed: Self.breakerKeys,
                example: "breaker: { failures: 3, window: 15s, open_for: 5s }")
        else {
            return settings
        }
        if let value = fields["failures"],
            let failures = decoder.integer(
                value, path: fields.path("failures"), key: "failures", range: 1...1000, example: "3")
        {
            settings.failureThreshold = failures
        }
        if let value = fields["window"],
            let window = decoder.duration(value, path: fields.path("window"), key: "window", positive: true)
        {
            settings.window = window
        }
        if let value = fields["open_for"],
            let open = decoder.duration(value, path: fields.path("open_for"), key: "open_for", positive: true)
        {
            settings.openDuration = open
        }
        if let value = fields["half_open_trials"],
            let trials = decoder.integer(
                value, path: fields.path("half_open_trials"), key: "half_open_trials", range: 1...100, example: "1")
        {
            settings.halfOpenTrials = trials
        }
        return settings
    }

    private func connectTimeout(_ node: YAMLNode, path: String) -> AdaptiveTimeoutSettings {
        var settings = AdaptiveTimeoutSettings()
        guard
            let fields = decoder.mapping(
                node, path: path, allowed: Self.connectTimeoutKeys,
                example: "connect_timeout: { min: 100ms, max: 2s, factor: 4 }")
        else {
            return settings
        }
        var minMark: SourceMark?
        if let value = fields["min"],
            let minimum = decoder.duration(value, path: fields.path("min"), key: "min", positive: true)
        {
            settings.minimum = minimum
            minMark = value.mark
        }
        if let value = fields["max"],
            let maximum = decoder.duration(value, path: fields.path("max"), key: "max", positive: true)
        {
            settings.maximum = maximum
            minMark = minMark ?? value.mark
        }
        if let value = fields["factor"],
            let scalar = decoder.scalar(value, path: fields.path("factor"), expected: "a number", example: "factor: 4")
        {
            if let factor = Double(scalar.text.trimmingSpaces()), factor > 0, factor <= 100 {
                settings.factor = factor
            } else {
                decoder.report(
                    value.mark, fields.path("factor"),
                    "factor must be a number more than 0 and at most 100, got \"\(scalar.raw)\"; write e.g. factor: 4")
            }
        }
        if let mark = minMark, settings.minimum > settings.maximum {
            decoder.report(
                mark, fields.path(fields["min"] != nil ? "min" : "max"),
                "min (\(ValueSyntax.format(settings.minimum))) must be at most max (\(ValueSyntax.format(settings.maximum))); lower min or raise max"
            )
        }
        return settings
    }
}
