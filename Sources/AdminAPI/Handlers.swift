import Failover
import Foundation
import HTTPTypes
import Health
import Hummingbird
import NIOCore
import Postgres
import Proxy
import Reports
import Routing
import StateStore
import Topology
import Vocabulary

// MARK: Response shapes (see /openapi.json)

struct EndpointStatus: Codable, Equatable {
    var name: String
    var region: String
    var address: String
    /// `leader` or `replica`, from the cluster file.
    var configuredRole: String
    /// `primary`, `standby` or `unknown`, from the last probe.
    var role: String
    var healthy: Bool
    var reachable: Bool
    var down: Bool
    var level: String
    var latencyMilliseconds: Double?
    var lagBytes: Int64?
    var lagSeconds: Double?
    var upstream: String?
    var lastProbeAt: Date?
    var lastError: String?
    var fenced: Bool
}

struct StatusResponse: Codable, Equatable {
    var cluster: String
    var state: String
    var primary: String?
    var automaticFailoverPaused: Bool
    var runningOperation: String?
    var fenced: [String]
    var lastAutomaticFailoverAt: Date?
    var endpoints: [EndpointStatus]
    var router: RoutingTable
}

struct HealthResponse: Codable, Equatable {
    var sequence: UInt64
    var takenAt: Date
    var endpoints: [EndpointStatus]
}

struct AlertEvent: Codable, Equatable {
    var id: Int64?
    var at: Date
    var type: String
    var severity: String
    var event: ControlEvent?
}

struct PerformanceEntry: Codable, Equatable {
    var endpoint: String
    var region: String
    var samples: Int
    var failures: Int
    var errorRate: Double
    var latencyAverageMilliseconds: Double?
    var latencyP95Milliseconds: Double?
    var latencyMaxMilliseconds: Double?
}

struct AuditRow: Codable, Equatable {
    var id: Int64?
    var at: Date
    var actor: String
    var action: String
    var detail: AdminRoutes.AuditPayload?
}

struct Message: Codable, Equatable {
    var status: String
    var detail: String?
}

struct FailoverBody: Decodable {
    var region: String?
    var endpoint: String?
    var force: Bool?
    var dryRun: Bool?
}

struct SwitchoverBody: Decodable {
    var region: String?
    var endpoint: String?
}

struct BreakerBody: Decodable {
    var endpoint: String?
}

struct AnalyzeBody: Decodable {
    var sql: String
}

struct AnalyzeResponse: Codable, Equatable {
    var endpoint: String
    var plan: String
}

// MARK: The route table

