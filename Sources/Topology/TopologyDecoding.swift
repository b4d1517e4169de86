/// Decodes the node tree into a ``ClusterTopology``, then checks the rules that span several keys.
struct TopologyDecoding {
    private static let topKeys = [
        "cluster", "connection", "replication", "defaults", "regions", "failover", "routing", "api",
    ]
    private static let apiKeys = ["listen", "tls_certificate", "tls_key", "tokens", "metrics_auth"]
    private static let tokenKeys = ["name", "role", "token"]
    private static let failoverDurationKeys = [
        "fast_reprobe_interval", "stream_staleness", "min_failover_interval", "catch_up_timeout", "promote_timeout",
        "verify_timeout", "command_timeout",
    ]
    private static let failoverKeys =
        failoverDurationKeys + [
            "hooks", "fencing_command", "rejoin_command", "allow_unfenced_promotion",
        ]
    private static let connectionKeys = ["user", "database", "password", "sslmode", "connect_timeout"]
    private static let replicationKeys = ["mode", "synchronous_standbys", "synchronous_count"]
    private static let overrideKeys = [
        "health_check_interval", "probe_timeout", "failure_threshold", "response_time_warning",
        "response_time_critical",
    ]
    private static let defaultsKeys =
        overrideKeys + [
            "replication_lag_warning", "replication_lag_critical", "error_rate_warning", "error_rate_critical",
            "max_lag_on_failover", "rto_target", "rpo_target_synchronous", "rpo_target_asynchronous",
        ]
    private static let regionKeys = ["name", "priority", "latency_hint", "leader", "replicas"]
    private static let endpointKeys = ["name", "host", "port"] + overrideKeys

    let decoder: NodeDecoder
    private let file: String

    init(decoder: NodeDecoder, file: String) {
        self.decoder = decoder
        self.file = file
    }

    // MARK: Drafts: what was readable, with positions for the cross-checks

    /// Health settings and where each explicitly written one came from.
    private struct HealthDraft {
        var settings = HealthSettings()
        var marks: [String: SourceMark] = [:]
        var paths: [String: String] = [:]
    }

    private struct EndpointDraft {
        var path: String
        var mark: SourceMark
        var name: String?
        var nameMark: SourceMark?
        var host: String?
        var port: Int?
        var overrides = HealthDraft()
    }

    private struct RegionDraft {
        var path: String
        var name: String?
        var nameMark: SourceMark?
        var priority: Int?
        var priorityMark: SourceMark?
        var latencyHint: Duration?
        var leader: EndpointDraft?
        var replicas: [EndpointDraft] = []
    }

    // MARK: Top level

