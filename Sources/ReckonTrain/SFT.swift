import Foundation
import ReckonCore
import ReckonModel

// Warm-up SFT's step and its `StageTrainer` conformance; not the data set (SFTData.swift) or the loop.

/// Settings of warm-up SFT, taken from a recipe's [sft] section.
public struct SFTConfig: Sendable, Equatable {
    /// How the answer-token losses of a batch are averaged.
    public enum LossNorm: String, Sendable, Equatable, CaseIterable {
        /// One mean over every answer token of the batch: a 3-token short answer gets
        /// ~1/30 of the weight of a 90-token scratchpad.
        case token
        /// The mean of each sequence's answer-token mean: both modes of a prompt weigh the same.
        case sequence
    }
    /// Which answers of each prompt a step trains.
    public enum Modes: String, Sendable, Equatable, CaseIterable {
        /// The short and the think answer of every prompt.
        case both
        /// Only the direct answers, e.g. to drill them on levels where they can work.
        case short
        /// Only the worked answers.
        case think
    }
    /// Prompts per step; the batch holds 2× as many sequences (both modes of each prompt).
    public var batch: Int
    public var lossNorm: LossNorm = .token
    /// When > 0, the control token (`<think>`/`<short>`) of every sequence gets this weight
    /// of its own (divided by the batch's sequence count) and leaves the answer-token mean,
    /// as DeGRPO does in stage 2: otherwise its share depends on the answer's length, and
    /// p(think) drifts toward whichever mode has the shorter answers.
    public var controlWeight: Float = 0
    /// The modes trained. With one mode the control token gets no loss: every sequence would
    /// open with the same token, and training it would teach the router that mode everywhere.
    public var modes = Modes.both
    /// Sequences per forward/backward; 0 = each mode's whole batch at once. The gradients of
    /// the micro-batches add up to the batch's (its loss weights are batch-wide), so this
    /// changes peak memory, not the update.
    public var microBatch: Int = 0
    public var steps: Int
    public var schedule: LRSchedule
    public var adamw: AdamWConfig
    /// Seeds the data order.
    public var seed: UInt64

    public init(batch: Int, steps: Int, schedule: LRSchedule, adamw: AdamWConfig, seed: UInt64) {
        self.batch = batch; self.steps = steps; self.schedule = schedule; self.adamw = adamw; self.seed = seed
    }

    /// The config of a recipe over a data set of `prompts` pairs: `steps`, or `epochs` of it.
    public init(recipe s: Recipe.SFT, prompts: Int) throws(TrainError) {
        let steps = s.steps > 0 ? s.steps : Int((s.epochs * Double(prompts) / Double(s.batch)).rounded(.up))
        guard steps > 0 else { throw .invalidSchedule("[sft] steps is 0 and epochs × prompts / batch rounds to 0 steps") }
        let schedule = try LRSchedule(maxLR: Float(s.lr), minLR: Float(s.minLR), warmupSteps: min(s.warmup, steps), totalSteps: steps)
        self.init(batch: s.batch, steps: steps, schedule: schedule,
                  adamw: AdamWConfig(beta1: Float(s.beta1), beta2: Float(s.beta2), weightDecay: Float(s.weightDecay),
                                     gradClip: Float(s.gradClip)),
                  seed: UInt64(s.seed))
        lossNorm = s.lossNorm
        controlWeight = Float(s.controlWeight)
        modes = s.modes
        microBatch = s.microBatch
    }
}

/// Figures of one optimizer step.
public struct SFTStepStats: Sendable, Equatable {
    public var step: Int
    /// Mean −log p over the batch's answer tokens.
    public var loss: Float
    public var lr: Float
    /// Gradient norm before clipping.
    public var gradNorm: Float
    /// Answer tokens scored, and non-pad tokens processed.
    public var answerTokens: Int
    public var tokens: Int
    public var seconds: Double
    /// Time spent summing gradients over the ranks (0 for one process).
    public var reduceSeconds: Double = 0
    /// Time this rank waited for the slowest one before the sum.
    public var waitSeconds: Double = 0
}

/// Warm-up distillation (Thinkless stage 1): each step takes B prompts, puts both of their
/// answers in one batch, and minimises cross-entropy on the answer tokens only.
///
/// The data order is a pure function of the seed and the step: epoch e is the permutation
/// drawn by `RNG(seed).derived(e)`. So a run resumed at step s draws exactly the batches
/// the uninterrupted run would have.
public struct SFTTrainer {
    public let config: SFTConfig
    public let data: SFTData
    public var model: Transformer
    public var optimizer: AdamW
    /// Steps completed; the next step is `step`.
    public var step: Int
    /// The ranks this run trains on: each takes its share of every batch (GradientReducer.swift).
    public var reducer: any GradientReducer = SingleProcess()
    /// Shards of every batch (at least one per rank): each shard's gradient is computed on its
    /// own and the shards are summed in order, so runs with the same shards match bit for bit
    /// whatever number of ranks computes them (GradientReducer.swift, `Shards`).
    public var shards = 1
    /// Activations per padded length, so a batch of short prompts does not pay for the full context.
    /// Only the last `keptBuffers` shapes stay: on a 49k vocabulary one shape holds gigabytes.
    private var buffers: [Int: Activations] = [:]
    private var recentShapes: [Int] = []
    static let keptBuffers = 2
    private var permutations: [Int: [Int]] = [:]

