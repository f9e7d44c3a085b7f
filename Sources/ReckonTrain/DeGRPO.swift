import Foundation
import Dispatch
import ReckonCore
import ReckonModel

// Decoupled GRPO's step and its statistics; not the stage loop, the recipe's keys or checkpoints.

/// Stage 2 of Thinkless: decoupled GRPO (or vanilla GRPO for comparison).
public struct DeGRPOConfig: Sendable, Equatable, Codable {
    public var promptsPerStep: Int = 16
    public var rollout = RolloutConfig()
    public var loss = PolicyLossConfig()
    /// μ: optimisation passes over each rollout batch, each against the stored old log-probs.
    public var passes: Int = 1
    /// Sequences per forward/backward; the loss is normalised over the whole batch regardless.
    public var microBatch: Int = 16
    /// Hold still the parameters that move the mode choice of every prompt alike: the
    /// classifier rows of `<think>` and `<short>`, and the embeddings of `<bos>` and of the
    /// prompt's closing "\n", the only inputs every decision position shares. The control
    /// term must then act through weights that see the prompt.
    public var freezeDecisionBias = false
    /// The control token's advantage.
    public enum ControlAdvantage: String, Sendable, Equatable, Codable, CaseIterable {
        /// The group advantage, as the response tokens get.
        case group
        /// `Advantage.batchContrast`: with the batch's mean advantage of thinking removed.
        case contrast
    }
    /// Which parameters a step moves.
    public enum Trainable: String, Sendable, Equatable, Codable, CaseIterable {
        case all
        /// Only the classifier rows of `<think>` and `<short>`: the mode choice becomes a
        /// linear read-out of the decision state learnt by the policy gradient, and every other
        /// token's logit stays the warm-up's (untied classifier). Only the control term (and
        /// its KL) is back-propagated; the response term has no weights left to train.
        case decision
    }
    public var controlAdvantage = ControlAdvantage.group
    public var controlContrast: Bool { controlAdvantage == .contrast }
    /// λ of `Advantage.batchContrast`: the share of the batch's mean think advantage removed.
    public var contrastStrength = 1.0
    /// Contrast only the first N steps (0: every step), then the group advantage: the contrast
    /// learns which prompts should think while the mean think rate holds still, and the group
    /// advantage then moves the cut to where the reward puts it.
    public var contrastSteps = 0
    public var trainable = Trainable.all
    public var decisionHeadOnly: Bool { trainable == .decision }
    /// Train the response tokens' policy term. Off, every weight still trains, but only through
    /// the control term and the KL: the mode choice can use the whole network, while answers the
    /// warm-up already gets right are not re-weighted by advantages that mostly rank modes.
    public var responseTerm = true
    /// Peak learning rate of the stage (constant after its warm-up).
    public var lr = 1e-5
    /// The decision head's peak learning rate; 0 = `lr`. The two classifier rows read a state
    /// shared by every prompt and need large steps, while the layers that build that state
    /// also write every answer and need small ones.
    public var headLR = 0.0
    /// The decision head's learning rate as a multiple of the step's, so it follows the schedule.
    public var headLRScale: Float { headLR > 0 ? Float(headLR / lr) : 1 }
    public init() {}

    /// The `<think>` and `<short>` classifier rows, for `layout`.
    public static func decisionHeadRanges(_ layout: ParameterLayout, config c: ModelConfig) -> [Range<Int>] {
        [row(layout.wcls, Tokenizer.think, dim: c.dim), row(layout.wcls, Tokenizer.short, dim: c.dim)]
    }

    /// Parameter ranges `freezeDecisionBias` holds still, for `layout`: the decision head and
    /// the `<bos>` and "\n" embeddings.
    public static func decisionBiasRanges(_ layout: ParameterLayout, config c: ModelConfig) -> [Range<Int>] {
        decisionHeadRanges(layout, config: c)
            + [row(layout.tokEmbed, Tokenizer.bos, dim: c.dim), row(layout.tokEmbed, Int32(UInt8(ascii: "\n")), dim: c.dim)]
    }