    func decode(_ root: YAMLNode) -> ClusterTopology? {
        guard
            let top = decoder.mapping(
                root,
                path: "",
                allowed: Self.topKeys,
                example: "cluster: lab (see docs/configuration.md)"
            )
        else {
            return nil
        }
        let name = decoder.required(top, "cluster", example: "cluster: lab").flatMap {
            decoder.string($0, path: "cluster", example: "cluster: lab")
        }
        let connection = top["connection"].flatMap { decodeConnection($0, path: "connection") } ?? ConnectionSettings()
        let defaults =
            top["defaults"].map { decodeHealth($0, path: "defaults", keys: Self.defaultsKeys) } ?? HealthDraft()
        if top["defaults"] != nil {
            checkHealth(defaults.settings, defaults)
        }
        var regions: [RegionDraft] = []
        if let node = decoder.required(
            top, "regions", example: "regions: [{ name: us-east, priority: 10, leader: ... }]"),
            let items = decoder.sequence(
                node, path: "regions", example: "regions: [{ name: us-east, priority: 10, leader: ... }]")
        {
            if items.isEmpty {
                decoder.report(
                    node.mark,
                    "regions",
                    "regions is empty; add at least one region with a name, a priority and a leader"
                )
            }
            for (index, item) in items.enumerated() {
                regions.append(decodeRegion(item, path: "regions[\(index)]"))
            }
        }
        checkUniqueness(regions)
        let endpoints = regions.flatMap { region in (region.leader.map { [$0] } ?? []) + region.replicas }
        let effective = endpoints.map { effectiveHealth($0, defaults: defaults) }
        let replication =
            top["replication"].flatMap { decodeReplication($0, path: "replication", regions: regions) }
            ?? ReplicationSettings()
        let failover = top["failover"].flatMap { decodeFailover($0, path: "failover") } ?? FailoverPolicy()
        let api = top["api"].flatMap { decodeAPI($0, path: "api") } ?? APISettings()

        let allNames = endpoints.compactMap(\.name)
        let routing = top["routing"].map { decodeRouting($0, path: "routing", endpointNames: allNames) }

        guard decoder.diagnostics.diagnostics.isEmpty, let name else {
            return nil
        }
        var healthByPath: [String: HealthSettings] = [:]
        for (draft, health) in zip(endpoints, effective) {
            healthByPath[draft.path] = health
        }
        let built = regions.compactMap { draft -> Region? in
            guard let regionName = draft.name, let priority = draft.priority, let leaderDraft = draft.leader,
                let leader = endpoint(leaderDraft, region: regionName, role: .leader, health: healthByPath)
            else {
                return nil
            }
            let replicas = draft.replicas.compactMap {
                endpoint($0, region: regionName, role: .replica, health: healthByPath)
            }
            return Region(
                name: regionName,
                priority: priority,
                latencyHint: draft.latencyHint,
                leader: leader,
                replicas: replicas
            )
        }
        return ClusterTopology(
            name: name,
            sourceFile: file,
            connection: connection,
            replication: replication,
            defaults: defaults.settings,
            regions: built,
            failover: failover,
            routing: routing ?? RoutingSettings(),
            api: api
        )
    }

    private func endpoint(
        _ draft: EndpointDraft,
        region: String,
        role: EndpointRole,
        health: [String: HealthSettings]
    ) -> Endpoint? {
        guard let name = draft.name, let host = draft.host, let port = draft.port, let health = health[draft.path]
        else {
            return nil
        }
        return Endpoint(name: name, region: region, role: role, host: host, port: port, health: health)
    }

    // MARK: Sections

    private func decodeAPI(_ node: YAMLNode, path: String) -> APISettings? {
        guard
            let fields = decoder.mapping(
                node, path: path, allowed: Self.apiKeys, example: "api: { listen: \"127.0.0.1:8008\" }")
        else {
            return nil
        }
        var settings = APISettings()
        if let value = fields["listen"],
            let text = decoder.string(value, path: fields.path("listen"), example: "listen: \"127.0.0.1:8008\"")
        {
            if let (host, port) = APISettings.parseListen(text) {
                settings.host = host
                settings.port = port
            } else {
                decoder.report(
                    value.mark, fields.path("listen"),
                    "expected HOST:PORT, got \"\(text)\"; write e.g. listen: \"127.0.0.1:8008\" or \"[::1]:8008\"")
            }
        }
        for (key, field) in [
            ("tls_certificate", \APISettings.tlsCertificatePath), ("tls_key", \APISettings.tlsKeyPath),
        ] {
            if let value = fields[key],
                let file = decoder.string(value, path: fields.path(key), example: "\(key): /etc/failoverd/api.pem")
            {
                settings[keyPath: field] = file
            }
        }
        if (settings.tlsCertificatePath == nil) != (settings.tlsKeyPath == nil) {
            let (present, missing) =
                settings.tlsCertificatePath == nil ? ("tls_key", "tls_certificate") : ("tls_certificate", "tls_key")
            decoder.report(
                fields.keyMark(present) ?? node.mark, fields.path(present),
                "\(present) is set without \(missing); give both (PEM files) for HTTPS, or neither for plain HTTP")
        }
        if let value = fields["metrics_auth"],
            let flag = decoder.scalar(
                value, path: fields.path("metrics_auth"), expected: "true or false", example: "metrics_auth: true")
        {
            switch flag.text.lowercased() {
            case "true", "yes", "on": settings.metricsAuth = true
            case "false", "no", "off": settings.metricsAuth = false
            default:
                decoder.report(
                    value.mark, fields.path("metrics_auth"),
                    "expected true or false, got \"\(flag.raw)\"; write e.g. metrics_auth: true")
            }
        }
        let example = "tokens: [{ name: oncall, role: operator, token: \"${FAILOVER_API_TOKEN}\" }]"
        if let value = fields["tokens"],
            let items = decoder.sequence(value, path: fields.path("tokens"), example: example)
        {
            var seen: [String: SourceMark] = [:]
            for (index, item) in items.enumerated() {
                let itemPath = "\(fields.path("tokens"))[\(index)]"
                guard let token = decodeToken(item, path: itemPath) else { continue }
                if let first = seen[token.name] {
                    decoder.report(
                        item.mark, "\(itemPath).name",
                        "duplicate token name \"\(token.name)\" (first at line \(first.line)); give each token its own name"
                    )
                    continue
                }
                seen[token.name] = item.mark
                settings.tokens.append(token)
            }
        }
        return settings
    }

