/// A scalar after `${VAR}` expansion, with the text as written for use in messages.
package struct ScalarValue {
    /// The value to use.
    package var text: String
    /// The text as written in the file; the only form a message may quote.
    package var raw: String
    package var mark: SourceMark
}

/// The keys of one mapping, with unknown keys already reported.
package struct Fields {
    package var node: YAMLNode
    package var path: String
    package var entries: [String: YAMLNode.MappingEntry]
    /// Keys offered as "did you mean" for a misspelt key; their absence is not reported again.
    package var suggested: Set<String> = []

    /// The value of `key`, or nil when absent or null.
    package subscript(key: String) -> YAMLNode? {
        guard let entry = entries[key], !entry.value.isNull else {
            return nil
        }
        return entry.value
    }

    package func path(_ key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    package func keyMark(_ key: String) -> SourceMark? {
        entries[key]?.keyMark
    }
}

/// Typed reads from the node tree. Each read reports its own problem and returns nil, so decoding
/// carries on and one run lists everything wrong with the file.
package final class NodeDecoder {
    package let diagnostics: DiagnosticCollector
    private let environment: [String: String]

    package init(diagnostics: DiagnosticCollector, environment: [String: String]) {
        self.diagnostics = diagnostics
        self.environment = environment
    }

    package func report(_ mark: SourceMark, _ path: String, _ reason: String) {
        diagnostics.report(at: mark, path, reason)
    }

    // MARK: Structure

    package func mapping(_ node: YAMLNode, path: String, allowed: [String], example: String) -> Fields? {
        guard case .mapping(let list) = node.content else {
            report(node.mark, path, "expected a mapping of keys, got \(node.kindDescription); write e.g. \(example)")
            return nil
        }
        var entries: [String: YAMLNode.MappingEntry] = [:]
        var suggested: Set<String> = []
        for entry in list {
            let childPath = path.isEmpty ? entry.key : "\(path).\(entry.key)"
            guard allowed.contains(entry.key) else {
                let suggestion = Self.suggestion(for: entry.key, among: allowed)
                if let suggestion {
                    suggested.insert(suggestion)
                    report(entry.keyMark, childPath, "unknown key \"\(entry.key)\"; did you mean \"\(suggestion)\"?")
                } else {
                    report(
                        entry.keyMark,
                        childPath,
                        "unknown key \"\(entry.key)\"; remove it or use one of: \(allowed.joined(separator: ", "))"
                    )
                }
                continue
            }
            entries[entry.key] = entry
        }
        return Fields(node: node, path: path, entries: entries, suggested: suggested)
    }

    package func sequence(_ node: YAMLNode, path: String, example: String) -> [YAMLNode]? {
        guard case .sequence(let items) = node.content else {
            report(node.mark, path, "expected a list, got \(node.kindDescription); write e.g. \(example)")
            return nil
        }
        return items
    }

    /// The value of a key that must be present, or nil after reporting its absence.
    package func required(_ fields: Fields, _ key: String, example: String) -> YAMLNode? {
        if let value = fields[key] {
            return value
        }
        if fields.suggested.contains(key) {
            return nil
        }
        if let keyMark = fields.keyMark(key) {
            report(keyMark, fields.path(key), "\"\(key)\" has no value; write e.g. \(example)")
        } else {
            report(fields.node.mark, fields.path(key), "missing required key \"\(key)\"; add e.g. \(example)")
        }
        return nil
    }

    // MARK: Scalars

    /// A scalar with `${VAR}` and `${VAR:-default}` expanded. For a secret, messages never quote the text.
    package func scalar(
        _ node: YAMLNode,
        path: String,
        expected: String,
        example: String,
        secret: Bool = false
    ) -> ScalarValue? {
        guard case .scalar(let raw, _) = node.content else {
            report(node.mark, path, "expected \(expected), got \(node.kindDescription); write e.g. \(example)")
            return nil
        }
        guard let text = expand(raw, mark: node.mark, path: path) else {
            return nil
        }
        return ScalarValue(text: text, raw: raw, mark: node.mark)
    }

    package func string(_ node: YAMLNode, path: String, example: String) -> String? {
        guard let value = scalar(node, path: path, expected: "a string", example: example) else {
            return nil
        }
        guard !value.text.isEmpty else {
            report(node.mark, path, "must not be empty; write e.g. \(example)")
            return nil
        }
        return value.text
    }

    /// A name usable in SQL, metrics and file paths without quoting.
    package func name(_ node: YAMLNode, path: String, what: String, example: String) -> String? {
        guard let value = scalar(node, path: path, expected: "a name", example: example) else {
            return nil
        }
        guard Self.isValidName(value.text) else {
            report(
                node.mark,
                path,
                "\(what) \"\(value.raw)\" is not valid; use lowercase letters, digits and '-', starting with a letter or digit, e.g. \(example)"
            )
            return nil
        }
        return value.text
    }

    package static func isValidName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, isLowerAlphanumeric(first) else {
            return false
        }
        return text.unicodeScalars.allSatisfy { isLowerAlphanumeric($0) || $0 == "-" }
    }

    private static func isLowerAlphanumeric(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar)
    }

    package func integer(_ node: YAMLNode, path: String, key: String, range: ClosedRange<Int>, example: String) -> Int?
    {
        guard let value = scalar(node, path: path, expected: "an integer", example: "\(key): \(example)") else {
            return nil
        }
        guard let number = Int(value.text.trimmingSpaces()) else {
            report(node.mark, path, "expected an integer, got \"\(value.raw)\"; write e.g. \(key): \(example)")
            return nil
        }
        guard range.contains(number) else {
            let bounds =
                range.upperBound == Int.max
                ? "at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
            report(node.mark, path, "\(key) must be \(bounds), got \(value.raw); write e.g. \(key): \(example)")
            return nil
        }
        return number
    }

    /// `true` or `false` (also `yes`/`no`, `on`/`off`, as YAML 1.1 writers use them).
    package func boolean(_ node: YAMLNode, path: String, key: String) -> Bool? {
        guard let value = scalar(node, path: path, expected: "true or false", example: "\(key): true") else {
            return nil
        }
        switch value.text.trimmingSpaces().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(node.mark, path, "expected true or false, got \"\(value.raw)\"; write e.g. \(key): true")
            return nil
        }
    }

    package func port(_ node: YAMLNode, path: String) -> Int? {
        guard let value = scalar(node, path: path, expected: "a port number", example: "port: 5432") else {
            return nil
        }
        guard let number = Int(value.text.trimmingSpaces()) else {
            report(node.mark, path, "expected a port number, got \"\(value.raw)\"; write e.g. port: 5432")
            return nil
        }
        guard (1...65535).contains(number) else {
            report(node.mark, path, "port must be from 1 to 65535, got \(value.raw); PostgreSQL's default is 5432")
            return nil
        }
        return number
    }

    package func duration(_ node: YAMLNode, path: String, key: String, positive: Bool) -> Duration? {
        guard let value = scalar(node, path: path, expected: "a duration", example: "\(key): 2s") else {
            return nil
        }
        let duration: Duration
        do {
            duration = try ValueSyntax.duration(value.text, shown: value.raw)
        } catch {
            report(node.mark, path, error.reason)
            return nil
        }
        if positive && duration <= .zero {
            report(node.mark, path, "\(key) must be more than 0, got \(value.raw); write e.g. \(key): 2s")
            return nil
        }
        return duration
    }

    package func byteSize(_ node: YAMLNode, path: String, key: String) -> ByteSize? {
        guard let value = scalar(node, path: path, expected: "a size", example: "\(key): 16MB") else {
            return nil
        }
        do {
            return try ValueSyntax.byteSize(value.text, shown: value.raw)
        } catch {
            report(node.mark, path, error.reason)
            return nil
        }
    }

    package func fraction(_ node: YAMLNode, path: String, key: String) -> Double? {
        guard let value = scalar(node, path: path, expected: "a rate", example: "\(key): 5%") else {
            return nil
        }
        do {
            return try ValueSyntax.fraction(value.text, shown: value.raw)
        } catch {
            report(node.mark, path, error.reason)
            return nil
        }
    }

    package func choice<T: RawRepresentable & CaseIterable>(
        _ node: YAMLNode,
        path: String,
        key: String,
        as type: T.Type
    ) -> T? where T.RawValue == String {
        let options = T.allCases.map(\.rawValue)
        guard
            let value = scalar(
                node, path: path, expected: "one of \(options.joined(separator: ", "))",
                example: "\(key): \(options[0])")
        else {
            return nil
        }
        if let result = T(rawValue: value.text) {
            return result
        }
        var reason = "unknown \(key) \"\(value.raw)\""
        if let suggestion = Self.suggestion(for: value.text, among: options) {
            reason += "; did you mean \"\(suggestion)\"?"
        } else {
            reason += "; use one of \(options.joined(separator: ", "))"
        }
        report(node.mark, path, reason)
        return nil
    }

    // MARK: Interpolation

    /// Expands `${VAR}` and `${VAR:-default}` (the default also applies when VAR is set but empty, as in the shell).
    private func expand(_ raw: String, mark: SourceMark, path: String) -> String? {
        guard raw.contains("${") else {
            return raw
        }
        var result = ""
        var rest = Substring(raw)
        var ok = true
        while let start = rest.firstRange(of: "${") {
            result += rest[..<start.lowerBound]
            let afterOpen = rest[start.upperBound...]
            guard let close = afterOpen.firstIndex(of: "}") else {
                report(mark, path, "unterminated \"${\" in \"\(raw)\"; close it with \"}\", e.g. ${PGPASSWORD}")
                return nil
            }
            let body = afterOpen[..<close]
            let name: Substring
            let fallback: Substring?
            if let separator = body.firstRange(of: ":-") {
                name = body[..<separator.lowerBound]
                fallback = body[separator.upperBound...]
            } else {
                name = body
                fallback = nil
            }
            if !Self.isValidVariableName(name) {
                report(
                    mark,
                    path,
                    "\"${\(body)}\" is not a valid variable reference; write ${NAME} or ${NAME:-default} with NAME of letters, digits and '_'"
                )
                ok = false
            } else if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
                result += value
            } else if let fallback {
                result += fallback
            } else {
                report(
                    mark,
                    path,
                    "environment variable \(name) is not set; export \(name) or give a default with ${\(name):-default}"
                )
                ok = false
            }
            rest = afterOpen[afterOpen.index(after: close)...]
        }
        result += rest
        return ok ? result : nil
    }

    private static func isValidVariableName(_ name: Substring) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isAlphabetic && first.isASCII
        else {
            return false
        }
        return name.unicodeScalars.allSatisfy {
            $0.isASCII
                && ($0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0))
        }
    }

    // MARK: Suggestions

    /// The closest candidate within a few typos, if any.
    package static func suggestion(for word: String, among candidates: [String]) -> String? {
        let limit = max(1, min(3, word.count / 3))
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(word.lowercased(), candidate)
            if distance <= limit && distance < (best?.1 ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.0
    }

    /// Levenshtein distance.
    static func editDistance(_ lhs: String, _ rhs: String) -> Int {
        let a = Array(lhs)
        let b = Array(rhs)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
