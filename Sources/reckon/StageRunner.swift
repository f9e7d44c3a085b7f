import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonModel
import ReckonTrain

// The CLI side of every training stage: where its checkpoints, metrics and model go, the
// progress bar, Ctrl-C, `--resume` and the resume hint. What a step computes is the
// trainer's (ReckonTrain); the order of things around a step is `StageLoop`'s. Under `mpirun`
// every rank runs the loop and rank 0 alone writes checkpoints, metrics and progress.

/// Where one stage writes and how often. `label` names it in messages (`sft 2`), `stage` in
/// checkpoints (`sft-2`); `modelPath` is the model-only file written at the end and on Ctrl-C;
/// `recipeText` (the resolved recipe) goes into every checkpoint.
struct StagePlan {
    var label, stage, checkpointDir, metricsPath, modelPath: String
    var steps: Int
    var schedule: LRSchedule
    var evalEvery, saveEvery, keepLast: Int
    var recipeText: String
    /// The frozen base when the stage trains LoRA adapters (its saves are then adapter files).
    var base: BaseReference? = nil
    /// A full BPE model's tokenizer, written into its saves.
    var tokenizer: TokenizerSpec? = nil
}

extension TrainCommand {
    /// Runs `trainer` through `StageLoop` with checkpoints, metrics, progress and Ctrl-C.
    /// `evaluate` gives the periodic eval's figures (those without `_level` are printed).
    func runStage<T: StageTrainer>(_ trainer: inout T, _ plan: StagePlan, resume: String?,
                                   evaluate: ((Transformer, Int) throws -> [String: Double])?) throws {
        if let resume { try restore(&trainer, plan, from: resume) }
        let ranks = trainer.reducer, root = ranks.isRoot
        let rotation = try CheckpointRotation(directory: plan.checkpointDir, keep: plan.keepLast)
        let log = root ? try MetricsLog(path: plan.metricsPath) : nil
        let interrupt = Interrupt.shared
        interrupt.install()
        let bar = root ? ProgressBar(total: plan.steps, label: plan.label, startDone: trainer.step) : nil

        var hooks = StageHooks<T>()
        // Every rank must stop after the same step: a Ctrl-C seen by any rank stops them all.
        hooks.shouldStop = {
            guard ranks.size > 1 else { return interrupt.isRequested }
            var flag = [interrupt.isRequested ? 1.0 : 0]
            try? ranks.sum(&flag)
            return flag[0] > 0
        }
        var smoothed: Double? = nil
        hooks.onStep = { s, step in
            smoothed = smoothed.map { 0.9 * $0 + 0.1 * s.loss } ?? s.loss
            bar?.update(step, String(format: "loss %.4f | ", smoothed ?? 0) + s.progress)
        }
        hooks.evaluate = root ? evaluate.map { evaluate in { model, step in
            let figures = try evaluate(model, step)
            bar?.note("step \(step): " + figures.keys.sorted().filter { !$0.contains("_level") }
                .map { String(format: "%@ %.3f", $0, figures[$0] ?? .nan) }.joined(separator: ", "))
            return figures
        } } : nil
        hooks.save = { trainer, reason in
            // The ranks applied the same summed gradients; a mismatch means a broken reduction.
            guard try ranks.agree(trainer.model.lora?.params ?? trainer.model.params) else {
                throw CLIError("the \(ranks.size) ranks hold different weights at step \(trainer.step); not saving")
            }
            guard root else { return }
            let state = TrainingState(stage: plan.stage, step: trainer.step, recipe: plan.recipeText, rngState: trainer.rngState,
                                      metrics: smoothed.map { ["loss": $0] } ?? [:])
            let path = try saveTrained(trainer.model, base: plan.base, tokenizer: plan.tokenizer, optimizer: trainer.optimizer.state, train: state,
                                       to: plan.modelPath, rotation: rotation, step: trainer.step)
            if reason != .periodic { _ = try saveTrained(trainer.model, base: plan.base, tokenizer: plan.tokenizer, optimizer: nil, train: state, to: plan.modelPath) }
            bar?.note("saved \(path)" + (reason == .periodic ? "" : " and \(plan.modelPath) (model only)"))
        }
        let start = Date()
        let outcome = try StageLoop.run(&trainer, steps: plan.steps, schedule: plan.schedule, evalEvery: plan.evalEvery,
                                        saveEvery: plan.saveEvery, log: log, hooks: hooks)
        bar?.finish()
        switch outcome {
        case .finished(let steps):
            // A run resumed from its last step trains nothing and has no loss to report.
            note(String(format: "%@: finished %d steps in %.1f min; ", plan.label, steps, Date().timeIntervalSince(start) / 60)
                 + (smoothed.map { String(format: "final smoothed loss %.4f", $0) } ?? "no step ran in this process"))
        case .interrupted(let step):
            note("\(plan.label): interrupted at step \(step); continue with: reckon train \(self.recipe) "
                 + "\(overrides.map { "--set \($0) " }.joined())--resume \(rotation.path(forStep: step))")
            throw ExitCode(130)
        }
    }

