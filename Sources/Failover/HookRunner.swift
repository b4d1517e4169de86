import Foundation

/// Runs an operator's command (a hook, a fencing or rejoin command) through `/bin/sh -c`, with
/// `{placeholder}`s replaced, bounded in time, output captured for the journal.
enum HookRunner {
    /// Returns `output` (stdout and stderr, at most 4 kB) and `status`; throws when the command
    /// fails or outlives `timeout` (it is then killed).
    static func run(_ template: String, placeholders: [String: String], timeout: Duration) async throws
        -> [String: String]
    {
        var command = template
        for (key, value) in placeholders { command = command.replacingOccurrences(of: "{\(key)}", with: value) }
        let finalCommand = command
        return try await withCheckedThrowingContinuation { continuation in
            // A thread of its own: waiting for a child process must not hold a cooperative thread.
            Thread.detachNewThread {
                continuation.resume(with: Result { try runBlocking(finalCommand, timeout: timeout) })
            }
        }
    }

    private static func runBlocking(_ command: String, timeout: Duration) throws -> [String: String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw FailoverError.timedOut("command", timeout)
        }
        let data = (try? output.fileHandleForReading.readToEnd()) ?? Data()
        let text = String(decoding: data.prefix(4096), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            throw FailoverError.failed("command exited with status \(process.terminationStatus): \(text)")
        }
        return ["output": text, "status": "0"]
    }
}
