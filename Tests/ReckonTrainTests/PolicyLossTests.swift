import XCTest
import ReckonCore
@testable import ReckonTrain

/// DeGRPO and GRPO against values worked out by hand in each test.
final class PolicyLossTests: XCTestCase {
    /// Two rollouts on-policy (ρ = 1), reference equal to the policy (KL 0):
    /// rollout a: 1 control + 3 response tokens, A = +0.5; rollout b: 1 control + 1 response token, A = −0.5.
    func onPolicy(_ lpA: [Float] = [-0.1, -1, -2, -0.5], _ lpB: [Float] = [-0.3, -0.7]) -> [PolicyRollout] {
        [PolicyRollout(logprobs: lpA, oldLogprobs: lpA, refLogprobs: lpA, advantage: 0.5),
         PolicyRollout(logprobs: lpB, oldLogprobs: lpB, refLogprobs: lpB, advantage: -0.5)]
    }

    func testDeGRPOWeightsByHand() throws {
        let r = try PolicyLoss.compute(onPolicy(), config: PolicyLossConfig(kind: .degrpo, alpha: 0.3, beta: 0))
        // G = 2. Control: α/G·A = 0.15·(±0.5). Response: A/(G·Tᵢ): a: 0.5/6, b: −0.5/2.
        XCTAssertEqual(r.weights[0][0], 0.075, accuracy: 1e-7)
        XCTAssertEqual(r.weights[1][0], -0.075, accuracy: 1e-7)
        for t in 1...3 { XCTAssertEqual(r.weights[0][t], 0.5 / 6, accuracy: 1e-7) }
        XCTAssertEqual(r.weights[1][1], -0.25, accuracy: 1e-7)
        // J = 0.075 − 0.075 + 3·(0.5/6) − 0.25 = 0 → loss 0; the control term alone is 0.
        XCTAssertEqual(r.controlTerm, 0, accuracy: 1e-9)
        XCTAssertEqual(r.responseTerm, 0, accuracy: 1e-9)
        XCTAssertEqual(r.loss, 0, accuracy: 1e-9)
    }

    /// The gradient reaching the control token's logit scales exactly with α; response weights do not move.
    func testControlGradientScalesWithAlpha() throws {
        let a1 = try PolicyLoss.compute(onPolicy(), config: PolicyLossConfig(alpha: 1, beta: 0.01))
        let a4 = try PolicyLoss.compute(onPolicy(), config: PolicyLossConfig(alpha: 4, beta: 0.01))
        for i in 0..<2 {
            XCTAssertEqual(a4.weights[i][0], 4 * a1.weights[i][0], accuracy: 1e-7)
            XCTAssertEqual(Array(a4.weights[i].dropFirst()), Array(a1.weights[i].dropFirst()))
        }
        // Through the classifier: ∂L/∂logit_j = w·(softmax_j − onehot_j), so the logit
        // gradient at the control position scales by the same factor.
        let logits: [Float] = [0.2, -1, 0.7]
        func dlogits(_ w: Float) -> [Float] {
            var d = [Float](repeating: 0, count: 3)
            CrossEntropy.backward(dlogits: &d, logits: logits, targets: [2], weights: [w], n: 1, vocab: 3)
            return d
        }
        let g1 = dlogits(a1.weights[0][0]), g4 = dlogits(a4.weights[0][0])
        for j in 0..<3 { XCTAssertEqual(g4[j], 4 * g1[j], accuracy: 1e-7) }
    }

