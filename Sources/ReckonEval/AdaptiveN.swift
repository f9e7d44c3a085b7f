// Adaptive best-of-N: fitting the rule on a validation split and the majority vote; the difficulty scores
// are DifficultyEstimators.swift's.

import ReckonData

/// Adaptive best-of-N: the number of samples grows with estimated difficulty,
///
///     N(s) = clamp(1 + round(slope · (z(s) − threshold)), 1, nMax),  z(s) = (s − mean) / std,
///
/// where s is the estimator's score. The threshold, the slope and the standardisation are
/// fitted on a validation split only (`fit(validation:)` never sees the test split).
public struct AdaptiveN: Sendable, Equatable, Codable {
    public var threshold: Double
    public var slope: Double
    public var mean: Double
    public var std: Double
    public var nMax: Int

    public func n(score: Double) -> Int {
        let z = (score - mean) / max(std, 1e-12)
        let raw = 1 + (slope * (z - threshold)).rounded()
        return Int(min(Double(nMax), max(1, raw)))
    }

    /// One validation example: its difficulty score, nMax sampled answers in sampling
    /// order, and the gold answer.
    public struct ValidationItem: Sendable, Equatable {
        public var score: Double
        public var answers: [String]
        public var gold: String
        public init(score: Double, answers: [String], gold: String) { self.score = score; self.answers = answers; self.gold = gold }
    }

    /// The (threshold, slope) whose majority vote over the first N(s) answers is most
    /// accurate on the validation items with mean N ≤ `meanN`; ties go to the cheaper rule.
    public static func fit(validation: [ValidationItem], meanN: Double, nMax: Int) throws(EvalError) -> AdaptiveN {
        guard !validation.isEmpty else { throw .emptyDataSet }
        let scores = validation.map(\.score)
        let mean = scores.reduce(0, +) / Double(scores.count)
        let std = (scores.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(scores.count)).squareRoot()
        var best: (acc: Double, cost: Double, rule: AdaptiveN)?
        for threshold in stride(from: -2.0, through: 2.0, by: 0.25) {
            for slope in [0.5, 1, 2, 3, 4, 6, 8] {
                let rule = AdaptiveN(threshold: threshold, slope: slope, mean: mean, std: std, nMax: nMax)
                var correct = 0, total = 0
                for item in validation {
                    let n = min(rule.n(score: item.score), item.answers.count)
                    total += n
                    if let vote = Vote.majority(Array(item.answers.prefix(n))), Verifier.matches(vote, gold: item.gold) { correct += 1 }
                }
                let cost = Double(total) / Double(validation.count)
                guard cost <= meanN + 1e-9 else { continue }
                let acc = Double(correct) / Double(validation.count)
                if let b = best, acc < b.acc || (acc == b.acc && cost >= b.cost) { continue }
                best = (acc, cost, rule)
            }
        }
        // If no rule fits the mean-N budget, N = 1 everywhere does.
        return best?.rule ?? AdaptiveN(threshold: 1e9, slope: 0, mean: mean, std: std, nMax: nMax)
    }
}

public enum Vote {
    /// The most common answer after the verifier's canonical form; ties go to the answer
    /// seen first. Empty answers do not vote.
    public static func majority(_ answers: [String]) -> String? {
        var counts: [String: Int] = [:], first: [String: Int] = [:]
        for (i, a) in answers.enumerated() {
            let c = Verifier.canonical(a)
            guard !c.isEmpty else { continue }
            counts[c, default: 0] += 1
            if first[c] == nil { first[c] = i }
        }
        return counts.max { x, y in x.value != y.value ? x.value < y.value : (first[x.key] ?? 0) > (first[y.key] ?? 0) }?.key
    }
}
