import Foundation
import XCTest
import ReckonCore
@testable import ReckonAudit

final class StatisticsTests: XCTestCase {
    /// C(n, k) as an exact product, independent of the library's lgamma route.
    func choose(_ n: Int, _ k: Int) -> Double {
        (0..<k).reduce(1.0) { $0 * Double(n - $1) / Double($1 + 1) }
    }

    func testMcNemarExactMatchesBinomialSums() {
        XCTAssertEqual(Statistics.mcnemarExact(b: 1, c: 7).pValue, 0.0703125, accuracy: 1e-12)
        for (b, c) in [(0, 5), (2, 10), (5, 12), (9, 3), (20, 35)] {
            let n = b + c
            let tail = (0...min(b, c)).reduce(0.0) { $0 + choose(n, $1) } / pow(2, Double(n))
            XCTAssertEqual(Statistics.mcnemarExact(b: b, c: c).pValue, min(1, 2 * tail), accuracy: 1e-10, "b=\(b) c=\(c)")
        }
        XCTAssertEqual(Statistics.mcnemarExact(b: 4, c: 4).pValue, 1)
        XCTAssertEqual(Statistics.mcnemarExact(b: 0, c: 0).pValue, 1)
        XCTAssertEqual(Statistics.flipRate(b: 3, c: 5, pairs: 40), 0.2)
        XCTAssertNil(Statistics.flipRate(b: 0, c: 0, pairs: 0))
    }

    func testTwoProportionZTestMatchesFormula() throws {
        let (x1, n1, x2, n2) = (45, 100, 30, 120)
        let p1 = 45.0 / 100, p2 = 30.0 / 120, pooled = 75.0 / 220
        let z = (p1 - p2) / (pooled * (1 - pooled) * (1.0 / 100 + 1.0 / 120)).squareRoot()
        let expected = 2 * (1 - 0.5 * erfc(-abs(z) / 2.0.squareRoot()))
        let r = try XCTUnwrap(Statistics.twoProportionZTest(x1: x1, n1: n1, x2: x2, n2: n2))
        XCTAssertEqual(r.statistic ?? .nan, z, accuracy: 1e-12)
        XCTAssertEqual(r.pValue, expected, accuracy: 1e-12)
        XCTAssertEqual(Statistics.twoProportionZTest(x1: 0, n1: 30, x2: 0, n2: 40)?.pValue, 1)
        XCTAssertNil(Statistics.twoProportionZTest(x1: 0, n1: 0, x2: 1, n2: 4))
        // Large expected counts: the automatic choice is the z-test.
        XCTAssertEqual(Statistics.twoProportionTest(x1: x1, n1: n1, x2: x2, n2: n2)?.method, .zTest)
    }

    func testFisherExactOnTheTeaTastingTable() throws {
        // Hypergeometric weights C(4,k)·C(4,4−k) = 1, 16, 36, 16, 1 of 70; the observed k = 3
        // and every table no more likely: (1 + 16 + 16 + 1) / 70.
        let r = try XCTUnwrap(Statistics.fisherExactTest(x1: 3, n1: 4, x2: 1, n2: 4))
        XCTAssertEqual(r.pValue, 34.0 / 70, accuracy: 1e-12)
        XCTAssertEqual(Statistics.fisherExactTest(x1: 4, n1: 4, x2: 0, n2: 4)?.pValue ?? .nan, 2.0 / 70, accuracy: 1e-12)
        XCTAssertEqual(Statistics.twoProportionTest(x1: 3, n1: 4, x2: 1, n2: 4)?.method, .fisherExact)
    }

    func testHolmHandExample() {
        let adjusted = Statistics.holm([0.01, 0.04, 0.03])
        for (a, e) in zip(adjusted, [0.03, 0.06, 0.06]) { XCTAssertEqual(a, e, accuracy: 1e-12) }
        XCTAssertEqual(Statistics.holm([0.5, 0.4]), [0.8, 0.8])
        XCTAssertEqual(Statistics.holm([0.9, 0.7, 0.02]), [1, 1, 0.06])
        XCTAssertEqual(Statistics.holm([]), [])
    }

