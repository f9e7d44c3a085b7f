import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonCore
import ReckonData
import ReckonEval
import ReckonModel
import ReckonTrain

/// The degrpo stage of `reckon train`: reinforcement learning of the <think>/<short> choice
/// from a warm-up model, which also serves as the frozen KL reference.
/// Writes `metrics-degrpo.jsonl`, `checkpoints-degrpo/step-*.h5`, and `model.h5` at the end
/// (the warm-up model it started from is kept as `model-sft.h5`).
extension TrainCommand {
    func runDeGRPO(_ r: Recipe, recipeText: String, train: [Example], eval: [Example], warmup: Transformer?, resumeStage: String?) throws -> Transformer {
        let d = r.degrpo, out = r.output.dir
        let reference = try degrpoReference(r, warmup: warmup)
        let config: DeGRPOConfig
        var trainer: DeGRPOTrainer
        do {
            config = try DeGRPOConfig(recipe: d)
            let optimizer = AdamW(config: AdamWConfig(weightDecay: Float(d.weightDecay), gradClip: Float(d.gradClip)), layout: reference.layout)
            trainer = try DeGRPOTrainer(policy: reference, reference: d.beta > 0 ? reference : nil, optimizer: optimizer,
                                        config: config, seed: UInt64(d.seed))
        } catch { throw fail(error) }
        if let resume, resumeStage == "degrpo" {
            try restoreDeGRPO(&trainer, from: resume)
        }
        let prompts = train.map(RLPrompt.init).filter { $0.tokens.count + 16 <= reference.config.maxSeqLen }
        note("degrpo: \(config.loss.kind.rawValue), α \(d.alpha), γ \(d.gamma), β \(d.beta), ε \(d.epsilon), \(d.aggregation); \(d.steps) steps of \(d.promptsPerStep) prompts × \(d.groupSize) rollouts (≤ \(d.maxResponseTokens) tokens, T \(d.temperature)), lr \(d.lr), μ \(d.passes); \(prompts.count) prompts")

        let schedule: LRSchedule, rotation: CheckpointRotation, log: MetricsLog
        do {
            schedule = try LRSchedule(maxLR: Float(d.lr), minLR: Float(d.lr), warmupSteps: min(d.warmup, d.steps), totalSteps: d.steps)
            rotation = try CheckpointRotation(directory: "\(out)/checkpoints-degrpo", keep: d.keepLast)
            log = try MetricsLog(path: "\(out)/metrics-degrpo.jsonl")
        } catch { throw fail(error) }
        let interrupt = Interrupt()
        interrupt.install()
        let bar = ProgressBar(total: d.steps, label: "degrpo", startDone: trainer.step)
        let evalSubset = Array(eval.prefix(d.evalN))

        var hooks = DeGRPOHooks()
        hooks.shouldStop = { interrupt.isRequested }
        hooks.onStep = { s in
            bar.update(s.step, String(format: "reward %.3f | think %.2f | p(think) %.2f | acc %.3f | len %.0f | kl %.4f | %.1f s/step",
                                      s.reward, s.thinkRate, s.pThink, s.accuracy, s.meanLength, s.kl, s.stepTime))
        }
        hooks.evaluate = { model, step in
            let records = try Evaluator.run(model: model, examples: evalSubset,
                                            options: EvalOptions(routing: .model, maxNewTokens: r.eval.maxTokens, seed: UInt64(r.eval.seed)))
            let report = EvalReport(routing: "model", records: records)
            var figures: [String: Double] = ["eval_acc_model": report.overall.accuracy ?? .nan,
                                             "eval_think_rate": report.overall.thinkRate ?? .nan,
                                             "eval_p_think": report.overall.meanPThink ?? .nan,
                                             "eval_tokens": report.overall.meanGeneratedTokens ?? .nan]
            for (level, s) in report.byDifficulty {
                figures["eval_think_rate_level\(level)"] = s.thinkRate ?? .nan
                figures["eval_acc_level\(level)"] = s.accuracy ?? .nan
            }
            bar.note(String(format: "step %d: eval accuracy %.3f, think rate %.2f, tokens %.1f", step,
                            figures["eval_acc_model"] ?? .nan, figures["eval_think_rate"] ?? .nan, figures["eval_tokens"] ?? .nan))
            return figures
        }
        hooks.save = { trainer, reason in
            let state = TrainingState(stage: "degrpo", step: trainer.step, recipe: recipeText, rngState: trainer.rng.state)
            let path = try rotation.save(Checkpoint(model: trainer.policy, optimizer: trainer.optimizer, train: state), step: trainer.step)
            if reason != .periodic { try Checkpoint(model: trainer.policy, train: state).save(to: "\(out)/model.h5") }
            bar.note("saved \(path)" + (reason == .periodic ? "" : " and \(out)/model.h5 (model only)"))
        }
        let start = Date()
        let outcome = try DeGRPOLoop.run(&trainer, prompts: prompts, steps: d.steps, schedule: schedule,
                                         evalEvery: d.evalEvery, saveEvery: d.saveEvery, log: log, hooks: hooks)
        bar.finish()
        switch outcome {
        case .finished(let steps):
            note(String(format: "degrpo: finished %d steps in %.1f min", steps, Date().timeIntervalSince(start) / 60))
        case .interrupted(let step):
            note("degrpo: interrupted at step \(step); continue with: reckon train \(self.recipe) \(overrides.map { "--set \($0) " }.joined())--resume \(rotation.path(forStep: step))")
            throw ExitCode(130)
        }
        return trainer.policy
    }

    /// The warm-up model: `[degrpo] init`, else this run's sft model. A copy is kept as
    /// `model-sft.h5`, because the stage's own final model replaces `model.h5`.
    func degrpoReference(_ r: Recipe, warmup: Transformer?) throws -> Transformer {
        let out = r.output.dir, kept = "\(out)/model-sft.h5"
        do {
            if !r.degrpo.initFrom.isEmpty { return try Checkpoint.load(from: r.degrpo.initFrom).model() }
            if FileManager.default.fileExists(atPath: kept) { return try Checkpoint.load(from: kept).model() }
            let model = try warmup ?? Checkpoint.load(from: "\(out)/model.h5").model()
            try Checkpoint(model: model, train: TrainingState(stage: "sft", step: 0, recipe: r.text, rngState: 0)).save(to: kept)
            return model
        } catch {
            throw fail("degrpo needs a warm-up model: set [degrpo] init or run the sft stage first (\(error))")
        }
    }

    func restoreDeGRPO(_ trainer: inout DeGRPOTrainer, from path: String) throws {
        do {
            let checkpoint = try Checkpoint.load(from: path, includeOptimizer: true)
            guard let state = checkpoint.train, let optimizer = checkpoint.optimizer else {
                throw fail("\(path): no optimizer or training state to resume from")
            }
            guard checkpoint.config == trainer.policy.config else { throw fail("\(path): the model config differs from the warm-up model's") }
            trainer.policy = try checkpoint.model()
            trainer.optimizer = optimizer
            trainer.step = state.step
            trainer.rng = RNG(seed: state.rngState)
            note("resumed degrpo from \(path) at step \(state.step)")
        } catch let e as ExitCode { throw e } catch { throw fail(error) }
    }
}
