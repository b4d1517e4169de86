import Foundation
public import Topology
internal import Vocabulary

/// Reads alert files (see docs/alerting.md) with the same `FILE:LINE:COLUMN: error: PATH: reason`
/// diagnostics as cluster files, reporting every problem at once.
public enum AlertConfigurationLoader {
    /// Reads and validates the file at `path`.
    ///
    /// - Parameter environment: Values for `${VAR}` references; nil means the process environment.
    public static func load(
        path: String,
        environment: [String: String]? = nil
    ) throws(TopologyLoadError) -> AlertConfiguration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = TopologyLoader.readFailureReason(path)
            throw TopologyLoadError(diagnostics: [
                TopologyDiagnostic(
                    file: path, line: 1, column: 1, path: "",
                    reason: "cannot read the file (\(reason)); check the path and its permissions")
            ])
        }
        return try parse(yaml: text, file: path, environment: environment ?? ProcessInfo.processInfo.environment)
    }

    /// Validates YAML text; `file` is used only in diagnostics.
    public static func parse(
        yaml: String,
        file: String,
        environment: [String: String]
    ) throws(TopologyLoadError) -> AlertConfiguration {
        let diagnostics = DiagnosticCollector(file: file)
        let root = YAMLTreeBuilder.build(
            yaml, diagnostics: diagnostics, emptyFileAdvice: "write at least one channel and a route")
        var configuration: AlertConfiguration?
        if let root {
            let decoder = NodeDecoder(diagnostics: diagnostics, environment: environment)
            configuration = AlertDecoding(decoder: decoder, file: file).decode(root)
        }
        guard let configuration, diagnostics.diagnostics.isEmpty else {
            var sorted = diagnostics.sorted
            if sorted.isEmpty {
                sorted = [
                    TopologyDiagnostic(
                        file: file, line: 1, column: 1, path: "", reason: "the file could not be read as an alert file")
                ]
            }
            throw TopologyLoadError(diagnostics: sorted)
        }
        return configuration
    }

    /// True when the text looks like an alert file (it has a top-level `channels:` key), so
    /// `failoverctl validate` can tell alert files from cluster files.
    public static func looksLikeAlertFile(_ text: String) -> Bool {
        text.split(separator: "\n").contains { $0.hasPrefix("channels:") }
    }
}

/// Decodes the node tree into an ``AlertConfiguration``, then checks names across sections.
struct AlertDecoding {
    private static let topKeys = [
        "runbook_url", "resolve_timeout", "delivery", "channels", "route", "inhibit", "silences",
    ]
    private static let deliveryKeys = [
        "initial_backoff", "max_backoff", "give_up_after", "circuit_failures", "circuit_open_for",
    ]
    private static let channelKeys = [
        "name", "type", "url", "routing_key", "secret", "send_resolved", "connect_timeout", "timeout",
    ]
    private static let groupingKeys = ["channels", "group_by", "group_wait", "group_interval", "repeat_interval"]
    private static let routeKeys = groupingKeys + ["routes"]
    private static let childRouteKeys = groupingKeys + ["match", "continue"]
    private static let inhibitKeys = ["source", "target", "equal"]
    private static let silenceKeys = ["match", "starts", "ends", "comment"]
    private static let pagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

    let decoder: NodeDecoder
    let file: String