    /// Padded lengths are multiples of this (capped at the context).
    static let lengthBucket = 32

    public init(config: SFTConfig, data: SFTData, model: Transformer, optimizer: AdamW? = nil, step: Int = 0) throws(TrainError) {
        guard data.count > 0 else { throw .noData }
        self.config = config
        self.data = data
        self.model = model
        self.optimizer = optimizer ?? AdamW(config: config.adamw, trainable: model)
        self.step = step
    }

    /// The data-order generator's state; with the step it fixes every later batch.
    public var rngState: UInt64 { RNG(seed: config.seed).state }

    /// Indices into `data.pairs` for step `s`.
    public mutating func batchIndices(step s: Int) -> [Int] {
        let n = data.count
        return (0..<config.batch).map { j in
            let position = s * config.batch + j
            return permutation(epoch: position / n)[position % n]
        }
    }

    private mutating func permutation(epoch: Int) -> [Int] {
        if let p = permutations[epoch] { return p }
        var rng = RNG(seed: config.seed).derived(UInt64(epoch))
        var p = Array(0..<data.count)
        for i in stride(from: p.count - 1, to: 0, by: -1) { p.swapAt(i, rng.int(below: i + 1)) }
        permutations = permutations.filter { $0.key >= epoch - 1 }  // keep at most two epochs
        permutations[epoch] = p
        return p
    }

    /// Runs one optimizer step and returns its figures.
    ///
    /// The short-mode and think-mode sequences run as two passes, each padded only to its own
    /// longest sequence, and their gradients add up before the update. The weights are
    /// normalised over the answer tokens of both, so this is the same gradient as one batch
    /// padded to the longest sequence, at a fraction of the padding.
    public mutating func trainStep() throws -> SFTStepStats { try trainStep(lr: config.schedule.lr(at: step)) }

    /// One step at learning rate `lr` (the stage loop's schedule).
    public mutating func trainStep(lr: Float) throws -> SFTStepStats {
        let start = DispatchTime.now().uptimeNanoseconds
        let indices = batchIndices(step: step)
        let K = max(shards, reducer.size)
        guard indices.count >= K else {
            throw TrainError.invalidConfig("[sft] batch \(indices.count) is smaller than the \(K) shards sharing it")
        }
        let oneMode = config.modes != .both
        let decoupled = config.controlWeight > 0 || oneMode
        // Answer tokens that share the mean: all of them, or all but the control token.
        func meanTokens(_ s: TrainingSequence) -> Int {
            max(0, min(s.answerTokenCount, s.rowCount) - (decoupled ? 1 : 0))
        }
        let modes: [KeyPath<SFTData.Pair, TrainingSequence>] = switch config.modes {
        case .both: [\.short, \.long]
        case .short: [\.short]
        case .think: [\.long]
        }
        let scored = indices.reduce(0) { sum, i in modes.reduce(sum) { $0 + meanTokens(data.pairs[i][keyPath: $1]) } }
        let sequenceCount = Float(modes.count * indices.count)
        let controlWeight = oneMode ? 0 : config.controlWeight / sequenceCount
        func weights(_ s: TrainingSequence) -> RowWeights {
            let answer: Float = switch config.lossNorm {
            case .token: 1 / Float(max(1, scored))
            case .sequence: 1 / (sequenceCount * Float(max(1, meanTokens(s))))
            }
            return RowWeights(control: decoupled ? controlWeight : answer, answer: answer)
        }
        // This rank's shards of the prompts; the weights above are normalised over the whole batch.
        var loss: Float = 0, realTokens = 0
        let owned = reducer.share(of: K)
        var shardSum = Shards.Sum()
        for k in owned {
            let mine = indices[Shards.part(k, of: K, count: indices.count)]
            model.zeroGrad()
            for mode in modes {
                let sequences = mine.map { data.pairs[$0][keyPath: mode] }
                if sequences.isEmpty { continue }
                let (l, tokens) = try accumulate(sequences, weights: sequences.map(weights))
                loss += l
                realTokens += tokens
            }
            if owned.count > 1 { shardSum.add(model.trainableGrads) }
        }
        if let sum = shardSum.total { model.withTrainableGrads { $0 = sum } }
        let waitStart = DispatchTime.now().uptimeNanoseconds
        if reducer.size > 1 { try reducer.barrier() }
        let reduceStart = DispatchTime.now().uptimeNanoseconds
        if reducer.size > 1 {
            try model.withTrainableGrads { try reducer.sum(&$0) }
            var figures = [Double(loss), Double(realTokens)]
            try reducer.sum(&figures)
            loss = Float(figures[0]); realTokens = Int(figures[1])
        }
        let reduceSeconds = Double(DispatchTime.now().uptimeNanoseconds - reduceStart) / 1e9
        let norm = try optimizer.update(&model, lr: lr)
        step += 1
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return SFTStepStats(step: step, loss: loss, lr: lr, gradNorm: norm, answerTokens: scored,
                            tokens: realTokens, seconds: seconds, reduceSeconds: reduceSeconds,
                            waitSeconds: Double(reduceStart - waitStart) / 1e9)
    }

