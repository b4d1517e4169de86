import Foundation
import Lab
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// CPU time a process has used (all its threads, user + system), from `/proc/<pid>/stat`.
enum ProcessCPU {
    static func seconds(of pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else {
            return nil
        }
        // After the command name: field 3 (state) onwards; utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            return nil
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:`port`.
func accepts(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
        }
    }
}

/// The proxy in a process of its own: `proxy-benchmark serve`.
struct ProxyProcess {
    var process: ChildProcess
    /// Its read-write listener.
    var port: Int

    static func start(primaryPort: Int, standbyPort: Int, password: String, directory: String) async throws
        -> ProxyProcess
    {
        let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let ready = directory + "/proxy.ready"
        let process = try ChildProcess(
            name: "proxy", executable: executable,
            arguments: [
                "serve", "--primary-port", "\(primaryPort)", "--standby-port", "\(standbyPort)", "--ready-file", ready,
            ],
            environment: [Serve.passwordVariable: password], output: directory + "/proxy.log")
        do {
            var port: Int?
            try await waitUntil(timeout: .seconds(30)) {
                port = (try? String(contentsOfFile: ready, encoding: .utf8)).flatMap {
                    Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
                }
                return port != nil || !process.isRunning
            }
            guard let port else {
                throw BenchmarkError("the proxy exited early; see \(directory)/proxy.log")
            }
            return ProxyProcess(process: process, port: port)
        } catch {
            process.stop()
            throw error
        }
    }
}

/// Debian's HAProxy in TCP mode in front of the same server, in the foreground (`-db`).
struct HAProxyProcess {
    var process: ChildProcess
    var port: Int

    static func start(executable: String, backendPort: Int, directory: String) async throws -> HAProxyProcess {
        let port = try LabCluster.freePorts(1)[0]
        let config = """
            global
                maxconn 1000

            defaults
                mode tcp
                timeout connect 5s
                timeout client 1h
                timeout server 1h

            frontend postgres
                bind 127.0.0.1:\(port)
                default_backend primary

            backend primary
                server pg-primary 127.0.0.1:\(backendPort)

            """
        let path = directory + "/haproxy.cfg"
        try config.write(toFile: path, atomically: true, encoding: .utf8)
        let process = try ChildProcess(
            name: "haproxy", executable: executable, arguments: ["-db", "-f", path],
            output: directory + "/haproxy.log")
        do {
            try await waitUntil(timeout: .seconds(10)) { accepts(port: port) || !process.isRunning }
            guard process.isRunning else {
                throw BenchmarkError("haproxy exited early; see \(directory)/haproxy.log")
            }
            return HAProxyProcess(process: process, port: port)
        } catch {
            process.stop()
            throw error
        }
    }
}

/// PostgreSQL's pgbench, run to completion for each measurement.
struct PGBench {
    struct Result {
        var tps: Double
        var latencyMilliseconds: Double
        var transactions: Int
    }

    var path: String
    var user: String
    var password: String

    func initialize(port: Int, scale: Int) async throws {
        _ = try await execute(["-i", "-q", "-s", "\(scale)"] + connection(port), timeout: .seconds(120))
    }

    func run(_ workload: Workload, port: Int, duration: Int) async throws -> Result {
        var arguments = [
            "-n", "-S", "-c", "\(workload.clients)", "-j", "\(workload.threads)", "-T", "\(duration)",
        ]
        if workload.reconnect {
            arguments.append("-C")
        }
        let output = try await execute(arguments + connection(port), timeout: .seconds(duration + 60))
        func value(_ prefix: String) -> Double? {
            output.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap {
                Double($0.dropFirst(prefix.count).split(separator: " ").first ?? "")
            }
        }
        guard let tps = value("tps = "), let latency = value("latency average = "),
            let transactions = value("number of transactions actually processed: ")
        else {
            throw BenchmarkError("unexpected pgbench output:\n\(output)")
        }
        return Result(tps: tps, latencyMilliseconds: latency, transactions: Int(transactions))
    }

    private func connection(_ port: Int) -> [String] {
        ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "postgres"]
    }

    private func execute(_ arguments: [String], timeout: Duration) async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pgbench-\(getpid())-\(UUID().uuidString).log"
        ).path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = try ChildProcess(
            name: "pgbench", executable: path, arguments: arguments, environment: ["PGPASSWORD": password],
            output: output)
        do {
            try await process.wait(timeout: timeout)
        } catch {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            throw BenchmarkError("\(error); its output:\n\(text)")
        }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        guard process.exitCode == 0 else {
            throw BenchmarkError("pgbench \(arguments.joined(separator: " ")) failed:\n\(text)")
        }
        return text
    }
}
