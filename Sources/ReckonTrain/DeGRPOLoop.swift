import Foundation
import ReckonModel

extension DeGRPOConfig {
    /// The stage-2 settings of a recipe.
    public init(recipe d: Recipe.DeGRPO) throws(TrainError) {
        self.init()
        promptsPerStep = d.promptsPerStep
        rollout.groupSize = d.groupSize
        rollout.maxResponseTokens = d.maxResponseTokens
        rollout.sampling = SamplingParams(temperature: Float(d.temperature), topP: Float(d.topP))
        rollout.normalizeStd = d.normalizeStd
        rollout.pairedModes = d.rollouts == "paired"
        rollout.reward = RewardConfig(gamma: Float(d.gamma))
        guard let kind = PolicyLossConfig.Kind(rawValue: d.loss),
              let aggregation = PolicyLossConfig.Aggregation(rawValue: d.aggregation) else {
            throw .invalidConfig("[degrpo] loss or aggregation is not a known name")
        }
        loss = PolicyLossConfig(kind: kind, alpha: Float(d.alpha), epsilon: Float(d.epsilon), beta: Float(d.beta), aggregation: aggregation)
        passes = d.passes
        microBatch = d.microBatch
        freezeDecisionBias = d.freezeDecisionBias
        controlContrast = d.controlAdvantage == "contrast"
        decisionHeadOnly = d.trainable == "decision"
        responseTerm = d.responseTerm
        if d.headLR > 0 {
            guard d.lr > 0 else { throw .invalidConfig("[degrpo] head_lr needs lr > 0 to scale with its schedule") }
            headLRScale = Float(d.headLR / d.lr)
        }
        contrastStrength = d.contrastStrength
        contrastSteps = d.contrastSteps
        try validate()
        do { try rollout.sampling.validate() } catch { throw .invalidConfig("[degrpo] \(error)") }
    }
}

extension DeGRPOStats {
    /// One flat record for the metrics log; think rate per level becomes `think_rate_level<N>`.
    public var record: [String: Double] {
        var r: [String: Double] = [
            "step": Double(step), "loss": loss, "reward": reward, "reward_std": rewardStd,
            "frac_reward_zero_std": fracRewardZeroStd, "think_rate": thinkRate, "p_think": pThink, "accuracy": accuracy,
            "completions/mean_length": meanLength, "completions/clipped_ratio": truncatedRatio,
            "kl": kl, "entropy": entropy, "clip_ratio": clipRatio, "grad_norm": gradNorm, "lr": lr,
            "tokens_per_s": tokensPerSecond, "step_time": stepTime, "rollout_time": rolloutTime,
        ]
        r["accuracy_think"] = accuracyThink
        r["accuracy_short"] = accuracyShort
        r["completions/mean_length_think"] = meanLengthThink
        r["completions/mean_length_short"] = meanLengthShort
        for (level, rate) in thinkRateByDifficulty { r["think_rate_level\(level)"] = rate }
        for (level, p) in pThinkByDifficulty { r["p_think_level\(level)"] = p }
        return r
    }
}

/// What the caller plugs into the DeGRPO loop (checkpoints and evaluation live in modules
/// that depend on this one).
public struct DeGRPOHooks {
    public var shouldStop: () -> Bool = { false }
    public var onStep: (DeGRPOStats) -> Void = { _ in }
    public var evaluate: ((Transformer, _ step: Int) throws -> [String: Double])?
    public var save: ((DeGRPOTrainer, SFTLoop.SaveReason) throws -> Void)?
    public init() {}
}

public enum DeGRPOLoop {
    /// Runs DeGRPO steps until `steps`, each on `promptsPerStep` prompts drawn (with
    /// replacement) by the trainer's RNG, so a resumed run draws the same prompts.
    public static func run(_ trainer: inout DeGRPOTrainer, prompts: [RLPrompt], steps: Int, schedule: LRSchedule,
                           evalEvery: Int, saveEvery: Int, log: MetricsLog?, hooks: DeGRPOHooks) throws -> SFTLoop.Outcome {
        guard !prompts.isEmpty else { throw TrainError.invalidConfig("degrpo has no training prompts") }
        while trainer.step < steps {
            let batch = (0..<trainer.config.promptsPerStep).map { _ in prompts[trainer.rng.int(below: prompts.count)] }
            let stats = try trainer.train(prompts: batch, lr: schedule.lr(at: trainer.step))
            hooks.onStep(stats)
            log?.append(stats.record)
            let s = trainer.step, policy = trainer.policy, snapshot = trainer
            if try SFTLoop.afterStep(s, total: steps, evalEvery: evalEvery, saveEvery: saveEvery, log: log,
                                     evaluate: hooks.evaluate.map { f in { try f(policy, s) } }, shouldStop: hooks.shouldStop,
                                     save: { reason in try hooks.save?(snapshot, reason) }) {
                return .interrupted(atStep: s)
            }
        }
        try hooks.save?(trainer, .final)
        return .finished(steps: trainer.step)
    }
}
