// The audit's configuration and run: records to per-group checks and their verdicts. The statistics are
// Statistics.swift's, the per-group figures Metrics.swift's, the renderings JSONReport/MarkdownReport/SVGPlot's.

import Foundation
import ReckonCore

/// Why an audit could not run.
public enum AuditError: Error, Equatable, CustomStringConvertible {
    case noRecords
    case unknownReferenceGroup(String, known: [String])
    /// Only the reference group is present, so there is nothing to compare it with.
    case nothingToCompare(reference: String)
    case invalidConfiguration(String)
    case invalidRecord(id: String, reason: String)
    /// A pair id occurs twice within one group, so the pairing is ambiguous.
    case duplicatePairID(String, group: String)

    public var description: String {
        switch self {
        case .noRecords: "the audit has no records"
        case .unknownReferenceGroup(let g, let known):
            "reference group \"\(g)\" is not in the records; known groups: \(known.joined(separator: ", "))"
        case .nothingToCompare(let g): "only the reference group \"\(g)\" has records; there is nothing to compare"
        case .invalidConfiguration(let why): "invalid audit configuration: \(why)"
        case .invalidRecord(let id, let why): "record \"\(id)\": \(why)"
        case .duplicatePairID(let p, let g): "pair id \"\(p)\" occurs more than once in group \"\(g)\""
        }
    }
}

/// One group-versus-reference question the audit asks.
public enum AuditCheck: String, Sendable, Codable, CaseIterable {
    case thinkRate = "think_rate"
    case accuracy
    case tokensPerQuery = "tokens_per_query"
    case downgradeRate = "downgrade_rate"
    case truncationRate = "truncation_rate"
    case rejectRate = "reject_rate"
    case queueRate = "queue_rate"
    /// Think rate on the problems both groups saw (shared `pairID`), tested with McNemar.
    case pairedRouting = "paired_routing"
    /// Median latency: reported with a test, but it gets no verdict (thinking is slower by design).
    case latency

    /// Whether a lower value for the group (rather than a higher one) is the harmful direction.
    var lowerIsWorse: Bool {
        switch self {
        case .thinkRate, .accuracy, .tokensPerQuery, .pairedRouting: true
        case .downgradeRate, .truncationRate, .rejectRate, .queueRate, .latency: false
        }
    }

    public var title: String {
        switch self {
        case .thinkRate: "think rate"
        case .accuracy: "accuracy"
        case .tokensPerQuery: "tokens per query"
        case .downgradeRate: "downgrade rate"
        case .truncationRate: "truncation rate"
        case .rejectRate: "reject rate"
        case .queueRate: "queue rate"
        case .pairedRouting: "paired routing"
        case .latency: "latency p50"
        }
    }
}

public enum Verdict: String, Sendable, Codable {
    case pass, fail
    case insufficientData = "insufficient_data"
}

/// Routing flips on the problems shared by the reference and one group.
public struct PairedFlips: Sendable, Equatable, Codable {
    /// Pairs with both renderings served.
    public var pairs: Int
    /// Reference thought, group answered short (b of McNemar's test).
    public var toShort: Int
    /// Reference answered short, group thought (c).
    public var toThink: Int
    /// (toShort + toThink) / pairs.
    public var flipRate: Double?

    enum CodingKeys: String, CodingKey {
        case pairs
        case toShort = "to_short", toThink = "to_think", flipRate = "flip_rate"
    }
}

/// One check of one group against the reference.
public struct GroupComparison: Sendable, Equatable, Codable {
    public var check: AuditCheck
    public var group: String
    public var reference: String
    public var groupValue: Double?
    public var referenceValue: Double?
    /// The sample sizes behind the values (served requests, all requests, or pairs).
    public var groupN: Int
    public var referenceN: Int
    /// group − reference.
    public var difference: Double?
    /// group / reference (`+infinity` when only the reference is 0).
    public var ratio: Double?
    /// Percentile-bootstrap 95% intervals; nil when the bootstrap is off or data is insufficient.
    public var differenceCI: Statistics.Interval?
    public var ratioCI: Statistics.Interval?
    /// The raw test; nil when data is insufficient.
    public var test: Statistics.TestResult?
    /// Holm-adjusted across the groups tested for this check.
    public var adjustedPValue: Double?
    public var flips: PairedFlips?
    /// nil for the informational latency check.
    public var verdict: Verdict?
    /// The rule's reading, e.g. "ratio 0.52 < 0.80 and Holm p 3.1e-06 < 0.05".
    public var reason: String
    /// True for a held-out group (`Audit.heldOut`): reported with its verdict, which does not
    /// count towards the report's; nil for the groups that do.
    public var heldOut: Bool?

