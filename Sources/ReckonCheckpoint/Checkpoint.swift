import Foundation
import ReckonModel

// The checkpoint as values: weights, optimizer state and training state, and their HDF5 file
// (Schema.swift). It depends on the model alone; training converts its optimizer to and from
// `OptimizerState` (ReckonTrain/AdamW.swift), so any reader of a checkpoint links no trainer.

/// AdamW as a checkpoint stores it: its hyper-parameters, updates taken and both moments.
public struct OptimizerState: Sendable, Equatable {
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    public var gradClip: Float
    /// Updates taken so far.
    public var step: Int
    /// (2, P): m at [0, P), v at [P, 2P); empty when read without the moments.
    public var moments: [Float]

    public init(beta1: Float, beta2: Float, eps: Float, weightDecay: Float, gradClip: Float, step: Int, moments: [Float]) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay; self.gradClip = gradClip
        self.step = step; self.moments = moments
    }
}

/// Where a training run stands, beyond its weights and optimizer: enough to resume exactly.
public struct TrainingState: Sendable, Equatable {
    /// Stage of the recipe, e.g. "pretrain", "sft", "degrpo".
    public var stage: String
    /// Optimizer updates completed in this stage; the next update is step `step`.
    public var step: Int
    /// The recipe text the run was started from, verbatim.
    public var recipe: String
    /// State of the run's main RNG (batch sampling), so the resumed run draws the same batches.
    public var rngState: UInt64
    /// Further named RNG streams (e.g. "sampler", "data"), if the stage uses more than one.
    public var rngStreams: [String: UInt64]
    /// Last logged figures (loss, lr, ...); informational, not needed to resume.
    public var metrics: [String: Double]

    public init(stage: String, step: Int, recipe: String, rngState: UInt64,
                rngStreams: [String: UInt64] = [:], metrics: [String: Double] = [:]) {
        self.stage = stage
        self.step = step
        self.recipe = recipe
        self.rngState = rngState
        self.rngStreams = rngStreams
        self.metrics = metrics
    }
}

/// A model, optionally with its optimizer and training state, as stored in one HDF5 file.
/// A serving checkpoint has `optimizer == nil`; it loads for inference and refuses to resume.
public struct Checkpoint: Sendable {
    public var config: ModelConfig
    /// Flat parameters in `ParameterLayout(config)` order.
    public var params: [Float]
    public var optimizer: OptimizerState?
    public var train: TrainingState?
    /// The routing rule to use when none is asked for, with the split it was chosen on.
    public var routing: StoredRouting?
    /// The BPE tokenizer of an imported model; nil means the byte tokenizer.
    public var tokenizer: TokenizerSpec?
    /// Where an imported model came from; nil for models trained here.
    public var source: ImportSource?

    public init(config: ModelConfig, params: [Float], optimizer: OptimizerState? = nil, train: TrainingState? = nil,
                routing: StoredRouting? = nil, tokenizer: TokenizerSpec? = nil, source: ImportSource? = nil) {
        self.config = config
        self.params = params
        self.optimizer = optimizer
        self.train = train
        self.routing = routing
        self.tokenizer = tokenizer
        self.source = source
    }

    public init(model: Transformer, optimizer: OptimizerState? = nil, train: TrainingState? = nil, routing: StoredRouting? = nil) {
        self.init(config: model.config, params: model.params, optimizer: optimizer, train: train, routing: routing)
    }

    public var layout: ParameterLayout { ParameterLayout(config) }

    /// A model over the stored parameters.
    public func model() throws(ModelError) -> Transformer {
        try Transformer(config: config, params: params)
    }

    // MARK: Saving

