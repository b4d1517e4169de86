import Alerting
import ArgumentParser
import Foundation
import Topology

/// `failoverctl validate FILE...`: checks cluster files and alert files and prints what they mean.
struct ValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check cluster files; print a summary of each valid one and every problem of each invalid one.",
        discussion: "Exit status: 0 all valid, 1 at least one invalid, 2 usage error."
    )

    @Argument(help: "Cluster files or alert files (YAML), e.g. regions/lab.yaml alerts/lab.yaml.")
    var files: [String]

    @Flag(
        help: """
            Check a cluster file whose ${VAR} secrets are not in this environment (a workstation, CI): \
            each unset variable is noted and stands for itself; everything else is checked as usual.
            """)
    var noEnv = false

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("name at least one file to validate") }
    }

    func run() throws {
        var invalid = 0
        for (index, file) in files.enumerated() {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
                AlertConfigurationLoader.looksLikeAlertFile(text)
            {
                do throws(TopologyLoadError) {
                    let alerts = try AlertConfigurationLoader.load(path: file)
                    if index > 0 { print("") }
                    print(
                        "\(file): alert file: \(alerts.channels.count) channel(s), \(alerts.routes.count + 1) route(s), "
                            + "\(alerts.inhibitRules.count) inhibit rule(s), \(alerts.silences.count) silence(s)")
                    for channel in alerts.channels {
                        print("  \(channel.name): \(channel.kind.rawValue) to \(channel.host)")
                    }
                } catch {
                    invalid += 1
                    printError(error.description)
                }
                continue
            }
            do throws(TopologyLoadError) {
                var environment = ProcessInfo.processInfo.environment
                if noEnv, let text = try? String(contentsOfFile: file, encoding: .utf8) {
                    for name in Self.unsetVariables(in: text, environment: environment) {
                        environment[name] = "<unset \(name)>"
                        printError("\(file): note: \(name) is not set here; checked as a placeholder")
                    }
                }
                let topology = try TopologyLoader.load(path: file, environment: environment)
                if index > 0 { print("") }
                print(topology.summary())
                for warning in topology.warnings() { printError(warning) }
            } catch {
                invalid += 1
                printError(error.description)
            }
        }
        if invalid > 0 {
            printError("\(invalid) of \(files.count) file(s) invalid")
            throw ExitCode(1)
        }
    }

    /// Names referenced as `${NAME}` (without a `:-default`) outside comment lines and not set in
    /// `environment`, in order of first use.
    static func unsetVariables(in text: String, environment: [String: String]) -> [String] {
        var names: [String] = []
        for line in text.split(separator: "\n") where !line.trimmingPrefix(while: \.isWhitespace).hasPrefix("#") {
            var rest = line[...]
            while let open = rest.firstRange(of: "${"), let close = rest[open.upperBound...].firstIndex(of: "}") {
                let body = rest[open.upperBound..<close]
                let name = String(body)
                if !body.contains(":-"), environment[name] == nil, !names.contains(name) { names.append(name) }
                rest = rest[rest.index(after: close)...]
            }
        }
        return names
    }
}
