// A `TokenizerSpec` from GGUF metadata or a Hugging Face folder; not the encoder (ReckonModel/BPETokenizer.swift).

import Foundation
import ReckonModel

/// Builds a `TokenizerSpec` from a source's tokenizer description.
enum TokenizerImport {
    /// From GGUF metadata (`tokenizer.ggml.*`, `tokenizer.chat_template`).
    static func gguf(_ f: GGUFFile) throws(ImportError) -> TokenizerSpec {
        let m = f.metadata
        guard let model = m["tokenizer.ggml.model"]?.string else {
            throw .missingTokenizer(path: f.path, reason: "the metadata has no tokenizer.ggml.model")
        }
        guard model == "gpt2" else {
            let what = model == "llama" ? "a SentencePiece model (tokenizer.ggml.model = llama)" : "tokenizer.ggml.model = \(model)"
            throw .unsupportedTokenizer(path: f.path, reason: "\(what); only byte-level BPE (gpt2) is supported")
        }
        guard let tokens = m["tokenizer.ggml.tokens"]?.array?.compactMap(\.string), !tokens.isEmpty else {
            throw .missingTokenizer(path: f.path, reason: "tokenizer.ggml.tokens is missing or not a string array")
        }
        guard let merges = m["tokenizer.ggml.merges"]?.array?.compactMap(\.string) else {
            throw .missingTokenizer(path: f.path, reason: "tokenizer.ggml.merges is missing (a BPE tokenizer needs its merges)")
        }
        var types = [Int32](repeating: TokenizerSpec.normal, count: tokens.count)
        if let t = m["tokenizer.ggml.token_type"]?.array {
            guard t.count == tokens.count else {
                throw .badMetadata(path: f.path, key: "tokenizer.ggml.token_type", reason: "\(t.count) types for \(tokens.count) tokens")
            }
            types = t.map { Int32(truncatingIfNeeded: $0.int ?? 1) }
        }
        func id(_ key: String) throws(ImportError) -> Int32? {
            guard let v = m[key] else { return nil }
            guard let i = v.int, i >= 0, i < tokens.count else {
                throw .badMetadata(path: f.path, key: key, reason: "not a token id below \(tokens.count)")
            }
            return Int32(i)
        }
        var pre = m["tokenizer.ggml.pre"]?.string ?? "gpt2"
        if pre == "default" { pre = "gpt2" }
        return TokenizerSpec(pre: pre, tokens: tokens, merges: merges, tokenTypes: types,
                             bos: try id("tokenizer.ggml.bos_token_id"), eos: try id("tokenizer.ggml.eos_token_id"),
                             addBos: m["tokenizer.ggml.add_bos_token"]?.bool ?? false,
                             chatTemplate: m["tokenizer.chat_template"]?.string)
    }

    /// From a Hugging Face folder: tokenizer.json, with tokenizer_config.json's chat template and
    /// bos/eos, parsed by `TokenizerSpec.fromHuggingFace` (docs/tokenizer.md).
    static func huggingFace(folder: String) throws(ImportError) -> TokenizerSpec {
        let path = (folder as NSString).appendingPathComponent("tokenizer.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .missingTokenizer(path: folder, reason: "tokenizer.json is missing")
        }
        let config = FileManager.default.contents(atPath: (folder as NSString).appendingPathComponent("tokenizer_config.json"))
        do { return try TokenizerSpec.fromHuggingFace(tokenizerJSON: data, config: config) } catch {
            throw .unsupportedTokenizer(path: path, reason: error.description)
        }
    }
}