    /// Writes the checkpoint atomically: a temporary file `.NAME.tmp-PID` in the same folder
    /// is written, flushed and fsynced, then renamed over `path`. A crash at any point leaves
    /// either the previous file or the new one under `path`, never a half-written one.
    public func save(to path: String) throws(CheckpointError) {
        try checkConsistency(path)
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .io(path: path, operation: "save", message: "folder \(directory) does not exist")
        }
        let temporary = try writeTemporary(beside: path)
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temporary)
            throw .io(path: path, operation: "rename \(temporary) over it", message: reason)
        }
        // Persist the rename itself; a failure here cannot unsave the file, so it is not fatal.
        try? Self.fsync(directory)
    }

    /// The first half of `save`: the whole file, written, flushed and fsynced under
    /// `temporaryPath(for: path)`, which it returns; on failure nothing is left behind.
    func writeTemporary(beside path: String) throws(CheckpointError) -> String {
        let temporary = Self.temporaryPath(for: path)
        do throws(CheckpointError) {
            let file = try HDF5File.create(temporary)
            try Schema.write(self, to: file)
            try file.flush()
            try file.close()
            try Self.fsync(temporary)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
        return temporary
    }

    /// `.NAME.tmp-PID` beside `path`: hidden, unique per process, never matching rotation names.
    static func temporaryPath(for path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())").path
    }

    private static func fsync(_ path: String) throws(CheckpointError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw .io(path: path, operation: "open for fsync", message: String(cString: strerror(errno))) }
        defer { close(fd) }
        guard Foundation.fsync(fd) == 0 else {
            throw .io(path: path, operation: "fsync", message: String(cString: strerror(errno)))
        }
    }

    /// Refuses to write a checkpoint whose buffers disagree with its config.
    private func checkConsistency(_ path: String) throws(CheckpointError) {
        do { try config.validate() } catch { throw .invalidConfig(path: path, reason: error.description) }
        let count = ParameterLayout(config).count
        guard params.count == count else {
            throw .inconsistent(path: path, reason: "config needs \(count) parameters, the buffer holds \(params.count)")
        }
        if let optimizer {
            guard optimizer.moments.count == 2 * count else {
                throw .inconsistent(path: path, reason: "optimizer holds \(optimizer.moments.count) moment values; the model's \(count) parameters need \(2 * count)")
            }
            guard optimizer.step >= 0 else { throw .inconsistent(path: path, reason: "optimizer step \(optimizer.step) is negative") }
        }
        if let train {
            guard train.step >= 0 else { throw .inconsistent(path: path, reason: "training step \(train.step) is negative") }
            for name in Array(train.rngStreams.keys) + Array(train.metrics.keys) where name.isEmpty || name.contains("/") {
                throw .inconsistent(path: path, reason: "RNG stream and metric names must be non-empty without '/', got \"\(name)\"")
            }
        }
    }

    // MARK: Loading

    /// Loads a checkpoint. With `includeOptimizer` (resuming), the file must hold the
    /// optimizer and training state; without it (inference), the moments are not read.
    public static func load(from path: String, includeOptimizer: Bool = false) throws(CheckpointError) -> Checkpoint {
        let file = try HDF5File.open(path)
        let reader = Schema.Reader(file: file)
        try reader.checkFormat()
        let config = try reader.config()
        let tokenizer = try reader.checkTokenizer(config)
        let source = try reader.source()
        let layout = ParameterLayout(config)
        let params = try reader.tensors(in: "/model", layout: layout, readData: true)
        let train = try reader.trainingState()
        var optimizer: OptimizerState?
        if includeOptimizer {
            guard file.exists("/optimizer") else {
                throw .notResumable(path: path, reason: "it has no /optimizer group (a model-only checkpoint, for inference)")
            }
            guard train != nil else { throw .notResumable(path: path, reason: "it has no /train group (stage, step, RNG state)") }
            optimizer = try reader.optimizer(layout: layout, readMoments: true)
        }
        let routing = try reader.routing()
        try file.close()
        return Checkpoint(config: config, params: params, optimizer: optimizer, train: train, routing: routing,
                          tokenizer: tokenizer, source: source)
    }
}

/// What `reckon inspect` shows: everything but the tensor values. Reading it validates the
/// whole schema (shapes and types of every dataset) without loading any tensor data.
public struct CheckpointSummary: Sendable {
    public var path: String
    public var formatVersion: Int
    public var config: ModelConfig
    public var parameterCount: Int
    /// (name, shape) of every /model dataset, in layout order.
    public var tensors: [(name: String, shape: [Int])]
    public var hasOptimizer: Bool
    /// The optimizer's hyper-parameters and step, without its moments.
    public var optimizerConfig: OptimizerState?
    public var optimizerStep: Int?
    public var train: TrainingState?
    public var routing: StoredRouting?

    public static func read(from path: String) throws(CheckpointError) -> CheckpointSummary {
        let file = try HDF5File.open(path)
        let reader = Schema.Reader(file: file)
        let version = try reader.checkFormat()
        let config = try reader.config()
        try reader.checkTokenizer(config)
        let layout = ParameterLayout(config)
        _ = try reader.tensors(in: "/model", layout: layout, readData: false)
        let optimizer = file.exists("/optimizer") ? try reader.optimizer(layout: layout, readMoments: false) : nil
        let train = try reader.trainingState()
        let routing = try reader.routing()
        try file.close()
        return CheckpointSummary(
            path: path, formatVersion: version, config: config, parameterCount: layout.count,
            tensors: layout.tensors.map { ($0.name, $0.shape) }, hasOptimizer: optimizer != nil,
            optimizerConfig: optimizer, optimizerStep: optimizer?.step, train: train, routing: routing)
    }
}
