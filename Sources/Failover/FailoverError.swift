import Foundation
import Vocabulary

/// Why an operation was refused or failed; messages name what to do and never hold a secret.
public struct FailoverError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable, Codable {
        case conflict
        case paused
        case unknownEndpoint
        case unknownRegion
        case noCandidate
        case timedOut
        case failed
    }
    public let code: Code
    public let description: String

    static func conflict(_ running: String) -> Self {
        Self(code: .conflict, description: "\(running) is already running; wait for it to finish")
    }
    static var paused: Self {
        Self(code: .paused, description: "automatic failover is paused; resume it or act manually")
    }
    static func unknownEndpoint(_ name: String) -> Self {
        Self(code: .unknownEndpoint, description: "no endpoint named \(name) in the cluster file")
    }
    static func unknownRegion(_ name: String) -> Self {
        Self(code: .unknownRegion, description: "no region named \(name) in the cluster file")
    }
    static func noCandidate(_ reasons: [Rejection]) -> Self {
        let why = reasons.map { "\($0.endpoint): \($0.reason)" }.joined(separator: "; ")
        return Self(code: .noCandidate, description: "no standby can be promoted (\(why))")
    }
    static func timedOut(_ what: String, _ limit: Duration) -> Self {
        Self(code: .timedOut, description: "\(what) did not finish within \(limit)")
    }
    static func failed(_ what: String) -> Self {
        Self(code: .failed, description: what)
    }
}
