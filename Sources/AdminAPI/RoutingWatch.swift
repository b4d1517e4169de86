import Failover
import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import Vocabulary

/// `GET /api/routing/watch`: the routing table as a stream of newline-delimited JSON, for a proxy
/// that runs as its own process. The current table comes first, then every change; between
/// changes a heartbeat line every `heartbeat` seconds tells a live but quiet daemon from a dead one.
/// The stream ends when the daemon stops (or the client goes away).
struct RoutingWatch {
    /// A line that is not a table: `{"heartbeat":"<time>","epoch":<current epoch>}`.
    struct Heartbeat: Codable, Equatable {
        var heartbeat: Date
        var epoch: UInt64
    }

    /// Seconds between heartbeat lines when `?heartbeat=` is not given.
    static let defaultHeartbeat = 5

    private enum Line: Sendable {
        case table(RoutingTable)
        case heartbeat
    }

    static func response(service: RegionalFailoverService, heartbeat: Int) -> Response {
        let interval = Duration.seconds(heartbeat)
        return Response(
            status: .ok,
            headers: [.contentType: "application/x-ndjson", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                let (lines, continuation) = AsyncStream.makeStream(of: Line.self, bufferingPolicy: .bufferingNewest(16))
                let updates = service.routingUpdates()
                let feed = Task {
                    await withDiscardingTaskGroup { group in
                        group.addTask {
                            for await table in updates { continuation.yield(.table(table)) }
                            continuation.finish()
                        }
                        group.addTask {
                            while !Task.isCancelled {
                                try? await Task.sleep(for: interval)
                                continuation.yield(.heartbeat)
                            }
                        }
                    }
                }
                defer { feed.cancel() }
                var current: UInt64 = 0
                for await line in lines.cancelOnGracefulShutdown() {
                    var data: Data
                    switch line {
                    case .table(let table):
                        current = table.epoch
                        data = JSONBody.data(table)
                    case .heartbeat:
                        data = JSONBody.data(Heartbeat(heartbeat: Date(), epoch: current))
                    }
                    data.append(0x0A)
                    // Throws once the client has gone away.
                    try await writer.write(ByteBuffer(bytes: data))
                }
                try await writer.finish(nil)
            })
    }
}
