/// An amount of data, such as the WAL a standby may lag behind before it is refused as a failover target.
///
/// Written in configuration files with a unit: `B`, `kB` (also `KB`, `KiB`, `kiB`), `MB` (`MiB`),
/// `GB` (`GiB`), `TB` (`TiB`). Every multiple is a power of 1024: `1kB` is 1024 bytes, `16MB` is
/// 16 777 216 bytes, matching PostgreSQL's own memory and WAL units.
public struct ByteSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The size in bytes; never negative.
    public var bytes: Int64

    public init(bytes: Int64) {
        self.bytes = bytes
    }

    public static func kibibytes(_ n: Int64) -> ByteSize { ByteSize(bytes: n * 1024) }
    public static func mebibytes(_ n: Int64) -> ByteSize { ByteSize(bytes: n * 1024 * 1024) }
    public static func gibibytes(_ n: Int64) -> ByteSize { ByteSize(bytes: n * 1024 * 1024 * 1024) }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool {
        lhs.bytes < rhs.bytes
    }

    /// The largest unit that divides the size exactly, in the file syntax, e.g. `16MB` or `1536kB`.
    public var description: String {
        let units: [(String, Int64)] = [("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)]
        for (suffix, factor) in units where bytes != 0 && bytes % factor == 0 {
            return "\(bytes / factor)\(suffix)"
        }
        return "\(bytes)B"
    }
}
