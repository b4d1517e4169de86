/// The admin API of the daemon (the `api:` section of the cluster file).
public struct APISettings: Sendable, Equatable {
    /// Address the HTTP server binds. Defaults to `127.0.0.1` (loopback only).
    public var host: String
    /// TCP port. Defaults to `8008`; 0 asks the system for a free port (tests).
    public var port: Int
    /// PEM certificate chain and private key paths; with both set the server speaks HTTPS only.
    /// Defaults to none (plain HTTP, fit for loopback).
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// Bearer tokens accepted by the API. With none, every route but `/healthz` and `/readyz`
    /// answers 401: an API without tokens is closed, never open.
    public var tokens: [APIToken]
    /// Whether `GET /metrics` needs a token (any role). Defaults to `false`, so a Prometheus
    /// server on the same host can scrape without one.
    public var metricsAuth: Bool

    public init(
        host: String = "127.0.0.1", port: Int = 8008, tlsCertificatePath: String? = nil, tlsKeyPath: String? = nil,
        tokens: [APIToken] = [], metricsAuth: Bool = false
    ) {
        self.host = host
        self.port = port
        self.tlsCertificatePath = tlsCertificatePath
        self.tlsKeyPath = tlsKeyPath
        self.tokens = tokens
        self.metricsAuth = metricsAuth
    }

    /// `host:port` as written in `api.listen`.
    public var listen: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Splits `host:port` (`[::1]:8008` for IPv6); nil when it is not of that form.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                return nil
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, !host.contains(" "), let port = Int(portText), (0...65535).contains(port) else {
            return nil
        }
        return (String(host), port)
    }
}

/// What a bearer token may do.
public enum APIRole: String, Sendable, Hashable, CaseIterable, Codable {
    /// GET routes only.
    case viewer
    /// Every route, including failover, switchover, pause, resume, rejoin and reload.
    case `operator`
}

/// One bearer token of the admin API.
public struct APIToken: Sendable, Equatable {
    /// Shown in audit rows and logs in place of the token.
    public var name: String
    public var role: APIRole
    /// The token itself, normally `${ENV_VAR}`; never logged or returned.
    public var token: Secret

    public init(name: String, role: APIRole, token: Secret) {
        self.name = name
        self.role = role
        self.token = token
    }
}
