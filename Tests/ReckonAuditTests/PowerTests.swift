import Foundation
import XCTest
@testable import ReckonAudit

/// The acceptance criterion of the audit: a planted unfair router is caught, a fair one is not.
/// Five groups, 200 problems rendered in each (1,000 records per audit), 200 seeds; the
/// verdicts use the tests, so the bootstrap is off to keep this fast. docs/audit.md has the
/// measured rates and the full power table.
final class PowerTests: XCTestCase {
    let audit = Audit(reference: "g0", bootstrapResamples: 0)

    func testUnfairRouterIsFlagged() throws {
        // g3 is forced to <short> half the time: expected think rate 0.25 against 0.5.
        var router = SyntheticRouter()
        router.forceShort = 0.5
        let rate = try router.flagRate(.thinkRate, group: "g3", seeds: 0..<200, audit: audit)
        XCTAssertGreaterThanOrEqual(rate, 0.95)
    }

    func testFairRouterIsNotFlagged() throws {
        let router = SyntheticRouter()
        let rate = try router.flagRate(.thinkRate, group: nil, seeds: 0..<200, audit: audit)
        XCTAssertLessThanOrEqual(rate, 0.05)
    }
}

/// The power table of docs/audit.md (several minutes in a debug build, so opt-in):
/// `RECKON_AUDIT_SWEEP=1 swift test --filter PowerSweepTests`.
final class PowerSweepTests: XCTestCase {
    func testPowerTable() throws {
        try XCTSkipUnless(ProcessInfo.processInfo.environment["RECKON_AUDIT_SWEEP"] != nil, "set RECKON_AUDIT_SWEEP=1")
        let audit = Audit(reference: "g0", bootstrapResamples: 0)
        print("| problems | forced short | think rate (g3) | paired routing (g3) | any check, any group |")
        print("|---:|---:|---:|---:|---:|")
        for problems in [50, 100, 200, 400] {
            for force in [0.0, 0.2, 0.3, 0.4, 0.5] {
                var router = SyntheticRouter()
                router.problems = problems
                router.forceShort = force
                let think = try router.flagRate(.thinkRate, group: "g3", seeds: 0..<200, audit: audit)
                let paired = try router.flagRate(.pairedRouting, group: "g3", seeds: 0..<200, audit: audit)
                let any = try router.flagRate(nil, group: nil, seeds: 0..<200, audit: audit)
                print("| \(problems) | \(force) | \(think) | \(paired) | \(any) |")
            }
        }
    }
}
