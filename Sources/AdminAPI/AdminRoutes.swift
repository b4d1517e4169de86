import Failover
import Foundation
import HTTPTypes
import Health
import Hummingbird
import Logging
import NIOCore
import Postgres
import Reports
import StateStore
import Topology

/// Who may call a route.
enum Access: Sendable {
    /// No token needed: `/healthz`, `/readyz`, `/openapi.json`.
    case open
    /// A token of any role when `api.metrics_auth` is true, else open.
    case metrics
    /// A viewer or operator token.
    case viewer
    /// An operator token.
    case `operator`
}

/// One request being answered: the request, the caller, and what the audit row will record.
struct Call {
    var request: Request
    let context: BasicRequestContext
    let caller: Caller?
    /// Parameters for the audit row: path and query parameters, known body fields. Never a secret.
    var audited: [String: String] = [:]

    /// A path parameter (`{region}`, `{endpoint}`).
    mutating func parameter(_ name: String) -> String {
        let value = context.parameters.get(name) ?? ""
        audited[name] = value
        return value
    }

    mutating func query(_ name: String) -> String? {
        let value = request.uri.queryParameters.get(name)
        if let value { audited[name] = value }
        return value
    }

    /// An integer query parameter within `range`; `fallback` when absent.
    mutating func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) throws(APIError) -> Int {
        guard let text = query(name) else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw .badRequest(
                name,
                "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound); write e.g. ?\(name)=20")
        }
        return value
    }

    mutating func boolean(_ name: String) throws(APIError) -> Bool {
        guard let text = query(name) else { return false }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no", "": return false
        default: throw .badRequest(name, "\(name) must be true or false; write e.g. ?\(name)=true")
        }
    }

    /// The JSON object body decoded as `T` (an empty body is `{}`); unknown keys, a wrong type or a
    /// body over ``AdminAPI/maximumBodySize`` answer 400 naming the field.
    mutating func body<T: Decodable>(_ type: T.Type, keys: Set<String>) async throws(APIError) -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: AdminAPI.maximumBodySize)
        } catch {
            throw .badRequest("body", "the body must be JSON of at most \(AdminAPI.maximumBodySize) bytes")
        }
        var data = Data(buffer.readableBytesView)
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { data = Data("{}".utf8) }
        guard let object = (try? JSONSerialization.jsonObject(with: data, options: [])) as? [String: Any] else {
            throw .badRequest("body", "the body must be a JSON object, e.g. {\"region\": \"eu-west\"}")
        }
        for key in object.keys.sorted() where !keys.contains(key) {
            let known = keys.sorted().joined(separator: ", ")
            throw .badRequest(key, "unknown field \(key); this route takes \(known.isEmpty ? "no fields" : known)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let DecodingError.typeMismatch(_, context) {
            throw .badRequest(context.codingPath.last?.stringValue ?? "body", "has the wrong type; see /openapi.json")
        } catch let DecodingError.keyNotFound(key, _) {
            throw .badRequest(key.stringValue, "is required")
        } catch let DecodingError.valueNotFound(_, context) {
            throw .badRequest(context.codingPath.last?.stringValue ?? "body", "must not be null")
        } catch {
            throw .badRequest("body", "the body could not be read as this route's JSON; see /openapi.json")
        }
    }
}

/// A route: method, path as in the OpenAPI document, who may call it, and its handler.
struct Route: Sendable {
    var method: HTTPRequest.Method
    /// `/api/database/failover/{region}`: OpenAPI style; registered with `:region`.
    var path: String
    var access: Access
    var handler: @Sendable (AdminRoutes, inout Call) async throws -> Response

    var isMutation: Bool { method != .get && method != .head }
}

/// The handlers and what they share.
struct AdminRoutes: Sendable {
    let dependencies: AdminAPI.Dependencies
    let tokens: TokenTable
    let metricsAuth: Bool
    let metrics: APIMetrics
    let probeHistory: ProbeHistory
    let logger: Logger

    var service: RegionalFailoverService { dependencies.service }
    var monitor: HealthMonitor { dependencies.monitor }
    var store: StateStore { dependencies.store }

    func register(on router: Router<BasicRequestContext>) {
        for route in Self.table {
            let template = route.path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
            router.on(RouterPath(template), method: route.method) { request, context in
                try await answer(route, request: request, context: context)
            }
        }
    }

    /// Authenticates, runs the handler, maps its errors, and audits mutations whatever the outcome.
    private func answer(_ route: Route, request: Request, context: BasicRequestContext) async throws -> Response {
        let caller = TokenTable.bearer(request.headers[.authorization]).flatMap { tokens.caller(presenting: $0) }
        var call = Call(request: request, context: context, caller: caller)
        let response: Response
        var failure: APIError?
        do {
            try authorize(route, caller: caller)
            response = try await route.handler(self, &call)
        } catch let error as APIError {
            failure = error
            response = try error.response(from: request, context: context)
        } catch let error as FailoverError {
            failure = .from(error)
            response = try APIError.from(error).response(from: request, context: context)
        } catch {
            // Answered here rather than by the middleware so that a failed mutation is audited too.
            logger.error(
                "admin API request failed",
                metadata: ["route": "\(route.path)", "error": "\(String(describing: type(of: error)))"])
            failure = .internalError
            response = try APIError.internalError.response(from: request, context: context)
        }
        if route.isMutation {
            await audit(route, call: call, status: response.status, failure: failure)
        }
        return response
    }

    private func authorize(_ route: Route, caller: Caller?) throws(APIError) {
        switch route.access {
        case .open: return
        case .metrics: if metricsAuth, caller == nil { throw .unauthorized }
        case .viewer: if caller == nil { throw .unauthorized }
        case .operator:
            guard let caller else { throw .unauthorized }
            if caller.role != .operator { throw .forbidden(caller.role.rawValue) }
        }
    }

    /// What an audit row holds (its payload), besides the time, the token name and the route.
    struct AuditPayload: Codable, Equatable {
        var method: String
        var route: String
        var role: String?
        var parameters: [String: String]
        var status: Int
        /// `ok`, or the error code of the response.
        var result: String
        var reason: String?
    }

    private func audit(_ route: Route, call: Call, status: HTTPResponse.Status, failure: APIError?) async {
        let payload = AuditPayload(
            method: route.method.rawValue, route: route.path, role: call.caller?.role.rawValue,
            parameters: call.audited, status: status.code, result: failure?.code ?? "ok", reason: failure?.reason)
        do {
            try await store.appendAudit(
                StateStore.LogEntry(
                    at: Date(), kind: call.caller?.name ?? "anonymous", label: "\(route.method.rawValue) \(route.path)",
                    payload: JSONBody.data(payload)))
        } catch {
            logger.error("audit row not written", metadata: ["route": "\(route.path)"])
        }
        logger.notice(
            "admin API mutation",
            metadata: [
                "route": "\(route.path)", "actor": "\(call.caller?.name ?? "anonymous")", "status": "\(status.code)",
            ])
    }
}
