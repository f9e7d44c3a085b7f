import XCTest
import ReckonCore
import ReckonModel
@testable import ReckonTrain

/// The DeGRPO trainer end to end on a tiny model with hand-built rollouts.
final class DeGRPOTests: XCTestCase {
    let config = ModelConfig(dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 16, maxSeqLen: 32)
    let prompt = ThinkWinsGroup.prompt

    func rollouts() -> [Rollout] { ThinkWinsGroup.rollouts(gamma: 0.2) }
    func pThink(_ model: Transformer) throws -> Float { try ThinkWinsGroup.pThink(model) }

    func trainer(_ loss: PolicyLossConfig, microBatch: Int = 4) throws -> DeGRPOTrainer {
        var c = DeGRPOConfig()
        c.rollout.groupSize = 4
        c.loss = loss
        c.microBatch = microBatch
        let model = try Transformer(config: config, seed: 2)
        return try DeGRPOTrainer(policy: model, reference: model, optimizer: AdamW(config: AdamWConfig(weightDecay: 0), layout: model.layout),
                                 config: c, seed: 1)
    }

    /// Rewarded thinking raises p(think) step after step.
    func testRewardedModeGainsProbability() throws {
        var t = try trainer(PolicyLossConfig(kind: .degrpo, alpha: 1, beta: 0.001))
        let before = try pThink(t.policy)
        for _ in 0..<5 { _ = try t.optimize(prompts: [prompt], rollouts: rollouts(), lr: 1e-2) }
        let after = try pThink(t.policy)
        XCTAssertGreaterThan(after, before + 0.2, "p(think) \(before) → \(after)")
    }

    /// Micro-batching changes nothing but rounding: the update equals the whole-batch one.
    func testMicroBatchesGiveTheWholeBatchGradient() throws {
        var whole = try trainer(PolicyLossConfig(beta: 0.01), microBatch: 4)
        var split = try trainer(PolicyLossConfig(beta: 0.01), microBatch: 1)
        let a = try whole.optimize(prompts: [prompt], rollouts: rollouts(), lr: 1e-3)
        let b = try split.optimize(prompts: [prompt], rollouts: rollouts(), lr: 1e-3)
        XCTAssertEqual(a.loss, b.loss, accuracy: 1e-6)
        XCTAssertEqual(a.gradNorm, b.gradNorm, accuracy: 1e-4 * a.gradNorm)
        for (x, y) in zip(whole.policy.params, split.policy.params) { XCTAssertEqual(x, y, accuracy: 1e-5) }
    }

    /// With α = 0, DeGRPO's gradient ignores the control token, so the mode choice stays put
    /// (only the tiny KL term acts on it); vanilla GRPO moves it.
    func testAlphaZeroFreezesTheModeChoice() throws {
        var frozen = try trainer(PolicyLossConfig(kind: .degrpo, alpha: 0, beta: 0))
        let p0 = try pThink(frozen.policy)
        for _ in 0..<3 { _ = try frozen.optimize(prompts: [prompt], rollouts: rollouts(), lr: 1e-2) }
        // Response tokens share parameters with the control position, so allow a small drift.
        XCTAssertEqual(try pThink(frozen.policy), p0, accuracy: 0.1)
        var grpo = try trainer(PolicyLossConfig(kind: .grpo, beta: 0))
        for _ in 0..<3 { _ = try grpo.optimize(prompts: [prompt], rollouts: rollouts(), lr: 1e-2) }
        XCTAssertGreaterThan(try pThink(grpo.policy), p0 + 0.05)
    }

    /// Five DeGRPO updates (α 1, β 0.001, lr 1e-2) under `hold`; the trainer after them, the
    /// parameters and p(think) before.
    func fiveSteps(_ hold: (inout DeGRPOConfig) -> Void) throws -> (DeGRPOTrainer, [Float], Float) {
        var t = try trainer(PolicyLossConfig(kind: .degrpo, alpha: 1, beta: 0.001))
        hold(&t.config)
        let before = t.policy.params, p0 = try pThink(t.policy)
        for _ in 0..<5 { _ = try t.optimize(prompts: [prompt], rollouts: rollouts(), lr: 1e-2) }
        return (t, before, p0)
    }

