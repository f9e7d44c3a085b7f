import XCTest
import ReckonCore
import ReckonData
import ReckonModel
@testable import ReckonTrain

/// The trainers with LoRA attached: only adapters and control rows move, and the optimizer's
/// moments cover them alone.
final class LoRATrainTests: XCTestCase {
    let config = ModelConfig(dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 16, maxSeqLen: 32)
    let prompt = ThinkWinsGroup.prompt
    let control: [Int32] = [Tokenizer.think, Tokenizer.endThink, Tokenizer.short]

    func adapted() throws -> Transformer {
        var model = try Transformer(config: config, seed: 2)
        try model.attach(LoRA(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v, .o, .gate, .up, .down]),
                              base: model, controlTokens: control, seed: 1))
        return model
    }

    /// DeGRPO that trains the decision: the control term alone, the adapters at 1e-6 and the
    /// control rows at `headLR` (Recipes/smollm2-selfroute.toml's shape).
    func decisionConfig(groupSize: Int, headLR: Double) -> DeGRPOConfig {
        var c = DeGRPOConfig()
        c.rollout.groupSize = groupSize
        c.loss = PolicyLossConfig(kind: .degrpo, alpha: 1, beta: 0)
        c.responseTerm = false
        c.lr = 1e-6
        c.headLR = headLR
        return c
    }

    /// Think rollouts are right and short ones wrong: DeGRPO on the adapters raises p(think),
    /// and the base's weights other than the control rows stay bit for bit.
    func testDeGRPOTrainsOnlyAdaptersAndControlRows() throws {
        var c = DeGRPOConfig()
        c.rollout.groupSize = 4
        c.loss = PolicyLossConfig(kind: .degrpo, alpha: 1, beta: 0.001)
        let model = try adapted()
        var t = try DeGRPOTrainer(policy: model, reference: model, optimizer: AdamW(config: AdamWConfig(weightDecay: 0), trainable: model),
                                  config: c, seed: 1)
        XCTAssertEqual(t.optimizer.moments.count, 2 * (model.lora?.parameterCount ?? 0))
        let rollouts = ThinkWinsGroup.rollouts(gamma: 0.2)
        let before = try ThinkWinsGroup.pThink(t.policy)
        for _ in 0..<5 { _ = try t.optimize(prompts: [prompt], rollouts: rollouts, lr: 1e-2) }
        XCTAssertGreaterThan(try ThinkWinsGroup.pThink(t.policy), before + 0.1)
        // A sampled step decodes through the unmerged adapters.
        _ = try t.train(prompts: [prompt], lr: 1e-3)

        let d = config.dim, pl = model.layout
        var controlRows = Set<Int>()
        for id in control { for j in 0..<d { controlRows.insert(pl.tokEmbed + Int(id) * d + j); controlRows.insert(pl.wcls + Int(id) * d + j) } }
        var moved = 0
        for i in 0..<model.params.count {
            if controlRows.contains(i) { moved += t.policy.params[i] != model.params[i] ? 1 : 0; continue }
            XCTAssertEqual(t.policy.params[i], model.params[i], "base parameter \(i) moved")
        }
        XCTAssertGreaterThan(moved, 0, "the control rows train")
        XCTAssertEqual(t.reference?.lora?.params, model.lora?.params, "the reference stays the warm-up")
    }

    /// The same on a tied model (SmolLM2's layout): one row per control token serves the
    /// embedding and the classifier, and DeGRPO's control term alone (adapters nearly still,
    /// the response term off) must raise p(think) when think rollouts win.
    func testControlTermRaisesPThinkOnATiedModel() throws {
        var tied = config
        tied.tiedEmbeddings = true
        var model = try Transformer(config: tied, seed: 2)
        try model.attach(LoRA(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]), base: model, controlTokens: control, seed: 1))
        let c = decisionConfig(groupSize: 4, headLR: 1e-2)
        var t = try DeGRPOTrainer(policy: model, reference: nil, optimizer: AdamW(config: AdamWConfig(weightDecay: 0), trainable: model),
                                  config: c, seed: 1)
        let rollouts = ThinkWinsGroup.rollouts(gamma: 0.5)
        let before = try ThinkWinsGroup.pThink(t.policy)
        for _ in 0..<5 { _ = try t.optimize(prompts: [prompt], rollouts: rollouts, lr: Float(c.lr)) }
        XCTAssertGreaterThan(try ThinkWinsGroup.pThink(t.policy), before + 0.1)
    }

    /// `head_lr` with adapters: the control rows step at head_lr and the adapters at lr. Adam's
    /// first step moves a coordinate by lr·m̂/(√v̂+ε) = lr·sign(g) (up to ε), so the largest move
    /// is the rate itself in each range.
    func testHeadLRScalesTheControlRowsOfAnAdapter() throws {
        let c = decisionConfig(groupSize: 2, headLR: 1e-3)
        let model = try adapted()
        var t = try DeGRPOTrainer(policy: model, reference: nil, optimizer: AdamW(config: AdamWConfig(weightDecay: 0, gradClip: 0), trainable: model),
                                  config: c, seed: 1)
        let rc = RewardConfig(gamma: 0.2)
        let rollouts = [PromptFormat.longAnswer(steps: "2+2=4", short: "4"), PromptFormat.shortAnswer("5")].enumerated().map { i, resp -> Rollout in
            let o = RolloutOutcome(mode: i == 0 ? .think : .short, correct: i == 0)
            return Rollout(prompt: 0, response: resp, outcome: o, reward: rc.reward(o), advantage: i == 0 ? 1 : -1, truncated: false)
        }
        _ = try t.optimize(prompts: [prompt], rollouts: rollouts, lr: Float(c.lr))
        let before = try XCTUnwrap(model.lora), after = try XCTUnwrap(t.policy.lora)
        let rows = before.layout.controlRows
        func maxMove(_ r: Range<Int>) -> Float { r.map { abs(after.params[$0] - before.params[$0]) }.max() ?? 0 }
        XCTAssertEqual(maxMove(rows), 1e-3, accuracy: 1e-5)
        XCTAssertEqual(maxMove(0..<rows.lowerBound), 1e-6, accuracy: 1e-7)
    }

    func testDecisionOnlyOptionsAreRefusedWithLoRA() throws {
        var c = DeGRPOConfig()
        c.trainable = .decision
        let model = try adapted()
        XCTAssertThrowsError(try DeGRPOTrainer(policy: model, reference: nil, optimizer: AdamW(config: AdamWConfig(), trainable: model),
                                               config: c, seed: 1))
    }

    /// `[lora]` decodes into the adapter config; absent, training is full fine-tuning.
    func testLoRASectionDecodesIntoTheAdapterConfig() throws {
        let r = try Recipe.parse("[lora]\nrank = 8\nalpha = 32\ntargets = \"v,q,down\"\nbase = \"b.h5\"\n", source: "x.toml")
        XCTAssertEqual(r.lora.config, LoRAConfig(rank: 8, alpha: 32, targets: [.q, .v, .down]))
        XCTAssertEqual(r.lora.base, "b.h5")
        XCTAssertNil(Recipe().lora.config)
        XCTAssertThrowsError(try Recipe.parse("[lora]\ntargets = \"q,ffn\"\n", source: "x.toml")) { error in
            XCTAssertTrue("\(error)".contains("[lora] targets must be a comma list of q, k, v, o, gate, up, down"), "\(error)")
        }
    }

    /// With shards the step sums each shard's adapter gradients: two shards give the one-shard
    /// update up to the order of float sums.
    func testShardedSFTSumsTheAdapterGradients() throws {
        let examples = try Generator.generate(n: 8, levels: [1], dialects: [.symbolic: 1], seed: 3)
        let data = SFTData(examples: examples, context: config.maxSeqLen * 4, overflow: .truncate)
        let cfg = ModelConfig(dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 16, maxSeqLen: 128)
        func run(shards: Int) throws -> [Float] {
            var model = try Transformer(config: cfg, seed: 2)
            try model.attach(LoRA(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]), base: model, controlTokens: control, seed: 1))
            var t = try SFTTrainer(config: SFTConfig(batch: 4, steps: 2, schedule: try LRSchedule(maxLR: 1e-2, minLR: 1e-3, warmupSteps: 0, totalSteps: 2),
                                                     adamw: AdamWConfig(weightDecay: 0), seed: 5), data: data, model: model)
            t.shards = shards
            for _ in 0..<2 { _ = try t.trainStep() }
            return t.model.lora?.params ?? []
        }
        let one = try run(shards: 1), two = try run(shards: 2)
        XCTAssertEqual(one.count, two.count)
        let fresh = try LoRA(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]), base: try Transformer(config: cfg, seed: 2),
                             controlTokens: control, seed: 1).params
        XCTAssertTrue(one != fresh, "the adapters trained")
        for (a, b) in zip(one, two) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }
}
