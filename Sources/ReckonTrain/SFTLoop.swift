import ReckonModel

/// What the caller plugs into the SFT loop. Checkpoints and evaluation live in modules
/// this one cannot depend on (ReckonCheckpoint depends on ReckonTrain), so they come in
/// as closures; the loop decides when to call them.
public struct SFTHooks {
    /// Checked after every step; true finishes the step, saves and stops (Ctrl-C).
    public var shouldStop: () -> Bool = { false }
    /// After every step, e.g. to redraw a progress bar.
    public var onStep: (SFTStepStats) -> Void = { _ in }
    /// Periodic evaluation of the current model; returns named figures for the log.
    public var evaluate: ((Transformer, _ step: Int) throws -> [String: Double])?
    /// Saves a checkpoint of the trainer's state.
    public var save: ((SFTTrainer, _ reason: SFTLoop.SaveReason) throws -> Void)?

    public init() {}
}

public enum SFTLoop {
    public enum SaveReason: String, Sendable {
        case periodic, interrupted, final
    }

    public enum Outcome: Equatable, Sendable {
        case finished(steps: Int)
        case interrupted(atStep: Int)
    }

    /// Trains until `trainer.config.steps`, evaluating every `evalEvery` and saving every
    /// `saveEvery` steps (0 disables either), and saves at the end or on interruption.
    /// Every step, and every evaluation, appends a record to `log`.
    public static func run(_ trainer: inout SFTTrainer, evalEvery: Int, saveEvery: Int,
                           log: MetricsLog?, hooks: SFTHooks) throws -> Outcome {
        let total = trainer.config.steps
        while trainer.step < total {
            let stats = try trainer.trainStep()
            hooks.onStep(stats)
            log?.append([
                "step": Double(stats.step), "loss": Double(stats.loss), "lr": Double(stats.lr),
                "grad_norm": Double(stats.gradNorm), "tokens_per_s": Double(stats.tokens) / max(stats.seconds, 1e-9),
                "answer_tokens": Double(stats.answerTokens), "step_seconds": stats.seconds,
            ])
            let s = trainer.step, model = trainer.model, snapshot = trainer
            if try afterStep(s, total: total, evalEvery: evalEvery, saveEvery: saveEvery, log: log,
                             evaluate: hooks.evaluate.map { f in { try f(model, s) } }, shouldStop: hooks.shouldStop,
                             save: { reason in try hooks.save?(snapshot, reason) }) {
                return .interrupted(atStep: s)
            }
        }
        try hooks.save?(trainer, .final)
        return .finished(steps: trainer.step)
    }

    /// The bookkeeping of every training stage after step `s`: a periodic eval (logged), then
    /// Ctrl-C (save and stop: returns true), then a periodic save. The final save is the caller's.
    static func afterStep(_ s: Int, total: Int, evalEvery: Int, saveEvery: Int, log: MetricsLog?,
                          evaluate: (() throws -> [String: Double])?, shouldStop: () -> Bool,
                          save: (SaveReason) throws -> Void) throws -> Bool {
        if let evaluate, evalEvery > 0, s % evalEvery == 0, s < total {
            var figures = try evaluate()
            figures["step"] = Double(s)
            log?.append(figures)
        }
        if shouldStop() {
            try save(.interrupted)
            return true
        }
        if saveEvery > 0, s % saveEvery == 0, s < total { try save(.periodic) }
        return false
    }
}