    /// Vanilla GRPO: the control token is one of Tᵢ+1 tokens in the per-sequence mean.
    func testVanillaGRPOControlWeightIsOneOverTPlusOne() throws {
        let r = try PolicyLoss.compute(onPolicy(), config: PolicyLossConfig(kind: .grpo, alpha: 123, beta: 0))
        // a: T = 3 → every token A/(G·4) = 0.5/8; b: T = 1 → −0.5/4. α is ignored.
        for t in 0...3 { XCTAssertEqual(r.weights[0][t], 0.0625, accuracy: 1e-7) }
        for t in 0...1 { XCTAssertEqual(r.weights[1][t], -0.125, accuracy: 1e-7) }
        // The longer the response, the less its mode choice moves.
        let long = try PolicyLoss.compute([PolicyRollout(logprobs: .init(repeating: -1, count: 101), oldLogprobs: .init(repeating: -1, count: 101),
                                                          refLogprobs: .init(repeating: -1, count: 101), advantage: 1)],
                                          config: PolicyLossConfig(kind: .grpo, beta: 0))
        XCTAssertEqual(long.weights[0][0], 1.0 / 101, accuracy: 1e-7)
        let de = try PolicyLoss.compute([PolicyRollout(logprobs: .init(repeating: -1, count: 101), oldLogprobs: .init(repeating: -1, count: 101),
                                                        refLogprobs: .init(repeating: -1, count: 101), advantage: 1)],
                                        config: PolicyLossConfig(kind: .degrpo, alpha: 1, beta: 0))
        XCTAssertEqual(de.weights[0][0], 1, accuracy: 1e-7, "DeGRPO keeps the control weight at α/G whatever the length")
    }

    func testBatchTokenMeanAggregation() throws {
        let r = try PolicyLoss.compute(onPolicy(), config: PolicyLossConfig(alpha: 1, beta: 0, aggregation: .batchTokenMean))
        // 4 response tokens in the batch: each weighs A/4.
        for t in 1...3 { XCTAssertEqual(r.weights[0][t], 0.125, accuracy: 1e-7) }
        XCTAssertEqual(r.weights[1][1], -0.125, accuracy: 1e-7)
        XCTAssertEqual(r.weights[0][0], 0.25, accuracy: 1e-7, "control stays α/G·A")
    }

    /// Clipping engages just past 1 ± ε in the direction the advantage pushes, and not before.
    func testClippingBoundaries() throws {
        let eps: Float = 0.2
        func weight(rho: Double, advantage: Float) throws -> Float {
            let lp = Float(log(rho)) - 1
            let r = PolicyRollout(logprobs: [lp, lp], oldLogprobs: [-1, -1], refLogprobs: [lp, lp], advantage: advantage)
            return try PolicyLoss.compute([r], config: PolicyLossConfig(alpha: 1, epsilon: eps, beta: 0)).weights[0][0]
        }
        // A > 0: gradient ρ·A inside and below the band, 0 once ρ > 1+ε.
        XCTAssertEqual(try weight(rho: 1.19, advantage: 1), 1.19, accuracy: 1e-5)
        XCTAssertEqual(try weight(rho: 1.21, advantage: 1), 0)
        XCTAssertEqual(try weight(rho: 0.5, advantage: 1), 0.5, accuracy: 1e-5)
        // A < 0: gradient ρ·A inside and above the band, 0 once ρ < 1−ε.
        XCTAssertEqual(try weight(rho: 0.81, advantage: -1), -0.81, accuracy: 1e-5)
        XCTAssertEqual(try weight(rho: 0.79, advantage: -1), 0)
        XCTAssertEqual(try weight(rho: 1.5, advantage: -1), -1.5, accuracy: 1e-5)
        // The loss value at a clipped point is the clipped bound: ℓ = (1+ε)·A.
        let lp = Float(log(1.5)) - 1
        let r = try PolicyLoss.compute([PolicyRollout(logprobs: [lp, -1], oldLogprobs: [-1, -1], refLogprobs: [lp, -1], advantage: 2)],
                                       config: PolicyLossConfig(alpha: 1, epsilon: eps, beta: 0))
        XCTAssertEqual(r.controlTerm, 1.2 * 2, accuracy: 1e-5)
        XCTAssertEqual(r.clipFraction, 0.5, accuracy: 1e-9)
    }

