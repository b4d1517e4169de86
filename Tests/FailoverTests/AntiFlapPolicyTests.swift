import Failover
import Foundation
import Testing

/// Automatic failovers closer together than the minimum interval need an operator.
@Suite struct AntiFlapPolicyTests {
    let last = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func theFirstAutomaticFailoverIsAllowed() {
        #expect(
            AntiFlapPolicy.allowsAutomaticFailover(
                lastAutomaticFailoverAt: nil, now: last, minimumInterval: .seconds(300)))
    }

    @Test(arguments: [0.0, 1, 150, 299.5, 299.999])
    func aFailoverInsideTheIntervalIsRefused(secondsLater: Double) {
        #expect(
            !AntiFlapPolicy.allowsAutomaticFailover(
                lastAutomaticFailoverAt: last, now: last + secondsLater, minimumInterval: .seconds(300)))
    }

    @Test(arguments: [300.0, 300.001, 3600])
    func aFailoverAtOrAfterTheIntervalIsAllowed(secondsLater: Double) {
        #expect(
            AntiFlapPolicy.allowsAutomaticFailover(
                lastAutomaticFailoverAt: last, now: last + secondsLater, minimumInterval: .seconds(300)))
    }

    @Test func aFractionalIntervalIsHonoured() {
        let interval = Duration.milliseconds(1500)
        #expect(
            !AntiFlapPolicy.allowsAutomaticFailover(
                lastAutomaticFailoverAt: last, now: last + 1.4, minimumInterval: interval))
        #expect(
            AntiFlapPolicy.allowsAutomaticFailover(
                lastAutomaticFailoverAt: last, now: last + 1.5, minimumInterval: interval))
    }
}
