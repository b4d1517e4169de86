import Foundation
import Testing

/// `failoverctl validate` as a newcomer runs it: the production example, whose secrets are not in
/// this environment.
@Suite struct ValidateCommandTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs the built `failoverctl` with `arguments` in an environment without the example's secrets.
    static func validate(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("failoverctl")
        process.arguments = ["validate"] + arguments
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.filter {
            !["FAILOVER_PG_PASSWORD", "FAILOVER_API_TOKEN", "FAILOVER_API_VIEWER_TOKEN"].contains($0.key)
        }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        let complained = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: printed, as: UTF8.self),
            String(decoding: complained, as: UTF8.self)
        )
    }

    @Test func theProductionExampleFailsOnUnsetSecretsUnlessToldTheyAreElsewhere() throws {
        let strict = try Self.validate(["regions/production-example.yaml"])
        #expect(strict.status == 1)
        #expect(strict.errors.contains("environment variable FAILOVER_PG_PASSWORD is not set"))

        let noted = try Self.validate(["--no-env", "regions/production-example.yaml"])
        #expect(noted.status == 0, "\(noted.errors)")
        for name in ["FAILOVER_PG_PASSWORD", "FAILOVER_API_TOKEN", "FAILOVER_API_VIEWER_TOKEN"] {
            #expect(noted.errors.contains("note: \(name) is not set here"))
        }
        #expect(noted.output.contains("cluster orders-prod"))
        #expect(noted.output.contains("password ***"))
        #expect(!noted.output.contains("<unset"), "a placeholder secret must print as *** like any secret")
    }

    @Test func noEnvStillReportsEveryOtherProblem() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("broken-\(UUID()).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        let text = try String(
            contentsOfFile: Self.root.appendingPathComponent("regions/production-example.yaml").path, encoding: .utf8)
        try text.replacingOccurrences(of: "failure_threshold: 3", with: "failure_threshold: 0")
            .write(to: file, atomically: true, encoding: .utf8)
        let run = try Self.validate(["--no-env", file.path])
        #expect(run.status == 1)
        #expect(run.errors.contains("failure_threshold"))
    }
}
