// `reckon import`: a GGUF file or Hugging Face folder planned, its tensors mapped and permuted into our layout,
// and the control tokens added; the file formats are GGUFFile.swift's and Safetensors.swift's.

import Crypto
import Foundation
import ReckonCheckpoint
import ReckonModel

/// `reckon import`: a GGUF file or a Hugging Face folder → an fp32 Reckon checkpoint with
/// the source's BPE tokenizer plus the control tokens. docs/import.md describes the mapping.
public enum Importer {
    public static let supportedGGUFArchitectures = ["llama", "qwen2"]
    public static let supportedHFArchitectures = ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"]
    /// Appended to the vocabulary, in this order, as user-defined tokens.
    public static let controlTokens = ["<think>", "</think>", "<short>"]

    public struct Options: Sendable {
        /// Caps the context below the source's (KV caches and RoPE tables scale with it).
        public var maxContext: Int?
        public init(maxContext: Int? = nil) { self.maxContext = maxContext }
    }

    /// What a source says about the model, before any weight is read.
    struct Plan {
        var config: ModelConfig          // vocabSize is the source's rows, before the control tokens
        var naming: Naming
        /// Q/K rows are in Hugging Face's half-split RoPE order and must be interleaved (see `interleave`).
        var halfSplitRoPE: Bool
        var tokenizer: TokenizerSpec
        var ignorable: (String) -> Bool = { _ in false }
    }

    public static func load(_ path: String, options: Options = Options(),
                            progress: (String) -> Void = { _ in }) throws(ImportError) -> Checkpoint {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw .fileNotFound(path: path) }
        let name = (path as NSString).lastPathComponent
        if isDirectory.boolValue {
            let folder = try SafetensorsFolder(folder: path)
            let (plan, configText) = try huggingFacePlan(folder: path, weights: folder)
            progress("read \(folder.files.count) safetensors file(s): \(plan.config.nLayers) layers, d \(plan.config.dim)")
            var hasher = SHA256()
            for file in folder.files {
                progress("hashing \((file.path as NSString).lastPathComponent)")
                file.data.withUnsafeBytes { hasher.update(bufferPointer: $0) }
            }
            let source = ImportSource(format: "safetensors", file: name, sha256: hex(hasher.finalize()), metadata: configText)
            return try build(plan, weights: folder, source: source, options: options, progress: progress)
        }
        let file = try GGUFFile(path: path)
        let plan = try ggufPlan(file)
        progress("read GGUF v\(file.version): \(file.metadata["general.architecture"]?.string ?? "?"), \(file.tensors.count) tensors, \(plan.config.nLayers) layers, d \(plan.config.dim)")
        progress("hashing \(name) (\(file.data.count / 1_000_000) MB)")
        let digest = file.data.withUnsafeBytes { SHA256.hash(data: $0) }
        let source = ImportSource(format: "gguf", file: name, sha256: hex(digest), metadata: file.metadataJSON())
        return try build(plan, weights: file, source: source, options: options, progress: progress)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        digest.map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Plans

