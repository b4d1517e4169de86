/// Why a duration, size or percentage written in a configuration file was refused.
public struct ValueSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong and how to write it instead.
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// Parsing and printing of the unit-bearing values used in cluster files, shared with the CLI so that
/// flags such as `--timeout 2s` accept exactly what the files accept.
public enum ValueSyntax {
    private static let durationUnits: [(suffix: String, nanoseconds: Int64)] = [
        ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ]

    private static let sizeUnits: [(suffix: String, bytes: Int64)] = [
        ("B", 1),
        ("kB", 1 << 10), ("KB", 1 << 10), ("kiB", 1 << 10), ("KiB", 1 << 10),
        ("MB", 1 << 20), ("MiB", 1 << 20),
        ("GB", 1 << 30), ("GiB", 1 << 30),
        ("TB", 1 << 40), ("TiB", 1 << 40),
    ]

    /// Parses a non-negative duration: an integer or decimal followed by `ms`, `s`, `m` or `h`,
    /// e.g. `500ms`, `2s`, `1.5s`, `5m`. Precision is one nanosecond; a bare number is refused
    /// because its unit would be a guess.
    public static func duration(_ text: String) throws(ValueSyntaxError) -> Duration {
        try duration(text, shown: text)
    }

    /// `shown` is what messages quote: the raw file text, so a `${VAR}`'s expansion is never echoed.
    static func duration(_ value: String, shown text: String) throws(ValueSyntaxError) -> Duration {
        let trimmed = value.trimmingSpaces()
        let (number, unit) = splitNumber(trimmed)
        guard !number.isEmpty else {
            throw ValueSyntaxError(reason: "\"\(text)\" is not a duration; write a number and a unit, e.g. 2s or 500ms")
        }
        if number.hasPrefix("-") {
            throw ValueSyntaxError(reason: "\"\(text)\" is negative; durations must be 0 or more")
        }
        guard !unit.isEmpty else {
            throw ValueSyntaxError(reason: "\"\(text)\" has no unit; add a unit, e.g. 2s (units: ms, s, m, h)")
        }
        guard let factor = durationUnits.first(where: { $0.suffix == unit })?.nanoseconds else {
            throw ValueSyntaxError(reason: "\"\(text)\" has an unknown unit \"\(unit)\"; use ms, s, m or h, e.g. 2s")
        }
        guard let nanoseconds = scaled(number, by: factor) else {
            throw ValueSyntaxError(reason: "\"\(text)\" is not a valid duration; write e.g. 2s, 1.5s or 500ms")
        }
        return .nanoseconds(nanoseconds)
    }

    /// Parses a non-negative size: an integer or decimal followed by `B`, `kB`/`KB`/`KiB`, `MB`/`MiB`,
    /// `GB`/`GiB` or `TB`/`TiB`; all multiples are powers of 1024. Fractions of a byte are rounded down.
    public static func byteSize(_ text: String) throws(ValueSyntaxError) -> ByteSize {
        try byteSize(text, shown: text)
    }

    static func byteSize(_ value: String, shown text: String) throws(ValueSyntaxError) -> ByteSize {
        let trimmed = value.trimmingSpaces()
        let (number, unit) = splitNumber(trimmed)
        guard !number.isEmpty else {
            throw ValueSyntaxError(reason: "\"\(text)\" is not a size; write a number and a unit, e.g. 16MB")
        }
        if number.hasPrefix("-") {
            throw ValueSyntaxError(reason: "\"\(text)\" is negative; sizes must be 0 or more")
        }
        guard !unit.isEmpty else {
            throw ValueSyntaxError(reason: "\"\(text)\" has no unit; add a unit, e.g. 16MB (units: B, kB, MB, GB, TB)")
        }
        guard let factor = sizeUnits.first(where: { $0.suffix == unit })?.bytes else {
            throw ValueSyntaxError(
                reason:
                    "\"\(text)\" has an unknown unit \"\(unit)\"; use B, kB, MB, GB or TB (powers of 1024), e.g. 16MB"
            )
        }
        guard let bytes = scaled(number, by: factor) else {
            throw ValueSyntaxError(reason: "\"\(text)\" is not a valid size; write e.g. 16MB or 512kB")
        }
        return ByteSize(bytes: bytes)
    }

