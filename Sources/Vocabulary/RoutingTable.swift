/// The write target and everything the router needs from the decision-maker.
public struct RoutingTable: Sendable, Codable, Equatable {
    /// Increases with every change; a consumer ignores a table older than the one it has.
    public var epoch: UInt64
    /// The endpoint that takes writes; nil while unknown.
    public var writeTarget: String?
    /// True while a failover or switchover runs: hold new writes rather than refuse them.
    public var writesPaused: Bool
    /// Endpoints that must never receive traffic (a fenced old primary).
    public var fenced: [String]

    public init(epoch: UInt64, writeTarget: String?, writesPaused: Bool, fenced: [String]) {
        self.epoch = epoch
        self.writeTarget = writeTarget
        self.writesPaused = writesPaused
        self.fenced = fenced
    }
}
