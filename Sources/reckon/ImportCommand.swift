// `reckon import`: its flags, progress lines and the saved checkpoint; the conversion is ReckonImport/Importer.swift's.

import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonImport

/// `reckon import SRC OUT.h5`: a GGUF file or Hugging Face folder → an fp32 Reckon checkpoint.
struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a pretrained model (GGUF file or Hugging Face safetensors folder) as a Reckon checkpoint.",
        discussion: """
        GGUF v2/v3 with tensors in F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K or Q6_K, or a folder with \
        config.json, model.safetensors (or shards and model.safetensors.index.json), tokenizer.json and \
        tokenizer_config.json. Architectures: Llama family (GGUF llama; LlamaForCausalLM, MistralForCausalLM) and \
        Qwen2. Weights are dequantised to float32; <think>, </think> and <short> are appended to the vocabulary. \
        The source's name, SHA-256 and metadata are recorded under /source. See docs/import.md.
        Example: tools/fetch_base.sh && reckon import checkpoints/base/SmolLM2-135M-Instruct.Q4_1.gguf checkpoints/base/smollm2-135m.h5
        """)

    @Argument(help: "A .gguf file, or a Hugging Face model folder.") var source: String
    @Argument(help: "Checkpoint file to write (.h5).") var output: String
    @Option(help: "Cap the context length below the source's.") var context: Int?

    func validate() throws {
        if let context, context < 1 { throw ValidationError("--context must be at least 1, got \(context)") }
    }

    func run() throws {
        let start = Date()
        let log = FileHandle.standardError
        let checkpoint = try Importer.load(source, options: .init(maxContext: context)) { line in
            log.write(Data("import: \(line)\n".utf8))
        }
        log.write(Data("import: writing \(output)\n".utf8))
        try checkpoint.save(to: output)
        let c = checkpoint.config
        print("wrote \(output): \(c.nLayers) layers, d \(c.dim), \(c.nHeads)/\(c.nKVHeads) heads, FFN \(c.hiddenDim), "
              + "vocab \(c.vocabSize) (control tokens at \(c.vocabSize - 3)...\(c.vocabSize - 1)), context \(c.maxSeqLen), "
              + "\(checkpoint.params.count) parameters, \(c.tiedEmbeddings ? "tied" : "separate") classifier"
              + (c.qkvBias ? ", q/k/v biases" : "") + String(format: " in %.1f s", Date().timeIntervalSince(start)))
        if let s = checkpoint.source { print("source: \(s.format) \(s.file) sha256 \(s.sha256)") }
    }
}
