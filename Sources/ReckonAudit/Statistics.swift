// The audit's statistics as pure, seeded functions: intervals, bootstrap, tests and Holm's adjustment;
// what is compared and the verdicts are Audit.swift's.

import Foundation
import ReckonCore

/// The statistics of the audit, as pure functions of counts and samples.
///
/// Every function is deterministic: the bootstrap takes a seed and draws from `RNG`, so the same
/// inputs give the same interval on every machine. Undefined results (an empty sample, a ratio
/// with a zero denominator) come back as `nil` rather than as NaN.
public enum Statistics {
    /// A closed interval `[lower, upper]`; `upper` may be `+infinity` for a ratio.
    public struct Interval: Sendable, Equatable, Codable {
        public var lower: Double
        public var upper: Double

        public init(lower: Double, upper: Double) { self.lower = lower; self.upper = upper }

        public func contains(_ x: Double) -> Bool { lower <= x && x <= upper }
    }

    /// How two groups are compared: `group − reference` or `group / reference`.
    public enum Effect: String, Sendable, Codable, CaseIterable {
        case difference, ratio

        /// The effect of `group` against `reference`; nil for 0/0, `+infinity` for x/0 with x > 0.
        public func of(_ group: Double, _ reference: Double) -> Double? {
            switch self {
            case .difference: return group - reference
            case .ratio:
                if reference != 0 { return group / reference }
                return group == 0 ? nil : (group > 0 ? .infinity : -.infinity)
            }
        }
    }

    /// The per-sample summary a bootstrap compares.
    public enum Summary: String, Sendable, Codable {
        case mean, median

        public func of(_ xs: [Double]) -> Double? {
            guard !xs.isEmpty else { return nil }
            switch self {
            case .mean: return xs.reduce(0, +) / Double(xs.count)
            case .median: return Statistics.percentile(xs.sorted(), 0.5)
            }
        }
    }

    /// The test behind a p-value.
    public enum Method: String, Sendable, Codable {
        case zTest = "two-proportion z-test"
        case fisherExact = "Fisher exact"
        case mcnemarExact = "McNemar exact"
        case mannWhitney = "Mann-Whitney U"
    }

    /// A test's statistic (z, U, or the discordant count b; nil for Fisher) and its two-sided p-value.
    public struct TestResult: Sendable, Equatable, Codable {
        public var method: Method
        public var statistic: Double?
        public var pValue: Double

        enum CodingKeys: String, CodingKey {
            case method, statistic
            case pValue = "p_value"
        }
    }

    // MARK: Distributions

    /// Standard normal CDF, Φ(z) = erfc(−z/√2)/2 (erfc keeps the far tails accurate).
    public static func normalCDF(_ z: Double) -> Double {
        0.5 * erfc(-z / 2.0.squareRoot())
    }

    /// Two-sided normal p-value of a z statistic, 2·(1 − Φ(|z|)) = erfc(|z|/√2).
    public static func twoSidedP(z: Double) -> Double {
        min(1, erfc(abs(z) / 2.0.squareRoot()))
    }

    /// log C(n, k), through lgamma so that large n neither overflows nor loses precision.
    static func logChoose(_ n: Int, _ k: Int) -> Double {
        lgamma(Double(n + 1)) - lgamma(Double(k + 1)) - lgamma(Double(n - k + 1))
    }