    /// Loads the weights, optimizer, step and generator state of `path` into `trainer`, after
    /// checking that the checkpoint belongs to this stage of this recipe.
    func restore<T: StageTrainer>(_ trainer: inout T, _ plan: StagePlan, from path: String) throws {
        if AdapterCheckpoint.isAdapter(path) { return try restoreAdapter(&trainer, plan, from: path) }
        let checkpoint = try Checkpoint.load(from: path, includeOptimizer: true)
        guard let state = checkpoint.train, let optimizer = checkpoint.optimizer else {
            throw CLIError("\(path): no optimizer or training state to resume from")
        }
        guard state.stage == plan.stage else { throw CLIError("\(path): saved by stage \"\(state.stage)\", not \(plan.stage)") }
        guard checkpoint.config == trainer.model.config else { throw CLIError("\(path): the model config differs from this stage's model") }
        guard state.step <= plan.steps else { throw CLIError("\(path): step \(state.step) is past the recipe's \(plan.steps) steps") }
        if Self.keyLines(state.recipe) != Self.keyLines(plan.recipeText) {
            note("warning: \(path) was saved from a recipe with other values; resuming with the current one")
        }
        do {
            try trainer.restore(model: try checkpoint.model(), optimizer: try AdamW(optimizer, layout: checkpoint.layout),
                                step: state.step, rngState: state.rngState)
        } catch {
            throw CLIError("\(path): \(error)")
        }
        note("resumed \(plan.label) from \(path) at step \(state.step)")
    }

    /// `restore` from an adapter file: the adapters on their checked base, and their optimizer.
    func restoreAdapter<T: StageTrainer>(_ trainer: inout T, _ plan: StagePlan, from path: String) throws {
        let adapter = try AdapterCheckpoint.load(from: path, includeOptimizer: true)
        guard let state = adapter.train, let optimizer = adapter.optimizer else {
            throw CLIError("\(path): no optimizer or training state to resume from")
        }
        guard state.stage == plan.stage else { throw CLIError("\(path): saved by stage \"\(state.stage)\", not \(plan.stage)") }
        guard state.step <= plan.steps else { throw CLIError("\(path): step \(state.step) is past the recipe's \(plan.steps) steps") }
        let (model, _) = try adapter.model(adapterPath: path, base: nil)
        guard model.config == trainer.model.config, model.lora?.config == trainer.model.lora?.config else {
            throw CLIError("\(path): its model or LoRA config differs from this stage's")
        }
        do {
            try trainer.restore(model: model, optimizer: try AdamW(optimizer, trainable: model), step: state.step, rngState: state.rngState)
        } catch {
            throw CLIError("\(path): \(error)")
        }
        note("resumed \(plan.label) from \(path) at step \(state.step)")
    }

    /// The recipe's key lines without comments, to compare two resolved recipes.
    static func keyLines(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("dir =") }
    }
}

/// A one-line CLI error about the user's input (a file, a flag), printed as `error: …`.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