    public var isHeldOut: Bool { heldOut == true }

    enum CodingKeys: String, CodingKey {
        case check, group, reference, difference, ratio, test, flips, verdict, reason
        case heldOut = "held_out"
        case groupValue = "group_value", referenceValue = "reference_value"
        case groupN = "group_n", referenceN = "reference_n"
        case differenceCI = "difference_ci", ratioCI = "ratio_ci", adjustedPValue = "adjusted_p_value"
    }
}

/// The audit's settings; `run` turns records into an `AuditReport`.
///
/// A check **fails** only when the disparity is both large and statistically significant:
/// - think rate, tokens per query, paired routing (lower is worse): ratio group/reference < `minRatio`;
/// - accuracy: reference − group > `maxAccuracyGap` when set, else ratio < `minRatio`;
/// - downgrade, truncation, reject, queue rates (higher is worse): ratio > 1/`minRatio`
///   (an infinite ratio, reference 0 and group > 0, counts);
/// and in every case the Holm-adjusted p-value (across groups, per check) is below `alpha`.
/// Held-out groups (`heldOut`) get the same checks and verdicts in their own Holm family, and
/// are left out of `AuditReport.passed`.
/// A check is **insufficient data** when either side has fewer than `minGroupSize` observations
/// in the check's denominator (pairs for paired routing); it is then not tested and not part of
/// the Holm family. Otherwise it **passes**.
public struct Audit: Sendable, Equatable, Codable {
    public var reference: String
    /// The four-fifths rule by default.
    public var minRatio: Double
    /// Largest tolerated accuracy drop (absolute, e.g. 0.05); nil applies `minRatio` to accuracy.
    public var maxAccuracyGap: Double?
    public var alpha: Double
    /// Bootstrap resamples per interval; 0 skips the intervals (verdicts do not use them).
    public var bootstrapResamples: Int
    public var seed: UInt64
    /// Smallest sample, per side, that a check will test.
    public var minGroupSize: Int
    /// Groups reported apart and kept out of the verdict: a dialect never seen in training,
    /// whose figures measure generalisation rather than what the model was trained to do.
    /// Their checks get their own Holm family, so they move no seen group's p-value.
    public var heldOut: [String]

    enum CodingKeys: String, CodingKey {
        case reference, alpha, seed
        case minRatio = "min_ratio", maxAccuracyGap = "max_accuracy_gap"
        case bootstrapResamples = "bootstrap_resamples", minGroupSize = "min_group_size"
        case heldOut = "held_out"
    }

    public init(reference: String, minRatio: Double = 0.8, maxAccuracyGap: Double? = nil, alpha: Double = 0.05,
                bootstrapResamples: Int = 2000, seed: UInt64 = 0, minGroupSize: Int = 20, heldOut: [String] = []) {
        self.reference = reference; self.minRatio = minRatio; self.maxAccuracyGap = maxAccuracyGap
        self.alpha = alpha; self.bootstrapResamples = bootstrapResamples; self.seed = seed
        self.minGroupSize = minGroupSize; self.heldOut = heldOut
    }

