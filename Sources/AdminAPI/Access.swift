import Crypto
import Foundation
import Synchronization
public import Topology

/// Who called: the name and role of the token that matched.
public struct Caller: Sendable, Equatable {
    public var name: String
    public var role: APIRole
}

/// The configured bearer tokens. Lookups compare SHA-256 digests of the presented and configured
/// tokens byte by byte without an early exit, against every token: the time taken does not
/// depend on how much of a token matched, nor on which one matched.
final class TokenTable: Sendable {
    private struct Entry: Sendable {
        var name: String
        var role: APIRole
        var digest: [UInt8]
    }
    private let entries: Mutex<[Entry]>

    init(_ tokens: [APIToken]) {
        entries = Mutex(Self.entries(tokens))
    }

    func replace(_ tokens: [APIToken]) {
        let new = Self.entries(tokens)
        entries.withLock { $0 = new }
    }

    private static func entries(_ tokens: [APIToken]) -> [Entry] {
        tokens.map {
            Entry(name: $0.name, role: $0.role, digest: Array(SHA256.hash(data: Data($0.token.reveal().utf8))))
        }
    }

    /// The caller whose token is `presented`, or nil.
    func caller(presenting presented: String) -> Caller? {
        let digest = Array(SHA256.hash(data: Data(presented.utf8)))
        var found: Caller?
        for entry in entries.withLock({ $0 }) {
            var difference: UInt8 = 0
            for (left, right) in zip(entry.digest, digest) { difference |= left ^ right }
            if difference == 0 && found == nil { found = Caller(name: entry.name, role: entry.role) }
        }
        return found
    }

    /// The token from an `Authorization: Bearer TOKEN` header value.
    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