    /// `freezeDecisionBias` holds exactly the control rows of the classifier and the `<bos>` and
    /// "\n" embeddings; every other parameter that gets a gradient still moves, and the mode
    /// choice still learns through them.
    func testFreezeDecisionBiasHoldsOnlyThosePaths() throws {
        let (t, before, p0) = try fiveSteps { $0.freezeDecisionBias = true }
        let ranges = DeGRPOConfig.decisionBiasRanges(t.policy.layout, config: config)
        XCTAssertEqual(ranges.map(\.count), [16, 16, 16, 16])
        var held = [Bool](repeating: false, count: before.count)
        for r in ranges { for i in r { held[i] = true; XCTAssertEqual(t.policy.params[i], before[i]) } }
        let l = t.policy.layout
        let wclsOther = l.wcls + Int(Tokenizer.eos) * 16
        XCTAssertNotEqual(Array(t.policy.params[wclsOther..<(wclsOther + 16)]), Array(before[wclsOther..<(wclsOther + 16)]))
        let moved = zip(t.policy.params, before).enumerated().filter { !held[$0.offset] && $0.element.0 != $0.element.1 }.count
        XCTAssertGreaterThan(moved, before.count / 4)
        XCTAssertGreaterThan(try pThink(t.policy), p0 + 0.1, "the mode choice learns through the shared weights")
    }

    /// `decisionHeadOnly` moves the `<think>` and `<short>` classifier rows and nothing else, so
    /// every other token's logit is the warm-up's bit for bit, while the mode choice learns.
    func testDecisionHeadOnlyMovesOnlyTheControlRows() throws {
        let (t, before, p0) = try fiveSteps { $0.trainable = .decision }
        let rows = DeGRPOConfig.decisionHeadRanges(t.policy.layout, config: config)
        XCTAssertEqual(rows.map(\.count), [16, 16])
        var trained = [Bool](repeating: false, count: before.count)
        for r in rows { for i in r { trained[i] = true } }
        for (i, (a, b)) in zip(t.policy.params, before).enumerated() where !trained[i] {
            XCTAssertEqual(a, b, "parameter \(i) is outside the decision head")
        }
        for r in rows { XCTAssertNotEqual(Array(t.policy.params[r]), Array(before[r])) }
        XCTAssertGreaterThan(try pThink(t.policy), p0 + 0.1, "the mode choice learns through the two rows")
        // The two holds contradict each other.
        var both = t.config
        both.freezeDecisionBias = true
        XCTAssertThrowsError(try both.validate())
    }

    /// Batch contrast, by hand: an easy group (1 think of 4, short pays) and a hard one (2 of 4,
    /// think pays). Σ A·x = 1.125 and Σ x² = 1.75, so β = 9/14 and the shared push
    /// Σ A'·x is zero afterwards.
    func testBatchContrastRemovesTheSharedPushByHand() {
        let A: [Float] = [-0.375, 0.125, 0.125, 0.125, 0.75, 0.75, -0.75, -0.75]
        let thinks = [true, false, false, false, true, true, false, false]
        let groups = [0, 0, 0, 0, 1, 1, 1, 1]
        let c = Advantage.batchContrast(A, thinks: thinks, groups: groups)
        let beta: Float = 9.0 / 14.0
        let expected: [Float] = [-0.375 - beta * 0.75, 0.125 + beta * 0.25, 0.125 + beta * 0.25, 0.125 + beta * 0.25,
                                 0.75 - beta * 0.5, 0.75 - beta * 0.5, -0.75 + beta * 0.5, -0.75 + beta * 0.5]
        for (x, y) in zip(c, expected) { XCTAssertEqual(x, y, accuracy: 1e-6) }
        let x: [Float] = [0.75, -0.25, -0.25, -0.25, 0.5, 0.5, -0.5, -0.5]
        XCTAssertEqual(zip(c, x).reduce(0) { $0 + $1.0 * $1.1 }, 0, accuracy: 1e-6)
        // λ scales the removed share: λ = 0 is the group advantage, λ = 0.5 halfway.
        XCTAssertEqual(Advantage.batchContrast(A, thinks: thinks, groups: groups, strength: 0), A)
        for (h, (a, y)) in zip(Advantage.batchContrast(A, thinks: thinks, groups: groups, strength: 0.5), zip(A, expected)) {
            XCTAssertEqual(h, (a + y) / 2, accuracy: 1e-6)
        }
        var config = DeGRPOConfig()
        config.contrastStrength = 1.5
        XCTAssertThrowsError(try config.validate())
        // No mode spread in any group: nothing to contrast, the advantages pass through.
        XCTAssertEqual(Advantage.batchContrast([0.5, -0.5], thinks: [true, true], groups: [0, 0]), [0.5, -0.5])
    }

