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

    /// From a Hugging Face folder: tokenizer.json's BPE model and added tokens, and
    /// tokenizer_config.json's chat template, bos/eos and add_bos_token.
    static func huggingFace(folder: String) throws(ImportError) -> TokenizerSpec {
        let path = (folder as NSString).appendingPathComponent("tokenizer.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw .missingTokenizer(path: folder, reason: "tokenizer.json is missing")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = json["model"] as? [String: Any] else {
            throw .malformed(path: path, reason: "not a JSON object with a \"model\"")
        }
        guard model["type"] as? String == "BPE", let vocab = model["vocab"] as? [String: Int] else {
            throw .unsupportedTokenizer(path: path, reason: "model.type is \(model["type"] ?? "absent"); only byte-level BPE is supported")
        }
        let added = (json["added_tokens"] as? [[String: Any]]) ?? []
        let size = max((vocab.values.max() ?? -1), added.compactMap { $0["id"] as? Int }.max() ?? -1) + 1
        guard size > 0, size <= 1 << 22, vocab.values.allSatisfy({ $0 >= 0 }) else {
            throw .malformed(path: path, reason: "token ids outside 0..<\(1 << 22)")
        }
        var tokens = [String](repeating: "", count: size)
        var types = [Int32](repeating: 5, count: size)   // unused until named
        for (text, i) in vocab { tokens[i] = text; types[i] = TokenizerSpec.normal }
        for a in added {
            guard let i = a["id"] as? Int, i >= 0, let text = a["content"] as? String else { continue }
            tokens[i] = text
            types[i] = (a["special"] as? Bool ?? false) ? TokenizerSpec.control : TokenizerSpec.userDefined
        }
        let merges: [String] = ((model["merges"] as? [Any]) ?? []).compactMap { m in
            if let s = m as? String { return s }
            if let pair = m as? [String], pair.count == 2 { return pair[0] + " " + pair[1] }
            return nil
        }
        var spec = TokenizerSpec(pre: preTokenizerName(json["pre_tokenizer"]), tokens: tokens, merges: merges, tokenTypes: types)
        let configPath = (folder as NSString).appendingPathComponent("tokenizer_config.json")
        if let cdata = FileManager.default.contents(atPath: configPath),
           let config = try? JSONSerialization.jsonObject(with: cdata) as? [String: Any] {
            func tokenID(_ key: String) -> Int32? {
                let text = (config[key] as? String) ?? ((config[key] as? [String: Any])?["content"] as? String)
                return text.flatMap { t in tokens.firstIndex(of: t).map { Int32($0) } }
            }
            spec.bos = tokenID("bos_token")
            spec.eos = tokenID("eos_token")
            spec.addBos = config["add_bos_token"] as? Bool ?? false
            spec.chatTemplate = config["chat_template"] as? String
        }
        return spec
    }

    /// GGUF's `pre` name of a tokenizer.json pre-tokenizer, recognised by its digit rule:
    /// SmolLM splits digits one by one, Llama 3 in runs of up to three, Qwen2 one by one
    /// inside its own regex, GPT-2 not at all.
    static func preTokenizerName(_ pre: Any?) -> String {
        let text = pre.flatMap { try? JSONSerialization.data(withJSONObject: $0) }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        if text.contains("\"Digits\"") { return "smollm" }
        if text.contains("\\\\p{N}{1,3}") || text.contains("\\p{N}{1,3}") { return "llama-bpe" }
        if text.contains("\\\\p{N}|") || text.contains("\\p{N}|") { return "qwen2" }
        return "gpt2"
    }
}
