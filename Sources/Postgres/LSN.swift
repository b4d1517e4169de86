/// A write-ahead-log position (`pg_lsn`), printed by PostgreSQL as two hex halves: `16/B374D848`.
///
/// Ordered by position, so "most advanced standby" is `max()`. The byte distance between two
/// positions is `a.distance(to: b)` (what `pg_wal_lsn_diff(b, a)` returns).
public struct LSN: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The position as a 64-bit byte offset into the WAL stream.
    public let value: UInt64

    /// The position `value` bytes into the WAL stream.
    public init(_ value: UInt64) {
        self.value = value
    }

    /// Parses PostgreSQL's text form `HI/LO` (each 1–8 hex digits, either case); `nil` if malformed.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
            (1...8).contains(parts[0].count), (1...8).contains(parts[1].count),
            let high = UInt32(parts[0], radix: 16), let low = UInt32(parts[1], radix: 16)
        else {
            return nil
        }
        self.value = UInt64(high) << 32 | UInt64(low)
    }

    /// The text form PostgreSQL uses, e.g. `16/B374D848`.
    public var description: String {
        let high = String(UInt32(truncatingIfNeeded: value >> 32), radix: 16, uppercase: true)
        let low = String(UInt32(truncatingIfNeeded: value), radix: 16, uppercase: true)
        return "\(high)/\(low)"
    }

    /// Bytes from `self` to `other`: positive when `other` is ahead. Saturates at the `Int64` bounds.
    public func distance(to other: LSN) -> Int64 {
        if other.value >= value {
            let difference = other.value - value
            return difference > UInt64(Int64.max) ? Int64.max : Int64(difference)
        }
        let difference = value - other.value
        return difference > UInt64(Int64.max) ? Int64.min : -Int64(difference)
    }

    /// Bytes by which `lhs` is ahead of `rhs` (negative if behind); `pg_wal_lsn_diff(lhs, rhs)`.
    public static func - (lhs: LSN, rhs: LSN) -> Int64 {
        rhs.distance(to: lhs)
    }

    public static func < (lhs: LSN, rhs: LSN) -> Bool {
        lhs.value < rhs.value
    }
}