    /// Reports written before held-out groups existed read back with none.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        reference = try c.decode(String.self, forKey: .reference)
        minRatio = try c.decode(Double.self, forKey: .minRatio)
        maxAccuracyGap = try c.decodeIfPresent(Double.self, forKey: .maxAccuracyGap)
        alpha = try c.decode(Double.self, forKey: .alpha)
        bootstrapResamples = try c.decode(Int.self, forKey: .bootstrapResamples)
        seed = try c.decode(UInt64.self, forKey: .seed)
        minGroupSize = try c.decode(Int.self, forKey: .minGroupSize)
        heldOut = try c.decodeIfPresent([String].self, forKey: .heldOut) ?? []
    }

    public func run(_ records: [AuditRecord]) throws(AuditError) -> AuditReport {
        try validate(records)
        let byGroup = Dictionary(grouping: records, by: \.group)
        guard byGroup[reference] != nil else {
            throw .unknownReferenceGroup(reference, known: byGroup.keys.sorted())
        }
        for g in heldOut where byGroup[g] == nil {
            throw .invalidConfiguration("held-out group \"\(g)\" is not in the records; known groups: \(byGroup.keys.sorted().joined(separator: ", "))")
        }
        // The seen groups first, then the held-out ones: the verdict's groups lead every table.
        let seen = byGroup.keys.filter { $0 != reference && !heldOut.contains($0) }.sorted()
        let held = byGroup.keys.filter { heldOut.contains($0) }.sorted()
        let others = seen + held
        guard !seen.isEmpty else { throw .nothingToCompare(reference: reference) }
        let ref = byGroup[reference] ?? []

        let hasPairs = records.contains { $0.pairID != nil }
        var refPairs: [String: AuditRecord] = [:]
        if hasPairs { refPairs = try pairIndex(ref, group: reference) }

        var comparisons: [GroupComparison] = []
        for check in AuditCheck.allCases {
            if check == .pairedRouting && !hasPairs { continue }
            var family: [GroupComparison] = []
            let refObservations = observations(check, ref)
            for g in others {
                // One stream per check and group, keyed by name: adding a group moves no other interval.
                let stream = RNG(seed: seed).derived(fnv1a("\(check.rawValue)/\(g)")).state
                let records = byGroup[g] ?? []
                if check == .pairedRouting {
                    family.append(paired(g, try pairIndex(records, group: g), refPairs, seed: stream))
                } else {
                    family.append(unpaired(check, g, observations(check, records), refObservations, seed: stream))
                }
            }
            // Holm across the groups that were tested for this check: the seen groups are one
            // family, the held-out ones another.
            for i in family.indices where heldOut.contains(family[i].group) { family[i].heldOut = true }
            for own in [false, true] {
                let tested = family.indices.filter { family[$0].test != nil && family[$0].isHeldOut == own }
                let adjusted = Statistics.holm(tested.map { family[$0].test?.pValue ?? 1 })
                for (i, p) in zip(tested, adjusted) { family[i].adjustedPValue = p }
            }
            for i in family.indices { decide(&family[i]) }
            comparisons += family
        }
        return AuditReport(audit: self, groups: [reference] + others, records: records.count,
                           metrics: MetricFrame(records), comparisons: comparisons)
    }

    private func validate(_ records: [AuditRecord]) throws(AuditError) {
        guard minRatio > 0, minRatio <= 1 else { throw .invalidConfiguration("min_ratio must be in (0, 1], got \(minRatio)") }
        guard alpha > 0, alpha < 1 else { throw .invalidConfiguration("alpha must be in (0, 1), got \(alpha)") }
        guard bootstrapResamples >= 0 else { throw .invalidConfiguration("bootstrap_resamples must be ≥ 0") }
        guard minGroupSize >= 1 else { throw .invalidConfiguration("min_group_size must be ≥ 1") }
        if heldOut.contains(reference) { throw .invalidConfiguration("the reference group \"\(reference)\" cannot be held out") }
        if let gap = maxAccuracyGap, !(gap >= 0 && gap <= 1) {
            throw .invalidConfiguration("max_accuracy_gap must be in [0, 1], got \(gap)")
        }
        guard !records.isEmpty else { throw .noRecords }
        for r in records {
            if r.group.isEmpty { throw .invalidRecord(id: r.id, reason: "empty group") }
            if r.tokens < 0 { throw .invalidRecord(id: r.id, reason: "negative token count \(r.tokens)") }
            if !(r.latency.isFinite && r.latency >= 0) { throw .invalidRecord(id: r.id, reason: "latency \(r.latency) is not a finite value ≥ 0") }
        }
    }

    /// The check's per-record observations: 0/1 for rates, values for tokens and latency.
    private func observations(_ check: AuditCheck, _ records: [AuditRecord]) -> [Double] {
        let served = records.filter { $0.action != .reject }
        func indicator(_ rs: [AuditRecord], _ p: (AuditRecord) -> Bool) -> [Double] { rs.map { p($0) ? 1 : 0 } }
        switch check {
        case .thinkRate: return indicator(served) { $0.thought }
        case .accuracy: return indicator(records) { $0.correct && $0.action != .reject }
        case .tokensPerQuery: return records.map { Double($0.tokens) }
        case .downgradeRate: return indicator(records) { $0.action == .downgrade }
        case .truncationRate: return indicator(records) { $0.action == .truncate }
        case .rejectRate: return indicator(records) { $0.action == .reject }
        case .queueRate: return indicator(records) { $0.action == .queue }
        case .latency: return served.map(\.latency)
        case .pairedRouting: return []
        }
    }

    /// One unpaired check: `x` and `y` are the observations of the group and of the reference.
    private func unpaired(_ check: AuditCheck, _ group: String, _ x: [Double], _ y: [Double], seed: UInt64) -> GroupComparison {
        let summary: Statistics.Summary = check == .latency ? .median : .mean
        var c = GroupComparison(check: check, group: group, reference: reference, groupValue: summary.of(x),
                                referenceValue: summary.of(y), groupN: x.count, referenceN: y.count, reason: "")
        fillEffects(&c)
        guard x.count >= minGroupSize, y.count >= minGroupSize else { return c }
        if check == .tokensPerQuery || check == .latency {
            c.test = Statistics.mannWhitney(x, y)
        } else {
            let sx = Int(x.reduce(0, +)), sy = Int(y.reduce(0, +))
            c.test = Statistics.twoProportionTest(x1: sx, n1: x.count, x2: sy, n2: y.count)
        }
        if bootstrapResamples > 0 {
            c.differenceCI = Statistics.bootstrapCI(group: x, reference: y, effect: .difference, summary: summary,
                                                    resamples: bootstrapResamples, seed: seed)
            c.ratioCI = Statistics.bootstrapCI(group: x, reference: y, effect: .ratio, summary: summary,
                                               resamples: bootstrapResamples, seed: seed)
        }
        return c
    }

    /// pairID → record for one group; records without a pair id are left out.
    private func pairIndex(_ records: [AuditRecord], group: String) throws(AuditError) -> [String: AuditRecord] {
        var index: [String: AuditRecord] = [:]
        for r in records {
            guard let p = r.pairID else { continue }
            if index[p] != nil { throw .duplicatePairID(p, group: group) }
            index[p] = r
        }
        return index
    }

    private func paired(_ group: String, _ mine: [String: AuditRecord], _ refs: [String: AuditRecord],
                        seed: UInt64) -> GroupComparison {
        // Pairs where both sides were served: a rejection has no routing outcome to compare.
        let pairs = mine.keys.sorted().compactMap { id -> (g: Double, r: Double)? in
            guard let a = mine[id], let b = refs[id], a.action != .reject, b.action != .reject else { return nil }
            return (a.thought ? 1 : 0, b.thought ? 1 : 0)
        }
        let x = pairs.map(\.g), y = pairs.map(\.r)
        let toShort = pairs.count(where: { $0.r == 1 && $0.g == 0 })
        let toThink = pairs.count(where: { $0.r == 0 && $0.g == 1 })
        var c = GroupComparison(check: .pairedRouting, group: group, reference: reference,
                                groupValue: Statistics.Summary.mean.of(x), referenceValue: Statistics.Summary.mean.of(y),
                                groupN: pairs.count, referenceN: pairs.count,
                                flips: PairedFlips(pairs: pairs.count, toShort: toShort, toThink: toThink,
                                                   flipRate: Statistics.flipRate(b: toShort, c: toThink, pairs: pairs.count)),
                                reason: "")
        fillEffects(&c)
        guard pairs.count >= minGroupSize else { return c }
        c.test = Statistics.mcnemarExact(b: toShort, c: toThink)
        if bootstrapResamples > 0 {
            c.differenceCI = Statistics.pairedBootstrapCI(group: x, reference: y, effect: .difference,
                                                          resamples: bootstrapResamples, seed: seed)
            c.ratioCI = Statistics.pairedBootstrapCI(group: x, reference: y, effect: .ratio,
                                                     resamples: bootstrapResamples, seed: seed)
        }
        return c
    }

    private func fillEffects(_ c: inout GroupComparison) {
        guard let g = c.groupValue, let r = c.referenceValue else { return }
        c.difference = Statistics.Effect.difference.of(g, r)
        c.ratio = Statistics.Effect.ratio.of(g, r)
    }

    /// Applies the verdict rule of the type's documentation and records its reading.
    private func decide(_ c: inout GroupComparison) {
        let check = c.check
        guard let p = c.adjustedPValue else {
            c.verdict = check == .latency ? nil : .insufficientData
            c.reason = "fewer than \(minGroupSize) \(check == .pairedRouting ? "pairs" : "observations") "
                + "(group \(c.groupN), reference \(c.referenceN)); not tested"
            return
        }
        let significance = "Holm p \(fmt(p)) \(p < alpha ? "<" : "≥") \(fmt(alpha))"
        if check == .latency {
            c.verdict = nil
            c.reason = "informational; \(significance)"
            return
        }
        let large: Bool
        let size: String
        if check == .accuracy, let gap = maxAccuracyGap {
            let drop = -(c.difference ?? 0)
            large = drop > gap
            size = "gap \(fmt(drop)) \(large ? ">" : "≤") \(fmt(gap))"
        } else if let ratio = c.ratio {
            let bound = check.lowerIsWorse ? minRatio : 1 / minRatio
            large = check.lowerIsWorse ? ratio < bound : ratio > bound
            let op = check.lowerIsWorse ? (large ? "<" : "≥") : (large ? ">" : "≤")
            size = "ratio \(fmt(ratio)) \(op) \(fmt(bound))"
        } else {
            large = false
            size = "both values 0"
        }
        c.verdict = large && p < alpha ? .fail : .pass
        c.reason = "\(size) \(large ? (p < alpha ? "and" : "but") : "with") \(significance)"
    }
}