    /// Token `token`'s row of the (V, d) matrix that starts at `base`.
    static func row(_ base: Int, _ token: Int32, dim d: Int) -> Range<Int> { (base + Int(token) * d)..<(base + Int(token) * d + d) }

    /// Parameter ranges held still during an update, for `count` parameters in all.
    public func heldRanges(_ layout: ParameterLayout, config c: ModelConfig, count: Int) -> [Range<Int>] {
        if freezeDecisionBias { return Self.decisionBiasRanges(layout, config: c) }
        guard decisionHeadOnly else { return [] }
        // The complement of the head's rows (ascending: <think> is 259, <short> 261).
        var held: [Range<Int>] = [], start = 0
        for r in Self.decisionHeadRanges(layout, config: c) {
            if r.lowerBound > start { held.append(start..<r.lowerBound) }
            start = r.upperBound
        }
        if start < count { held.append(start..<count) }
        return held
    }

    public func validate() throws(TrainError) {
        guard promptsPerStep > 0, rollout.groupSize > 1 else {
            throw .invalidConfig("degrpo needs prompts_per_step ≥ 1 and group_size ≥ 2")
        }
        guard passes >= 1, microBatch >= 1, rollout.maxResponseTokens >= 2 else {
            throw .invalidConfig("degrpo needs passes ≥ 1, micro_batch ≥ 1 and max_response_tokens ≥ 2")
        }
        guard contrastStrength >= 0, contrastStrength <= 1 else {
            throw .invalidConfig("contrast_strength must be in [0, 1], got \(contrastStrength)")
        }
        guard !rollout.pairedModes || rollout.groupSize % 2 == 0 else {
            throw .invalidConfig("paired rollouts split each group in half: group_size must be even, got \(rollout.groupSize)")
        }
        guard headLR == 0 || lr > 0 else {
            throw .invalidConfig("[degrpo] head_lr needs lr > 0 to scale with its schedule")
        }
        guard headLRScale > 0, headLRScale.isFinite else {
            throw .invalidConfig("the decision head's learning rate must be positive")
        }
        do { try rollout.sampling.validate() } catch { throw .invalidConfig("[degrpo] \(error)") }
        guard !(freezeDecisionBias && decisionHeadOnly) else {
            throw .invalidConfig("freeze_decision_bias holds still the very rows trainable = \"decision\" trains; use one of them")
        }
        guard loss.epsilon > 0, loss.epsilon < 1, loss.beta >= 0, loss.alpha >= 0, rollout.reward.gamma > 0 else {
            throw .invalidConfig("degrpo needs 0 < epsilon < 1, beta ≥ 0, alpha ≥ 0 and gamma > 0")
        }
    }
}

/// What one DeGRPO step did, with TRL's names where they exist.
public struct DeGRPOStats: Sendable, Codable, Equatable {
    public var step = 0
    public var loss = 0.0
    public var reward = 0.0
    public var rewardStd = 0.0
    public var fracRewardZeroStd = 0.0
    public var thinkRate = 0.0
    public var thinkRateByDifficulty: [String: Double] = [:]
    /// The policy's mean p(<think>) at the decision, overall and per level: the routing itself,
    /// also when paired rollouts fix the rollouts' think rate at one half.
    public var pThink = 0.0
    public var pThinkByDifficulty: [String: Double] = [:]
    public var accuracy = 0.0
    public var accuracyThink: Double?
    public var accuracyShort: Double?
    public var meanLength = 0.0
    public var meanLengthThink: Double?
    public var meanLengthShort: Double?
    public var truncatedRatio = 0.0
    public var kl = 0.0
    public var entropy = 0.0
    public var clipRatio = 0.0
    public var gradNorm = 0.0
    public var lr = 0.0
    public var tokensPerSecond = 0.0
    public var stepTime = 0.0
    public var rolloutTime = 0.0
    /// Time spent in the collectives of a data-parallel step: the gradient sums and the rollout gather.
    public var reduceTime = 0.0
    /// Time this rank waited for the slowest one before each gradient sum.
    public var waitTime = 0.0

