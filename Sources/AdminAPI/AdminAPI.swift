public import Failover
public import Foundation
import HTTPTypes
public import Health
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOCore
import NIOSSL
public import Proxy
public import ServiceLifecycle
public import StateStore
import Synchronization
public import Topology
import Vocabulary

/// The admin HTTP API of `failoverd`: JSON routes over the decision-maker, `/metrics`,
/// `/healthz`, `/readyz` and the OpenAPI document at `/openapi.json`.
///
/// Every mutation goes to ``RegionalFailoverService``; no route changes cluster state another way.
/// Every POST and DELETE, allowed or refused, writes an audit row to the state store.
public struct AdminAPI: Service {
    /// What the routes read and drive.
    public struct Dependencies: Sendable {
        public var service: RegionalFailoverService
        public var monitor: HealthMonitor
        public var store: StateStore
        /// The read/write proxy, when the cluster file has a `routing:` section.
        public var proxy: ProxyService?
        /// Reloads the cluster file into the monitor and the service; throws the file's diagnostics.
        public var reload: (@Sendable () async throws -> Void)?

        public init(
            service: RegionalFailoverService, monitor: HealthMonitor, store: StateStore, proxy: ProxyService? = nil,
            reload: (@Sendable () async throws -> Void)? = nil
        ) {
            self.service = service
            self.monitor = monitor
            self.store = store
            self.proxy = proxy
            self.reload = reload
        }
    }

    /// Largest request body accepted, bytes; larger answers 400 naming `body`.
    public static let maximumBodySize = 64 * 1024

    let settings: APISettings
    let dependencies: Dependencies
    let metrics: APIMetrics
    let logger: Logger
    let onListening: @Sendable (Int) async -> Void
    let probeHistory = ProbeHistory(capacity: 300)

    /// - Parameters:
    ///   - settings: The `api:` section: listen address, TLS files, tokens, whether `/metrics` needs a token.
    ///   - onListening: Called with the bound port once the server accepts connections (port 0 binds a free one).
    public init(
        settings: APISettings, dependencies: Dependencies, metrics: APIMetrics = APIMetrics(), logger: Logger,
        onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        self.settings = settings
        self.dependencies = dependencies
        self.metrics = metrics
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        let routes = AdminRoutes(
            dependencies: dependencies, tokens: TokenTable(settings.tokens), metricsAuth: settings.metricsAuth,
            metrics: metrics, probeHistory: probeHistory, logger: logger)
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: JSONErrorMiddleware(logger: logger))
        routes.register(on: router)
        let server: HTTPServerBuilder
        if let certificate = settings.tlsCertificatePath, let key = settings.tlsKeyPath {
            let chain = try NIOSSLCertificate.fromPEMFile(certificate).map { NIOSSLCertificateSource.certificate($0) }
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: chain, privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
            server = try .tls(.http1(), tlsConfiguration: configuration)
        } else {
            server = .http1()
        }
        let onListening = self.onListening
        let logger = self.logger
        let listen = settings.listen
        let app = Application(
            router: router, server: server,
            configuration: ApplicationConfiguration(
                address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("admin API listening", metadata: ["listen": "\(listen)", "port": "\(port)"])
                await onListening(port)
            },
            logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await app.run() }
            group.addTask { await recordSnapshots() }
        }
    }

    /// Feeds probe history and per-endpoint metrics from every health snapshot until shutdown.
    private func recordSnapshots() async {
        for await snapshot in dependencies.monitor.snapshots().cancelOnGracefulShutdown() {
            probeHistory.append(snapshot)
            metrics.record(snapshot, writeTarget: dependencies.service.routing.writeTarget)
        }
    }

    /// Every route as `METHOD /path/{parameter}`, for the check against the OpenAPI document.
    public static var routeTable: [String] {
        AdminRoutes.table.map { "\($0.method.rawValue) \($0.path)" }
    }

    /// The checked-in OpenAPI 3.1 document served at `/openapi.json`.
    public static var openAPIDocument: Data {
        Data(OpenAPIDocument.json.utf8)
    }
}

/// Turns every error, including the router's 404, into the JSON error body; unexpected errors
/// become a generic 500 whose details go to the log only.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let api: APIError =
                switch error.status {
                case .notFound: .notFound("no route \(request.method.rawValue) \(request.uri.path); see /openapi.json")
                case .contentTooLarge:
                    .badRequest("body", "the body is larger than \(AdminAPI.maximumBodySize) bytes")
                case .methodNotAllowed: .notFound("no route \(request.method.rawValue) \(request.uri.path)")
                default:
                    APIError(
                        error.status, error.status.code < 500 ? "bad_request" : "internal",
                        error.status.code < 500 ? "the request could not be handled" : "the daemon could not answer")
                }
            return try api.response(from: request, context: context)
        } catch {
            logger.error(
                "admin API request failed",
                metadata: [
                    "route": "\(context.endpointPath ?? "-")", "error": "\(String(describing: type(of: error)))",
                ])
            return try APIError.internalError.response(from: request, context: context)
        }
    }
}

/// Recent probe results per endpoint, for `GET /api/database/metrics` and `performance`: a bounded
/// ring per endpoint, fed from the health monitor's snapshots.
final class ProbeHistory: Sendable {
    struct Sample: Sendable, Codable, Equatable {
        var at: Date
        var endpoint: String
        var reachable: Bool
        var latencyMilliseconds: Double?
        var lagBytes: Int64?
        var lagSeconds: Double?
        var role: String
        var error: String?
    }

    let capacity: Int
    private let samples = Mutex<[String: [Sample]]>([:])

    init(capacity: Int) { self.capacity = capacity }

    func append(_ snapshot: HealthSnapshot) {
        samples.withLock { samples in
            for endpoint in snapshot.endpoints {
                guard let at = endpoint.lastProbeAt, samples[endpoint.endpoint]?.last?.at != at else { continue }
                var list = samples[endpoint.endpoint] ?? []
                list.append(
                    Sample(
                        at: at, endpoint: endpoint.endpoint, reachable: endpoint.reachable,
                        latencyMilliseconds: endpoint.reachable ? endpoint.lastLatencyMilliseconds : nil,
                        lagBytes: endpoint.lagBytes, lagSeconds: endpoint.lagSeconds, role: endpoint.role.rawValue,
                        error: endpoint.reachable ? nil : endpoint.lastError))
                if list.count > capacity { list.removeFirst(list.count - capacity) }
                samples[endpoint.endpoint] = list
            }
        }
    }

    /// Most recent first.
    func recent(endpoint: String?, limit: Int) -> [Sample] {
        samples.withLock { samples in
            let lists = endpoint.map { [samples[$0] ?? []] } ?? Array(samples.values)
            return Array(lists.joined().sorted { $0.at > $1.at }.prefix(limit))
        }
    }

    func all(endpoint: String) -> [Sample] { samples.withLock { $0[endpoint] ?? [] } }
}
