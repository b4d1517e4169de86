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
        // Output goes to a file, not a pipe: a command that starts a server (a rejoin does) leaves
        // children holding its descriptors, and a pipe would then never reach end of file.
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("failoverd-command-\(UUID().uuidString).out").path
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
            let output = FileHandle(forWritingAtPath: outputPath)
        else { throw FailoverError.failed("cannot create a file for the command's output") }
        defer {
            try? output.close()
            try? FileManager.default.removeItem(atPath: outputPath)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
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
        let data = FileManager.default.contents(atPath: outputPath) ?? Data()
        let text = String(decoding: data.suffix(4096), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            throw FailoverError.failed("command exited with status \(process.terminationStatus): \(text)")
        }
        return ["output": text, "status": "0"]
    }
}