    /// Parses a rate as a fraction from 0 to 1: either a percentage (`5%`, `0.5%`) or a bare fraction (`0.05`).
    public static func fraction(_ text: String) throws(ValueSyntaxError) -> Double {
        try fraction(text, shown: text)
    }

    static func fraction(_ value: String, shown text: String) throws(ValueSyntaxError) -> Double {
        let trimmed = value.trimmingSpaces()
        let isPercent = trimmed.hasSuffix("%")
        let number = isPercent ? String(trimmed.dropLast()).trimmingSpaces() : trimmed
        guard isPlainDecimal(number), let value = Double(number) else {
            throw ValueSyntaxError(
                reason: "\"\(text)\" is not a rate; write a percentage such as 5% or a fraction such as 0.05")
        }
        if isPercent {
            guard value <= 100 else {
                throw ValueSyntaxError(reason: "\"\(text)\" is more than 100%; write a percentage from 0% to 100%")
            }
            return value / 100
        }
        guard value <= 1 else {
            throw ValueSyntaxError(
                reason: "\"\(text)\" is more than 1; a bare number is a fraction from 0 to 1, so write e.g. 5% or 0.05"
            )
        }
        return value
    }

    /// Prints a duration in the file syntax, with the largest unit that represents it exactly
    /// (`5m`, `30s`, `500ms`); sub-millisecond values print as decimal milliseconds.
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        if nanoseconds == 0 {
            return "0s"
        }
        for (suffix, factor) in durationUnits.reversed() where nanoseconds % factor == 0 {
            return "\(nanoseconds / factor)\(suffix)"
        }
        let whole = nanoseconds / 1_000_000
        var fraction = String(nanoseconds % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.hasSuffix("0") {
            fraction.removeLast()
        }
        return "\(whole).\(fraction)ms"
    }

    /// Prints a fraction as a percentage, e.g. `5%` or `12.5%`.
    public static func formatPercent(_ fraction: Double) -> String {
        let percent = fraction * 100
        let rounded = (percent * 1000).rounded() / 1000
        if rounded == rounded.rounded() {
            return "\(Int64(rounded))%"
        }
        return "\(rounded)%"
    }

    /// Splits `"1.5ms"` into `("1.5", "ms")`.
    private static func splitNumber(_ text: String) -> (number: String, unit: String) {
        let index = text.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == "." || $0 == "-" || $0 == "+")) })
        guard let index else {
            return (text, "")
        }
        return (String(text[..<index]), String(text[index...]).trimmingSpaces())
    }

    private static func isPlainDecimal(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !text.isEmpty, text != "." else {
            return false
        }
        return parts.allSatisfy { part in part.allSatisfy { $0.isASCII && $0.isNumber } }
    }

    /// Multiplies a decimal such as `"1.5"` by an integer factor without going through floating point,
    /// so `1.1s` is exactly 1 100 000 000 ns; nil when malformed or out of range.
    private static func scaled(_ number: String, by factor: Int64) -> Int64? {
        guard isPlainDecimal(number) else {
            return nil
        }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        let wholeText = parts[0].isEmpty ? "0" : String(parts[0])
        guard let whole = Int64(wholeText) else {
            return nil
        }
        let (product, overflow) = whole.multipliedReportingOverflow(by: factor)
        guard !overflow else {
            return nil
        }
        guard parts.count == 2 else {
            return product
        }
        // Digits beyond the factor's precision cannot change the integer result, so they are dropped
        // before the arithmetic to keep it in range.
        var fractionValue: Int64 = 0
        var denominator: Int64 = 1
        for digit in parts[1].prefix(18) {
            fractionValue = fractionValue * 10 + Int64(digit.wholeNumberValue ?? 0)
            denominator *= 10
        }
        let fractional = denominator.dividingFullWidth(fractionValue.multipliedFullWidth(by: factor)).quotient
        let (sum, sumOverflow) = product.addingReportingOverflow(fractional)
        return sumOverflow ? nil : sum
    }
}

extension String {
    package func trimmingSpaces() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " {
            slice.removeFirst()
        }
        while let last = slice.last, last == " " {
            slice.removeLast()
        }
        return String(slice)
    }
}