    func decode(_ root: YAMLNode) -> AlertConfiguration? {
        guard
            let top = decoder.mapping(
                root, path: "", allowed: Self.topKeys, example: "channels: [...] (see docs/alerting.md)")
        else {
            return nil
        }
        let runbookBase =
            top["runbook_url"].flatMap { decoder.string($0, path: "runbook_url", example: "runbook_url: runbooks/") }
            ?? "runbooks/"
        let resolveTimeout =
            top["resolve_timeout"].flatMap {
                decoder.duration($0, path: "resolve_timeout", key: "resolve_timeout", positive: true)
            } ?? .seconds(300)
        let delivery = top["delivery"].flatMap { decodeDelivery($0) } ?? DeliverySettings()

        var channels: [AlertChannel] = []
        var channelMarks: [String: SourceMark] = [:]
        let channelExample = "channels: [{ name: oncall, type: slack, url: \"${SLACK_WEBHOOK_URL}\" }]"
        if let node = decoder.required(top, "channels", example: channelExample),
            let items = decoder.sequence(node, path: "channels", example: channelExample)
        {
            if items.isEmpty {
                decoder.report(node.mark, "channels", "channels is empty; add at least one channel")
            }
            for (index, item) in items.enumerated() {
                let path = "channels[\(index)]"
                guard let channel = decodeChannel(item, path: path) else { continue }
                if let first = channelMarks[channel.name] {
                    decoder.report(
                        item.mark, "\(path).name",
                        "duplicate channel name \"\(channel.name)\" (first at line \(first.line)); names must be unique"
                    )
                    continue
                }
                channelMarks[channel.name] = item.mark
                channels.append(channel)
            }
        }
        // Names of channels that failed to decode still count, so routes naming them are not reported too.
        var names = channels.map(\.name)
        if let node = top["channels"], case .sequence(let items) = node.content {
            for item in items {
                guard case .mapping(let entries) = item.content,
                    let name = entries.first(where: { $0.key == "name" })?.value.rawText, !names.contains(name)
                else { continue }
                names.append(name)
            }
        }

        var route = Route(channels: [])
        var routes: [Route] = []
        let routeExample = "route: { channels: [oncall] }"
        if let node = decoder.required(top, "route", example: routeExample),
            let fields = decoder.mapping(node, path: "route", allowed: Self.routeKeys, example: routeExample)
        {
            route = decodeGrouping(fields, base: Route(channels: []), channelNames: names)
            if route.channels.isEmpty, fields["channels"] == nil, !fields.suggested.contains("channels") {
                decoder.report(
                    node.mark, "route.channels",
                    "missing required key \"channels\"; add e.g. channels: [oncall] (where unmatched alerts go)")
            }
            if let list = fields["routes"],
                let items = decoder.sequence(
                    list, path: "route.routes",
                    example: "routes: [{ match: { severity: critical }, channels: [pager] }]")
            {
                for (index, item) in items.enumerated() {
                    let path = "route.routes[\(index)]"
                    guard
                        let child = decoder.mapping(
                            item, path: path, allowed: Self.childRouteKeys,
                            example: "{ match: { severity: critical }, channels: [pager] }")
                    else { continue }
                    var decoded = decodeGrouping(child, base: route, channelNames: names)
                    decoded.match =
                        child["match"].flatMap { decodeMatch($0, path: child.path("match")) } ?? AlertMatch()
                    decoded.continueMatching =
                        child["continue"].flatMap { decodeBool($0, path: child.path("continue"), key: "continue") }
                        ?? false
                    if child["channels"] == nil {
                        decoder.report(
                            item.mark, child.path("channels"),
                            "missing required key \"channels\"; add e.g. channels: [\(names.first ?? "oncall")]")
                    }
                    routes.append(decoded)
                }
            }
        }

        var inhibitRules: [InhibitRule] = []
        let inhibitExample =
            "inhibit: [{ source: { type: failover_triggered }, target: { type: endpoint_down }, equal: [cluster] }]"
        if let node = top["inhibit"], let items = decoder.sequence(node, path: "inhibit", example: inhibitExample) {
            for (index, item) in items.enumerated() {
                let path = "inhibit[\(index)]"
                guard
                    let fields = decoder.mapping(item, path: path, allowed: Self.inhibitKeys, example: inhibitExample),
                    let sourceNode = decoder.required(
                        fields, "source", example: "source: { type: failover_triggered }"),
                    let targetNode = decoder.required(fields, "target", example: "target: { type: endpoint_down }"),
                    let source = decodeMatch(sourceNode, path: fields.path("source")),
                    let target = decodeMatch(targetNode, path: fields.path("target"))
                else { continue }
                let equal = fields["equal"].flatMap { decodeLabels($0, path: fields.path("equal"), key: "equal") } ?? []
                inhibitRules.append(InhibitRule(source: source, target: target, equal: equal))
            }
        }

        var silences: [Silence] = []
        let silenceExample = "silences: [{ match: { region: ap-south }, ends: 2026-01-31T18:00:00Z }]"
        if let node = top["silences"], let items = decoder.sequence(node, path: "silences", example: silenceExample) {
            for (index, item) in items.enumerated() {
                let path = "silences[\(index)]"
                guard
                    let fields = decoder.mapping(item, path: path, allowed: Self.silenceKeys, example: silenceExample),
                    let matchNode = decoder.required(fields, "match", example: "match: { region: ap-south }"),
                    let match = decodeMatch(matchNode, path: fields.path("match")),
                    let endsNode = decoder.required(fields, "ends", example: "ends: 2026-01-31T18:00:00Z"),
                    let ends = decodeDate(endsNode, path: fields.path("ends"), key: "ends")
                else { continue }
                let starts = fields["starts"].flatMap { decodeDate($0, path: fields.path("starts"), key: "starts") }
                if let starts, starts >= ends {
                    decoder.report(endsNode.mark, fields.path("ends"), "ends must be after starts")
                }
                if match.conditions.isEmpty {
                    decoder.report(
                        matchNode.mark, fields.path("match"),
                        "an empty match would silence every alert; name at least one label, e.g. region: ap-south")
                }
                let comment =
                    fields["comment"].flatMap {
                        decoder.string($0, path: fields.path("comment"), example: "comment: upgrade")
                    }
                    ?? ""
                silences.append(Silence(match: match, startsAt: starts, endsAt: ends, comment: comment))
            }
        }

        guard decoder.diagnostics.diagnostics.isEmpty else { return nil }
        return AlertConfiguration(
            sourceFile: file, runbookBase: runbookBase, resolveTimeout: resolveTimeout, delivery: delivery,
            channels: channels, route: route, routes: routes, inhibitRules: inhibitRules, silences: silences)
    }