    /// Loss weights of one sequence: its control token (the first answer token) and the rest.
    struct RowWeights { var control: Float; var answer: Float }

    /// Forward and backward over `sequences` padded to their longest, with loss weights
    /// `weights[i]` on the answer tokens of sequence i; adds to the gradients and returns
    /// (weighted loss, non-pad tokens).
    private mutating func accumulate(_ sequences: [TrainingSequence], weights sequenceWeights: [RowWeights]) throws -> (Float, Int) {
        let length = PackedBatch.length(longest: sequences.map(\.rowCount).max() ?? 1, bucket: Self.lengthBucket,
                                        context: model.config.maxSeqLen)
        // Micro-batches share the pass's padded length and its batch-wide weights.
        let micro = config.microBatch > 0 ? config.microBatch : max(1, sequences.count)
        var loss: Float = 0, realTokens = 0
        for start in stride(from: 0, to: sequences.count, by: micro) {
            let end = min(sequences.count, start + micro)
            let (l, tokens) = try accumulate(Array(sequences[start..<end]), weights: Array(sequenceWeights[start..<end]), length: length)
            loss += l
            realTokens += tokens
        }
        return (loss, realTokens)
    }

    /// One forward and backward over `sequences`, padded to `length`.
    private mutating func accumulate(_ sequences: [TrainingSequence], weights sequenceWeights: [RowWeights], length: Int) throws -> (Float, Int) {
        let packed = PackedBatch(sequences, length: length)
        let realTokens = sequences.reduce(0) { $0 + min(length, $1.rowCount) }
        let weights = packed.targets.enumerated().map { i, t -> Float in
            guard t >= 0 else { return 0 }
            let w = sequenceWeights[i / length]
            return i % length == sequences[i / length].promptLength - 1 ? w.control : w.answer
        }
        let key = length * 100_000 + sequences.count
        var acts = try buffers[key] ?? Activations(config: model.config, batch: sequences.count, seqLen: length)
        buffers[key] = nil  // hand the buffer over without a copy-on-write
        try acts.setBatch(tokens: packed.inputs, targets: packed.targets)
        model.forward(&acts)
        let loss = Transformer.loss(acts, weights: weights)
        try model.backward(&acts, weights: weights)
        recentShapes = [key] + recentShapes.filter { $0 != key }
        for old in recentShapes.dropFirst(Self.keptBuffers) { buffers[old] = nil }
        recentShapes = Array(recentShapes.prefix(Self.keptBuffers))
        buffers[key] = acts
        return (loss, realTokens)
    }
}

extension SFTTrainer: StageTrainer {
    public mutating func runStep(lr: Float) throws -> StageStep {
        let s = try trainStep(lr: lr)
        let tokensPerSecond = Double(s.tokens) / max(s.seconds, 1e-9)
        return StageStep(loss: Double(s.loss), record: [
            "step": Double(s.step), "loss": Double(s.loss), "lr": Double(s.lr), "grad_norm": Double(s.gradNorm),
            "tokens_per_s": tokensPerSecond, "answer_tokens": Double(s.answerTokens), "step_seconds": s.seconds,
            "allreduce_s": s.reduceSeconds, "rank_wait_s": s.waitSeconds,
        ], progress: String(format: "%.0f tok/s | lr %.2e", Double(s.tokens) / s.seconds, s.lr)
            + (reducer.size > 1 ? String(format: " | allreduce %.1f ms", 1000 * s.reduceSeconds) : ""))
    }

    public mutating func restore(model: Transformer, optimizer: AdamW, step: Int, rngState: UInt64) throws(TrainError) {
        guard rngState == self.rngState else { throw .invalidConfig("saved with another [sft] seed, so the data order would differ") }
        self.model = model
        self.optimizer = optimizer
        self.step = step
    }
}
