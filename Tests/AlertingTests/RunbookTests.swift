import Alerting
import Foundation
import Testing
import Vocabulary

@Suite struct RunbookTests {
    @Test(arguments: AlertTypes.firing)
    func everyAlertTypeHasARunbook(type: ControlEvent.Kind) throws {
        let path = repositoryRoot.appendingPathComponent(AlertTypes.runbookLink(type, base: "runbooks")).path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasPrefix("# \(type.rawValue):"))
        for section in ["## What it means", "## Impact", "## First checks", "## What to do", "## Escalation"] {
            #expect(text.contains(section), "\(path) lacks \(section)")
        }
    }

    @Test func theDocumentedTypesAllExist() {
        let names = Set(AlertTypes.firing.map(\.rawValue))
        for name in [
            "endpoint_down", "endpoint_slow", "replication_lag", "failover_triggered", "failover_completed",
            "failover_failed", "partition_suspected", "old_primary_returned", "circuit_open", "config_reload_failed",
        ] {
            #expect(names.contains(name))
        }
    }
}
