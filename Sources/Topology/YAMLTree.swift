internal import CLibYAML

/// A 1-based position in the source text.
package struct SourceMark: Sendable, Equatable {
    package var line: Int
    package var column: Int

    package init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    /// libyaml marks are 0-based.
    init(_ mark: yaml_mark_t) {
        line = Int(mark.line) + 1
        column = Int(mark.column) + 1
    }
}

/// The part of a YAML document the decoder needs: scalars, mappings and sequences with positions.
/// Tags are ignored and aliases are replaced by the node they name.
package struct YAMLNode: Sendable {
    package enum Content: Sendable {
        /// `plain` is false for quoted and block scalars, which are never null.
        case scalar(String, plain: Bool)
        case mapping([MappingEntry])
        case sequence([YAMLNode])
    }

    package struct MappingEntry: Sendable {
        package var key: String
        package var keyMark: SourceMark
        package var value: YAMLNode
    }

    package var content: Content
    package var mark: SourceMark

    /// `~`, `null`, or nothing at all after `key:`.
    package var isNull: Bool {
        if case .scalar(let text, plain: true) = content {
            return ["", "~", "null", "Null", "NULL"].contains(text)
        }
        return false
    }

    /// The scalar's text as written, or "" for collections.
    package var rawText: String {
        if case .scalar(let text, _) = content {
            return text
        }
        return ""
    }

    /// "a mapping", "a list", or the scalar itself, for "expected X, got Y" messages.
    package var kindDescription: String {
        switch content {
        case .scalar(let text, _): isNull ? "nothing" : "\"\(text)\""
        case .mapping: "a mapping"
        case .sequence: "a list"
        }
    }
}

