// The training stages' side of LoRA: starting adapters on a base from `[lora]`, loading a stage's
// model whether its file is a full checkpoint or an adapter, and saving either. Not the adapters
// themselves (ReckonModel/LoRA.swift) nor their file format (ReckonCheckpoint/AdapterCheckpoint.swift).

import Foundation
import ReckonCheckpoint
import ReckonModel
import ReckonTrain

extension TrainCommand {
    /// The model in `path` ready to train on: a full checkpoint's, or an adapter attached to its
    /// (checked) base; with the base's reference for the adapter's later saves.
    func loadTrainable(_ path: String) throws -> (model: Transformer, base: BaseReference?) {
        guard AdapterCheckpoint.isAdapter(path) else { return (try Checkpoint.load(from: path).model(), nil) }
        let adapter = try AdapterCheckpoint.load(from: path)
        let (model, _) = try adapter.model(adapterPath: path, base: nil)
        var base = adapter.base
        base.path = adapter.basePath(adapterPath: path, override: nil)
        return (model, base)
    }

    /// Fresh adapters from `[lora]` on the full checkpoint at `basePath`.
    func startAdapters(_ r: Recipe, config: LoRAConfig, basePath: String) throws -> (model: Transformer, base: BaseReference) {
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
        return (model, reference)
    }

    private func attachedAdapters(_ model: Transformer) throws -> LoRA {
        guard let lora = model.lora else { throw CLIError("internal: adapters were not attached") }
        return lora
    }

    /// Writes `model` to `path`: an adapter file pointing at `base` when adapters are attached,
    /// else a full checkpoint.
    func saveTrained(_ model: Transformer, base: BaseReference?, optimizer: OptimizerState?, train: TrainingState?,
                     to path: String, rotation: CheckpointRotation? = nil, step: Int = 0) throws -> String {
        if let lora = model.lora {
            guard let base else { throw CLIError("internal: adapters without a base reference") }
            let target = rotation?.path(forStep: step) ?? path
            let adapter = AdapterCheckpoint(lora: lora, base: base.relative(to: target), optimizer: optimizer, train: train)
            if let rotation { return try rotation.save(adapter: adapter, step: step) }
            try adapter.save(to: path)
            return path
        }
        let checkpoint = Checkpoint(model: model, optimizer: optimizer, train: train)
        if let rotation { return try rotation.save(checkpoint, step: step) }
        try checkpoint.save(to: path)
        return path
    }
}