    static func ggufPlan(_ f: GGUFFile) throws(ImportError) -> Plan {
        let m = f.metadata
        guard let arch = m["general.architecture"]?.string else {
            throw .badMetadata(path: f.path, key: "general.architecture", reason: "missing")
        }
        guard supportedGGUFArchitectures.contains(arch) else {
            throw .unsupportedArchitecture(path: f.path, architecture: arch, supported: supportedGGUFArchitectures)
        }
        func int(_ key: String, default d: Int? = nil) throws(ImportError) -> Int {
            if let v = m["\(arch).\(key)"] {
                guard let i = v.int, i > 0 else { throw .badMetadata(path: f.path, key: "\(arch).\(key)", reason: "not a positive integer") }
                return i
            }
            guard let d else { throw .badMetadata(path: f.path, key: "\(arch).\(key)", reason: "missing") }
            return d
        }
        func real(_ key: String, default d: Double) throws(ImportError) -> Double {
            guard let v = m["\(arch).\(key)"] else { return d }
            guard let x = v.double, x > 0 else { throw .badMetadata(path: f.path, key: "\(arch).\(key)", reason: "not a positive number") }
            return x
        }
        let dim = try int("embedding_length"), heads = try int("attention.head_count")
        guard dim % heads == 0 else { throw .invalidConfig(path: f.path, reason: "embedding_length \(dim) is not divisible by head_count \(heads)") }
        let headDim = dim / heads
        for key in ["rope.dimension_count", "attention.key_length", "attention.value_length"] {
            if let v = m["\(arch).\(key)"], v.int != headDim {
                throw .unsupportedFeature(path: f.path, reason: "\(arch).\(key) = \(v.json(maxArray: 2)) differs from the head size \(headDim)")
            }
        }
        if let s = m["\(arch).rope.scaling.type"]?.string, s != "none" {
            throw .unsupportedFeature(path: f.path, reason: "RoPE scaling (\(arch).rope.scaling.type = \(s))")
        }
        guard let embd = f.tensor(named: "token_embd.weight") else { throw .missingTensor(path: f.path, tensor: "token_embd.weight") }
        var context = try int("context_length")
        if let w = m["\(arch).attention.sliding_window"]?.int, w < context { context = w }
        let config = ModelConfig(
            dim: dim, nLayers: try int("block_count"), nHeads: heads, nKVHeads: try int("attention.head_count_kv", default: heads),
            hiddenDim: try int("feed_forward_length"), vocabSize: embd.shape[0], maxSeqLen: context,
            tiedEmbeddings: f.tensor(named: "output.weight") == nil,
            ropeTheta: Float(try real("rope.freq_base", default: 10000)),
            normEps: Float(try real("attention.layer_norm_rms_epsilon", default: 1e-5)),
            qkvBias: f.tensor(named: "blk.0.attn_q.bias") != nil)
        if let v = m["\(arch).vocab_size"]?.int, v != embd.shape[0] {
            throw .shapeMismatch(path: f.path, tensor: "token_embd.weight", found: embd.shape, expected: [v, dim])
        }
        // llama.cpp's converter stores Llama's Q/K rows interleaved (its rope type NORM, ours);
        // Qwen2 keeps Hugging Face's half-split order (NEOX), so its rows are interleaved here.
        return Plan(config: config, naming: .gguf, halfSplitRoPE: arch != "llama", tokenizer: try TokenizerImport.gguf(f))
    }

