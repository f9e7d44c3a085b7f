// The training stages' side of LoRA: starting adapters on a base from `[lora]`, loading a stage's
// model whether its file is a full checkpoint or an adapter, and saving either. Not the adapters
// themselves (ReckonModel/LoRA.swift) nor their file format (ReckonCheckpoint/AdapterCheckpoint.swift).

import Foundation
import ReckonCheckpoint
import ReckonModel
import ReckonTrain

/// A model ready to train, with what its saves and its data need from the file it came from.
struct TrainableModel {
    var model: Transformer
    /// The frozen base an adapter's saves point at; nil for a full model.
    var base: BaseReference?
    /// A full imported model's BPE tokenizer, written into each of its saves (an adapter's base holds its own).
    var tokenizer: TokenizerSpec?
    /// Prompts and answers as this model reads and writes them.
    var format: RoutedFormat

    /// A new byte-level model.
    init(model: Transformer) { self.init(model: model, base: nil, tokenizer: nil, format: .bytes) }
    init(model: Transformer, base: BaseReference?, tokenizer: TokenizerSpec?, format: RoutedFormat) {
        self.model = model; self.base = base; self.tokenizer = tokenizer; self.format = format
    }
    /// The same files and format around other weights (a stage's trained model).
    func with(_ model: Transformer) -> TrainableModel { var t = self; t.model = model; return t }
}

extension TrainCommand {
    /// The model in `path` ready to train on: a full checkpoint's, or an adapter attached to its
    /// (checked) base; with the base's reference for the adapter's later saves, and the routed
    /// format of the tokenizer it was trained with.
    func loadTrainable(_ path: String) throws -> TrainableModel {
        guard AdapterCheckpoint.isAdapter(path) else {
            let checkpoint = try Checkpoint.load(from: path)
            return TrainableModel(model: try checkpoint.model(), base: nil, tokenizer: checkpoint.tokenizer,
                                  format: try routedFormat(checkpoint, path: path))
        }
        let adapter = try AdapterCheckpoint.load(from: path)
        let (model, baseCheckpoint) = try adapter.model(adapterPath: path, base: nil)
        var base = adapter.base
        base.path = adapter.basePath(adapterPath: path, override: nil)
        return TrainableModel(model: model, base: base, tokenizer: nil, format: try routedFormat(baseCheckpoint, path: base.path))
    }

    /// The routed format of `checkpoint`'s tokenizer: the byte format, or its chat template
    /// with the control tokens the import added.
    func routedFormat(_ checkpoint: Checkpoint, path: String) throws -> RoutedFormat {
        do { return try checkpoint.text(path: path).routedFormat() } catch {
            throw CLIError("\(path): cannot train routing on this model: \(error)")
        }
    }

    /// Fresh adapters from `[lora]` on the full checkpoint at `basePath`.
    func startAdapters(_ r: Recipe, config: LoRAConfig, basePath: String) throws -> TrainableModel {
        guard !AdapterCheckpoint.isAdapter(basePath) else {
            throw CLIError("\(basePath): an adapter cannot be the base of new adapters; point [lora] base at a full checkpoint")
        }
        let base = try Checkpoint.load(from: basePath)
        var model = try base.model()
        try model.attach(LoRA(config: config, base: model, controlTokens: base.controlTokenIDs, seed: UInt64(r.lora.seed)))
        let reference = BaseReference(name: URL(fileURLWithPath: basePath).lastPathComponent, path: basePath,
                                      sha256: AdapterCheckpoint.weightsSHA256(base.params), source: base.source)
        let lora = try attachedAdapters(model)
        note("lora: rank \(config.rank), α \(config.alpha), targets \(config.targets.map(\.rawValue).joined(separator: ",")); "
             + "\(lora.parameterCount) trainable parameters (adapters + \(lora.controlTokens.count) control rows) on the frozen "
             + "\(model.parameterCount) of \(basePath) (weights SHA-256 \(reference.sha256.prefix(12))…)")
        return TrainableModel(model: model, base: reference, tokenizer: nil, format: try routedFormat(base, path: basePath))
    }

    private func attachedAdapters(_ model: Transformer) throws -> LoRA {
        guard let lora = model.lora else { throw CLIError("internal: adapters were not attached") }
        return lora
    }

    /// Writes `model` to `path`: an adapter file pointing at `base` when adapters are attached,
    /// else a full checkpoint.
    func saveTrained(_ model: Transformer, base: BaseReference?, tokenizer: TokenizerSpec?, optimizer: OptimizerState?, train: TrainingState?,
                     to path: String, rotation: CheckpointRotation? = nil, step: Int = 0) throws -> String {
        if let lora = model.lora {
            guard let base else { throw CLIError("internal: adapters without a base reference") }
            let target = rotation?.path(forStep: step) ?? path
            let adapter = AdapterCheckpoint(lora: lora, base: base.relative(to: target), optimizer: optimizer, train: train)
            if let rotation { return try rotation.save(adapter: adapter, step: step) }
            try adapter.save(to: path)
            return path
        }
        var checkpoint = Checkpoint(model: model, optimizer: optimizer, train: train)
        checkpoint.tokenizer = tokenizer
        if let rotation { return try rotation.save(checkpoint, step: step) }
        try checkpoint.save(to: path)
        return path
    }
}
