// Every `threshold:T` rule's figures from one forced-think and one forced-short eval, and the best by a criterion;
// storing the choice is ReckonCheckpoint/StoredRouting.swift's.

import ReckonModel

/// One threshold's figures on a split.
public struct ThresholdResult: Sendable, Equatable {
    public var threshold: Double
    public var n: Int
    public var correct: Int
    public var thinks: Int
    public var tokens: Int

    public var accuracy: Double { Double(correct) / Double(max(1, n)) }
    public var thinkRate: Double { Double(thinks) / Double(max(1, n)) }
    public var meanTokens: Double { Double(tokens) / Double(max(1, n)) }
}

/// Choosing a `threshold:T` rule on a validation split.
///
/// After token 0 every answer is greedy and decode is batch-invariant, so under
/// `threshold:T` example i's record is its forced-think record when p(think) ≥ T and its
/// forced-short record otherwise. Two evals therefore give every threshold exactly.
public enum ThresholdChoice {
    public static let criterion = "highest accuracy, then fewest tokens, then the higher threshold"

    /// Every threshold's figures from the forced-think and forced-short records of the same
    /// examples, in the same order. Examples whose prompt filled the context are left out.
    public static func evaluate(think: [EvalRecord], short: [EvalRecord], thresholds: [Double]) throws(EvalError) -> [ThresholdResult] {
        guard think.count == short.count, zip(think, short).allSatisfy({ $0.index == $1.index }) else {
            throw .mismatchedRecords("forced-think and forced-short records are not of the same examples")
        }
        let pairs = zip(think, short).filter { !$0.0.skipped && !$0.1.skipped }
        guard !pairs.isEmpty else { throw .emptyDataSet }
        return thresholds.map { t in
            var r = ThresholdResult(threshold: t, n: pairs.count, correct: 0, thinks: 0, tokens: 0)
            for (k, s) in pairs {
                let chosen = RoutingPolicy.threshold(t).choose(pThink: k.pThink, u: 0) == .think ? k : s
                r.correct += chosen.correct ? 1 : 0
                r.thinks += chosen.mode == .think ? 1 : 0
                r.tokens += chosen.generatedTokens
            }
            return r
        }
    }

    /// The best result by `criterion`.
    public static func best(_ results: [ThresholdResult]) -> ThresholdResult? {
        results.max { a, b in
            if a.correct != b.correct { return a.correct < b.correct }
            if a.tokens != b.tokens { return a.tokens > b.tokens }
            return a.threshold < b.threshold
        }
    }
}
