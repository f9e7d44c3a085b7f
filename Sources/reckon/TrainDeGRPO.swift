// The degrpo stage of `reckon train`: its trainer, plan and reference model, run through StageRunner.swift.

import Foundation
import ReckonCheckpoint
import ReckonData
import ReckonEval
import ReckonModel
import ReckonTrain

/// The degrpo stage of `reckon train`: reinforcement learning of the <think>/<short> choice
/// from a warm-up model, which also serves as the frozen KL reference.
/// Writes `metrics-degrpo.jsonl`, `checkpoints-degrpo/step-*.h5`, and `model.h5` at the end
/// (the warm-up model it started from is kept as `model-sft.h5`).
extension TrainCommand {
    func runDeGRPO(_ r: Recipe, recipeText: String, train: [Example], eval: [Example], warmup: TrainableModel?, resumeStage: String?,
                   ranks: any GradientReducer) throws -> TrainableModel {
        let d = r.degrpo, c = d.config, out = r.output.dir
        var start = try degrpoReference(r, warmup: warmup, write: ranks.isRoot)
        if let lc = r.lora.config, start.model.lora == nil {
            // A fully fine-tuned warm-up with [lora]: fresh adapters on it, kept as model-sft.h5.
            start = try startAdapters(r, config: lc, basePath: "\(out)/model-sft.h5")
        }
        let reference = start.model, format = start.format
        let optimizer = AdamW(config: AdamWConfig(weightDecay: Float(d.weightDecay), gradClip: Float(d.gradClip)), trainable: reference)
        var trainer = try DeGRPOTrainer(policy: reference, reference: c.loss.beta > 0 ? reference : nil, optimizer: optimizer,
                                        config: c, seed: UInt64(d.seed))
        trainer.reducer = ranks
        trainer.shards = try shardCount(ranks)
        trainer.format = format
        note("degrpo: \(format.summary)")
        trainer.prompts = train.map { RLPrompt($0, format: format) }.filter { $0.tokens.count + 16 <= reference.config.maxSeqLen }
        note("degrpo: \(c.loss.kind.rawValue), α \(c.loss.alpha), γ \(c.rollout.reward.gamma), β \(c.loss.beta), ε \(c.loss.epsilon), \(c.loss.aggregation.rawValue); \(d.steps) steps of \(c.promptsPerStep) prompts × \(c.rollout.groupSize) rollouts (≤ \(c.rollout.maxResponseTokens) tokens, T \(c.rollout.sampling.temperature)), lr \(c.lr), μ \(c.passes); \(trainer.prompts.count) prompts")

        let plan = StagePlan(label: "degrpo", stage: "degrpo", checkpointDir: "\(out)/checkpoints-degrpo",
                             metricsPath: "\(out)/metrics-degrpo.jsonl", modelPath: "\(out)/model.h5", steps: d.steps,
                             schedule: try LRSchedule(maxLR: Float(c.lr), minLR: Float(c.lr), warmupSteps: min(d.warmup, d.steps), totalSteps: d.steps),
                             evalEvery: d.evalEvery, saveEvery: d.saveEvery, keepLast: d.keepLast, recipeText: recipeText, base: start.base,
                             tokenizer: start.tokenizer)
        let evalSubset = Array(eval.prefix(d.evalN))
        try runStage(&trainer, plan, resume: resumeStage == "degrpo" ? resume : nil) { model, _ in
            try periodicEval(model, examples: evalSubset, routings: [.model], recipe: r, format: format)
        }
        return start.with(trainer.policy)
    }

    /// The warm-up model: `[degrpo] init`, else this run's sft model. A copy is kept as
    /// `model-sft.h5`, because the stage's own final model replaces `model.h5`.
    /// With adapters, the warm-up is its adapter file and the base it points to.
    func degrpoReference(_ r: Recipe, warmup: TrainableModel?, write: Bool = true) throws -> TrainableModel {
        let out = r.output.dir, kept = "\(out)/model-sft.h5"
        do {
            if !r.degrpo.initFrom.isEmpty { return try loadTrainable(r.degrpo.initFrom) }
            if FileManager.default.fileExists(atPath: kept) { return try loadTrainable(kept) }
            let start = try warmup ?? loadTrainable("\(out)/model.h5")
            guard write else { return start }
            _ = try saveTrained(start.model, base: start.base, tokenizer: start.tokenizer, optimizer: nil,
                                train: TrainingState(stage: "sft", step: 0, recipe: r.text, rngState: 0), to: kept)
            return start
        } catch {
            throw CLIError("degrpo needs a warm-up model: set [degrpo] init or run the sft stage first (\(error))")
        }
    }
}
