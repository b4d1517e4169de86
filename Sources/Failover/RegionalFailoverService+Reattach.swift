import Foundation
import Health
import Logging
import Vocabulary

/// Standbys converge on the layout: one that did not answer during a failover (or whose re-point
/// failed) is still configured for the old primary and streams from nothing; once it answers, it is
/// pointed where it belongs. Without this it would stay behind for good, a replica serving stale
/// reads and a synchronous standby the primary waits for in vain.
extension RegionalFailoverService {
    /// Re-points every standby that has not streamed where it belongs for longer than
    /// `stream_staleness` (a stream that breaks for a moment reconnects by itself), at most once per
    /// ``reattachSpacing`` each. The statements run beside the actor: detection never waits for
    /// them.
    func reattachStrays(_ snapshot: HealthSnapshot, primary: String) {
        let strays = ReplicationLayout.strays(
            primary: primary, topology: topology, snapshot: snapshot, fenced: fenced)
        let now = now()
        let names = Set(strays.map(\.endpoint))
        strayingSince = strayingSince.filter { names.contains($0.key) }
        var due: [Follow] = []
        for follow in strays {
            let since = strayingSince[follow.endpoint] ?? now
            strayingSince[follow.endpoint] = since
            guard now.timeIntervalSince(since) >= settings.streamStaleness.seconds,
                !reattaching.contains(follow.endpoint),
                lastReattachAt[follow.endpoint].map({ now.timeIntervalSince($0) >= Self.reattachSpacing.seconds })
                    ?? true
            else { continue }
            lastReattachAt[follow.endpoint] = now
            reattaching.insert(follow.endpoint)
            due.append(follow)
        }
        guard !due.isEmpty else { return }
        logger.notice(
            "standbys not streaming where they belong; re-pointing them",
            metadata: ["standbys": "\(due.map { "\($0.endpoint)→\($0.upstream)" })"])
        let ops = operations
        Task {
            let facts = await Self.repoint(due, ops: ops)
            self.reattached(due, facts: facts)
        }
    }

    private func reattached(_ follows: [Follow], facts: [String: String]) {
        for follow in follows {
            reattaching.remove(follow.endpoint)
            if let error = facts["repoint_\(follow.endpoint)_error"] {
                logger.warning(
                    "re-pointing a standby failed; retrying later",
                    metadata: ["endpoint": "\(follow.endpoint)", "upstream": "\(follow.upstream)", "error": "\(error)"])
            } else {
                logger.notice(
                    "standby re-pointed",
                    metadata: ["endpoint": "\(follow.endpoint)", "upstream": "\(follow.upstream)"])
            }
        }
    }
}
