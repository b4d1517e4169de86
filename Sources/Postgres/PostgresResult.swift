/// Everything one statement returned, copied out of libpq (text format), so it outlives the
/// connection and can cross tasks.
public struct PostgresResult: Sendable {
    /// Column names, in order.
    public let columns: [String]
    /// Returned rows, in order; empty for statements that return none.
    public let rows: [PostgresRow]
    /// The command tag, e.g. `SELECT 1`, `INSERT 0 3`, `ALTER SYSTEM`.
    public let commandTag: String
    /// Rows affected (`INSERT`, `UPDATE`, `DELETE`, `SELECT`, ...), or `nil` when the command
    /// reports none.
    public let rowsAffected: Int?

    /// Creates a result; used by the connection and handy for tests of code that consumes results.
    public init(columns: [String], rows: [[String?]], commandTag: String, rowsAffected: Int?) {
        var index: [String: Int] = [:]
        for (position, name) in columns.enumerated() where index[name] == nil {
            index[name] = position
        }
        self.columns = columns
        self.rows = rows.map { PostgresRow(values: $0, index: index) }
        self.commandTag = commandTag
        self.rowsAffected = rowsAffected
    }

    /// The first row, if any.
    public var first: PostgresRow? { rows.first }
}

/// One row of a ``PostgresResult``, with typed access by column name or 0-based index.
///
/// Every accessor returns `nil` when the value is SQL `NULL`, when the column does not exist
/// (unknown name, index out of range), or when the text cannot be converted to the asked type.
/// Probes treat all three alike ("not known"); use ``contains(_:)`` or ``isNull(_:)`` to tell
/// them apart. With two columns of the same name, the name refers to the first.
public struct PostgresRow: Sendable {
    /// The raw text values, `nil` for SQL `NULL`.
    public let values: [String?]
    private let index: [String: Int]

    init(values: [String?], index: [String: Int]) {
        self.values = values
        self.index = index
    }

    /// Whether the result has a column of this name.
    public func contains(_ column: String) -> Bool {
        index[column] != nil
    }

    /// Whether the column exists and holds SQL `NULL`.
    public func isNull(_ column: String) -> Bool {
        guard let position = index[column] else {
            return false
        }
        return values[position] == nil
    }

    /// The value as PostgreSQL printed it.
    public func string(_ column: String) -> String? {
        index[column].flatMap { string($0) }
    }

    /// The value at a 0-based column index as PostgreSQL printed it.
    public func string(_ index: Int) -> String? {
        values.indices.contains(index) ? values[index] : nil
    }

    /// An integer column (`int2`, `int4`, `int8`, `oid`, or text of digits).
    public func int(_ column: String) -> Int64? { string(column).flatMap { Int64($0) } }
    /// An integer column at a 0-based index.
    public func int(_ index: Int) -> Int64? { string(index).flatMap { Int64($0) } }

    /// A `boolean` column: PostgreSQL prints `t` / `f`.
    public func bool(_ column: String) -> Bool? { string(column).flatMap(Self.bool(text:)) }
    /// A `boolean` column at a 0-based index.
    public func bool(_ index: Int) -> Bool? { string(index).flatMap(Self.bool(text:)) }

    /// A floating-point or numeric column (`Infinity`, `-Infinity`, `NaN` included).
    public func double(_ column: String) -> Double? { string(column).flatMap { Double($0) } }
    /// A floating-point or numeric column at a 0-based index.
    public func double(_ index: Int) -> Double? { string(index).flatMap { Double($0) } }

    /// A `pg_lsn` column (`16/B374D848`).
    public func lsn(_ column: String) -> LSN? { string(column).flatMap { LSN($0) } }
    /// A `pg_lsn` column at a 0-based index.
    public func lsn(_ index: Int) -> LSN? { string(index).flatMap { LSN($0) } }

    /// A point in time as seconds since 1970-01-01 00:00 UTC.
    ///
    /// Accepts a number (select `extract(epoch from ts)`, the cheapest and exact way) or a
    /// `timestamptz` in PostgreSQL's default ISO output, e.g. `2025-03-01 12:00:05.25+01`.
    public func epochSeconds(_ column: String) -> Double? {
        string(column).flatMap(Self.epochSeconds(text:))
    }
    /// A point in time at a 0-based index, as seconds since 1970-01-01 00:00 UTC.
    public func epochSeconds(_ index: Int) -> Double? {
        string(index).flatMap(Self.epochSeconds(text:))
    }

    static func bool(text: String) -> Bool? {
        switch text {
        case "t", "true", "on", "1": true
        case "f", "false", "off", "0": false
        default: nil
        }
    }

    /// Parses a number, or ISO `YYYY-MM-DD HH:MM:SS[.ffffff][+-HH[:MM[:SS]]]` (no zone means UTC).
    static func epochSeconds(text: String) -> Double? {
        if let number = Double(text) {
            return number
        }
        let bytes = Array(text.utf8)
        var position = 0

        func number(_ digits: Int) -> Int? {
            guard position + digits <= bytes.count else {
                return nil
            }
            var value = 0
            for byte in bytes[position..<position + digits] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else {
                    return nil
                }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            position += digits
            return value
        }
        func expect(_ character: Character) -> Bool {
            guard position < bytes.count, bytes[position] == character.asciiValue else {
                return false
            }
            position += 1
            return true
        }

        guard let year = number(4), expect("-"), let month = number(2), expect("-"), let day = number(2),
            expect(" ") || expect("T"),
            let hour = number(2), expect(":"), let minute = number(2), expect(":"), let second = number(2)
        else {
            return nil
        }
        var fraction = 0.0
        if expect(".") {
            var scale = 0.1
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
                fraction += Double(bytes[position] - UInt8(ascii: "0")) * scale
                scale /= 10
                position += 1
            }
        }
        var offset = 0
        if position < bytes.count {
            let sign: Int
            if expect("+") {
                sign = 1
            } else if expect("-") {
                sign = -1
            } else {
                return nil
            }
            guard let hours = number(2) else {
                return nil
            }
            var seconds = hours * 3600
            if expect(":") {
                guard let minutes = number(2) else {
                    return nil
                }
                seconds += minutes * 60
                if expect(":") {
                    guard let extra = number(2) else {
                        return nil
                    }
                    seconds += extra
                }
            }
            offset = sign * seconds
        }
        guard position == bytes.count, (1...12).contains(month), (1...31).contains(day) else {
            return nil
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        let local = days * 86_400 + hour * 3600 + minute * 60 + second
        return Double(local - offset) + fraction
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = (shiftedYear >= 0 ? shiftedYear : shiftedYear - 399) / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