    enum CodingKeys: String, CodingKey {
        case step, loss, reward, kl, entropy, lr, accuracy
        case rewardStd = "reward_std", fracRewardZeroStd = "frac_reward_zero_std"
        case thinkRate = "think_rate", thinkRateByDifficulty = "think_rate_by_difficulty"
        case pThink = "p_think", pThinkByDifficulty = "p_think_by_difficulty"
        case accuracyThink = "accuracy_think", accuracyShort = "accuracy_short"
        case meanLength = "completions/mean_length", meanLengthThink = "completions/mean_length_think"
        case meanLengthShort = "completions/mean_length_short", truncatedRatio = "completions/clipped_ratio"
        case clipRatio = "clip_ratio", gradNorm = "grad_norm", tokensPerSecond = "tokens_per_s"
        case stepTime = "step_time", rolloutTime = "rollout_time", reduceTime = "allreduce_time", waitTime = "rank_wait_time"
    }
}

public struct DeGRPOTrainer: Sendable {
    public var policy: Transformer
    /// Frozen reference for the KL term (the warm-up model); nil when β = 0.
    public let reference: Transformer?
    public var optimizer: AdamW
    public var config: DeGRPOConfig
    public var rng: RNG
    public var step: Int = 0
    /// The training set `runStep` draws from.
    public var prompts: [RLPrompt] = []
    /// The model's routed format: how rollouts end and are read back (`RLPrompt(_:format:)` the prompts).
    public var format: RoutedFormat = .bytes
    /// The ranks this run trains on: each samples and back-propagates its share of every group
    /// (GradientReducer.swift, DeGRPOParallel.swift).
    public var reducer: any GradientReducer = SingleProcess()
    /// Shards of every group (at least one per rank), each sampled from its own stream and
    /// back-propagated on its own, summed in order: runs with the same shards match bit for bit
    /// whatever number of ranks computes them (GradientReducer.swift, `Shards`).
    public var shards = 1

    public init(policy: Transformer, reference: Transformer?, optimizer: AdamW, config: DeGRPOConfig, seed: UInt64) throws(TrainError) {
        try config.validate()
        if let reference, reference.config != policy.config {
            throw .invalidConfig("the reference model's config differs from the policy's")
        }
        if policy.lora != nil, config.freezeDecisionBias || config.decisionHeadOnly {
            throw .invalidConfig("freeze_decision_bias and trainable = \"decision\" address rows of the full model; with [lora] only the adapters and control rows train (head_lr sets the control rows' rate)")
        }
        self.policy = policy
        self.reference = reference
        self.optimizer = optimizer
        self.config = config
        rng = RNG(seed: seed)
    }

    /// One step: sample G rollouts per prompt, score them, then μ passes of the clipped objective.
    public mutating func train(prompts: [RLPrompt], lr: Float) throws -> DeGRPOStats {
        let start = Self.now()
        var (rollouts, gatherTime) = try sampleRollouts(prompts: prompts, seed: rng.next())
        if config.controlContrast && (config.contrastSteps == 0 || step < config.contrastSteps) {
            let control = Advantage.batchContrast(rollouts.map(\.advantage), thinks: rollouts.map { $0.outcome.mode == .think },
                                                  groups: rollouts.map(\.prompt), strength: config.contrastStrength)
            for i in rollouts.indices { rollouts[i].controlAdvantage = control[i] }
        }
        let rolloutTime = Self.now() - start
        var stats = try optimize(prompts: prompts, rollouts: rollouts, lr: lr)
        stats.rolloutTime = rolloutTime
        stats.reduceTime += gatherTime
        stats.stepTime = Self.now() - start
        stats.tokensPerSecond = Double(rollouts.reduce(0) { $0 + $1.response.count } * (1 + config.passes)) / stats.stepTime
        return stats
    }

