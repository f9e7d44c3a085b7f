// `reckon inspect`: a checkpoint's summary as text or JSON, and `--verify`'s report
// (ReckonCheckpoint/Verification.swift does the reading).

import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonModel
import ReckonTrain

/// `reckon inspect CKPT`: what a checkpoint holds, without loading its tensors.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a checkpoint's config, parameter count, tensor shapes, training stage and step, and recipe.",
        discussion: "Reading validates the whole schema; a damaged file gives one error line naming the problem.")

    @Argument(help: "Checkpoint file (.h5).") var checkpoint: String
    @Flag(help: "Print JSON (the format tools/inspect_checkpoint.py --compare-json reads).") var json = false
    @Flag(help: "Also read every tensor (optimizer moments included): check that each value is finite and, for tensors stored with one, its Fletcher-32 checksum; say which had no checksum.")
    var verify = false

    func run() throws {
        if AdapterCheckpoint.isAdapter(checkpoint) {
            guard !json, !verify else { throw ValidationError("--json and --verify read full checkpoints; \(checkpoint) is a LoRA adapter") }
            return print(adapterText(try AdapterCheckpoint.load(from: checkpoint)))
        }
        let s = try CheckpointSummary.read(from: checkpoint)
        let verification = try verify ? CheckpointVerification.run(path: checkpoint) : nil
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            var report = Report(s)
            report.verify = verification.map { Report.Verify(tensors: $0.datasets.count, values: $0.values, checksummed: $0.checksummed,
                                                            unchecksummed: $0.unchecksummed, optimizer_read: $0.optimizerRead) }
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(text(s))
            if let verification { print(verification.report.joined(separator: "\n")) }
        }
    }

    /// An adapter file (docs/checkpoint.md, "Adapter checkpoints"): its LoRA config, tensors and base.
    func adapterText(_ a: AdapterCheckpoint) -> String {
        let c = a.config
        var lines = [
            "adapter     \(checkpoint) (reckon-adapter v1)",
            "lora        rank \(a.lora.rank), alpha \(a.lora.alpha), targets \(a.lora.targets.map(\.rawValue).joined(separator: ",")), "
                + "control tokens \(a.controlTokens.map(String.init).joined(separator: ","))",
            "base        \(a.base.name) at \(a.basePath(adapterPath: checkpoint, override: nil)), weights SHA-256 \(a.base.sha256)"
                + (a.base.source.map { " (from \($0.format) \($0.file), SHA-256 \($0.sha256))" } ?? ""),
            "config      dim \(c.dim), layers \(c.nLayers), heads \(c.nHeads), kv heads \(c.nKVHeads), hidden \(c.hiddenDim), vocab \(c.vocabSize)",
            "parameters  \(a.params.count) trainable",
            "tensors",
        ]
        for t in a.layout.tensors { lines.append("  \(t.name)  \(t.shape) \(t.count)") }
        if let t = a.train { lines.append("training    stage \(t.stage), step \(t.step)") }
        return lines.joined(separator: "\n")
    }

    func text(_ s: CheckpointSummary) -> String {
        let c = s.config
        var lines = [
            "checkpoint  \(s.path) (reckon-checkpoint v\(s.formatVersion))",
            "config      dim \(c.dim), layers \(c.nLayers), heads \(c.nHeads), kv heads \(c.nKVHeads), hidden \(c.hiddenDim), "
                + "vocab \(c.vocabSize), context \(c.maxSeqLen), \(c.tiedEmbeddings ? "tied" : "untied") classifier, "
                + "rope theta \(c.ropeTheta), norm eps \(c.normEps)",
            "parameters  \(s.parameterCount)",
            "tensors",
        ]
        let width = s.tensors.map(\.name.count).max() ?? 0
        for t in s.tensors {
            let name = t.name.padding(toLength: width, withPad: " ", startingAt: 0)
            let shape = "\(t.shape)".padding(toLength: 14, withPad: " ", startingAt: 0)
            lines.append("  \(name)  \(shape) \(t.shape.reduce(1, *))")
        }
        if let o = s.optimizerConfig, let step = s.optimizerStep {
            lines.append("optimizer   AdamW, step \(step), beta1 \(o.beta1), beta2 \(o.beta2), eps \(o.eps), "
                         + "weight decay \(o.weightDecay), grad clip \(o.gradClip)")
        } else {
            lines.append("optimizer   none (model-only checkpoint: loads for inference, cannot resume)")
        }
        if let r = s.routing { lines.append("routing     \(r.summary)") }
        if let t = s.train {
            lines.append("training    stage \(t.stage), step \(t.step), rng_state 0x\(String(t.rngState, radix: 16))")
            for (name, state) in t.rngStreams.sorted(by: { $0.key < $1.key }) {
                lines.append("  rng \(name) 0x\(String(state, radix: 16))")
            }
            for (name, value) in t.metrics.sorted(by: { $0.key < $1.key }) { lines.append("  \(name) \(value)") }
            lines.append("recipe")
            let recipe = t.recipe.hasSuffix("\n") ? String(t.recipe.dropLast()) : t.recipe
            lines += recipe.isEmpty ? ["  (empty)"] : recipe.split(separator: "\n", omittingEmptySubsequences: false).map { "  | \($0)" }
        } else {
            lines.append("training    none")
        }
        return lines.joined(separator: "\n")
    }

    /// JSON shape of the summary; keys follow the HDF5 schema's names.
    struct Report: Encodable {
        struct Config: Encodable {
            let dim, n_layers, n_heads, n_kv_heads, hidden_dim, vocab_size, max_seq_len: Int
            let tied_embeddings: Bool
            let rope_theta, norm_eps: Float
        }
        struct Tensor: Encodable {
            let name: String
            let shape: [Int]
        }
        struct Optimizer: Encodable {
            let step: Int
            let beta1, beta2, eps, weight_decay, grad_clip: Float
        }
        struct Train: Encodable {
            let stage: String
            let step: Int
            let recipe: String
            let rng_state: UInt64
            let rng_streams: [String: UInt64]
            let metrics: [String: Double]
        }
        let path: String
        let format_version: Int
        let config: Config
        let parameter_count: Int
        let tensors: [Tensor]
        let has_optimizer: Bool
        let optimizer: Optimizer?
        let train: Train?
        /// With --verify only: what was read and which tensors had a checksum.
        struct Verify: Encodable {
            let tensors, values: Int
            let checksummed, unchecksummed: [String]
            let optimizer_read: Bool
        }
        var verify: Verify?

        init(_ s: CheckpointSummary) {
            let c = s.config
            path = s.path
            format_version = s.formatVersion
            config = Config(dim: c.dim, n_layers: c.nLayers, n_heads: c.nHeads, n_kv_heads: c.nKVHeads, hidden_dim: c.hiddenDim,
                            vocab_size: c.vocabSize, max_seq_len: c.maxSeqLen, tied_embeddings: c.tiedEmbeddings,
                            rope_theta: c.ropeTheta, norm_eps: c.normEps)
            parameter_count = s.parameterCount
            tensors = s.tensors.map { Tensor(name: $0.name, shape: $0.shape) }
            has_optimizer = s.hasOptimizer
            if let o = s.optimizerConfig, let step = s.optimizerStep {
                optimizer = Optimizer(step: step, beta1: o.beta1, beta2: o.beta2, eps: o.eps,
                                      weight_decay: o.weightDecay, grad_clip: o.gradClip)
            } else {
                optimizer = nil
            }
            train = s.train.map {
                Train(stage: $0.stage, step: $0.step, recipe: $0.recipe, rng_state: $0.rngState,
                      rng_streams: $0.rngStreams, metrics: $0.metrics)
            }
        }

        // Optionals are written as null rather than omitted, so readers see every key.
        func encode(to encoder: Encoder) throws {
            enum Key: String, CodingKey {
                case path, format_version, config, parameter_count, tensors, has_optimizer, optimizer, train, verify
            }
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(path, forKey: .path)
            try c.encode(format_version, forKey: .format_version)
            try c.encode(config, forKey: .config)
            try c.encode(parameter_count, forKey: .parameter_count)
            try c.encode(tensors, forKey: .tensors)
            try c.encode(has_optimizer, forKey: .has_optimizer)
            try c.encode(optimizer, forKey: .optimizer)
            try c.encode(train, forKey: .train)
            try c.encodeIfPresent(verify, forKey: .verify)
        }
    }
}
