// `reckon export --format gguf`: a BPE checkpoint's tensors and tokenizer metadata laid out as a llama.cpp GGUF;
// the bytes are GGUFWriter.swift's.

import Foundation
import ReckonCheckpoint
import ReckonModel

/// `reckon export --format gguf`: a checkpoint with a BPE tokenizer as a llama.cpp GGUF
/// (architecture `llama`). Our Q/K rows are already in llama.cpp's interleaved RoPE order, so
/// matrices are written as they are; q/k/v biases, when present, go to llama.cpp's optional
/// `attn_{q,k,v}.bias`. Norms stay F32 (llama.cpp needs 1-D tensors in F32); matrices are F32
/// or F16. The tokenizer, its added control tokens and the chat template go in the metadata.
public enum GGUFExport {
    public enum Precision: String, Sendable, CaseIterable {
        case f32, f16
        var type: GGMLType { self == .f32 ? .f32 : .f16 }
        /// llama.cpp's general.file_type: ALL_F32 = 0, MOSTLY_F16 = 1.
        var fileType: UInt32 { self == .f32 ? 0 : 1 }
    }

    public static func writer(_ c: Checkpoint, precision: Precision, name: String) throws(ImportError) -> GGUFWriter {
        guard let tok = c.tokenizer else {
            throw .unsupportedTokenizer(path: name, reason: "GGUF export needs a BPE tokenizer; byte-level models export to llama2c")
        }
        let cfg = c.config, layout = ParameterLayout(cfg)
        guard tok.tokens.count == cfg.vocabSize else {
            throw .invalidConfig(path: name, reason: "the tokenizer has \(tok.tokens.count) tokens for \(cfg.vocabSize) embedding rows")
        }
        var w = GGUFWriter()
        let a = "llama"
        w.add("general.architecture", .string(a))
        w.add("general.name", .string(name))
        w.add("general.file_type", .uint32(precision.fileType))
        if let s = c.source {
            w.add("general.source.file", .string(s.file))
            w.add("general.source.sha256", .string(s.sha256))
        }
        w.add("\(a).block_count", .uint32(UInt32(cfg.nLayers)))
        w.add("\(a).context_length", .uint32(UInt32(cfg.maxSeqLen)))
        w.add("\(a).embedding_length", .uint32(UInt32(cfg.dim)))
        w.add("\(a).feed_forward_length", .uint32(UInt32(cfg.hiddenDim)))
        w.add("\(a).attention.head_count", .uint32(UInt32(cfg.nHeads)))
        w.add("\(a).attention.head_count_kv", .uint32(UInt32(cfg.nKVHeads)))
        w.add("\(a).rope.freq_base", .float32(cfg.ropeTheta))
        w.add("\(a).rope.dimension_count", .uint32(UInt32(cfg.headDim)))
        w.add("\(a).attention.layer_norm_rms_epsilon", .float32(cfg.normEps))
        w.add("\(a).vocab_size", .uint32(UInt32(cfg.vocabSize)))
        w.add("tokenizer.ggml.model", .string("gpt2"))
        w.add("tokenizer.ggml.pre", .string(tok.pre))
        w.add("tokenizer.ggml.tokens", .array(tok.tokens.map { .string($0) }))
        w.add("tokenizer.ggml.token_type", .array(tok.tokenTypes.map { .int32($0) }))
        w.add("tokenizer.ggml.merges", .array(tok.merges.map { .string($0) }))
        if let b = tok.bos { w.add("tokenizer.ggml.bos_token_id", .uint32(UInt32(b))) }
        if let e = tok.eos { w.add("tokenizer.ggml.eos_token_id", .uint32(UInt32(e))) }
        w.add("tokenizer.ggml.add_bos_token", .bool(tok.addBos))
        if let t = tok.chatTemplate { w.add("tokenizer.chat_template", .string(t)) }
        let control = Importer.controlTokens.compactMap { name in tok.tokens.lastIndex(of: name) }
        w.add("reckon.control_token_ids", .array(control.map { .uint32(UInt32($0)) }))

        func add(_ name: String, _ values: ArraySlice<Float>, _ shape: [Int]) {
            w.add(name, floats: Array(values), shape: shape, as: shape.count == 1 ? .f32 : precision.type)
        }
        func view(_ t: TensorSpec, layer l: Int) -> ArraySlice<Float> {
            let size = t.count / cfg.nLayers
            return c.params[(t.offset + l * size)..<(t.offset + (l + 1) * size)]
        }
        let names = ["attention_norm": "attn_norm.weight", "wq": "attn_q.weight", "wk": "attn_k.weight", "wv": "attn_v.weight",
                     "wo": "attn_output.weight", "ffn_norm": "ffn_norm.weight", "w1": "ffn_gate.weight",
                     "w2": "ffn_down.weight", "w3": "ffn_up.weight", "bq": "attn_q.bias", "bk": "attn_k.bias", "bv": "attn_v.bias"]
        let tokEmbed = layout.tensor(named: "tok_embeddings")!
        add("token_embd.weight", c.params[tokEmbed.range], tokEmbed.shape)
        add("output_norm.weight", c.params[layout.tensor(named: "norm")!.range], [cfg.dim])
        if let wcls = layout.tensor(named: "wcls") { add("output.weight", c.params[wcls.range], wcls.shape) }
        for l in 0..<cfg.nLayers {
            for t in layout.tensors {
                guard let n = names[t.name] else { continue }
                add("blk.\(l).\(n)", view(t, layer: l), Array(t.shape.dropFirst()))
            }
        }
        return w
    }
}
