import Foundation
import ReckonCore
import ReckonModel

// DeGRPO as a stage: its metrics record and its `StageTrainer` conformance.

extension DeGRPOStats {
    /// One flat record for the metrics log; think rate per level becomes `think_rate_level<N>`.
    public var record: [String: Double] {
        var r: [String: Double] = [
            "step": Double(step), "loss": loss, "reward": reward, "reward_std": rewardStd,
            "frac_reward_zero_std": fracRewardZeroStd, "think_rate": thinkRate, "p_think": pThink, "accuracy": accuracy,
            "completions/mean_length": meanLength, "completions/clipped_ratio": truncatedRatio,
            "kl": kl, "entropy": entropy, "clip_ratio": clipRatio, "grad_norm": gradNorm, "lr": lr,
            "tokens_per_s": tokensPerSecond, "step_time": stepTime, "rollout_time": rolloutTime,
            "allreduce_time": reduceTime, "rank_wait_time": waitTime,
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

extension DeGRPOTrainer: StageTrainer {
    public var model: Transformer { policy }
    public var rngState: UInt64 { rng.state }

    /// One step on `promptsPerStep` prompts drawn (with replacement) by the trainer's RNG,
    /// so a resumed run draws the same prompts.
    public mutating func runStep(lr: Float) throws -> StageStep {
        guard !prompts.isEmpty else { throw TrainError.invalidConfig("degrpo has no training prompts") }
        let batch = (0..<config.promptsPerStep).map { _ in prompts[rng.int(below: prompts.count)] }
        let s = try train(prompts: batch, lr: lr)
        return StageStep(loss: s.loss, record: s.record, progress: String(
            format: "reward %.3f | think %.2f | p(think) %.2f | acc %.3f | len %.0f | kl %.4f | %.1f s/step",
            s.reward, s.thinkRate, s.pThink, s.accuracy, s.meanLength, s.kl, s.stepTime))
    }

    public mutating func restore(model: Transformer, optimizer: AdamW, step: Int, rngState: UInt64) throws(TrainError) {
        guard model.config == policy.config else { throw .invalidConfig("the checkpoint's model config differs from the warm-up model's") }
        policy = model
        self.optimizer = optimizer
        self.step = step
        rng = RNG(seed: rngState)
    }
}
