import ArgumentParser
import Foundation

/// The operator's command line for the failover control plane.
@main
struct Failoverctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failoverctl",
        abstract: "Operate the multi-region PostgreSQL failover control plane.",
        subcommands: [
            StatusCommand.self, HistoryCommand.self, SwitchoverCommand.self, FailoverCommand.self, PauseCommand.self,
            ResumeCommand.self, RejoinCommand.self, ReloadCommand.self, AlertsCommand.self, SilenceCommand.self,
            ReportCommand.self,
            ValidateCommand.self, LabCommand.self,
        ]
    )

    /// Exit codes: 0 success, 1 the work failed (e.g. an invalid file), 2 the command line was wrong;
    /// commands over the API add 3 to 6 (``ExitStatus``, docs/cli.md).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                // Usage errors exit 2, as most Unix tools do (ArgumentParser's default is 64).
                printError(fullMessage(for: error))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Writes one line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
