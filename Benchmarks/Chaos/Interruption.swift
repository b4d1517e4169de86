import Dispatch
import Foundation
import Synchronization
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Cleanup when the run itself is interrupted (Ctrl-C in scripts/test, SIGTERM from a CI timeout):
/// every process a trial started is killed by its PID and the lab in use is taken down, so that an
/// interrupted run leaves no server, namespace or rule behind. Trials register what they start here.
enum Interruption {
    /// `failoverctl lab down ...` for the lab that is up, if any.
    private static let labDown = Mutex<[String]?>(nil)
    /// The signal sources must live as long as the process.
    nonisolated(unsafe) private static var sources: [any DispatchSourceSignal] = []

    static func labIsUp(_ down: [String]?) { labDown.withLock { $0 = down } }

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
        let pids = ChildProcess.running
        printError("failover-chaos: signal \(number): stopping \(pids.count) processes and the lab")
        for pid in pids { kill(pid, SIGKILL) }
        if let down = labDown.withLock({ $0 }),
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
