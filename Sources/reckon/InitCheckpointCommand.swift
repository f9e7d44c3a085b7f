// `reckon init-checkpoint`: a freshly initialised model saved as a checkpoint; no training.

import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonCore
import ReckonModel
import ReckonTrain

/// `reckon init-checkpoint OUT.h5`: a freshly initialised model as a checkpoint, so tools and
/// CI can exercise the format without a training run.
struct InitCheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init-checkpoint",
        abstract: "Write a randomly initialised checkpoint (step 0, zero optimizer moments).",
        discussion: "Example: reckon init-checkpoint /tmp/tiny.h5 --dim 64 --layers 2 --heads 4 --hidden 128 --context 64")

    @Argument(help: "Checkpoint file to write.") var output: String
    @Option(help: "Model width.") var dim = 64
    @Option(help: "Transformer blocks.") var layers = 2
    @Option(help: "Attention heads.") var heads = 4
    @Option(help: "Key/value heads (default: --heads).") var kvHeads: Int?
    @Option(help: "SwiGLU hidden width.") var hidden = 128
    @Option(help: "Context length (max sequence length).") var context = 64
    @Flag(help: "Share the classifier with the token embeddings.") var tied = false
    @Option(help: "Initialisation seed; also the stored RNG state.") var seed: UInt64 = 1
    @Option(help: "Training stage name to record.") var stage = "init"
    @Option(help: "Recipe file whose text is stored with the checkpoint.") var recipe: String?
    @Flag(help: "Write a model-only (serving) checkpoint: no optimizer or training state.") var modelOnly = false

    func run() throws {
        let config = ModelConfig(dim: dim, nLayers: layers, nHeads: heads, nKVHeads: kvHeads, hiddenDim: hidden,
                                 maxSeqLen: context, tiedEmbeddings: tied)
        let model = try Transformer(config: config, seed: seed)
        var checkpoint = Checkpoint(model: model)
        if !modelOnly {
            let text = try recipe.map { try String(contentsOfFile: $0, encoding: .utf8) } ?? ""
            checkpoint.optimizer = AdamW(config: AdamWConfig(), layout: model.layout).state
            checkpoint.train = TrainingState(stage: stage, step: 0, recipe: text, rngState: RNG(seed: seed).state)
        }
        try checkpoint.save(to: output)
        print("wrote \(output): \(model.parameterCount) parameters\(modelOnly ? ", model only" : ", stage \(stage) step 0")")
    }
}
