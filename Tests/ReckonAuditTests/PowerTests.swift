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

/// Power grows with the effect size. By default a small grid (100 problems, 60 seeds) keeps
/// this to seconds in a debug build; `RECKON_AUDIT_SWEEP=1 swift test --filter PowerSweepTests`
/// runs the full grid of docs/audit.md (several minutes) and prints the table.
final class PowerSweepTests: XCTestCase {
    func testPowerGrowsWithEffectSize() throws {
        let full = ProcessInfo.processInfo.environment["RECKON_AUDIT_SWEEP"] != nil
        let sizes = full ? [50, 100, 200, 400] : [100]
        let forces = full ? [0.0, 0.2, 0.3, 0.4, 0.5] : [0.0, 0.3, 0.5]
        let seeds: Range<UInt64> = full ? 0..<200 : 0..<60
        let audit = Audit(reference: "g0", bootstrapResamples: 0)
        print("| problems | forced short | think rate (g3) | paired routing (g3) | any check, any group |")
        print("|---:|---:|---:|---:|---:|")
        for problems in sizes {
            var previous = -1.0
            for force in forces {
                var router = SyntheticRouter()
                router.problems = problems
                router.forceShort = force
                let think = try router.flagRate(.thinkRate, group: "g3", seeds: seeds, audit: audit)
                let paired = try router.flagRate(.pairedRouting, group: "g3", seeds: seeds, audit: audit)
                let any = full ? try router.flagRate(nil, group: nil, seeds: seeds, audit: audit) : .nan
                print("| \(problems) | \(force) | \(think) | \(paired) | \(any) |")
                // Flag rates are estimates over the seeds: allow one seed's worth of noise.
                XCTAssertGreaterThanOrEqual(think, previous - 1 / Double(seeds.count), "power falls as the effect grows at n = \(problems)")
                previous = think
            }
            if problems >= 100 { XCTAssertGreaterThanOrEqual(previous, 0.8, "the largest effect is caught at n = \(problems)") }
        }
    }
}
