import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Cleanup when the run itself is interrupted (Ctrl-C in scripts/test, SIGTERM from a CI timeout):
/// every process a trial started is killed by its PID and the lab in use is taken down, so that an
/// interrupted run leaves no server, namespace or rule behind. Trials register what they start here.
enum Interruption {
    private struct Registry {
        var pids: Set<pid_t> = []
        /// `failoverctl lab down ...` for the lab that is up, if any.
        var labDown: [String]?
    }

    private static let registry = Mutex(Registry())
    /// The signal sources must live as long as the process.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func started(_ pid: pid_t) { registry.withLock { _ = $0.pids.insert(pid) } }
    static func ended(_ pid: pid_t) { registry.withLock { _ = $0.pids.remove(pid) } }
    static func labIsUp(_ down: [String]?) { registry.withLock { $0.labDown = down } }

    /// Installs the handlers for SIGINT and SIGTERM; call once, before the first trial.
    static func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { cleanUpAndExit(number) }
            source.resume()
            sources.append(source)
        }
    }

    private static func cleanUpAndExit(_ number: Int32) {
        let registry = registry.withLock { $0 }
        printError("failover-chaos: signal \(number): stopping \(registry.pids.count) processes and the lab")
        for pid in registry.pids { kill(pid, SIGKILL) }
        if let down = registry.labDown,
            let process = try? ChildProcess(
                name: "lab down", executable: down[0], arguments: Array(down.dropFirst()), output: "/dev/null")
        {
            let deadline = ContinuousClock.now + .seconds(60)
            while process.isRunning && ContinuousClock.now < deadline { usleep(50_000) }
            if process.isRunning { kill(process.pid, SIGKILL) }
        }
        exit(128 + number)
    }
}