    // MARK: Sections

    private func decodeDelivery(_ node: YAMLNode) -> DeliverySettings? {
        guard
            let fields = decoder.mapping(
                node, path: "delivery", allowed: Self.deliveryKeys, example: "delivery: { initial_backoff: 1s }")
        else { return nil }
        var settings = DeliverySettings()
        func duration(_ key: String) -> Duration? {
            fields[key].flatMap { decoder.duration($0, path: fields.path(key), key: key, positive: true) }
        }
        if let value = duration("initial_backoff") { settings.initialBackoff = value }
        if let value = duration("max_backoff") { settings.maxBackoff = value }
        if let value = duration("give_up_after") { settings.giveUpAfter = value }
        if let value = duration("circuit_open_for") { settings.circuitOpenFor = value }
        if let node = fields["circuit_failures"],
            let value = decoder.integer(
                node, path: fields.path("circuit_failures"), key: "circuit_failures", range: 1...1000, example: "5")
        {
            settings.circuitFailures = value
        }
        if settings.maxBackoff < settings.initialBackoff, let node = fields["max_backoff"] {
            decoder.report(
                node.mark, fields.path("max_backoff"),
                "max_backoff must be at least initial_backoff (\(ValueSyntax.format(settings.initialBackoff)))")
        }
        return settings
    }

