public import Routing

/// What the proxy is doing, for the status output and metrics.
public struct ProxyStatus: Sendable, Codable, Equatable {
    public struct Pool: Sendable, Codable, Equatable {
        public var name: String
        public var size: Int
        public var inUse: Int
        public var waiting: Int
        /// Connections refused with SQLSTATE 53300 because this pool stayed full.
        public var rejected: Int
    }

    /// Epoch of the routing table in use.
    public var epoch: UInt64
    public var writeTarget: String?
    public var writesPaused: Bool
    /// `host:port` of the read-write and read-only listeners once bound.
    public var listenReadWrite: String?
    public var listenReadOnly: String?
    public var pools: [Pool]
    public var endpoints: [EndpointRoutingStatus]
    /// Connections accepted on either listener.
    public var accepted: Int
    /// Connections refused because no endpoint was available (after the hold, for writes).
    public var refusedUnavailable: Int
    /// Failed connects to a chosen endpoint.
    public var connectFailures: Int
    /// Connections the proxy closed because their endpoint stopped being the primary or left the
    /// eligible readers.
    public var closedByRouting: Int
    /// New read-write connections that waited for a primary.
    public var held: Int
    public var bytesClientToServer: Int
    public var bytesServerToClient: Int
}