    private func decodeToken(_ node: YAMLNode, path: String) -> APIToken? {
        let example = "{ name: oncall, role: operator, token: \"${FAILOVER_API_TOKEN}\" }"
        guard let fields = decoder.mapping(node, path: path, allowed: Self.tokenKeys, example: example) else {
            return nil
        }
        let name = decoder.required(fields, "name", example: "name: oncall").flatMap {
            decoder.name($0, path: fields.path("name"), what: "token", example: "name: oncall")
        }
        let role = decoder.required(fields, "role", example: "role: viewer").flatMap {
            decoder.choice($0, path: fields.path("role"), key: "role", as: APIRole.self)
        }
        var secret: Secret?
        if let value = decoder.required(fields, "token", example: "token: \"${FAILOVER_API_TOKEN}\""),
            let text = decoder.scalar(
                value, path: fields.path("token"), expected: "a string", example: "token: \"${FAILOVER_API_TOKEN}\"",
                secret: true)
        {
            if text.text.count < 16 {
                decoder.report(
                    value.mark, fields.path("token"),
                    "a token must have at least 16 characters (got \(text.text.count)); generate one with: openssl rand -hex 32"
                )
            } else {
                secret = Secret(text.text)
            }
        }
        guard let name, let role, let secret else { return nil }
        return APIToken(name: name, role: role, token: secret)
    }

    private func decodeFailover(_ node: YAMLNode, path: String) -> FailoverPolicy? {
        guard
            let fields = decoder.mapping(
                node, path: path, allowed: Self.failoverKeys, example: "failover: { min_failover_interval: 5m }")
        else {
            return nil
        }
        var policy = FailoverPolicy()
        let durations: [(String, WritableKeyPath<FailoverPolicy, Duration>)] = [
            ("fast_reprobe_interval", \.fastReprobeInterval), ("stream_staleness", \.streamStaleness),
            ("min_failover_interval", \.minimumInterval), ("catch_up_timeout", \.catchUpTimeout),
            ("promote_timeout", \.promoteTimeout), ("verify_timeout", \.verifyTimeout),
            ("command_timeout", \.commandTimeout),
        ]
        for (key, field) in durations {
            if let value = fields[key],
                let duration = decoder.duration(
                    value, path: fields.path(key), key: key, positive: key != "min_failover_interval")
            {
                policy[keyPath: field] = duration
            }
        }
        if let value = fields["hooks"],
            let items = decoder.sequence(
                value, path: fields.path("hooks"), example: "hooks: [\"/usr/local/bin/update-dns {new_host}\"]")
        {
            policy.hooks = items.enumerated().compactMap { index, item in
                decoder.string(
                    item, path: "\(fields.path("hooks"))[\(index)]", example: "/usr/local/bin/update-dns {new_host}")
            }
        }
        for (key, field) in [
            ("fencing_command", \FailoverPolicy.fencingCommand), ("rejoin_command", \FailoverPolicy.rejoinCommand),
        ] {
            if let value = fields[key],
                let command = decoder.string(
                    value, path: fields.path(key), example: "\(key): /usr/local/bin/script {endpoint}")
            {
                policy[keyPath: field] = command
            }
        }
        if let value = fields["allow_unfenced_promotion"],
            let allowed = decoder.boolean(
                value, path: fields.path("allow_unfenced_promotion"), key: "allow_unfenced_promotion")
        {
            policy.allowUnfencedPromotion = allowed
        }
        return policy
    }