/// FNV-1a: a stable string hash (Swift's `hashValue` is randomised per process).
func fnv1a(_ s: String) -> UInt64 {
    s.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
}

/// Compact number formatting for reasons and reports: 3 significant digits, scientific when tiny.
func fmt(_ x: Double) -> String {
    if x.isInfinite { return x > 0 ? "∞" : "-∞" }
    if x.isNaN { return "NaN" }
    if x != 0 && abs(x) < 1e-3 { return String(format: "%.2g", x) }
    return String(format: "%.3g", x)
}

/// The audit's findings; `passed` is true when no check of a seen group failed (held-out
/// groups are reported, with verdicts, but never decide it).
public struct AuditReport: Sendable, Equatable, Codable {
    public var audit: Audit
    /// The reference first, then the other seen groups sorted, then the held-out ones sorted.
    public var groups: [String]
    public var records: Int
    public var metrics: MetricFrame
    /// Ordered by check (`AuditCheck.allCases`), then group.
    public var comparisons: [GroupComparison]
    public var passed: Bool

    public init(audit: Audit, groups: [String], records: Int, metrics: MetricFrame, comparisons: [GroupComparison]) {
        self.audit = audit; self.groups = groups; self.records = records; self.metrics = metrics
        self.comparisons = comparisons
        passed = !comparisons.contains { $0.verdict == .fail && !$0.isHeldOut }
    }

    public func comparison(_ check: AuditCheck, group: String) -> GroupComparison? {
        comparisons.first { $0.check == check && $0.group == group }
    }

    /// Failed checks of the groups in the verdict.
    public var failures: [GroupComparison] { comparisons.filter { $0.verdict == .fail && !$0.isHeldOut } }

    /// Checks of held-out groups that would fail if they counted.
    public var heldOutFailures: [GroupComparison] { comparisons.filter { $0.verdict == .fail && $0.isHeldOut } }
}
