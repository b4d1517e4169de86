import Alerting
import Foundation
import Health
import Hummingbird
import StateStore
import Topology

/// A runtime silence as the API shows it (see /openapi.json, `Silence`).
struct SilenceEntry: Codable, Equatable {
    var id: Int64
    /// Label to accepted values; an alert is silenced when each label has one of its values.
    var matchers: [String: [String]]
    var startsAt: Date
    var endsAt: Date
    var comment: String
    /// The name of the token that added it.
    var createdBy: String
    var createdAt: Date
    var active: Bool

    init(_ stored: StateStore.StoredSilence, now: Date) {
        id = stored.id
        matchers = stored.matchers
        startsAt = stored.startsAt
        endsAt = stored.endsAt
        comment = stored.comment
        createdBy = stored.createdBy
        createdAt = stored.createdAt
        active = stored.isActive(at: now)
    }
}

struct SilenceBody: Decodable {
    var matchers: [String: MatcherValues]
    var endsAt: String?
    var duration: String?
    var comment: String

    static let keys: Set<String> = ["matchers", "endsAt", "duration", "comment"]
}

/// One value (`"high"`) or a list (`["high", "critical"]`) of a matcher.
struct MatcherValues: Decodable {
    var values: [String]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let one = try? container.decode(String.self) {
            values = [one]
        } else if let list = try? container.decode([String].self) {
            values = list
        } else {
            // Named as the API names it: matchers.<label>.
            let label = decoder.codingPath.last?.stringValue ?? ""
            throw DecodingError.typeMismatch(
                [String].self,
                DecodingError.Context(
                    codingPath: [Key(stringValue: "matchers." + label)],
                    debugDescription: "a matcher is a string or a list of strings"))
        }
    }
}

extension AdminRoutes {
    /// Longest silence accepted: a year. Longer is a configuration change, for the alert file.
    static let longestSilence: TimeInterval = 366 * 86_400

    func listSilences() async throws -> Response {
        let now = Date()
        let silences = try await store.silences(notEndedAt: now).map { SilenceEntry($0, now: now) }
        return JSONBody.response(silences)
    }

    func addSilence(_ call: inout Call) async throws -> Response {
        let body = try await call.body(SilenceBody.self, keys: SilenceBody.keys)
        let matchers = body.matchers.mapValues { Array(Set($0.values)).sorted() }
        call.audited["matchers"] = String(decoding: JSONBody.data(matchers), as: UTF8.self)
        if let endsAt = body.endsAt { call.audited["endsAt"] = endsAt }
        if let duration = body.duration { call.audited["duration"] = duration }
        call.audited["comment"] = String(body.comment.prefix(200))

        let topology = monitor.topology
        do {
            _ = try Silence.checkMatchers(
                matchers,
                known: [
                    .region: Set(topology.regions.map(\.name)), .endpoint: Set(topology.allEndpoints.map(\.name)),
                ])
        } catch {
            throw APIError.badRequest(error.field, error.reason)
        }
        let comment = body.comment.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !comment.isEmpty, comment.count <= 1000 else {
            throw APIError.badRequest("comment", "say why, in 1 to 1000 characters, e.g. \"maintenance of ap-south\"")
        }
        let now = Date()
        let endsAt: Date
        switch (body.endsAt, body.duration) {
        case (let text?, nil):
            guard let date = Self.instant(text) else {
                throw APIError.badRequest(
                    "endsAt", "endsAt must be an ISO 8601 instant, e.g. 2026-01-31T18:00:00Z")
            }
            guard date > now else { throw APIError.badRequest("endsAt", "endsAt is in the past; give a later end") }
            endsAt = date
        case (nil, let text?):
            let duration: Duration
            do {
                duration = try ValueSyntax.duration(text)
            } catch {
                throw APIError.badRequest("duration", error.reason)
            }
            guard duration > .zero else { throw APIError.badRequest("duration", "duration must be more than 0") }
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            guard seconds <= Self.longestSilence else {
                throw APIError.badRequest("duration", "duration must be at most 8784h (a year)")
            }
            endsAt = now.addingTimeInterval(seconds)
        default:
            throw APIError.badRequest("endsAt", "give exactly one of endsAt (an instant) or duration (e.g. 2h)")
        }
        guard endsAt.timeIntervalSince(now) <= Self.longestSilence else {
            throw APIError.badRequest("endsAt", "endsAt must be within a year from now")
        }
        let stored = try await store.addSilence(
            matchers: matchers, startsAt: now, endsAt: endsAt, comment: comment,
            createdBy: call.caller?.name ?? "api", createdAt: now)
        call.audited["id"] = String(stored.id)
        return JSONBody.response(SilenceEntry(stored, now: now), status: .created)
    }

    func removeSilence(_ call: inout Call) async throws -> Response {
        let text = call.parameter("id")
        guard let id = Int64(text), id > 0 else {
            throw APIError.badRequest(
                "id", "id must be a silence id (a positive integer) from GET /api/alerts/silences")
        }
        guard try await store.removeSilence(id: id) else {
            throw APIError(
                .notFound, "not_found", field: "id", "no silence with id \(id); list them with GET /api/alerts/silences"
            )
        }
        return JSONBody.response(Message(status: "removed", detail: "silence \(id)"))
    }

    /// An ISO 8601 instant, with or without fractional seconds.
    static func instant(_ text: String) -> Date? {
        let utc = TimeZone(identifier: "UTC")!
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: utc).parse(text) {
            return date
        }
        return try? Date.ISO8601FormatStyle(timeZone: utc).parse(text)
    }
}
