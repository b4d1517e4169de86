import Foundation
import Testing
import Topology

/// Parses `yaml` as `test.yaml` and returns its diagnostics; empty when the file is valid.
func diagnostics(_ yaml: String, environment: [String: String] = [:]) -> [TopologyDiagnostic] {
    do {
        _ = try TopologyLoader.parse(yaml: yaml, file: "test.yaml", environment: environment)
        return []
    } catch {
        return error.diagnostics
    }
}

/// Expects exactly one diagnostic, at the given place and with the given reason.
func expectOnly(
    _ yaml: String,
    environment: [String: String] = [:],
    line: Int,
    column: Int,
    path: String,
    reason: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let found = diagnostics(yaml, environment: environment)
    let expected = TopologyDiagnostic(file: "test.yaml", line: line, column: column, path: path, reason: reason)
    #expect(found == [expected], sourceLocation: sourceLocation)
}

/// The repository root, found from this file's location so tests run from any directory.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()
    .deletingLastPathComponent()
    .deletingLastPathComponent()

/// The smallest valid file; tests append to it or replace parts of it.
let minimalRegion = """
    regions:
      - name: r
        priority: 1
        leader: { name: r-1, host: h, port: 5432 }

    """
