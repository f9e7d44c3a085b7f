import ReckonModel

// The one training loop of every stage (warm-up SFT, DeGRPO). It owns the order of things
// around a step: the learning rate from the schedule, the metrics record, periodic evals,
// Ctrl-C and the saves. It does not own what a step computes (the trainers), nor where
// checkpoints go, how progress is drawn or how evals run (the caller's hooks: checkpoints
// and evaluation live in modules this one does not depend on).

/// A stage's trainer as the loop sees it.
public protocol StageTrainer {
    /// Steps completed; the next step is `step`.
    var step: Int { get }
    /// The weights being trained.
    var model: Transformer { get }
    var optimizer: AdamW { get }
    /// The ranks sharing each step (one process unless launched by `mpirun`).
    var reducer: any GradientReducer { get }
    /// The generator state that, with the step, fixes every later draw (data order,
    /// rollouts); checkpoints store it for `--resume`.
    var rngState: UInt64 { get }
    /// Runs one step at learning rate `lr`.
    mutating func runStep(lr: Float) throws -> StageStep
    /// Continues from a checkpoint's weights, optimizer, step and generator state.
    mutating func restore(model: Transformer, optimizer: AdamW, step: Int, rngState: UInt64) throws(TrainError)
}

/// What one step reports.
public struct StageStep: Sendable {
    /// The step's loss (smoothed by the caller for display).
    public var loss: Double
    /// One flat record for the metrics log.
    public var record: [String: Double]
    /// The rest of the progress line, after the loss.
    public var progress: String

    public init(loss: Double, record: [String: Double], progress: String) {
        self.loss = loss; self.record = record; self.progress = progress
    }
}

public enum SaveReason: String, Sendable {
    case periodic, interrupted, final
}

public enum StageOutcome: Equatable, Sendable {
    case finished(steps: Int)
    case interrupted(atStep: Int)
}

/// What the caller plugs into the loop.
public struct StageHooks<Trainer: StageTrainer> {
    /// Checked after every step; true saves and stops (Ctrl-C).
    public var shouldStop: () -> Bool = { false }
    /// After every step, e.g. to redraw a progress bar.
    public var onStep: (StageStep, _ step: Int) -> Void = { _, _ in }
    /// Periodic evaluation of the current model; returns named figures for the log.
    public var evaluate: ((Transformer, _ step: Int) throws -> [String: Double])?
    /// Saves a checkpoint of the trainer's state.
    public var save: ((Trainer, SaveReason) throws -> Void)?

    public init() {}
}

public enum StageLoop {
    /// Runs steps until `steps`, evaluating every `evalEvery` and saving every `saveEvery`
    /// steps (0 disables either; neither happens at the last step, which always saves), and
    /// saves on interruption. Every step and every evaluation appends a record to `log`.
    public static func run<T: StageTrainer>(_ trainer: inout T, steps: Int, schedule: LRSchedule, evalEvery: Int, saveEvery: Int,
                                            log: MetricsLog?, hooks: StageHooks<T>) throws -> StageOutcome {
        while trainer.step < steps {
            let stats = try trainer.runStep(lr: schedule.lr(at: trainer.step))
            let s = trainer.step
            hooks.onStep(stats, s)
            try log?.append(stats.record)
            if let evaluate = hooks.evaluate, evalEvery > 0, s % evalEvery == 0, s < steps {
                var figures = try evaluate(trainer.model, s)
                figures["step"] = Double(s)
                try log?.append(figures)
            }
            if hooks.shouldStop() {
                try hooks.save?(trainer, .interrupted)
                return .interrupted(atStep: s)
            }
            if saveEvery > 0, s % saveEvery == 0, s < steps { try hooks.save?(trainer, .periodic) }
        }
        try hooks.save?(trainer, .final)
        return .finished(steps: trainer.step)
    }
}