/// Turns YAML text into a ``YAMLNode`` tree with libyaml's event parser, reporting syntax errors,
/// tab indentation and duplicate keys.
package enum YAMLTreeBuilder {
    private struct Event {
        enum Kind {
            case scalar(String, plain: Bool)
            case alias
            case sequenceStart
            case sequenceEnd
            case mappingStart
            case mappingEnd
            case documentStart
            case documentEnd
            case other
        }

        var kind: Kind
        var anchor: String?
        var mark: SourceMark
    }

    /// Returns nil when the text is not a single well-formed YAML document; the reasons are in `diagnostics`.
    package static func build(
        _ text: String,
        diagnostics: DiagnosticCollector,
        emptyFileAdvice: String = "write at least a cluster name and one region"
    ) -> YAMLNode? {
        let tabLines = reportTabIndentation(text, diagnostics: diagnostics)
        let events: [Event]
        switch parseEvents(text) {
        case .success(let parsed):
            events = parsed
        case .failure(let error):
            // A tab already explained on this line makes libyaml's message a repetition.
            if !tabLines.contains(error.mark.line) {
                diagnostics.report(at: error.mark, "", error.reason)
            }
            return nil
        }
        var builder = TreeState(events: events, diagnostics: diagnostics, emptyFileAdvice: emptyFileAdvice)
        return builder.document()
    }

    /// libyaml only sees a tab in indentation as "cannot start any token", so it is named plainly here.
    private static func reportTabIndentation(_ text: String, diagnostics: DiagnosticCollector) -> Set<Int> {
        var lines: Set<Int> = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var column = 0
            for character in line {
                column += 1
                if character == "\t" {
                    diagnostics.report(lineNumber, column, "", "tabs are not allowed for indentation; use spaces")
                    lines.insert(lineNumber)
                    break
                }
                if character != " " {
                    break
                }
            }
        }
        return lines
    }

    private struct SyntaxError: Error {
        var mark: SourceMark
        var reason: String
    }

    private static func parseEvents(_ text: String) -> Result<[Event], SyntaxError> {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else {
            return .failure(SyntaxError(mark: SourceMark(line: 1, column: 1), reason: "libyaml could not start"))
        }
        defer { yaml_parser_delete(parser) }

        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            var events: [Event] = []
            var event = yaml_event_t()
            while true {
                guard yaml_parser_parse(parser, &event) == 1 else {
                    return .failure(syntaxError(parser.pointee))
                }
                defer { yaml_event_delete(&event) }
                let mark = SourceMark(event.start_mark)
                switch event.type {
                case YAML_STREAM_END_EVENT:
                    return .success(events)
                case YAML_SCALAR_EVENT:
                    let scalar = event.data.scalar
                    let value = string(scalar.value, length: scalar.length)
                    let plain = scalar.style == YAML_PLAIN_SCALAR_STYLE
                    events.append(Event(kind: .scalar(value, plain: plain), anchor: string(scalar.anchor), mark: mark))
                case YAML_ALIAS_EVENT:
                    events.append(Event(kind: .alias, anchor: string(event.data.alias.anchor), mark: mark))
                case YAML_SEQUENCE_START_EVENT:
                    events.append(
                        Event(kind: .sequenceStart, anchor: string(event.data.sequence_start.anchor), mark: mark))
                case YAML_SEQUENCE_END_EVENT:
                    events.append(Event(kind: .sequenceEnd, mark: mark))
                case YAML_MAPPING_START_EVENT:
                    events.append(
                        Event(kind: .mappingStart, anchor: string(event.data.mapping_start.anchor), mark: mark))
                case YAML_MAPPING_END_EVENT:
                    events.append(Event(kind: .mappingEnd, mark: mark))
                case YAML_DOCUMENT_START_EVENT:
                    events.append(Event(kind: .documentStart, mark: mark))
                case YAML_DOCUMENT_END_EVENT:
                    events.append(Event(kind: .documentEnd, mark: mark))
                default:
                    continue
                }
            }
        }
    }

    private static func syntaxError(_ parser: yaml_parser_t) -> SyntaxError {
        let problem = string(parser.problem) ?? "invalid YAML"
        var reason = "YAML syntax error: \(problem)"
        var mark = SourceMark(parser.problem_mark)
        if parser.error == YAML_READER_ERROR {
            // Reader errors carry a byte offset, not a line.
            mark = SourceMark(line: 1, column: 1)
            reason += " at byte \(parser.problem_offset); save the file as UTF-8"
        } else {
            if let context = string(parser.context) {
                reason += " (\(context) that starts at line \(Int(parser.context_mark.line) + 1))"
            }
            reason += "; check the indentation, quoting and the ':' after each key"
        }
        return SyntaxError(mark: mark, reason: reason)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, length: Int) -> String {
        guard let pointer else {
            return ""
        }
        return String(decoding: UnsafeBufferPointer(start: pointer, count: length), as: UTF8.self)
    }

    private static func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        guard let pointer else {
            return nil
        }
        return String(cString: pointer)
    }

    private static func string(_ pointer: UnsafePointer<CChar>?) -> String? {
        guard let pointer else {
            return nil
        }
        return String(cString: pointer)
    }

    private struct TreeState {
        let events: [Event]
        let diagnostics: DiagnosticCollector
        let emptyFileAdvice: String
        var index = 0
        var anchors: [String: YAMLNode] = [:]

        init(events: [Event], diagnostics: DiagnosticCollector, emptyFileAdvice: String) {
            self.events = events
            self.diagnostics = diagnostics
            self.emptyFileAdvice = emptyFileAdvice
        }

        mutating func document() -> YAMLNode? {
            // Events: document start, root node, document end, then possibly more documents.
            guard let start = events.firstIndex(where: { if case .documentStart = $0.kind { true } else { false } })
            else {
                diagnostics.report(1, 1, "", "the file is empty; \(emptyFileAdvice)")
                return nil
            }
            index = start + 1
            let root = node(path: "")
            index += 1  // document end
            if index < events.count, case .documentStart = events[index].kind {
                diagnostics.report(
                    at: events[index].mark,
                    "",
                    "the file holds more than one YAML document; remove the extra '---' and what follows it"
                )
            }
            return root
        }

        private mutating func node(path: String) -> YAMLNode {
            let event = events[index]
            index += 1
            let result: YAMLNode
            switch event.kind {
            case .scalar(let text, let plain):
                result = YAMLNode(content: .scalar(text, plain: plain), mark: event.mark)
            case .alias:
                let name = event.anchor ?? ""
                if let target = anchors[name] {
                    return target
                }
                diagnostics.report(
                    at: event.mark, path, "alias *\(name) names no anchor; define &\(name) before using it")
                return YAMLNode(content: .scalar("", plain: true), mark: event.mark)
            case .sequenceStart:
                var items: [YAMLNode] = []
                while index < events.count {
                    if case .sequenceEnd = events[index].kind {
                        break
                    }
                    items.append(node(path: "\(path)[\(items.count)]"))
                }
                index += 1
                result = YAMLNode(content: .sequence(items), mark: event.mark)
            case .mappingStart:
                var entries: [YAMLNode.MappingEntry] = []
                var firstMarks: [String: SourceMark] = [:]
                while index < events.count {
                    if case .mappingEnd = events[index].kind {
                        break
                    }
                    let key = node(path: path)
                    let keyName: String
                    if case .scalar(let text, _) = key.content {
                        keyName = text
                    } else {
                        keyName = "?"
                    }
                    let childPath = path.isEmpty ? keyName : "\(path).\(keyName)"
                    let value = node(path: childPath)
                    guard case .scalar(let name, _) = key.content else {
                        diagnostics.report(
                            at: key.mark, path, "a key must be a plain word such as name:, not \(key.kindDescription)")
                        continue
                    }
                    if let first = firstMarks[name] {
                        diagnostics.report(
                            at: key.mark,
                            childPath,
                            "duplicate key \"\(name)\" (first defined at line \(first.line)); remove one of them"
                        )
                        continue
                    }
                    firstMarks[name] = key.mark
                    entries.append(YAMLNode.MappingEntry(key: name, keyMark: key.mark, value: value))
                }
                index += 1
                result = YAMLNode(content: .mapping(entries), mark: event.mark)
            default:
                result = YAMLNode(content: .scalar("", plain: true), mark: event.mark)
            }
            if let anchor = event.anchor {
                anchors[anchor] = result
            }
            return result
        }
    }
}