extension AdminRoutes {
    /// Every route, in the order of docs/api.md.
    static let table: [Route] = [
        Route(method: .get, path: "/healthz", access: .open) { _, _ in JSONBody.response(Message(status: "ok")) },
        Route(method: .get, path: "/readyz", access: .open) { routes, _ in routes.ready() },
        Route(method: .get, path: "/openapi.json", access: .open) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: AdminAPI.openAPIDocument)))
        },
        Route(method: .get, path: "/metrics", access: .metrics) { routes, _ in try await routes.prometheus() },

        Route(method: .get, path: "/api/database/status", access: .viewer) { routes, _ in
            try await routes.status()
        },
        Route(method: .get, path: "/api/database/health", access: .viewer) { routes, _ in routes.health() },
        Route(method: .get, path: "/api/database/alerts", access: .viewer) { routes, call in
            try await routes.alerts(&call)
        },
        Route(method: .get, path: "/api/database/metrics", access: .viewer) { routes, call in
            try routes.probeSamples(&call)
        },
        Route(method: .get, path: "/api/database/failover-history", access: .viewer) { routes, call in
            try await routes.history(&call)
        },
        Route(method: .get, path: "/api/database/performance", access: .viewer) { routes, _ in routes.performance() },
        Route(method: .get, path: "/api/database/export", access: .viewer) { routes, call in
            try await routes.export(&call)
        },
        Route(method: .get, path: "/api/database/connections", access: .viewer) { routes, _ in
            guard let proxy = routes.dependencies.proxy else { throw APIError.notAvailable(proxyMissing) }
            return JSONBody.response(proxy.status())
        },
        Route(method: .get, path: "/api/routing/watch", access: .viewer) { routes, call in
            let heartbeat = try call.integer("heartbeat", default: RoutingWatch.defaultHeartbeat, range: 1...60)
            return RoutingWatch.response(service: routes.service, heartbeat: heartbeat)
        },
        Route(method: .post, path: "/api/database/failover/{region}", access: .operator) { routes, call in
            let region = call.parameter("region")
            return try await routes.failover(
                &call, region: region, endpoint: nil, force: try call.boolean("force"),
                dryRun: try call.boolean("dry_run"))
        },
        Route(method: .post, path: "/api/database/reconnect/{region}", access: .operator) { routes, call in
            try routes.reconnect(&call)
        },
        Route(method: .post, path: "/api/database/health-check", access: .operator) { routes, _ in
            await routes.checkHealth()
        },
        Route(method: .post, path: "/api/database/connections/refresh", access: .operator) { routes, _ in
            routes.refreshConnections()
        },
        Route(method: .post, path: "/api/database/analyze-query", access: .operator) { routes, call in
            try await routes.analyze(&call)
        },

        Route(method: .get, path: "/failover/status", access: .viewer) { routes, _ in try await routes.status() },
        Route(method: .get, path: "/failover/metrics", access: .viewer) { routes, _ in routes.performance() },
        Route(method: .get, path: "/failover/health", access: .viewer) { routes, _ in routes.health() },
        Route(method: .post, path: "/failover/trigger", access: .operator) { routes, call in
            let body = try await call.body(FailoverBody.self, keys: ["region", "endpoint", "force", "dryRun"])
            if let region = body.region { call.audited["region"] = region }
            if let endpoint = body.endpoint { call.audited["endpoint"] = endpoint }
            call.audited["force"] = String(body.force ?? false)
            call.audited["dryRun"] = String(body.dryRun ?? false)
            return try await routes.failover(
                &call, region: body.region, endpoint: body.endpoint, force: body.force ?? false,
                dryRun: body.dryRun ?? false)
        },
        Route(method: .post, path: "/failover/check-health", access: .operator) { routes, _ in
            await routes.checkHealth()
        },
        Route(method: .get, path: "/failover/history", access: .viewer) { routes, call in
            try await routes.history(&call)
        },

        Route(method: .post, path: "/api/switchover", access: .operator) { routes, call in
            let body = try await call.body(SwitchoverBody.self, keys: ["region", "endpoint"])
            if let region = body.region { call.audited["region"] = region }
            if let endpoint = body.endpoint { call.audited["endpoint"] = endpoint }
            guard (body.region == nil) != (body.endpoint == nil) else {
                throw APIError.badRequest("region", "give exactly one of region or endpoint")
            }
            let record = try await routes.service.switchover(
                region: body.region, endpoint: body.endpoint, requestedBy: call.caller?.name ?? "api")
            return JSONBody.response(record)
        },
        Route(method: .post, path: "/api/pause", access: .operator) { routes, call in
            await routes.service.pause(by: call.caller?.name ?? "api")
            return JSONBody.response(Message(status: "paused"))
        },
        Route(method: .post, path: "/api/resume", access: .operator) { routes, call in
            await routes.service.resume(by: call.caller?.name ?? "api")
            return JSONBody.response(Message(status: "resumed"))
        },
        Route(method: .post, path: "/api/rejoin/{endpoint}", access: .operator) { routes, call in
            let endpoint = call.parameter("endpoint")
            guard routes.monitor.topology.endpoint(named: endpoint) != nil else {
                throw APIError.unknownEndpoint(endpoint)
            }
            let output = try await routes.service.rejoin(endpoint, requestedBy: call.caller?.name ?? "api")
            return JSONBody.response(Message(status: "rejoined", detail: output))
        },
        Route(method: .get, path: "/api/alerts/silences", access: .viewer) { routes, _ in
            try await routes.listSilences()
        },
        Route(method: .post, path: "/api/alerts/silences", access: .operator) { routes, call in
            try await routes.addSilence(&call)
        },
        Route(method: .delete, path: "/api/alerts/silences/{id}", access: .operator) { routes, call in
            try await routes.removeSilence(&call)
        },
        Route(method: .post, path: "/api/circuit-breakers/reset", access: .operator) { routes, call in
            let body = try await call.body(BreakerBody.self, keys: ["endpoint"])
            if let endpoint = body.endpoint { call.audited["endpoint"] = endpoint }
            if let endpoint = body.endpoint, routes.monitor.topology.endpoint(named: endpoint) == nil {
                throw APIError.unknownEndpoint(endpoint)
            }
            guard let proxy = routes.dependencies.proxy else { throw APIError.notAvailable(proxyMissing) }
            let names = body.endpoint.map { [$0] } ?? proxy.status().endpoints.map(\.endpoint)
            let reset = names.filter { proxy.resetBreaker($0) }
            return JSONBody.response(Message(status: "reset", detail: reset.joined(separator: ", ")))
        },
        Route(method: .get, path: "/api/audit", access: .viewer) { routes, call in try await routes.auditRows(&call) },
        Route(method: .post, path: "/api/reload", access: .operator) { routes, _ in try await routes.reload() },
    ]

    static let proxyMissing =
        "the proxy is off (the cluster file has no routing: section), so there are no pools, connections or breakers"

    // MARK: Handlers

    func ready() -> Response {
        let snapshot = monitor.latest
        guard snapshot.sequence > 0 else {
            return JSONBody.response(
                Message(status: "starting", detail: "no health snapshot yet"), status: .serviceUnavailable)
        }
        return JSONBody.response(Message(status: "ready"))
    }

    func prometheus() async throws -> Response {
        await metrics.refresh(status: await service.status(), store: store)
        if let proxy = dependencies.proxy { metrics.record(proxy.status()) }
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
    }

    func endpoints(_ snapshot: HealthSnapshot, fenced: Set<String>) -> [EndpointStatus] {
        monitor.topology.allEndpoints.map { endpoint in
            let health = snapshot[endpoint: endpoint.name]
            return EndpointStatus(
                name: endpoint.name, region: endpoint.region, address: endpoint.address,
                configuredRole: endpoint.role.rawValue, role: health?.role.rawValue ?? "unknown",
                healthy: health?.isHealthy ?? false, reachable: health?.reachable ?? false,
                down: health?.isDown ?? false, level: health?.level.rawValue ?? "unknown",
                latencyMilliseconds: health?.smoothedLatencyMilliseconds, lagBytes: health?.lagBytes,
                lagSeconds: health?.lagSeconds, upstream: health?.upstream, lastProbeAt: health?.lastProbeAt,
                lastError: health?.lastError, fenced: fenced.contains(endpoint.name))
        }
    }

    func status() async throws -> Response {
        let status = await service.status()
        return JSONBody.response(
            StatusResponse(
                cluster: status.cluster, state: status.state.rawValue, primary: status.writeTarget,
                automaticFailoverPaused: status.automaticFailoverPaused, runningOperation: status.runningOperation,
                fenced: status.fenced, lastAutomaticFailoverAt: status.lastAutomaticFailoverAt,
                endpoints: endpoints(monitor.latest, fenced: Set(status.fenced)), router: service.routing))
    }

    func health() -> Response {
        let snapshot = monitor.latest
        return JSONBody.response(
            HealthResponse(
                sequence: snapshot.sequence, takenAt: snapshot.takenAt,
                endpoints: endpoints(snapshot, fenced: Set(service.routing.fenced))))
    }

    func checkHealth() async -> Response {
        let snapshot = await monitor.probeNow()
        return JSONBody.response(
            HealthResponse(
                sequence: snapshot.sequence, takenAt: snapshot.takenAt,
                endpoints: endpoints(snapshot, fenced: Set(service.routing.fenced))))
    }

    func alerts(_ call: inout Call) async throws -> Response {
        let limit = try call.integer("limit", default: 50, range: 1...1000)
        let decoder = OperationRecord.decoder()
        let rows = try await store.events(limit: limit).map { entry in
            AlertEvent(
                id: entry.id, at: entry.at, type: entry.kind, severity: entry.label,
                event: try? decoder.decode(ControlEvent.self, from: entry.payload))
        }
        return JSONBody.response(rows)
    }

    func probeSamples(_ call: inout Call) throws -> Response {
        let limit = try call.integer("limit", default: 100, range: 1...1000)
        let endpoint = call.query("endpoint")
        if let endpoint, monitor.topology.endpoint(named: endpoint) == nil { throw APIError.unknownEndpoint(endpoint) }
        return JSONBody.response(probeHistory.recent(endpoint: endpoint, limit: limit))
    }

    func history(_ call: inout Call) async throws -> Response {
        let limit = try call.integer("limit", default: 20, range: 1...1000)
        return JSONBody.response(try await service.history(limit: limit))
    }

    func performance() -> Response {
        let snapshot = monitor.latest
        let entries = monitor.topology.allEndpoints.map { endpoint -> PerformanceEntry in
            let samples = probeHistory.all(endpoint: endpoint.name)
            let latencies = samples.compactMap(\.latencyMilliseconds).sorted()
            let failures = samples.filter { !$0.reachable }.count
            return PerformanceEntry(
                endpoint: endpoint.name, region: endpoint.region, samples: samples.count, failures: failures,
                errorRate: snapshot[endpoint: endpoint.name]?.errorRate ?? 0,
                latencyAverageMilliseconds: latencies.isEmpty
                    ? nil : latencies.reduce(0, +) / Double(latencies.count),
                latencyP95Milliseconds: latencies.isEmpty
                    ? nil : latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.95))],
                latencyMaxMilliseconds: latencies.last)
        }
        return JSONBody.response(entries)
    }

    func export(_ call: inout Call) async throws -> Response {
        let format = call.query("format") ?? "json"
        guard ["json", "csv", "md", "html"].contains(format) else {
            throw APIError.badRequest("format", "format must be json, csv, md or html")
        }
        let now = Date()
        let end = try date(&call, "to") ?? now
        let start = try date(&call, "from") ?? end.addingTimeInterval(-30 * 86_400)
        guard start < end else { throw APIError.badRequest("from", "from must be before to") }
        let topology = monitor.topology
        let report = try await ReportSource.report(
            store: store, cluster: topology.name, from: start, to: end, targets: ReportTargets(topology.defaults),
            now: now)
        let (text, type): (String, String) =
            switch format {
            case "csv": (CSVExport.render(report), "text/csv; charset=utf-8")
            case "md": (MarkdownExport.render(report), "text/markdown; charset=utf-8")
            case "html": (HTMLExport.render(report), "text/html; charset=utf-8")
            default: (try JSONExport.render(report), "application/json; charset=utf-8")
            }
        return Response(
            status: .ok, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    private func date(_ call: inout Call, _ name: String) throws(APIError) -> Date? {
        guard let text = call.query(name) else { return nil }
        let utc = TimeZone(identifier: "UTC")!
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: utc).parse(text) {
            return date
        }
        if let date = try? Date.ISO8601FormatStyle(timeZone: utc).parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle(timeZone: utc).year().month().day().parse(text) { return date }
        throw .badRequest(name, "\(name) must be an ISO 8601 date in UTC, e.g. 2025-06-15 or 2025-06-15T12:00:00Z")
    }

    func failover(_ call: inout Call, region: String?, endpoint: String?, force: Bool, dryRun: Bool) async throws
        -> Response
    {
        let topology = monitor.topology
        if let region, topology.region(named: region) == nil { throw APIError.unknownRegion(region) }
        if let endpoint, topology.endpoint(named: endpoint) == nil { throw APIError.unknownEndpoint(endpoint) }
        guard region != nil || endpoint != nil else {
            throw APIError.badRequest("region", "give a region or an endpoint to fail over to")
        }
        if dryRun {
            return JSONBody.response(try await service.dryRun(region: region, endpoint: endpoint, force: force))
        }
        let record = try await service.manualFailover(
            region: region, endpoint: endpoint, force: force, requestedBy: call.caller?.name ?? "api")
        return JSONBody.response(record)
    }

    /// EXPLAIN (never ANALYZE) of one read-only statement on a healthy standby, inside a read-only
    /// transaction with a statement timeout, so that the statement is planned but never run.
    func analyze(_ call: inout Call) async throws -> Response {
        let body = try await call.body(AnalyzeBody.self, keys: ["sql"])
        var sql = body.sql.trimmingCharacters(in: .whitespacesAndNewlines)
        if sql.hasSuffix(";") { sql.removeLast() }
        guard !sql.isEmpty, sql.utf8.count <= 8192 else {
            throw APIError.badRequest("sql", "sql must be one statement of 1 to 8192 bytes")
        }
        guard !sql.contains(";") else { throw APIError.badRequest("sql", "sql must be a single statement (no ';')") }
        let first = sql.prefix { $0.isLetter }.lowercased()
        guard ["select", "with", "values", "table"].contains(first) else {
            throw APIError.badRequest("sql", "only read-only statements (SELECT, WITH, VALUES, TABLE) can be explained")
        }
        let snapshot = monitor.latest
        let topology = monitor.topology
        guard
            let replica = snapshot.endpoints.first(where: { $0.isHealthy && $0.role == .standby }),
            let endpoint = topology.endpoint(named: replica.endpoint)
        else {
            throw APIError(.conflict, "no_replica", "no healthy standby to explain the statement on; try again later")
        }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(
                PostgresConfiguration(endpoint: endpoint, connection: topology.connection))
        } catch {
            throw APIError(.conflict, "no_replica", "\(endpoint.name) did not accept a connection; try again")
        }
        defer { connection.close() }
        do {
            _ = try await connection.query("BEGIN TRANSACTION READ ONLY", timeout: .seconds(2))
            _ = try await connection.query("SET LOCAL statement_timeout = 2000", timeout: .seconds(2))
            // An operator's text is planned with the rights of a role that can read and nothing
            // more, never the control plane's own (often a superuser): planning may evaluate
            // functions. The control plane's user must be a member (docs/api.md gives the GRANT).
            _ = try await connection.query("SET LOCAL ROLE pg_read_all_data", timeout: .seconds(2))
            let result = try await connection.query("EXPLAIN " + sql, timeout: .seconds(3))
            _ = try? await connection.query("ROLLBACK", timeout: .seconds(2))
            let plan = result.rows.compactMap { $0.string(0) }.joined(separator: "\n")
            return JSONBody.response(AnalyzeResponse(endpoint: endpoint.name, plan: plan))
        } catch {
            // Generic: the server's message may quote data or the schema to a caller who only
            // asked for a plan. The SQLSTATE says what kind of problem it was.
            let reason =
                error.kind == .queryTimeout
                ? "planning took longer than the limit"
                : "the statement could not be explained" + (error.sqlState.map { " (SQLSTATE \($0))" } ?? "")
            throw APIError.badRequest("sql", reason)
        }
    }

    func auditRows(_ call: inout Call) async throws -> Response {
        let limit = try call.integer("limit", default: 50, range: 1...1000)
        let decoder = OperationRecord.decoder()
        let rows = try await store.audit(limit: limit).map {
            AuditRow(
                id: $0.id, at: $0.at, actor: $0.kind, action: $0.label,
                detail: try? decoder.decode(AuditPayload.self, from: $0.payload))
        }
        return JSONBody.response(rows)
    }

    func reload() async throws -> Response {
        guard let reload = dependencies.reload else {
            throw APIError.notAvailable("this daemon was started without a cluster file to reload")
        }
        do {
            try await reload()
        } catch let error as TopologyLoadError {
            throw APIError.badRequest(
                "config",
                "the cluster file is invalid; the running configuration stays: "
                    + error.diagnostics.map(\.description).joined(separator: "; "))
        }
        return JSONBody.response(Message(status: "reloaded"))
    }
}