    func testMannWhitneyMatchesFormula() throws {
        // No overlap: U = 0; mean 4.5, variance 3·3·7/12 (no ties).
        let r = try XCTUnwrap(Statistics.mannWhitney([1, 2, 3], [4, 5, 6]))
        XCTAssertEqual(r.statistic, 0)
        XCTAssertEqual(r.pValue, erfc((4.5 - 0.5) / (63.0 / 12).squareRoot() / 2.0.squareRoot()), accuracy: 1e-12)
        // Ties: x = [1, 2, 2], y = [2, 3]; ranks 1, 3, 3 | 3, 5 → U = 7 − 6 = 1,
        // variance 3·2/12 · (6 − (27 − 3)/20).
        let t = try XCTUnwrap(Statistics.mannWhitney([1, 2, 2], [2, 3]))
        XCTAssertEqual(t.statistic, 1)
        XCTAssertEqual(t.pValue, erfc((3 - 1 - 0.5) / (0.5 * (6 - 24.0 / 20)).squareRoot() / 2.0.squareRoot()), accuracy: 1e-12)
        XCTAssertEqual(Statistics.mannWhitney([2, 2], [2, 2, 2])?.pValue, 1)
        XCTAssertNil(Statistics.mannWhitney([], [1]))
    }

    func testWilsonAndPercentile() throws {
        // Zero successes: the upper bound is z²/(n + z²).
        let z = 1.959963984540054
        let w = try XCTUnwrap(Statistics.wilsonCI(successes: 0, n: 10))
        XCTAssertEqual(w.lower, 0, accuracy: 1e-12)
        XCTAssertEqual(w.upper, z * z / (10 + z * z), accuracy: 1e-9)
        XCTAssertEqual(Statistics.percentile([1, 2, 3, 4], 0.5), 2.5)
        XCTAssertEqual(Statistics.percentile([1, 2, 3, 4], 0.95) ?? .nan, 3.85, accuracy: 1e-12)
        XCTAssertNil(Statistics.percentile([], 0.5))
    }

    func binary(_ ones: Int, _ n: Int) -> [Double] { (0..<n).map { $0 < ones ? 1 : 0 } }

    func testBootstrapDifferenceAgreesWithNormalIntervalForLargeN() throws {
        let (n, p1, p2) = (2000, 0.5, 0.4)
        let ci = try XCTUnwrap(Statistics.bootstrapCI(group: binary(1000, n), reference: binary(800, n),
                                                      effect: .difference, resamples: 1000, seed: 7))
        let half = 1.959964 * (p1 * (1 - p1) / Double(n) + p2 * (1 - p2) / Double(n)).squareRoot()
        XCTAssertEqual(ci.lower, 0.1 - half, accuracy: 0.004)
        XCTAssertEqual(ci.upper, 0.1 + half, accuracy: 0.004)
        XCTAssertTrue(ci.contains(0.1))
    }

    func testBootstrapIsReproducibleAndCoversTheTruth() throws {
        let g = binary(30, 80), r = binary(50, 90)
        let a = Statistics.bootstrapCI(group: g, reference: r, effect: .ratio, resamples: 300, seed: 42)
        let b = Statistics.bootstrapCI(group: g, reference: r, effect: .ratio, resamples: 300, seed: 42)
        let c = Statistics.bootstrapCI(group: g, reference: r, effect: .ratio, resamples: 300, seed: 43)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertTrue(try XCTUnwrap(a).contains((30.0 / 80) / (50.0 / 90)))
        XCTAssertNil(Statistics.bootstrapCI(group: [], reference: r, effect: .difference, seed: 1))

        // Coverage over seeds: samples drawn from p = 0.3 and 0.5, the true difference is −0.2.
        var rng = RNG(seed: 3)
        var covered = 0
        for s in 0..<40 {
            let x = (0..<150).map { _ in rng.uniformDouble() < 0.3 ? 1.0 : 0.0 }
            let y = (0..<150).map { _ in rng.uniformDouble() < 0.5 ? 1.0 : 0.0 }
            let ci = Statistics.bootstrapCI(group: x, reference: y, effect: .difference, resamples: 200, seed: UInt64(s))
            if ci?.contains(-0.2) == true { covered += 1 }
        }
        XCTAssertGreaterThanOrEqual(covered, 34)  // 95% nominal; ≥ 34 of 40 fails by chance with p < 0.02

        let paired = Statistics.pairedBootstrapCI(group: binary(10, 40), reference: binary(20, 40), effect: .difference,
                                                  resamples: 200, seed: 5)
        XCTAssertTrue(try XCTUnwrap(paired).contains(-0.25))
    }
}