    private func decodeChannel(_ node: YAMLNode, path: String) -> AlertChannel? {
        let example = "{ name: oncall, type: slack, url: \"${SLACK_WEBHOOK_URL}\" }"
        guard let fields = decoder.mapping(node, path: path, allowed: Self.channelKeys, example: example) else {
            return nil
        }
        let name = decoder.required(fields, "name", example: "name: oncall").flatMap {
            decoder.name($0, path: fields.path("name"), what: "channel name", example: "oncall")
        }
        let kind = decoder.required(fields, "type", example: "type: slack").flatMap {
            decoder.choice($0, path: fields.path("type"), key: "type", as: AlertChannel.Kind.self)
        }
        var url: Secret?
        if let node = fields["url"] {
            url = secretURL(node, path: fields.path("url"))
        } else if kind == .pagerduty {
            url = Secret(Self.pagerDutyURL)
        } else if kind != nil, !fields.suggested.contains("url") {
            decoder.report(
                node.mark, fields.path("url"),
                "missing required key \"url\"; add e.g. url: \"${\(envName(kind))}\" (it holds a token: keep it in the environment)"
            )
        }
        let routingKey = fields["routing_key"].flatMap { secret($0, path: fields.path("routing_key")) }
        if kind == .pagerduty, routingKey == nil, fields["routing_key"] == nil,
            !fields.suggested.contains("routing_key")
        {
            decoder.report(
                node.mark, fields.path("routing_key"),
                "a pagerduty channel needs its integration key; add routing_key: \"${PAGERDUTY_ROUTING_KEY}\"")
        }
        let signingSecret = fields["secret"].flatMap { secret($0, path: fields.path("secret")) }
        if let kind, kind != .webhook, let node = fields["secret"] {
            decoder.report(node.mark, fields.path("secret"), "only webhook channels are signed; remove secret")
        }
        if let kind, kind != .pagerduty, let node = fields["routing_key"] {
            decoder.report(
                node.mark, fields.path("routing_key"), "only pagerduty channels take a routing_key; remove it")
        }
        let sendResolved =
            fields["send_resolved"].flatMap { decodeBool($0, path: fields.path("send_resolved"), key: "send_resolved") }
            ?? true
        let connectTimeout =
            fields["connect_timeout"].flatMap {
                decoder.duration($0, path: fields.path("connect_timeout"), key: "connect_timeout", positive: true)
            } ?? .seconds(2)
        let timeout =
            fields["timeout"].flatMap {
                decoder.duration($0, path: fields.path("timeout"), key: "timeout", positive: true)
            }
            ?? .seconds(10)
        guard let name, let kind, let url else { return nil }
        return AlertChannel(
            name: name, kind: kind, url: url, routingKey: routingKey, signingSecret: signingSecret,
            sendResolved: sendResolved, connectTimeout: connectTimeout, timeout: timeout)
    }

    private func envName(_ kind: AlertChannel.Kind?) -> String {
        switch kind {
        case .slack: "SLACK_WEBHOOK_URL"
        case .teams: "TEAMS_WEBHOOK_URL"
        case .discord: "DISCORD_WEBHOOK_URL"
        default: "ALERT_WEBHOOK_URL"
        }
    }

    /// A URL that may hold a token: checked for shape, never quoted in a message.
    private func secretURL(_ node: YAMLNode, path: String) -> Secret? {
        guard let value = secret(node, path: path) else { return nil }
        let text = value.reveal()
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "https" || scheme == "http", let host = components.host, !host.isEmpty
        else {
            decoder.report(
                node.mark, path,
                "not an http(s) URL; write e.g. url: \"${SLACK_WEBHOOK_URL}\" with the receiver's full webhook URL")
            return nil
        }
        return value
    }

    private func secret(_ node: YAMLNode, path: String) -> Secret? {
        guard let value = decoder.scalar(node, path: path, expected: "a string", example: "\"${TOKEN}\"", secret: true)
        else { return nil }
        guard !value.text.isEmpty else {
            decoder.report(node.mark, path, "is empty; set the environment variable it names")
            return nil
        }
        return Secret(value.text)
    }

    private func decodeGrouping(_ fields: Fields, base: Route, channelNames: [String]) -> Route {
        var route = base
        route.match = AlertMatch()
        route.continueMatching = false
        if let node = fields["channels"] {
            route.channels = decodeChannelNames(node, path: fields.path("channels"), known: channelNames)
        }
        if let node = fields["group_by"],
            let labels = decodeLabels(node, path: fields.path("group_by"), key: "group_by")
        {
            route.groupBy = labels
        }
        func duration(_ key: String, positive: Bool) -> Duration? {
            fields[key].flatMap { decoder.duration($0, path: fields.path(key), key: key, positive: positive) }
        }
        if let value = duration("group_wait", positive: false) { route.groupWait = value }
        if let value = duration("group_interval", positive: true) { route.groupInterval = value }
        if let value = duration("repeat_interval", positive: true) { route.repeatInterval = value }
        return route
    }

