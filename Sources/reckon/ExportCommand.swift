import ArgumentParser
import Foundation
import ReckonCheckpoint

/// `reckon export --format llama2c CKPT OUT.bin --tokenizer TOK.bin`: peer formats for other runtimes.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a checkpoint's model to another runtime's format.",
        discussion: """
        llama2c: llama2.c's version-0 .bin (run.c reads it) plus its tokenizer file. Our <bos> (257) and byte \
        0x01 (id 1) swap ids, because run.c uses id 1 as BOS; see docs/checkpoint.md. Models whose RMSNorm eps \
        or RoPE theta differ from run.c's constants (1e-5, 10000) are refused.
        Example: reckon export --format llama2c checkpoints/run/step-001000.h5 model.bin --tokenizer tokenizer.bin
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case llama2c
    }

    @Option(help: "Output format: \(Format.allCases.map(\.rawValue).joined(separator: ", ")).") var format: Format
    @Argument(help: "Checkpoint file (.h5).") var checkpoint: String
    @Argument(help: "Model file to write.") var output: String
    @Option(help: "Tokenizer file to write.") var tokenizer: String

    func run() throws {
        let ckpt = try Checkpoint.load(from: checkpoint)
        try Llama2cExport.export(ckpt, model: output, tokenizer: tokenizer)
        let c = ckpt.config
        let size = (try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? -1
        let expected = Llama2cExport.expectedSize(
            dim: c.dim, hiddenDim: c.hiddenDim, nLayers: c.nLayers, nHeads: c.nHeads, nKVHeads: c.nKVHeads,
            vocabSize: c.tiedEmbeddings ? c.vocabSize : -c.vocabSize, maxSeqLen: c.maxSeqLen)
        guard size == expected else {
            throw CheckpointError.io(path: output, operation: "verify the export", message: "file has \(size) bytes, its header implies \(expected)")
        }
        let tokenizerSize = (try FileManager.default.attributesOfItem(atPath: tokenizer)[.size] as? Int) ?? -1
        print("wrote \(output): llama2.c v0, \(size) bytes (as its header implies), \(ckpt.params.count) parameters, "
              + "\(c.tiedEmbeddings ? "shared" : "separate") classifier")
        print("wrote \(tokenizer): \(c.vocabSize) tokens, \(tokenizerSize) bytes; BOS = 1 is our <bos>, id \(Llama2cExport.llamaID(Llama2cExport.llamaBOS)) is byte 0x01")
    }
}
