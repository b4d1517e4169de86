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
                let topology = try TopologyLoader.load(path: file)
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
}
