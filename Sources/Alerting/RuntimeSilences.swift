import Foundation
public import StateStore
import Vocabulary

/// Why the matchers of a runtime silence were refused: the input at fault (`matchers.<label>`)
/// and what to write instead.
public struct SilenceInputError: Error, Sendable, Equatable {
    public var field: String
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
}

extension Silence {
    /// Labels a runtime silence may match, as the alert file's matchers.
    public static var labels: [String] { AlertLabel.allCases.map(\.rawValue) }

    /// Checks the matchers of a silence added at runtime: known labels, known types and severities,
    /// at least one label and one non-empty value each.
    ///
    /// - Parameter known: For labels whose values must name something that exists (e.g. `region`
    ///   and `endpoint` in the cluster file), the accepted values.
    public static func checkMatchers(
        _ matchers: [String: [String]], known: [AlertLabel: Set<String>] = [:]
    ) throws(SilenceInputError) -> AlertMatch {
        guard !matchers.isEmpty else {
            throw SilenceInputError(
                field: "matchers",
                reason:
                    "an empty matcher would silence every alert; name at least one label, e.g. {\"region\": \"ap-south\"}"
            )
        }
        var conditions: [AlertLabel: Set<String>] = [:]
        for name in matchers.keys.sorted() {
            let field = "matchers.\(name)"
            guard let label = AlertLabel(rawValue: name) else {
                throw SilenceInputError(
                    field: field, reason: "unknown label \(name); labels: \(labels.joined(separator: ", "))")
            }
            let values = matchers[name] ?? []
            guard !values.isEmpty, values.allSatisfy({ !$0.isEmpty }) else {
                throw SilenceInputError(field: field, reason: "give one value or a list of non-empty values")
            }
            for value in values {
                switch label {
                case .type where ControlEvent.Kind(rawValue: value) == nil:
                    let types = ControlEvent.Kind.allCases.map(\.rawValue).joined(separator: ", ")
                    throw SilenceInputError(field: field, reason: "unknown alert type \(value); types: \(types)")
                case .severity where ControlEvent.Severity(rawValue: value) == nil:
                    throw SilenceInputError(
                        field: field, reason: "unknown severity \(value); severities: low, medium, high, critical")
                default:
                    if let accepted = known[label], !accepted.contains(value) {
                        throw SilenceInputError(
                            field: field,
                            reason: "no \(name) named \(value) in the cluster file; known: "
                                + accepted.sorted().joined(separator: ", "))
                    }
                }
            }
            conditions[label] = Set(values)
        }
        return AlertMatch(conditions)
    }

    /// The silence a stored one stands for; nil if its matchers no longer read (a label this
    /// version does not know): such a silence is ignored rather than allowed to silence everything.
    public init?(stored: StateStore.StoredSilence) {
        guard let match = try? Self.checkMatchers(stored.matchers) else { return nil }
        self.init(match: match, startsAt: stored.startsAt, endsAt: stored.endsAt, comment: stored.comment)
    }
}
