/// One problem in a cluster file, located like a compiler error.
public struct TopologyDiagnostic: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based.
    public var line: Int
    /// 1-based, in characters.
    public var column: Int
    /// Where in the document, e.g. `regions[1].leader.port`; empty for problems with the file itself.
    public var path: String
    /// What is wrong and what to do about it. Never contains a secret or the expansion of a `${VAR}`.
    public var reason: String

    public init(file: String, line: Int, column: Int, path: String, reason: String) {
        self.file = file
        self.line = line
        self.column = column
        self.path = path
        self.reason = reason
    }

    /// `FILE:LINE:COLUMN: error: PATH: reason`, or `FILE:LINE:COLUMN: error: reason` without a path.
    public var description: String {
        let location = "\(file):\(line):\(column): error: "
        return path.isEmpty ? location + reason : location + path + ": " + reason
    }
}

/// Every problem found in a cluster file, sorted by position.
public struct TopologyLoadError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [TopologyDiagnostic]

    public init(diagnostics: [TopologyDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// One diagnostic per line.
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}

/// Collects diagnostics while a file is read, so one run reports every problem.
package final class DiagnosticCollector {
    package let file: String
    package private(set) var diagnostics: [TopologyDiagnostic] = []

    package init(file: String) {
        self.file = file
    }

    package func report(_ line: Int, _ column: Int, _ path: String, _ reason: String) {
        diagnostics.append(TopologyDiagnostic(file: file, line: line, column: column, path: path, reason: reason))
    }

    package func report(at mark: SourceMark, _ path: String, _ reason: String) {
        report(mark.line, mark.column, path, reason)
    }

    /// Stable sort, so problems at one position keep the order they were found in.
    package var sorted: [TopologyDiagnostic] {
        diagnostics.enumerated()
            .sorted { lhs, rhs in
                (lhs.element.line, lhs.element.column, lhs.offset) < (rhs.element.line, rhs.element.column, rhs.offset)
            }
            .map(\.element)
    }
}