    private func decodeChannelNames(_ node: YAMLNode, path: String, known: [String]) -> [String] {
        var result: [String] = []
        for (item, itemPath) in scalarsOrList(node, path: path, example: "channels: [oncall]") {
            guard let name = decoder.string(item, path: itemPath, example: "oncall") else { continue }
            guard known.contains(name) else {
                var reason = "no channel named \"\(name)\""
                if let suggestion = NodeDecoder.suggestion(for: name, among: known) {
                    reason += "; did you mean \"\(suggestion)\"?"
                } else {
                    reason += "; define it under channels (known: \(known.joined(separator: ", ")))"
                }
                decoder.report(item.mark, itemPath, reason)
                continue
            }
            result.append(name)
        }
        return result
    }

    private func decodeLabels(_ node: YAMLNode, path: String, key: String) -> [AlertLabel]? {
        var labels: [AlertLabel] = []
        for (item, itemPath) in scalarsOrList(node, path: path, example: "\(key): [cluster, type]") {
            if let label = decoder.choice(item, path: itemPath, key: "label", as: AlertLabel.self) {
                labels.append(label)
            }
        }
        return labels
    }

    private func decodeMatch(_ node: YAMLNode, path: String) -> AlertMatch? {
        let allowed = AlertLabel.allCases.map(\.rawValue)
        guard
            let fields = decoder.mapping(
                node, path: path, allowed: allowed, example: "{ type: endpoint_down, severity: [high, critical] }")
        else { return nil }
        var conditions: [AlertLabel: Set<String>] = [:]
        for label in AlertLabel.allCases {
            guard let value = fields[label.rawValue] else { continue }
            var values: Set<String> = []
            for (item, itemPath) in scalarsOrList(value, path: fields.path(label.rawValue), example: "[a, b]") {
                switch label {
                case .type:
                    if let kind = decoder.choice(item, path: itemPath, key: "type", as: ControlEvent.Kind.self) {
                        values.insert(kind.rawValue)
                    }
                case .severity:
                    if let severity = decoder.choice(
                        item, path: itemPath, key: "severity", as: ControlEvent.Severity.self)
                    {
                        values.insert(severity.rawValue)
                    }
                default:
                    if let text = decoder.string(item, path: itemPath, example: "us-east") {
                        values.insert(text)
                    }
                }
            }
            conditions[label] = values
        }
        return AlertMatch(conditions)
    }

    /// One scalar or a list of them, each with its path.
    private func scalarsOrList(_ node: YAMLNode, path: String, example: String) -> [(YAMLNode, String)] {
        switch node.content {
        case .scalar:
            return [(node, path)]
        case .sequence(let items):
            return items.enumerated().map { ($1, "\(path)[\($0)]") }
        case .mapping:
            decoder.report(node.mark, path, "expected a value or a list, got a mapping; write e.g. \(example)")
            return []
        }
    }

    private func decodeBool(_ node: YAMLNode, path: String, key: String) -> Bool? {
        guard let value = decoder.scalar(node, path: path, expected: "true or false", example: "\(key): true") else {
            return nil
        }
        switch value.text.trimmingSpaces() {
        case "true", "True", "TRUE", "yes", "on": return true
        case "false", "False", "FALSE", "no", "off": return false
        default:
            decoder.report(node.mark, path, "expected true or false, got \"\(value.raw)\"; write e.g. \(key): true")
            return nil
        }
    }

    private func decodeDate(_ node: YAMLNode, path: String, key: String) -> Date? {
        guard
            let value = decoder.scalar(
                node, path: path, expected: "a date and time", example: "\(key): 2026-01-31T18:00:00Z")
        else { return nil }
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: value.text.trimmingSpaces()) else {
            decoder.report(
                node.mark, path,
                "\"\(value.raw)\" is not a date and time; write ISO 8601 with a zone, e.g. \(key): 2026-01-31T18:00:00Z"
            )
            return nil
        }
        return date
    }
}