    private func decodeConnection(_ node: YAMLNode, path: String) -> ConnectionSettings? {
        guard
            let fields = decoder.mapping(
                node,
                path: path,
                allowed: Self.connectionKeys,
                example: "connection: { user: postgres, sslmode: require }"
            )
        else {
            return nil
        }
        var settings = ConnectionSettings()
        if let value = fields["user"],
            let user = decoder.string(value, path: fields.path("user"), example: "user: postgres")
        {
            settings.user = user
        }
        if let value = fields["database"],
            let database = decoder.string(value, path: fields.path("database"), example: "database: postgres")
        {
            settings.database = database
        }
        if let value = fields["password"],
            let password = decoder.scalar(
                value,
                path: fields.path("password"),
                expected: "a string",
                example: "password: ${FAILOVER_PG_PASSWORD}",
                secret: true
            ), !password.text.isEmpty
        {
            settings.password = Secret(password.text)
        }
        if let value = fields["sslmode"],
            let mode = decoder.choice(value, path: fields.path("sslmode"), key: "sslmode", as: SSLMode.self)
        {
            settings.sslMode = mode
        }
        if let value = fields["connect_timeout"],
            let timeout = decoder.duration(
                value, path: fields.path("connect_timeout"), key: "connect_timeout", positive: true)
        {
            settings.connectTimeout = timeout
        }
        return settings
    }

    /// Reads health keys into a draft; for `defaults`, an unwritten probe timeout follows the interval.
    private func decodeHealth(_ node: YAMLNode, path: String, keys: [String]) -> HealthDraft {
        var draft = HealthDraft()
        guard let fields = decoder.mapping(node, path: path, allowed: keys, example: "health_check_interval: 30s")
        else {
            return draft
        }
        readHealthKeys(fields, into: &draft)
        if draft.marks["probe_timeout"] == nil {
            draft.settings.probeTimeout = HealthSettings.defaultProbeTimeout(interval: draft.settings.probeInterval)
        }
        return draft
    }

    private func readHealthKeys(_ fields: Fields, into draft: inout HealthDraft) {
        func duration(_ key: String, positive: Bool, _ keyPath: WritableKeyPath<HealthSettings, Duration>) {
            guard let node = fields[key],
                let value = decoder.duration(node, path: fields.path(key), key: key, positive: positive)
            else {
                return
            }
            draft.settings[keyPath: keyPath] = value
            note(key, node)
        }
        func fraction(_ key: String, _ keyPath: WritableKeyPath<HealthSettings, Double>) {
            guard let node = fields[key], let value = decoder.fraction(node, path: fields.path(key), key: key) else {
                return
            }
            draft.settings[keyPath: keyPath] = value
            note(key, node)
        }
        func note(_ key: String, _ node: YAMLNode) {
            draft.marks[key] = node.mark
            draft.paths[key] = fields.path(key)
        }

        duration("health_check_interval", positive: true, \.probeInterval)
        duration("probe_timeout", positive: true, \.probeTimeout)
        if let node = fields["failure_threshold"],
            let value = decoder.integer(
                node,
                path: fields.path("failure_threshold"),
                key: "failure_threshold",
                range: 1...Int.max,
                example: "3"
            )
        {
            draft.settings.failureThreshold = value
            note("failure_threshold", node)
        }
        duration("response_time_warning", positive: true, \.responseTimeWarning)
        duration("response_time_critical", positive: true, \.responseTimeCritical)
        duration("replication_lag_warning", positive: false, \.replicationLagWarning)
        duration("replication_lag_critical", positive: true, \.replicationLagCritical)
        fraction("error_rate_warning", \.errorRateWarning)
        fraction("error_rate_critical", \.errorRateCritical)
        if let node = fields["max_lag_on_failover"],
            let value = decoder.byteSize(node, path: fields.path("max_lag_on_failover"), key: "max_lag_on_failover")
        {
            draft.settings.maxLagOnFailover = value
            note("max_lag_on_failover", node)
        }
        duration("rto_target", positive: true, \.rtoTarget)
        duration("rpo_target_synchronous", positive: false, \.rpoTargetSynchronous)
        duration("rpo_target_asynchronous", positive: false, \.rpoTargetAsynchronous)
    }