    /// μ passes of the clipped objective over scored rollouts (G consecutive per prompt),
    /// one AdamW update per pass; returns the step's statistics.
    public mutating func optimize(prompts: [RLPrompt], rollouts: [Rollout], lr: Float) throws -> DeGRPOStats {
        let c = config
        guard rollouts.count == prompts.count * c.rollout.groupSize else {
            throw TrainError.shapeMismatch("expected \(prompts.count) × \(c.rollout.groupSize) rollouts, got \(rollouts.count)")
        }
        guard c.rollout.groupSize >= max(shards, reducer.size) else {
            throw TrainError.invalidConfig("[degrpo] group_size \(c.rollout.groupSize) is smaller than the \(max(shards, reducer.size)) shards sharing each group")
        }

        // This rank back-propagates its shards: places of every group (all of them for one process).
        // The loss is normalised over the whole batch, so the shards' gradients sum to the batch's.
        let totals = PolicyLossTotals(rollouts.map(\.response.count))
        let K = max(shards, reducer.size), G = c.rollout.groupSize
        var parts = try reducer.share(of: K).map { k in
            let members = Shards.part(k, of: K, count: G)
            var part = try PolicyShard(rollouts.indices.filter { members.contains($0 % G) }.map { rollouts[$0] }, prompts: prompts,
                                       microBatch: c.microBatch, config: policy.config)
            if let reference, c.loss.beta > 0 { part.ref = try part.logprobs(reference) }
            if c.passes > 1 { part.old = try part.logprobs(policy) }
            return part
        }

        var stats = DeGRPOStats()
        var entropySum = 0.0, entropyCount = 0, klSum = 0.0, klCount = 0.0, clipSum = 0.0, tokenSum = 0.0
        let frozen = c.heldRanges(policy.layout, config: policy.config, count: policy.params.count)
        for pass in 0..<c.passes {
            var loss = 0.0
            var shardSum = Shards.Sum()
            for s in parts.indices {
                policy.zeroGrad()
                let own = parts[s].own, seqs = parts[s].seqs, T = parts[s].T, old = parts[s].old, ref = parts[s].ref
                for range in parts[s].batches {
                    let current = try parts[s].responseLogprobs(policy, range)
                    let batch = range.enumerated().map { j, i in
                        PolicyRollout(logprobs: current[j], oldLogprobs: old?[i] ?? current[j],
                                      refLogprobs: ref?[i] ?? current[j], advantage: c.responseTerm ? own[i].advantage : 0,
                                      controlAdvantage: own[i].controlAdvantage ?? own[i].advantage,
                                      controlImportance: own[i].controlImportance)
                    }
                    let result = try PolicyLoss.compute(batch, config: c.loss, totals: totals)
                    var weights = [Float](repeating: 0, count: parts[s].mb * T)
                    for (j, i) in range.enumerated() {
                        let first = j * T + seqs[i].promptLength - 1
                        // With only the decision head trainable, a response token can only teach the two rows to
                        // stay unlikely inside answers, and its advantage-signed push on them is noise: drop it.
                        let kept = c.decisionHeadOnly ? result.weights[j].prefix(1) : result.weights[j][...]
                        for (k, w) in kept.enumerated() { weights[first + k] = w }
                        if pass == 0 {
                            for k in 0..<own[i].response.count { entropySum += Double(parts[s].acts.entropy(row: first + k)) }
                            entropyCount += own[i].response.count
                        }
                    }
                    try policy.backward(&parts[s].acts, weights: weights)
                    loss += result.loss
                    let n = Double(range.reduce(0) { $0 + own[$1].response.count })
                    clipSum += result.clipFraction * n; tokenSum += n
                    if c.decisionHeadOnly {
                        // Answer positions decode without the mode tokens, whose rows alone move here, so
                        // their full-softmax KL measures nothing real: report the decision's KL alone.
                        klSum += result.controlKL * result.controlKLWeight; klCount += result.controlKLWeight
                    } else {
                        klSum += result.kl * result.klWeight; klCount += result.klWeight
                    }
                }
                if parts.count > 1 { shardSum.add(policy.trainableGrads) }
            }
            if let sum = shardSum.total { policy.withTrainableGrads { $0 = sum } }
            if reducer.size > 1 {
                let waitStart = Self.now()
                try reducer.barrier()
                let reduceStart = Self.now()
                try policy.withTrainableGrads { try reducer.sum(&$0) }
                stats.waitTime += reduceStart - waitStart
                stats.reduceTime += Self.now() - reduceStart
            }
            let held = frozen.map { Array(policy.params[$0]) }
            for r in frozen { policy.grads.replaceSubrange(r, with: repeatElement(0, count: r.count)) }
            // With adapters the head is the control tokens' rows (tied models share them with the embedding).
            let head = policy.lora.map { [$0.layout.controlRows] } ?? DeGRPOConfig.decisionHeadRanges(policy.layout, config: policy.config)
            let scaled = c.headLRScale == 1 ? [] : head.map { (range: $0, factor: c.headLRScale) }
            stats.gradNorm = Double(try optimizer.update(&policy, lr: lr, scaled: scaled))
            for (r, values) in zip(frozen, held) { policy.params.replaceSubrange(r, with: values) }
            stats.loss = loss
        }
        if reducer.size > 1 {
            var sums = [stats.loss, entropySum, Double(entropyCount), klSum, klCount, clipSum, tokenSum]
            try reducer.sum(&sums)
            stats.loss = sums[0]; entropySum = sums[1]; entropyCount = Int(sums[2])
            klSum = sums[3]; klCount = sums[4]; clipSum = sums[5]; tokenSum = sums[6]
        }
        step += 1

        // Statistics of the rollouts.
        let n = Double(rollouts.count)
        let rewards = rollouts.map { Double($0.reward) }
        stats.step = step
        stats.lr = Double(lr)
        stats.reward = rewards.reduce(0, +) / n
        stats.rewardStd = (rewards.reduce(0) { $0 + ($1 - stats.reward) * ($1 - stats.reward) } / n).squareRoot()
        let flat = (0..<prompts.count).filter { p in Set(rollouts[(p * G)..<((p + 1) * G)].map(\.reward)).count == 1 }
        stats.fracRewardZeroStd = Double(flat.count) / Double(prompts.count)
        let think = rollouts.filter { $0.outcome.mode == .think }, short = rollouts.filter { $0.outcome.mode == .short }
        stats.thinkRate = Double(think.count) / n
        stats.pThink = rollouts.reduce(0) { $0 + Double($1.pThink) } / n
        stats.accuracy = Double(rollouts.filter(\.outcome.correct).count) / n
        func rate(_ xs: [Rollout], _ f: (Rollout) -> Bool) -> Double? { xs.isEmpty ? nil : Double(xs.filter(f).count) / Double(xs.count) }
        func meanLen(_ xs: [Rollout]) -> Double? { xs.isEmpty ? nil : Double(xs.reduce(0) { $0 + $1.response.count }) / Double(xs.count) }
        stats.accuracyThink = rate(think, \.outcome.correct)
        stats.accuracyShort = rate(short, \.outcome.correct)
        stats.meanLength = meanLen(rollouts) ?? 0
        stats.meanLengthThink = meanLen(think)
        stats.meanLengthShort = meanLen(short)
        stats.truncatedRatio = Double(rollouts.filter(\.truncated).count) / n
        for level in Set(prompts.map(\.difficulty)).sorted() {
            let xs = rollouts.filter { prompts[$0.prompt].difficulty == level }
            stats.thinkRateByDifficulty[String(level)] = rate(xs) { $0.outcome.mode == .think }
            stats.pThinkByDifficulty[String(level)] = xs.reduce(0) { $0 + Double($1.pThink) } / Double(xs.count)
        }
        stats.kl = klCount > 0 ? klSum / klCount : 0
        stats.clipRatio = tokenSum > 0 ? clipSum / tokenSum : 0
        stats.entropy = entropyCount > 0 ? entropySum / Double(entropyCount) : 0
        return stats
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
