import Testing
import Topology

@Suite struct ValueSyntaxTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)),
        ("2s", .seconds(2)),
        ("1.5s", .milliseconds(1500)),
        ("0.3s", .milliseconds(300)),
        ("5m", .seconds(300)),
        ("1h", .seconds(3600)),
        ("0.25ms", .microseconds(250)),
        ("0s", .zero),
        (" 30s ", .seconds(30)),
    ])
    func validDurations(text: String, expected: Duration) throws {
        #expect(try ValueSyntax.duration(text) == expected)
    }

    @Test(arguments: [
        ("2", "\"2\" has no unit; add a unit, e.g. 2s (units: ms, s, m, h)"),
        ("2sec", "\"2sec\" has an unknown unit \"sec\"; use ms, s, m or h, e.g. 2s"),
        ("-1s", "\"-1s\" is negative; durations must be 0 or more"),
        ("s", "\"s\" is not a duration; write a number and a unit, e.g. 2s or 500ms"),
        ("1.2.3s", "\"1.2.3s\" is not a valid duration; write e.g. 2s, 1.5s or 500ms"),
        ("", "\"\" is not a duration; write a number and a unit, e.g. 2s or 500ms"),
    ])
    func invalidDurations(text: String, reason: String) {
        #expect(throws: ValueSyntaxError(reason: reason)) {
            try ValueSyntax.duration(text)
        }
    }

    @Test(arguments: [
        ("16MB", ByteSize(bytes: 16 * 1024 * 1024)),
        ("16MiB", ByteSize(bytes: 16 * 1024 * 1024)),
        ("1kB", ByteSize(bytes: 1024)),
        ("1KB", ByteSize(bytes: 1024)),
        ("2kiB", ByteSize(bytes: 2048)),
        ("512B", ByteSize(bytes: 512)),
        ("1GB", ByteSize(bytes: 1 << 30)),
        ("1.5GiB", ByteSize(bytes: 3 << 29)),
        ("0B", ByteSize(bytes: 0)),
    ])
    func validSizes(text: String, expected: ByteSize) throws {
        #expect(try ValueSyntax.byteSize(text) == expected)
    }

    @Test(arguments: [
        ("16", "\"16\" has no unit; add a unit, e.g. 16MB (units: B, kB, MB, GB, TB)"),
        ("16mb", "\"16mb\" has an unknown unit \"mb\"; use B, kB, MB, GB or TB (powers of 1024), e.g. 16MB"),
        ("-1MB", "\"-1MB\" is negative; sizes must be 0 or more"),
        ("99999999999GB", "\"99999999999GB\" is not a valid size; write e.g. 16MB or 512kB"),
    ])
    func invalidSizes(text: String, reason: String) {
        #expect(throws: ValueSyntaxError(reason: reason)) {
            try ValueSyntax.byteSize(text)
        }
    }

    @Test(arguments: [("5%", 0.05), ("0.05", 0.05), ("100%", 1.0), ("0%", 0.0), ("12.5%", 0.125), ("1", 1.0)])
    func validFractions(text: String, expected: Double) throws {
        #expect(abs(try ValueSyntax.fraction(text) - expected) < 1e-12)
    }

    @Test(arguments: ["5", "101%", "five", "-5%", "%"])
    func invalidFractions(text: String) {
        #expect(throws: ValueSyntaxError.self) {
            try ValueSyntax.fraction(text)
        }
    }

    @Test(arguments: [
        (Duration.milliseconds(500), "500ms"),
        (.seconds(30), "30s"),
        (.seconds(300), "5m"),
        (.seconds(7200), "2h"),
        (.milliseconds(1500), "1500ms"),
        (.microseconds(250), "0.25ms"),
        (.zero, "0s"),
    ])
    func durationFormatting(duration: Duration, text: String) throws {
        #expect(ValueSyntax.format(duration) == text)
        #expect(try ValueSyntax.duration(text) == duration)
    }

    @Test(arguments: [
        (ByteSize(bytes: 16 << 20), "16MB"),
        (ByteSize(bytes: 1536), "1536B".replacing("1536B", with: "1536B")),
        (ByteSize(bytes: 3 << 10), "3kB"),
        (ByteSize(bytes: 0), "0B"),
        (ByteSize(bytes: 1 << 30), "1GB"),
    ])
    func sizeFormatting(size: ByteSize, text: String) {
        #expect(size.description == text)
    }

    @Test func sizesCompare() {
        #expect(ByteSize(bytes: 1) < ByteSize(bytes: 2))
        #expect(ByteSize.mebibytes(16) == ByteSize.kibibytes(16 * 1024))
    }
}
