internal import Foundation

/// Reads cluster files (see docs/configuration.md) into a validated ``ClusterTopology``.
public enum TopologyLoader {
    /// Reads and validates the file at `path`.
    ///
    /// - Parameter environment: Values for `${VAR}` references; nil means the process environment.
    /// - Throws: every problem in the file at once, sorted by line and column.
    public static func load(
        path: String,
        environment: [String: String]? = nil
    ) throws(TopologyLoadError) -> ClusterTopology {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let diagnostic = TopologyDiagnostic(
                file: path,
                line: 1,
                column: 1,
                path: "",
                reason: "cannot read the file (\(readFailureReason(path))); check the path and its permissions"
            )
            throw TopologyLoadError(diagnostics: [diagnostic])
        }
        return try parse(yaml: text, file: path, environment: environment ?? ProcessInfo.processInfo.environment)
    }

    /// Validates YAML text; `file` is used only in diagnostics and ``ClusterTopology/sourceFile``.
    public static func parse(
        yaml: String,
        file: String,
        environment: [String: String]
    ) throws(TopologyLoadError) -> ClusterTopology {
        let diagnostics = DiagnosticCollector(file: file)
        let root = YAMLTreeBuilder.build(yaml, diagnostics: diagnostics)
        var topology: ClusterTopology?
        if let root {
            let decoder = NodeDecoder(diagnostics: diagnostics, environment: environment)
            topology = TopologyDecoding(decoder: decoder, file: file).decode(root)
        }
        guard let topology, diagnostics.diagnostics.isEmpty else {
            var sorted = diagnostics.sorted
            if sorted.isEmpty {
                sorted = [
                    TopologyDiagnostic(
                        file: file, line: 1, column: 1, path: "", reason: "the file could not be read as a cluster file"
                    )
                ]
            }
            throw TopologyLoadError(diagnostics: sorted)
        }
        return topology
    }

    package static func readFailureReason(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            return "no such file"
        }
        if isDirectory.boolValue {
            return "it is a directory"
        }
        if !FileManager.default.isReadableFile(atPath: path) {
            return "permission denied"
        }
        return "it is not UTF-8 text"
    }
}
