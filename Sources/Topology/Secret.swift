/// A configuration value that must never appear in logs, diagnostics or summaries.
///
/// `description` and `debugDescription` are always `***` and the mirror is empty, so string interpolation,
/// `print` and `dump` cannot leak it; call ``reveal()`` only where the value is handed
/// to the library that needs it (libpq, libcurl).
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    private let value: String

    public init(_ value: String) {
        self.value = value
    }

    /// The plain value. Call it at the C boundary only, never to build a message.
    public func reveal() -> String {
        value
    }

    public var description: String { "***" }
    public var debugDescription: String { "***" }

    /// Without children, so `dump` and debuggers cannot reach the stored value either.
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
