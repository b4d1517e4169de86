import Failover
import Foundation
public import HTTPTypes
public import Hummingbird
import Vocabulary

/// An error the admin API answers with: an HTTP status and the JSON body
/// `{ "error": CODE, "field": NAME-or-null, "reason": SENTENCE }`.
///
/// `reason` says what to do; it never quotes a token, a password or a webhook URL.
public struct APIError: Error, Sendable, HTTPResponseError, Equatable {
    /// The machine-readable `error` value.
    public let code: String
    public let status: HTTPResponse.Status
    /// The input at fault (a query parameter, a JSON field, a path parameter), when there is one.
    public let field: String?
    public let reason: String

    init(_ status: HTTPResponse.Status, _ code: String, field: String? = nil, _ reason: String) {
        self.status = status
        self.code = code
        self.field = field
        self.reason = reason
    }

    static func badRequest(_ field: String?, _ reason: String) -> Self {
        Self(.badRequest, "bad_request", field: field, reason)
    }
    static func unknownRegion(_ name: String) -> Self {
        Self(.badRequest, "unknown_region", field: "region", "no region named \(name) in the cluster file")
    }
    static func unknownEndpoint(_ name: String) -> Self {
        Self(.badRequest, "unknown_endpoint", field: "endpoint", "no endpoint named \(name) in the cluster file")
    }
    static var unauthorized: Self {
        Self(
            .unauthorized, "unauthorized", field: "authorization",
            "send a token of the api.tokens list as Authorization: Bearer TOKEN")
    }
    static func forbidden(_ role: String) -> Self {
        Self(.forbidden, "forbidden", field: "authorization", "this route needs an operator token; yours is a \(role)")
    }
    static func notFound(_ what: String) -> Self { Self(.notFound, "not_found", what) }
    static func notAvailable(_ reason: String) -> Self { Self(.serviceUnavailable, "not_available", reason) }
    static var internalError: Self {
        Self(.internalServerError, "internal", "the daemon could not answer; its log says why")
    }

    /// How the decision-maker's refusals reach the client.
    static func from(_ error: FailoverError) -> Self {
        switch error.code {
        case .conflict: Self(.conflict, "conflict", error.description)
        case .paused: Self(.conflict, "paused", error.description)
        case .unknownRegion: Self(.badRequest, "unknown_region", field: "region", error.description)
        case .unknownEndpoint: Self(.badRequest, "unknown_endpoint", field: "endpoint", error.description)
        case .noCandidate: Self(.conflict, "no_candidate", error.description)
        case .timedOut: Self(.gatewayTimeout, "timed_out", error.description)
        case .failed: Self(.conflict, "failed", error.description)
        }
    }

    struct Body: Codable, Equatable {
        var error: String
        var field: String?
        var reason: String

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(error, forKey: .error)
            // Always present, null when no field is at fault, as the OpenAPI document says.
            try container.encode(field, forKey: .field)
            try container.encode(reason, forKey: .reason)
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONBody.response(Body(error: code, field: field, reason: reason), status: status)
    }
}

/// The JSON encoding of every response: sorted keys, ISO 8601 dates with milliseconds (the state
/// store's own format, so records read the same everywhere).
enum JSONBody {
    static func data(_ value: some Encodable) -> Data {
        (try? OperationRecord.encoder().encode(value)) ?? Data("{}".utf8)
    }

    static func response(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data(value))))
    }
}