    /// With the response term off, an update is exactly the one for rollouts whose responses
    /// have zero advantage and whose control tokens keep theirs: only the control term and the
    /// KL train, through every weight.
    func testResponseTermOffTrainsOnlyTheControlTerm() throws {
        var off = try trainer(PolicyLossConfig(kind: .degrpo, alpha: 1, beta: 0.01))
        off.config.responseTerm = false
        var byHand = try trainer(PolicyLossConfig(kind: .degrpo, alpha: 1, beta: 0.01))
        var on = try trainer(PolicyLossConfig(kind: .degrpo, alpha: 1, beta: 0.01))
        let p0 = try pThink(off.policy)
        let zeroed = rollouts().map { r -> Rollout in
            var z = r
            z.controlAdvantage = r.advantage
            z.advantage = 0
            return z
        }
        XCTAssertTrue(rollouts().contains { $0.advantage != 0 }, "the batch must carry response advantages")
        for _ in 0..<3 {
            _ = try off.optimize(prompts: [prompt], rollouts: rollouts(), lr: 1e-2)
            _ = try byHand.optimize(prompts: [prompt], rollouts: zeroed, lr: 1e-2)
            _ = try on.optimize(prompts: [prompt], rollouts: rollouts(), lr: 1e-2)
        }
        XCTAssertEqual(off.policy.params, byHand.policy.params)
        XCTAssertNotEqual(off.policy.params, on.policy.params)
        XCTAssertGreaterThan(try pThink(off.policy), p0 + 0.1, "the mode choice still learns")
    }

    /// The control advantage reaches the control token's weight only.
    func testControlAdvantageActsOnTokenZeroOnly() throws {
        let lp: [Float] = [-0.7, -1.2, -0.3]
        let base = PolicyRollout(logprobs: lp, oldLogprobs: lp, refLogprobs: lp, advantage: 0.5)
        var other = base
        other.controlAdvantage = -0.25
        let config = PolicyLossConfig(kind: .degrpo, alpha: 0.5, beta: 0)
        let a = try PolicyLoss.compute([base], config: config, totals: PolicyLossTotals([3]))
        let b = try PolicyLoss.compute([other], config: config, totals: PolicyLossTotals([3]))
        XCTAssertEqual(b.weights[0][0], a.weights[0][0] * -0.5, accuracy: 1e-7, "α/G · ρ · A with A = −0.25 instead of 0.5")
        XCTAssertEqual(Array(b.weights[0][1...]), Array(a.weights[0][1...]))
    }

    /// Paired rollouts force half of each group to each mode and weight the control token by
    /// π(mode)/½, so the group's push on the <think>-over-<short> logit is exactly
    /// α·π_t·π_s·(R̄_think − R̄_short). By hand: π_t = 0.3; think rewards 0.5, 0.5; short 1, −1;
    /// so R̄_t = 0.5, R̄_s = 0, the push is α·0.3·0.7·0.5 = 0.105·α.
    func testPairedRolloutsGiveTheExactModeGradient() throws {
        let pt: Float = 0.3, rewards: [Float] = [0.5, 0.5, 1, -1]
        let adv = Advantage.groupRelative(rewards)
        let modes: [ReasoningMode] = [.think, .think, .short, .short]
        let rs = (0..<4).map { i -> Rollout in
            var r = Rollout(prompt: 0, response: [modes[i] == .think ? Tokenizer.think : Tokenizer.short, Tokenizer.eos],
                            outcome: RolloutOutcome(mode: modes[i], correct: rewards[i] > 0), reward: rewards[i],
                            advantage: adv[i], truncated: false)
            r.pThink = pt
            r.controlImportance = 2 * (modes[i] == .think ? pt : 1 - pt)
            return r
        }
        for alpha: Float in [1, 0.5] {
            let batch = rs.map { r -> PolicyRollout in
                let lp: [Float] = [log(r.outcome.mode == .think ? pt : 1 - pt), -0.1]
                return PolicyRollout(logprobs: lp, oldLogprobs: lp, refLogprobs: lp, advantage: r.advantage,
                                     controlImportance: r.controlImportance)
            }
            let w = try PolicyLoss.compute(batch, config: PolicyLossConfig(kind: .degrpo, alpha: alpha, beta: 0)).weights.map { $0[0] }
            // ∂ log π(think)/∂d = π_s and ∂ log π(short)/∂d = −π_t for d = z_think − z_short.
            let push = zip(w, modes).reduce(Float(0)) { $0 + $1.0 * ($1.1 == .think ? 1 - pt : -pt) }
            XCTAssertEqual(push, 0.105 * alpha, accuracy: 1e-6)
        }

        // Sampling: the first half of every group thinks, the second half answers short, and
        // each rollout carries p(think) and the importance weight of its forced mode.
        var t = try trainer(PolicyLossConfig())
        t.config.rollout.maxResponseTokens = 6
        t.config.rollout.modes = .paired
        let prompts = [prompt, RLPrompt(tokens: PromptFormat.prompt("3+3"), answer: "6", difficulty: 2)]
        let sampled = try Rollouts.sample(policy: t.policy, prompts: prompts, config: t.config.rollout, seed: 3)
        XCTAssertEqual(sampled.map { $0.response[0] }, [Tokenizer.think, Tokenizer.think, Tokenizer.short, Tokenizer.short,
                                                        Tokenizer.think, Tokenizer.think, Tokenizer.short, Tokenizer.short])
        let p = try pThink(t.policy)
        for r in sampled.prefix(4) {
            XCTAssertEqual(r.pThink, p, accuracy: 1e-5)
            XCTAssertEqual(r.controlImportance, 2 * (r.outcome.mode == .think ? p : 1 - p), accuracy: 1e-5)
        }
        let s = try t.train(prompts: prompts, lr: 1e-3)
        XCTAssertEqual(s.thinkRate, 0.5)
        XCTAssertEqual(s.pThinkByDifficulty["1"] ?? -1, Double(p), accuracy: 1e-5)
        t.config.rollout.groupSize = 3
        XCTAssertThrowsError(try t.config.validate(), "an odd group cannot be split in half")
    }

