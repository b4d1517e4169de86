import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An exclusive lock on a state store for the life of the daemon that holds it: two daemons on
/// one state file would be two decision-makers, each believing its journal.
///
/// `flock(2)` on `<state>.lock`, which holds the owner's PID for the message a second daemon
/// prints. The kernel drops the lock when the process ends, however it ends, so a `kill -9`
/// never leaves a stale lock behind. Readers (`failoverctl report`, tests) do not take it.
public final class StateFileLock: Sendable {
    public let path: String
    private let descriptor: Int32

    /// Why the lock could not be taken.
    public struct Refused: Error, CustomStringConvertible {
        public let description: String
    }

    /// Takes the lock on `statePath` or throws at once (never waits).
    public init(statePath: String) throws {
        let path = statePath + ".lock"
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw Refused(description: "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
            close(descriptor)
            throw Refused(
                description:
                    "another failoverd (pid \(holder.flatMap { $0.isEmpty ? nil : $0 } ?? "unknown")) uses the state "
                    + "store \(statePath); two daemons on one state file would both decide: stop it or use another --state"
            )
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { write(descriptor, $0, strlen($0)) }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