    /// Checks pairs of thresholds. Only pairs with at least one key written in `draft` are checked,
    /// so an endpoint is blamed only for its own overrides.
    private func checkHealth(_ settings: HealthSettings, _ draft: HealthDraft) {
        /// Reports at the first of the two keys that was written.
        func require(_ holds: Bool, blaming keys: [String], _ reason: @autoclosure () -> String) {
            guard !holds, let key = keys.first(where: { draft.marks[$0] != nil }), let mark = draft.marks[key],
                let keyPath = draft.paths[key]
            else {
                return
            }
            decoder.report(mark, keyPath, reason())
        }
        func above(_ critical: String, _ criticalValue: String, _ warning: String, _ warningValue: String) -> String {
            "\(critical) (\(criticalValue)) must be more than \(warning) (\(warningValue)); "
                + "raise the critical threshold or lower the warning"
        }
        let fmt = ValueSyntax.format
        let percent = ValueSyntax.formatPercent
        require(
            settings.probeTimeout < settings.probeInterval,
            blaming: ["probe_timeout", "health_check_interval"],
            "probe_timeout (\(fmt(settings.probeTimeout))) must be less than health_check_interval "
                + "(\(fmt(settings.probeInterval))); lower probe_timeout or raise health_check_interval"
        )
        require(
            settings.responseTimeCritical > settings.responseTimeWarning,
            blaming: ["response_time_critical", "response_time_warning"],
            above(
                "response_time_critical", fmt(settings.responseTimeCritical),
                "response_time_warning", fmt(settings.responseTimeWarning)
            )
        )
        require(
            settings.replicationLagCritical > settings.replicationLagWarning,
            blaming: ["replication_lag_critical", "replication_lag_warning"],
            above(
                "replication_lag_critical", fmt(settings.replicationLagCritical),
                "replication_lag_warning", fmt(settings.replicationLagWarning)
            )
        )
        require(
            settings.errorRateCritical > settings.errorRateWarning,
            blaming: ["error_rate_critical", "error_rate_warning"],
            above(
                "error_rate_critical", percent(settings.errorRateCritical),
                "error_rate_warning", percent(settings.errorRateWarning)
            )
        )
    }

    private func effectiveHealth(_ endpoint: EndpointDraft, defaults: HealthDraft) -> HealthSettings {
        var settings = defaults.settings
        let overrides = endpoint.overrides
        let written = overrides.marks
        if written["health_check_interval"] != nil {
            settings.probeInterval = overrides.settings.probeInterval
        }
        if written["probe_timeout"] != nil {
            settings.probeTimeout = overrides.settings.probeTimeout
        } else if defaults.marks["probe_timeout"] == nil {
            settings.probeTimeout = HealthSettings.defaultProbeTimeout(interval: settings.probeInterval)
        }
        if written["failure_threshold"] != nil {
            settings.failureThreshold = overrides.settings.failureThreshold
        }
        if written["response_time_warning"] != nil {
            settings.responseTimeWarning = overrides.settings.responseTimeWarning
        }
        if written["response_time_critical"] != nil {
            settings.responseTimeCritical = overrides.settings.responseTimeCritical
        }
        if !written.isEmpty {
            checkHealth(settings, overrides)
        }
        return settings
    }

    private func decodeRegion(_ node: YAMLNode, path: String) -> RegionDraft {
        var draft = RegionDraft(path: path)
        guard
            let fields = decoder.mapping(
                node,
                path: path,
                allowed: Self.regionKeys,
                example:
                    "- { name: us-east, priority: 10, leader: { name: us-east-1, host: 10.0.0.1, port: 5432 } }"
            )
        else {
            return draft
        }
        if let value = decoder.required(fields, "name", example: "name: us-east") {
            draft.name = decoder.name(value, path: fields.path("name"), what: "region name", example: "us-east")
            draft.nameMark = value.mark
        }
        if let value = decoder.required(fields, "priority", example: "priority: 8") {
            draft.priority = decoder.integer(
                value,
                path: fields.path("priority"),
                key: "priority",
                range: 0...1000,
                example: "8"
            )
            draft.priorityMark = value.mark
        }
        if let value = fields["latency_hint"] {
            draft.latencyHint = decoder.duration(
                value, path: fields.path("latency_hint"), key: "latency_hint", positive: false)
        }
        if let value = decoder.required(
            fields,
            "leader",
            example: "leader: { name: us-east-1, host: 10.0.0.1, port: 5432 }"
        ) {
            draft.leader = decodeEndpoint(value, path: fields.path("leader"))
        }
        if let value = fields["replicas"],
            let items = decoder.sequence(
                value,
                path: fields.path("replicas"),
                example: "replicas: [{ name: us-east-2, host: 10.0.0.2, port: 5432 }]"
            )
        {
            for (index, item) in items.enumerated() {
                draft.replicas.append(decodeEndpoint(item, path: "\(fields.path("replicas"))[\(index)]"))
            }
        }
        return draft
    }