    /// k3 = e^{ref−lp} − (ref−lp) − 1 and ∂k3/∂lp = 1 − e^{ref−lp}, checked by value and by finite differences.
    func testK3KLAndGradient() throws {
        let beta: Float = 0.5
        let lp: [Float] = [-0.4, -1.3, -0.2], ref: [Float] = [-0.9, -1.0, -0.2]
        let cfg = PolicyLossConfig(alpha: 1, beta: beta)
        func run(_ lp: [Float]) throws -> PolicyLossResult {
            try PolicyLoss.compute([PolicyRollout(logprobs: lp, oldLogprobs: lp, refLogprobs: ref, advantage: 0)], config: cfg)
        }
        let r = try run(lp)
        let k = zip(lp, ref).map { l, f in exp(Double(f - l)) - Double(f - l) - 1 }
        XCTAssertEqual(r.kl, k.reduce(0, +) / 3, accuracy: 1e-7)
        XCTAssertEqual(k[2], 0, "zero where the policy equals the reference")
        // With A = 0 the loss is β·mean(k3) and weights are −β/3·(1 − e^{ref−lp}).
        XCTAssertEqual(r.loss, Double(beta) * k.reduce(0, +) / 3, accuracy: 1e-7)
        for t in 0..<3 {
            XCTAssertEqual(Double(r.weights[0][t]), -Double(beta) / 3 * (1 - exp(Double(ref[t] - lp[t]))), accuracy: 1e-7)
            // w = ∂J/∂lp = −∂loss/∂lp.
            let h: Float = 1e-3
            var up = lp, dn = lp
            up[t] += h; dn[t] -= h
            let numeric = -(try run(up).loss - run(dn).loss) / Double(2 * h)
            XCTAssertEqual(Double(r.weights[0][t]), numeric, accuracy: 1e-5)
        }
    }

    func testRewardsAndAdvantages() {
        let rc = RewardConfig(gamma: 0.3)
        XCTAssertEqual(rc.reward(RolloutOutcome(mode: .short, correct: true)), 1)
        XCTAssertEqual(rc.reward(RolloutOutcome(mode: .think, correct: true)), 0.7, accuracy: 1e-7)
        XCTAssertEqual(rc.reward(RolloutOutcome(mode: .think, correct: false)), -1)
        XCTAssertEqual(rc.reward(RolloutOutcome(mode: .think, correct: true, malformed: true)), -1, "a truncated think earns −1")
        // mean = −0.075
        for (a, e) in zip(Advantage.groupRelative([1, 0.7, -1, -1]), [1.075, 0.775, -0.925, -0.925]) { XCTAssertEqual(a, Float(e), accuracy: 1e-6) }
        let n = Advantage.groupRelative([1, -1], normalizeStd: true)
        XCTAssertEqual(n, [1, -1])
        XCTAssertEqual(Advantage.groupRelative([1, 1, 1], normalizeStd: true), [0, 0, 0], "no spread, no signal")
    }

    func testRejectsMismatchedShapes() {
        XCTAssertThrowsError(try PolicyLoss.compute([], config: PolicyLossConfig()))
        XCTAssertThrowsError(try PolicyLoss.compute([PolicyRollout(logprobs: [-1, -1], oldLogprobs: [-1], refLogprobs: [-1, -1], advantage: 1)],
                                                    config: PolicyLossConfig()))
    }
}

extension PolicyLossTests {
    /// Splitting a batch into micro-batches with the batch totals gives the whole-batch weights.
    func testMicroBatchesWithTotalsMatchWholeBatch() throws {
        for agg in PolicyLossConfig.Aggregation.allCases {
            for kind in PolicyLossConfig.Kind.allCases {
                let cfg = PolicyLossConfig(kind: kind, alpha: 0.5, beta: 0.1, aggregation: agg)
                var rs = onPolicy()
                rs[0].refLogprobs = [-0.2, -1.1, -2, -0.4]
                let whole = try PolicyLoss.compute(rs, config: cfg)
                let totals = PolicyLossTotals(rs.map(\.logprobs.count))
                let a = try PolicyLoss.compute([rs[0]], config: cfg, totals: totals)
                let b = try PolicyLoss.compute([rs[1]], config: cfg, totals: totals)
                XCTAssertEqual(a.weights[0], whole.weights[0])
                XCTAssertEqual(b.weights[0], whole.weights[1])
                XCTAssertEqual(a.loss + b.loss, whole.loss, accuracy: 1e-12)
            }
        }
    }
}