    static func huggingFacePlan(folder: String, weights: SafetensorsFolder) throws(ImportError) -> (Plan, String) {
        let path = (folder as NSString).appendingPathComponent("config.json")
        guard let data = FileManager.default.contents(atPath: path) else { throw .fileNotFound(path: path) }
        guard let c = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw .malformed(path: path, reason: "not a JSON object")
        }
        let arch = (c["architectures"] as? [String])?.first ?? (c["model_type"] as? String ?? "(none)")
        guard supportedHFArchitectures.contains(arch) else {
            throw .unsupportedArchitecture(path: path, architecture: arch, supported: supportedHFArchitectures)
        }
        func int(_ key: String, default d: Int? = nil) throws(ImportError) -> Int {
            if let v = c[key] as? Int {
                guard v > 0 else { throw .invalidConfig(path: path, reason: "\(key) = \(v) is not positive") }
                return v
            }
            guard let d else { throw .invalidConfig(path: path, reason: "\(key) is missing") }
            return d
        }
        let dim = try int("hidden_size"), heads = try int("num_attention_heads")
        if let hd = c["head_dim"] as? Int, hd * heads != dim {
            throw .unsupportedFeature(path: path, reason: "head_dim \(hd) × \(heads) heads differs from hidden_size \(dim)")
        }
        if let act = c["hidden_act"] as? String, act != "silu" {
            throw .unsupportedFeature(path: path, reason: "hidden_act \(act) (only silu, SwiGLU)")
        }
        // transformers ≥ 5 writes RoPE settings under rope_parameters, earlier versions at the top level.
        let rope = c["rope_parameters"] as? [String: Any]
        for r in [c["rope_scaling"], rope as Any?] {
            guard let r, !(r is NSNull) else { continue }
            let type = ((r as? [String: Any])?["rope_type"] ?? (r as? [String: Any])?["type"]) as? String
            if type != "default" { throw .unsupportedFeature(path: path, reason: "RoPE scaling of type \(type ?? "?")") }
        }
        let theta = (c["rope_theta"] as? Double) ?? (rope?["rope_theta"] as? Double) ?? 10000
        if c["mlp_bias"] as? Bool == true { throw .unsupportedFeature(path: path, reason: "mlp_bias") }
        var context = try int("max_position_embeddings")
        let slidingOn = arch == "Qwen2ForCausalLM" ? (c["use_sliding_window"] as? Bool ?? false) : true
        if slidingOn, let w = c["sliding_window"] as? Int, w < context { context = w }
        let embedName = "model.embed_tokens.weight"
        guard let embed = weights.shape(of: embedName), embed.count == 2 else { throw .missingTensor(path: folder, tensor: embedName) }
        if let v = c["vocab_size"] as? Int, v != embed[0] {
            throw .shapeMismatch(path: folder, tensor: embedName, found: embed, expected: [v, dim])
        }
        let tied = weights.shape(of: "lm_head.weight") == nil || (c["tie_word_embeddings"] as? Bool ?? false)
        let config = ModelConfig(
            dim: dim, nLayers: try int("num_hidden_layers"), nHeads: heads,
            nKVHeads: try int("num_key_value_heads", default: heads), hiddenDim: try int("intermediate_size"),
            vocabSize: embed[0], maxSeqLen: context, tiedEmbeddings: tied,
            ropeTheta: Float(theta),
            normEps: Float((c["rms_norm_eps"] as? Double) ?? 1e-6),
            qkvBias: weights.shape(of: "model.layers.0.self_attn.q_proj.bias") != nil)
        var plan = Plan(config: config, naming: .huggingFace, halfSplitRoPE: true,
                        tokenizer: try TokenizerImport.huggingFace(folder: folder))
        plan.ignorable = { name in name.hasSuffix("rotary_emb.inv_freq") || (tied && name == "lm_head.weight") }
        return (plan, String(decoding: data, as: UTF8.self))
    }

    // MARK: Weights

    /// Source tensor names for our layout's tensors.
    enum Naming {
        case gguf, huggingFace

        func name(_ ours: String, layer l: Int) -> String {
            switch self {
            case .gguf:
                let block = ["attention_norm": "attn_norm.weight", "wq": "attn_q.weight", "wk": "attn_k.weight",
                             "wv": "attn_v.weight", "wo": "attn_output.weight", "ffn_norm": "ffn_norm.weight",
                             "w1": "ffn_gate.weight", "w2": "ffn_down.weight", "w3": "ffn_up.weight",
                             "bq": "attn_q.bias", "bk": "attn_k.bias", "bv": "attn_v.bias"]
                let global = ["tok_embeddings": "token_embd.weight", "norm": "output_norm.weight", "wcls": "output.weight"]
                return global[ours] ?? "blk.\(l).\(block[ours] ?? ours)"
            case .huggingFace:
                let block = ["attention_norm": "input_layernorm.weight", "wq": "self_attn.q_proj.weight",
                             "wk": "self_attn.k_proj.weight", "wv": "self_attn.v_proj.weight", "wo": "self_attn.o_proj.weight",
                             "ffn_norm": "post_attention_layernorm.weight", "w1": "mlp.gate_proj.weight",
                             "w2": "mlp.down_proj.weight", "w3": "mlp.up_proj.weight",
                             "bq": "self_attn.q_proj.bias", "bk": "self_attn.k_proj.bias", "bv": "self_attn.v_proj.bias"]
                let global = ["tok_embeddings": "model.embed_tokens.weight", "norm": "model.norm.weight", "wcls": "lm_head.weight"]
                return global[ours] ?? "model.layers.\(l).\(block[ours] ?? ours)"
            }
        }
    }

    static let perLayer: Set<String> = ["attention_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3", "bq", "bk", "bv"]

    static func build(_ plan: Plan, weights: WeightSource, source: ImportSource, options: Options,
                      progress: (String) -> Void) throws(ImportError) -> Checkpoint {
        let src = plan.config, V = src.vocabSize, d = src.dim
        // A re-import of our own export already has the control tokens: keep their rows.
        let added = controlTokens.allSatisfy(plan.tokenizer.tokens.contains) ? [] : controlTokens
        var config = src
        config.vocabSize = V + added.count
        if let cap = options.maxContext { config.maxSeqLen = min(config.maxSeqLen, cap) }
        if config.maxSeqLen > 1 << 16 {
            progress("context \(config.maxSeqLen) capped at 65536")
            config.maxSeqLen = 1 << 16
        }
        do { try config.validate() } catch { throw .invalidConfig(path: weights.path, reason: error.description) }

        var tokenizer = plan.tokenizer
        guard tokenizer.tokens.count <= V else {
            throw .shapeMismatch(path: weights.path, tensor: plan.naming.name("tok_embeddings", layer: 0),
                                 found: [V, d], expected: [tokenizer.tokens.count, d])
        }
        // Embedding rows past the tokenizer (padding to a round size) get unused placeholder names.
        for i in tokenizer.tokens.count..<V {
            tokenizer.tokens.append("<|reckon_unused_\(i)|>")
            tokenizer.tokenTypes.append(5)
        }
        tokenizer.tokens += added
        tokenizer.tokenTypes += added.map { _ in TokenizerSpec.userDefined }

        let layout = ParameterLayout(config)
        var params = [Float](repeating: 0, count: layout.count)
        var used = Set<String>()
        func load(_ name: String, _ expected: [Int]) throws(ImportError) -> [Float] {
            guard let shape = weights.shape(of: name) else { throw .missingTensor(path: weights.path, tensor: name) }
            // GGUF stores 1-D norms as [d]; both sources store matrices (out, in).
            guard shape == expected else { throw .shapeMismatch(path: weights.path, tensor: name, found: shape, expected: expected) }
            used.insert(name)
            return try weights.floats(name)
        }
        for (k, t) in layout.tensors.enumerated() {
            progress("[\(k + 1)/\(layout.tensors.count)] \(t.name) \(t.shape)")
            if perLayer.contains(t.name) {
                let shape = Array(t.shape.dropFirst()), size = shape.reduce(1, *)
                for l in 0..<config.nLayers {
                    var w = try load(plan.naming.name(t.name, layer: l), shape)
                    if plan.halfSplitRoPE, ["wq", "wk", "bq", "bk"].contains(t.name) {
                        let heads = t.name.hasSuffix("q") ? config.nHeads : config.nKVHeads
                        w = interleave(w, heads: heads, headDim: config.headDim)
                    }
                    params.replaceSubrange((t.offset + l * size)..<(t.offset + (l + 1) * size), with: w)
                }
            } else if t.name == "norm" {
                params.replaceSubrange(t.range, with: try load(plan.naming.name("norm", layer: 0), [d]))
            } else {
                // tok_embeddings or wcls: the source's V rows, then one row per control token.
                let w = try load(plan.naming.name(t.name, layer: 0), [V, d])
                params.replaceSubrange(t.offset..<(t.offset + V * d), with: w)
                let mean = meanRow(w, rows: V, dim: d)
                for i in 0..<added.count {
                    params.replaceSubrange((t.offset + (V + i) * d)..<(t.offset + (V + i + 1) * d), with: mean)
                }
            }
        }
        for name in weights.names where !used.contains(name) && !plan.ignorable(name) {
            if name == "rope_freqs.weight" {
                throw .unsupportedFeature(path: weights.path, reason: "RoPE frequency factors (rope_freqs.weight, Llama 3.1 scaling)")
            }
            throw .unexpectedTensor(path: weights.path, tensor: name)
        }
        return Checkpoint(config: config, params: params, tokenizer: tokenizer, source: source)
    }

    /// The control tokens' rows start as the mean of the source's rows: every row alike, so
    /// the first-token choice between `<think>` and `<short>` starts at even odds, and at the
    /// scale of a typical token, so each new token's logit is an average one rather than
    /// dominating or vanishing before training. With tied embeddings one row serves both.
    static func meanRow(_ w: [Float], rows: Int, dim: Int) -> [Float] {
        var sum = [Double](repeating: 0, count: dim)
        for r in 0..<rows { for j in 0..<dim { sum[j] += Double(w[r * dim + j]) } }
        return sum.map { Float($0 / Double(rows)) }
    }

    /// Hugging Face applies RoPE to halves (dims i and i + hd/2 form a pair); our kernel, like
    /// llama.cpp's for Llama, rotates adjacent pairs (2i, 2i + 1). Reordering each head's rows
    /// of W_q and W_k (and their biases) so row 2i + j takes source row j·hd/2 + i makes the
    /// two agree; q·k is unchanged because q and k are permuted alike. This is the permutation
    /// llama.cpp's converter applies to Llama's Q/K.
    static func interleave(_ w: [Float], heads: Int, headDim: Int) -> [Float] {
        let cols = w.count / (heads * headDim), half = headDim / 2
        var out = w
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let to = (h * headDim + 2 * i + j) * cols, from = (h * headDim + j * half + i) * cols
                    out.replaceSubrange(to..<(to + cols), with: w[from..<(from + cols)])
                }
            }
        }
        return out
    }
}