    /// The `q`-quantile (0...1) of sorted values, linearly interpolated between order statistics
    /// (Hyndman–Fan type 7, the default of R and NumPy). nil when `sorted` is empty.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let h = Double(sorted.count - 1) * min(max(q, 0), 1)
        let i = Int(h.rounded(.down))
        let frac = h - Double(i)
        let a = sorted[i]
        // Equal neighbours short-circuit so that two infinite ratios do not interpolate to NaN.
        guard frac > 0, i + 1 < sorted.count, sorted[i + 1] != a else { return a }
        return a + (sorted[i + 1] - a) * frac
    }

    // MARK: Bootstrap

    /// Seeded percentile-bootstrap interval for `effect(summary(group), summary(reference))`.
    ///
    /// Each of the `resamples` rounds draws `group.count` values from `group` and
    /// `reference.count` values from `reference`, with replacement and independently (the two
    /// samples are unpaired); the interval is the (1−level)/2 and (1+level)/2 percentiles of the
    /// resampled effects. For a rate, pass the outcomes as 0/1 with `.mean`. Rounds whose effect
    /// is undefined (a 0/0 ratio) are dropped. nil when a sample is empty, `resamples` < 1, or
    /// no round is defined.
    public static func bootstrapCI(group: [Double], reference: [Double], effect: Effect, summary: Summary = .mean,
                                   resamples: Int = 2000, level: Double = 0.95, seed: UInt64) -> Interval? {
        guard !group.isEmpty, !reference.isEmpty, resamples > 0 else { return nil }
        var rng = RNG(seed: seed)
        var buffer: [Double] = []
        func resampled(_ xs: [Double]) -> Double? {
            if summary == .mean {
                var s = 0.0
                for _ in xs.indices { s += xs[rng.int(below: xs.count)] }
                return s / Double(xs.count)
            }
            buffer.removeAll(keepingCapacity: true)
            for _ in xs.indices { buffer.append(xs[rng.int(below: xs.count)]) }
            return summary.of(buffer)
        }
        var effects: [Double] = []
        effects.reserveCapacity(resamples)
        for _ in 0..<resamples {
            guard let g = resampled(group), let r = resampled(reference) else { continue }
            if let e = effect.of(g, r) { effects.append(e) }
        }
        return interval(effects, level: level)
    }

    /// Seeded percentile-bootstrap interval for paired samples: rounds resample whole pairs
    /// (index i gives `group[i]` and `reference[i]` together), so the interval keeps the
    /// correlation within a pair. The arrays must have equal length.
    public static func pairedBootstrapCI(group: [Double], reference: [Double], effect: Effect, summary: Summary = .mean,
                                         resamples: Int = 2000, level: Double = 0.95, seed: UInt64) -> Interval? {
        guard !group.isEmpty, group.count == reference.count, resamples > 0 else { return nil }
        var rng = RNG(seed: seed)
        var g = [Double](repeating: 0, count: group.count), r = g
        var effects: [Double] = []
        effects.reserveCapacity(resamples)
        for _ in 0..<resamples {
            for k in g.indices {
                let i = rng.int(below: group.count)
                g[k] = group[i]; r[k] = reference[i]
            }
            if let sg = summary.of(g), let sr = summary.of(r), let e = effect.of(sg, sr) { effects.append(e) }
        }
        return interval(effects, level: level)
    }

    private static func interval(_ effects: [Double], level: Double) -> Interval? {
        let sorted = effects.sorted()
        let tail = (1 - level) / 2
        guard let lo = percentile(sorted, tail), let hi = percentile(sorted, 1 - tail) else { return nil }
        return Interval(lower: lo, upper: hi)
    }

    /// Wilson score interval for a proportion (used for the error bars of the plot: unlike the
    /// normal interval it stays inside [0, 1] and is not degenerate at 0 or n successes).
    public static func wilsonCI(successes: Int, n: Int, level: Double = 0.95) -> Interval? {
        guard n > 0, successes >= 0, successes <= n else { return nil }
        let z = normalQuantile(0.5 + level / 2)
        let p = Double(successes) / Double(n), nn = Double(n), z2 = z * z
        let centre = (p + z2 / (2 * nn)) / (1 + z2 / nn)
        let half = z / (1 + z2 / nn) * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()
        return Interval(lower: max(0, centre - half), upper: min(1, centre + half))
    }

    /// Φ⁻¹(p) by bisection on `normalCDF`; only needed for a handful of levels, so simplicity wins.
    public static func normalQuantile(_ p: Double) -> Double {
        var lo = -40.0, hi = 40.0
        for _ in 0..<200 {
            let mid = (lo + hi) / 2
            if normalCDF(mid) < p { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }

    // MARK: Two proportions

    /// Pooled two-proportion z-test of H0: p1 = p2, two-sided.
    ///
    /// z = (x1/n1 − x2/n2) / √(p̂(1−p̂)(1/n1 + 1/n2)) with p̂ = (x1+x2)/(n1+n2). When p̂ is 0 or 1
    /// both samples are identical and p = 1. Assumes independent Bernoulli trials and a large
    /// enough sample for the normal approximation (see `twoProportionTest`). nil if n1 or n2 is 0.
    public static func twoProportionZTest(x1: Int, n1: Int, x2: Int, n2: Int) -> TestResult? {
        guard n1 > 0, n2 > 0, (0...n1).contains(x1), (0...n2).contains(x2) else { return nil }
        let p1 = Double(x1) / Double(n1), p2 = Double(x2) / Double(n2)
        let pooled = Double(x1 + x2) / Double(n1 + n2)
        let se = (pooled * (1 - pooled) * (1 / Double(n1) + 1 / Double(n2))).squareRoot()
        guard se > 0 else { return TestResult(method: .zTest, statistic: 0, pValue: 1) }
        let z = (p1 - p2) / se
        return TestResult(method: .zTest, statistic: z, pValue: twoSidedP(z: z))
    }

    /// Fisher's exact test on the 2×2 table [[x1, n1−x1], [x2, n2−x2]], two-sided.
    ///
    /// Conditions on both margins; x1 is then hypergeometric, and the p-value sums the
    /// probabilities of every table no more likely than the observed one (the convention of R's
    /// `fisher.test`, with a 1e-7 relative tolerance for ties). nil if n1 or n2 is 0.
    public static func fisherExactTest(x1: Int, n1: Int, x2: Int, n2: Int) -> TestResult? {
        guard n1 > 0, n2 > 0, (0...n1).contains(x1), (0...n2).contains(x2) else { return nil }
        let k = x1 + x2, n = n1 + n2
        let logDenominator = logChoose(n, n1)
        func logP(_ a: Int) -> Double { logChoose(k, a) + logChoose(n - k, n1 - a) - logDenominator }
        let observed = logP(x1)
        var p = 0.0
        for a in max(0, k - n2)...min(k, n1) {
            let lp = logP(a)
            if lp <= observed + 1e-7 { p += exp(lp) }
        }
        return TestResult(method: .fisherExact, statistic: nil, pValue: min(1, p))
    }

    /// Two-proportion test with the classic rule: Fisher's exact test when any expected cell
    /// count (row total × column total / N) is below 5, else the pooled z-test.
    public static func twoProportionTest(x1: Int, n1: Int, x2: Int, n2: Int) -> TestResult? {
        guard n1 > 0, n2 > 0 else { return nil }
        let n = Double(n1 + n2), successes = Double(x1 + x2), failures = n - successes
        let minExpected = min(successes, failures) * Double(min(n1, n2)) / n
        return minExpected < 5
            ? fisherExactTest(x1: x1, n1: n1, x2: x2, n2: n2)
            : twoProportionZTest(x1: x1, n1: n1, x2: x2, n2: n2)
    }

    // MARK: Paired binary outcomes

    /// McNemar's test for paired binary outcomes, always exact.
    ///
    /// Only the discordant pairs carry information: `b` pairs went one way, `c` the other. Under
    /// H0 each discordant pair is a fair coin, so b ~ Binomial(b+c, 1/2) and the two-sided p is
    /// min(1, 2·P(X ≤ min(b, c))). Exact at every size (the sum is done in log space), so there is
    /// no chi-square approximation or continuity correction to choose. p = 1 when b + c = 0.
    public static func mcnemarExact(b: Int, c: Int) -> TestResult {
        let n = b + c
        guard n > 0, b >= 0, c >= 0 else { return TestResult(method: .mcnemarExact, statistic: Double(b), pValue: 1) }
        let log2n = Double(n) * log(2.0)
        var tail = 0.0
        for k in 0...min(b, c) { tail += exp(logChoose(n, k) - log2n) }
        return TestResult(method: .mcnemarExact, statistic: Double(b), pValue: min(1, 2 * tail))
    }

    /// Share of pairs whose outcome differs between the two members, (b + c) / pairs.
    public static func flipRate(b: Int, c: Int, pairs: Int) -> Double? {
        pairs > 0 ? Double(b + c) / Double(pairs) : nil
    }

    // MARK: Multiple testing

    /// Holm–Bonferroni step-down adjusted p-values, in the order of `pValues`.
    ///
    /// With the m p-values sorted ascending, p(i) becomes max over j ≤ i of min(1, (m − j + 1)·p(j)):
    /// the running maximum keeps the adjusted values monotone, the cap keeps them p-values.
    /// Rejecting where adjusted p < alpha controls the family-wise error rate at alpha under any
    /// dependence between the tests.
    public static func holm(_ pValues: [Double]) -> [Double] {
        let m = pValues.count
        let order = pValues.indices.sorted { pValues[$0] < pValues[$1] }
        var adjusted = [Double](repeating: 1, count: m)
        var running = 0.0
        for (rank, i) in order.enumerated() {
            running = max(running, min(1, Double(m - rank) * pValues[i]))
            adjusted[i] = running
        }
        return adjusted
    }

    // MARK: Continuous outcomes

    /// Mann–Whitney U test (Wilcoxon rank-sum), two-sided, normal approximation.
    ///
    /// Chosen over a bootstrap test for tokens and latency because it needs no resampling, makes
    /// no distributional assumption, and handles the heavy ties of token counts (all `<short>`
    /// answers have similar lengths) through mid-ranks and the tie-corrected variance. It tests
    /// whether a value from one group tends to exceed one from the other (P(X > Y) ≠ 1/2), not a
    /// difference of means. U is the statistic of `x`; z uses a 0.5 continuity correction. The
    /// normal approximation is good from about 10 values per sample; the audit tests only groups
    /// of at least `Audit.minGroupSize`. p = 1 when every value is tied; nil if a sample is empty
    /// or holds a NaN (which has no rank).
    public static func mannWhitney(_ x: [Double], _ y: [Double]) -> TestResult? {
        guard !x.isEmpty, !y.isEmpty, !x.contains(where: \.isNaN), !y.contains(where: \.isNaN) else { return nil }
        let n1 = Double(x.count), n2 = Double(y.count), n = n1 + n2
        // Walk the two sorted samples together; a run of equal values shares its mid-rank.
        let xs = x.sorted(), ys = y.sorted()
        var i = 0, j = 0, rank = 0.0
        var rankSumX = 0.0, tieTerm = 0.0
        while i < xs.count || j < ys.count {
            let v = j == ys.count || (i < xs.count && xs[i] <= ys[j]) ? xs[i] : ys[j]
            var inX = 0.0, t = 0.0
            while i < xs.count && xs[i] == v { i += 1; inX += 1; t += 1 }
            while j < ys.count && ys[j] == v { j += 1; t += 1 }
            let midRank = rank + (t + 1) / 2
            rankSumX += inX * midRank
            tieTerm += t * t * t - t
            rank += t
        }
        let u = rankSumX - n1 * (n1 + 1) / 2
        let mean = n1 * n2 / 2
        let variance = n1 * n2 / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else { return TestResult(method: .mannWhitney, statistic: u, pValue: 1) }
        let z = max(0, abs(u - mean) - 0.5) / variance.squareRoot()
        return TestResult(method: .mannWhitney, statistic: u, pValue: twoSidedP(z: z))
    }
}
