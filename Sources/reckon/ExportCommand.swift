// `reckon export`: its flags and the choice of format; the formats are ReckonCheckpoint/Llama2cExport.swift's
// and ReckonImport/GGUFExport.swift's.

import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonImport

/// `reckon export --format llama2c CKPT OUT.bin --tokenizer TOK.bin` and
/// `reckon export --format gguf [--type f32|f16] CKPT OUT.gguf`: peer formats for other runtimes;
/// `reckon export --merge --format hdf5|gguf ADAPTER.h5 OUT`: a LoRA adapter folded into its base.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a checkpoint's model to another runtime's format.",
        discussion: """
        llama2c: llama2.c's version-0 .bin (run.c reads it) plus its tokenizer file. Our <bos> (257) and byte \
        0x01 (id 1) swap ids, because run.c uses id 1 as BOS; see docs/checkpoint.md. Models whose RMSNorm eps \
        or RoPE theta differ from run.c's constants (1e-5, 10000) are refused.
        gguf: llama.cpp's GGUF (architecture llama), matrices in F32 or F16 (--type), norms in F32, with the BPE \
        tokenizer, the added control tokens and the chat template in its metadata; for imported models (docs/import.md).
        Example: reckon export --format llama2c checkpoints/run/step-001000.h5 model.bin --tokenizer tokenizer.bin
        hdf5: a full Reckon checkpoint (model, tokenizer, source; no optimizer).
        --merge: the checkpoint is a LoRA adapter; its base is found (the path stored in it, or --base) and checked \
        by weights SHA-256, and W + (α/r)·B·A with the trained control rows is written as one full model \
        (docs/checkpoint.md, "Adapter checkpoints").
        Example: reckon export --format gguf --type f16 checkpoints/base/smollm2-135m.h5 smollm2-f16.gguf
        Example: reckon export --merge --format hdf5 checkpoints/smollm2-selfroute.h5 smollm2-selfroute-full.h5
        adapter: a LoRA adapter copied to OUT without its optimizer, its base (the stored path or --base, checked) \
        recorded relative to OUT, so the copy finds it from its new folder.
        Example: reckon export --format adapter runs/smollm2-selfroute/model.h5 checkpoints/smollm2-selfroute.h5
        """)

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case llama2c, gguf, hdf5, adapter
    }

    @Option(help: "Output format: \(Format.allCases.map(\.rawValue).joined(separator: ", ")).") var format: Format
    @Argument(help: "Checkpoint file (.h5).") var checkpoint: String
    @Argument(help: "Model file to write.") var output: String
    @Option(help: "Tokenizer file to write (llama2c).") var tokenizer: String?
    @Option(help: "Matrix precision for gguf: f32 or f16.") var type: String = "f32"
    @Flag(help: "The checkpoint is a LoRA adapter: merge it into its base first.") var merge = false
    @Option(help: "With --merge or --format adapter: the adapter's base checkpoint, instead of the path the adapter stores.") var base: String?

    func validate() throws {
        if format == .llama2c && tokenizer == nil { throw ValidationError("--format llama2c needs --tokenizer FILE") }
        if format == .gguf && GGUFExport.Precision(rawValue: type) == nil { throw ValidationError("--type must be f32 or f16, got \(type)") }
    }

    func run() throws {
        if format == .adapter { return try copyAdapter() }
        if !merge, AdapterCheckpoint.isAdapter(checkpoint) {
            throw ValidationError("\(checkpoint) is a LoRA adapter: pass --merge to fold it into its base")
        }
        let ckpt = merge ? try ModelFile.load(checkpoint, base: base) : try Checkpoint.load(from: checkpoint)
        if format == .hdf5 {
            try ckpt.save(to: output)
            let size = (try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? -1
            print("wrote \(output): full checkpoint, \(ckpt.params.count) parameters, \(size) bytes" + (merge ? " (adapter merged into its base)" : ""))
            return
        }
        if format == .gguf {
            let precision = GGUFExport.Precision(rawValue: type) ?? .f32
            let name = (checkpoint as NSString).lastPathComponent
            try GGUFExport.writer(ckpt, precision: precision, name: name).write(to: output)
            let file = try GGUFFile(path: output)   // read back: the file must parse as what was meant
            let size = (try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? -1
            print("wrote \(output): GGUF v\(file.version), llama, \(file.tensors.count) tensors (\(type.uppercased()) matrices, F32 norms), "
                  + "\(ckpt.config.vocabSize) tokens, \(size) bytes")
            return
        }
        guard let tokenizer else { throw ValidationError("--format llama2c needs --tokenizer FILE") }
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

extension ExportCommand {
    /// `--format adapter`: the adapter, model only, pointing at its checked base from `output`'s folder.
    func copyAdapter() throws {
        guard !merge else { throw ValidationError("--format adapter copies an adapter as it is; drop --merge") }
        guard AdapterCheckpoint.isAdapter(checkpoint) else {
            throw ValidationError("\(checkpoint) is a full checkpoint, not a LoRA adapter: use --format hdf5")
        }
        var adapter = try AdapterCheckpoint.load(from: checkpoint)
        let (_, basePath) = try adapter.loadBase(adapterPath: checkpoint, override: base)
        adapter.base.path = basePath
        adapter.base = adapter.base.relative(to: output)
        adapter.optimizer = nil
        try adapter.save(to: output)
        let size = (try FileManager.default.attributesOfItem(atPath: output)[.size] as? Int) ?? -1
        print("wrote \(output): LoRA adapter, \(adapter.params.count) parameters, \(size) bytes; base \(adapter.base.path) (weights SHA-256 \(adapter.base.sha256.prefix(12))…)")
    }
}