    /// A forced control token's k3 is weighted by π/q like its clipped term, so a pair of forced
    /// modes gives what the policy's own draw gives in expectation. By hand: π_t = 0.1, reference
    /// ½. Forced think has k3 = 5 − ln 5 − 1 = 2.3906, forced short 5/9 − ln(5/9) − 1 = 0.1433;
    /// weighted by 0.2 and 1.8 and averaged, 0.3681 = KL(π‖ref) (unweighted: 1.2669). The push
    /// on d = z_think − z_short is β·r·(π_s − π_t)·(1/G)·G = 0.4·β, the expected gradient of sampled
    /// k3, ∇KL(ref‖π); unweighted it would be 1.82·β, and it grows as 1/π for a rarer mode.
    func testForcedControlTokenKLIsImportanceWeighted() throws {
        let pt = 0.1, half = log(0.5)
        let think = PolicyRollout(logprobs: [Float(log(pt))], oldLogprobs: [Float(log(pt))], refLogprobs: [Float(half)],
                                  advantage: 0, controlImportance: Float(2 * pt))
        let short = PolicyRollout(logprobs: [Float(log(1 - pt))], oldLogprobs: [Float(log(1 - pt))], refLogprobs: [Float(half)],
                                  advantage: 0, controlImportance: Float(2 * (1 - pt)))
        let beta: Float = 0.5
        let r = try PolicyLoss.compute([think, short], config: PolicyLossConfig(kind: .degrpo, alpha: 1, beta: beta))
        let exact = pt * log(pt / 0.5) + (1 - pt) * log((1 - pt) / 0.5)
        XCTAssertEqual(exact, 0.3681, accuracy: 1e-4)
        XCTAssertEqual(r.kl, exact * 2 / (2 * pt + 2 * (1 - pt)), accuracy: 1e-5, "the importance-weighted mean k3")
        // KL weight 1/(G·n) = 1/2; ∂J/∂logp = −β·iw·½·(1 − π_ref/π).
        XCTAssertEqual(Double(r.weights[0][0]), -Double(beta) * 2 * pt * 0.5 * (1 - 0.5 / pt), accuracy: 1e-6)
        XCTAssertEqual(Double(r.weights[1][0]), -Double(beta) * 2 * (1 - pt) * 0.5 * (1 - 0.5 / (1 - pt)), accuracy: 1e-6)
        // ∂ log π_t/∂d = π_s and ∂ log π_s/∂d = −π_t.
        let push = Double(r.weights[0][0]) * (1 - pt) - Double(r.weights[1][0]) * pt
        XCTAssertEqual(push, 0.4 * Double(beta), accuracy: 1e-6)
        var bad = think
        bad.controlImportance = .nan
        XCTAssertThrowsError(try PolicyLoss.compute([bad], config: PolicyLossConfig())) { error in
            XCTAssertEqual(error as? TrainError, .invalidRollout("rollout 0: the control token's importance weight must be finite and ≥ 0, got nan"))
        }
    }

    /// A sampled step reports consistent statistics.
    func testSampledStepStatistics() throws {
        var t = try trainer(PolicyLossConfig())
        t.config.rollout.maxResponseTokens = 12
        let s = try t.train(prompts: [prompt, RLPrompt(tokens: PromptFormat.prompt("3+3"), answer: "6", difficulty: 2)], lr: 1e-3)
        XCTAssertEqual(s.step, 1)
        XCTAssert((0...1).contains(s.thinkRate))
        XCTAssertEqual(Set(s.thinkRateByDifficulty.keys), ["1", "2"])
        XCTAssertEqual(s.reward, -1, "an untrained model answers nothing correctly")
        XCTAssertEqual(s.fracRewardZeroStd, 1)
        XCTAssertGreaterThan(s.entropy, 0)
        XCTAssertLessThanOrEqual(s.meanLength, 12)
        XCTAssertThrowsError(try t.optimize(prompts: [prompt], rollouts: [], lr: 1e-3))
    }
}
