import Foundation
import Testing

@testable import Failover

#if canImport(Glibc)
    import Glibc
#endif

/// Operators' commands: values never parsed by the shell, bounded in time with their whole process
/// group, no descriptor of the daemon inherited, secrets out of their output.
@Suite struct HookRunnerTests {
    @Test func aValueWithShellSyntaxIsPassedLiterally() async throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("hook-\(UUID().uuidString)").path
        let hostile = "db1; touch \(marker) $(touch \(marker)) `touch \(marker)`"
        let result = try await HookRunner.run(
            "printf '%s' {endpoint}", placeholders: ["endpoint": hostile], timeout: .seconds(5))
        #expect(result["output"] == hostile)
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test func placeholdersBecomeQuotedVariables() {
        #expect(
            HookRunner.shellText(
                "rejoin {endpoint} --upstream {primary} {unknown}",
                placeholders: [
                    "endpoint": "a", "primary": "b",
                ]) == "rejoin \"${FAILOVER_ENDPOINT}\" --upstream \"${FAILOVER_PRIMARY}\" {unknown}")
    }

    @Test func aTimeoutKillsTheWholeProcessGroup() async throws {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("hook-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        // A child in the background that would outlive its shell.
        await #expect(throws: FailoverError.self) {
            try await HookRunner.run(
                "sleep 60 & echo $! > \(pidFile); wait", placeholders: [:], timeout: .milliseconds(500))
        }
        let child = try #require(
            Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        // Reaped by init once killed; give it a moment.
        var alive = true
        for _ in 0..<100 where alive {
            alive = kill(child, 0) == 0 && !Self.isZombie(child)
            if alive { try await Task.sleep(for: .milliseconds(10)) }
        }
        #expect(!alive, "the background child \(child) survived the timeout")
    }

    @Test func cancellationKillsTheCommand() async throws {
        let started = ContinuousClock.now
        let task = Task { try await HookRunner.run("sleep 60", placeholders: [:], timeout: .seconds(120)) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func theDaemonsDescriptorsStayOutOfTheCommand() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("hook-\(UUID().uuidString)").path
        let opened = open(file, O_RDWR | O_CREAT, 0o600)
        #expect(opened >= 0)
        let high: Int32 = 77
        #expect(dup2(opened, high) == high)
        defer {
            close(high)
            close(opened)
            unlink(file)
        }
        let result = try await HookRunner.run("ls /proc/$$/fd", placeholders: [:], timeout: .seconds(5))
        let descriptors = Set((result["output"] ?? "").split(separator: "\n").map(String.init))
        #expect(!descriptors.contains("77"), "\(descriptors)")
        #expect(!descriptors.contains(String(opened)) || opened <= 2, "\(descriptors)")
    }

    @Test func secretsAreRedactedFromTheOutput() async throws {
        let result = try await HookRunner.run(
            "echo connecting with password=s3cret-value", placeholders: [:], timeout: .seconds(5),
            secrets: ["s3cret-value"])
        #expect(result["output"] == "connecting with password=***")
    }

    @Test func aFailingCommandSaysHowItEnded() async throws {
        await #expect(throws: FailoverError.self) {
            try await HookRunner.run("echo nope; exit 3", placeholders: [:], timeout: .seconds(5))
        }
        do {
            _ = try await HookRunner.run("echo nope; exit 3", placeholders: [:], timeout: .seconds(5))
        } catch {
            #expect("\(error)".contains("exited with status 3: nope"))
        }
    }

    static func isZombie(_ pid: Int32) -> Bool {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        return status.split(separator: ")").last?.trimmingPrefix(" ").hasPrefix("Z") ?? true
    }
}