    private func decodeEndpoint(_ node: YAMLNode, path: String) -> EndpointDraft {
        var draft = EndpointDraft(path: path, mark: node.mark)
        guard
            let fields = decoder.mapping(
                node,
                path: path,
                allowed: Self.endpointKeys,
                example: "{ name: us-east-1, host: 10.0.0.1, port: 5432 }"
            )
        else {
            return draft
        }
        if let value = decoder.required(fields, "name", example: "name: us-east-1") {
            draft.name = decoder.name(value, path: fields.path("name"), what: "endpoint name", example: "us-east-1")
            draft.nameMark = value.mark
        }
        if let value = decoder.required(fields, "host", example: "host: 10.0.0.1") {
            draft.host = decodeHost(value, path: fields.path("host"))
        }
        if let value = decoder.required(fields, "port", example: "port: 5432") {
            draft.port = decoder.port(value, path: fields.path("port"))
        }
        readHealthKeys(fields, into: &draft.overrides)
        return draft
    }

    private func decodeHost(_ node: YAMLNode, path: String) -> String? {
        guard
            let value = decoder.scalar(
                node, path: path, expected: "a host name or IP address", example: "host: 10.0.0.1")
        else {
            return nil
        }
        let host = value.text.trimmingSpaces()
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "\t" || $0 == "/" }) else {
            decoder.report(
                node.mark, path, "\"\(value.raw)\" is not a host name or IP address; write e.g. host: 10.0.0.1")
            return nil
        }
        return host
    }

    private func decodeReplication(_ node: YAMLNode, path: String, regions: [RegionDraft]) -> ReplicationSettings? {
        guard
            let fields = decoder.mapping(
                node,
                path: path,
                allowed: Self.replicationKeys,
                example: "replication: { mode: synchronous, synchronous_standbys: [us-east-2] }"
            )
        else {
            return nil
        }
        var settings = ReplicationSettings()
        if let value = fields["mode"],
            let mode = decoder.choice(value, path: fields.path("mode"), key: "mode", as: ReplicationMode.self)
        {
            settings.mode = mode
        }
        var standbyNodes: [YAMLNode] = []
        if let value = fields["synchronous_standbys"],
            let items = decoder.sequence(
                value,
                path: fields.path("synchronous_standbys"),
                example: "synchronous_standbys: [us-east-2, eu-west-1]"
            )
        {
            standbyNodes = items
            if settings.mode == .asynchronous && !items.isEmpty {
                decoder.report(
                    value.mark,
                    fields.path("synchronous_standbys"),
                    "synchronous_standbys applies only with mode: synchronous; set mode: synchronous or remove the list"
                )
            }
        }
        if settings.mode == .synchronous && standbyNodes.isEmpty {
            let mark = fields.entries["synchronous_standbys"]?.value.mark ?? fields.keyMark("mode") ?? node.mark
            decoder.report(
                mark,
                fields.path("synchronous_standbys"),
                "synchronous replication needs at least one standby; add e.g. synchronous_standbys: [us-east-2]"
            )
        }
        let standbys = standbyCandidates(regions)
        var seen: [String: Int] = [:]
        for (index, item) in standbyNodes.enumerated() {
            let itemPath = "\(fields.path("synchronous_standbys"))[\(index)]"
            guard let name = decoder.string(item, path: itemPath, example: "us-east-2") else {
                continue
            }
            if let first = seen[name] {
                decoder.report(
                    item.mark, itemPath, "\"\(name)\" is listed twice (first at line \(first)); list each standby once")
                continue
            }
            seen[name] = item.mark.line
            settings.synchronousStandbys.append(name)
            guard standbys.all.contains(name) else {
                var reason = "\"\(item.rawText)\" is not an endpoint in this file"
                if let suggestion = NodeDecoder.suggestion(for: name, among: standbys.standbys) {
                    reason += "; did you mean \"\(suggestion)\"?"
                } else {
                    reason += "; list standby endpoints by name: \(standbys.standbys.joined(separator: ", "))"
                }
                decoder.report(item.mark, itemPath, reason)
                continue
            }
            if !standbys.standbys.contains(name) {
                decoder.report(
                    item.mark,
                    itemPath,
                    "\"\(name)\" is the leader of the highest-priority region, so it starts as the primary and cannot be its own synchronous standby; list standby endpoints only"
                )
            }
        }
        if let value = fields["synchronous_count"] {
            let upper = max(1, settings.synchronousStandbys.count)
            if let count = decoder.integer(
                value,
                path: fields.path("synchronous_count"),
                key: "synchronous_count",
                range: 1...upper,
                example: "1"
            ) {
                settings.synchronousCount = count
            }
        }
        return settings
    }

    /// Every endpoint name, and those that start as standbys: all but the leader of the
    /// highest-priority region (the first such region in file order on a tie).
    private func standbyCandidates(_ regions: [RegionDraft]) -> (all: [String], standbys: [String]) {
        var best: RegionDraft?
        for region in regions where region.priority != nil {
            if let current = best?.priority, let priority = region.priority, priority <= current {
                continue
            }
            best = region
        }
        let primary = best?.leader?.name
        var all: [String] = []
        var standbys: [String] = []
        for region in regions {
            for endpoint in (region.leader.map { [$0] } ?? []) + region.replicas {
                guard let name = endpoint.name else {
                    continue
                }
                all.append(name)
                if name != primary {
                    standbys.append(name)
                }
            }
        }
        return (all, standbys)
    }

    // MARK: Uniqueness across the file

    private func checkUniqueness(_ regions: [RegionDraft]) {
        var regionNames: [String: SourceMark] = [:]
        var priorities: [Int: (SourceMark, String)] = [:]
        for region in regions {
            if let name = region.name, let mark = region.nameMark {
                if let first = regionNames[name] {
                    decoder.report(
                        mark,
                        "\(region.path).name",
                        "duplicate region name \"\(name)\" (first used at line \(first.line)); give each region its own name"
                    )
                } else {
                    regionNames[name] = mark
                }
            }
            if let priority = region.priority, let mark = region.priorityMark {
                if let (first, firstRegion) = priorities[priority] {
                    decoder.report(
                        mark,
                        "\(region.path).priority",
                        "priority \(priority) is already used by region \"\(firstRegion)\" at line \(first.line); give each region a different priority so failover order is unambiguous"
                    )
                } else {
                    priorities[priority] = (mark, region.name ?? region.path)
                }
            }
        }
        var endpointNames: [String: SourceMark] = [:]
        var addresses: [String: (SourceMark, String)] = [:]
        for endpoint in regions.flatMap({ region in (region.leader.map { [$0] } ?? []) + region.replicas }) {
            if let name = endpoint.name, let mark = endpoint.nameMark {
                if let first = endpointNames[name] {
                    decoder.report(
                        mark,
                        "\(endpoint.path).name",
                        "duplicate endpoint name \"\(name)\" (first used at line \(first.line)); endpoint names must be unique across all regions"
                    )
                } else {
                    endpointNames[name] = mark
                }
            }
            if let host = endpoint.host, let port = endpoint.port {
                let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
                let key = address.lowercased()
                if let (first, firstName) = addresses[key] {
                    decoder.report(
                        endpoint.mark,
                        endpoint.path,
                        "\(address) is already used by endpoint \"\(firstName)\" at line \(first.line); each endpoint needs its own host:port"
                    )
                } else {
                    addresses[key] = (endpoint.mark, endpoint.name ?? endpoint.path)
                }
            }
        }
    }
}
