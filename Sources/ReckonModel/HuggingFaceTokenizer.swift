// Hugging Face `tokenizer.json` and `tokenizer_config.json` into a `TokenizerSpec`; encoding is BPETokenizer.swift's.

import Foundation

/// Reads Hugging Face's `tokenizer.json` (and `tokenizer_config.json` for the chat template
/// and BOS/EOS) into a `TokenizerSpec`. Only byte-level BPE is accepted; the pre-tokenizer is
/// recognised from its JSON and named as GGUF names it (docs/tokenizer.md).
extension TokenizerSpec {
    public static func fromHuggingFace(tokenizerJSON: Data, config: Data? = nil, chatTemplate: String? = nil) throws(TokenizerError) -> TokenizerSpec {
        let root = try object(tokenizerJSON, "tokenizer.json")
        guard let model = root["model"] as? [String: Any] else { throw .invalidJSON("no \"model\" object") }
        let type = model["type"] as? String ?? "BPE"
        guard type == "BPE" else { throw .unsupportedModel("tokenizer.json model \(type); only byte-level BPE is supported") }
        if model["byte_fallback"] as? Bool == true {
            throw .unsupportedModel("a SentencePiece-style BPE (byte_fallback) is not supported; only byte-level BPE is")
        }
        guard let vocab = model["vocab"] as? [String: Any] else { throw .invalidJSON("model.vocab is not an object") }

        var byId: [Int: String] = [:]
        var types: [Int: Int32] = [:]
        for (text, v) in vocab {
            guard let id = (v as? NSNumber)?.intValue, id >= 0 else { throw .invalidJSON("vocab entry \"\(text)\" has no id") }
            byId[id] = text
        }
        for case let t as [String: Any] in root["added_tokens"] as? [Any] ?? [] {
            guard let id = (t["id"] as? NSNumber)?.intValue, id >= 0, let content = t["content"] as? String else {
                throw .invalidJSON("an added token lacks id or content")
            }
            byId[id] = content
            types[id] = (t["special"] as? Bool ?? false) ? TokenizerSpec.control : TokenizerSpec.userDefined
        }
        let n = (byId.keys.max() ?? -1) + 1
        var tokens: [String] = []
        tokens.reserveCapacity(n)
        for id in 0..<n {
            guard let text = byId[id] else { throw .invalidJSON("token id \(id) is missing (ids must be 0..<\(n))") }
            tokens.append(text)
        }

        var merges: [String] = []
        for case let m in model["merges"] as? [Any] ?? [] {
            if let s = m as? String { merges.append(s) }
            else if let pair = m as? [String], pair.count == 2 { merges.append(pair[0] + " " + pair[1]) }
            else { throw .invalidJSON("merge \(merges.count) is neither \"a b\" nor [a, b]") }
        }

        let pre = try preTokenizerName(root["pre_tokenizer"])
        // Qwen2's NFC normalizer is accepted and, as in llama.cpp, not applied: it changes only
        // text that is not already in NFC. Any other normalizer would change ordinary text.
        if let norm = root["normalizer"] as? [String: Any], norm["type"] as? String != "NFC" {
            throw .unsupportedModel("normalizer \(norm["type"] as? String ?? "?") is not supported")
        }

        var spec = TokenizerSpec(pre: pre, tokens: tokens, merges: merges,
                                 tokenTypes: (0..<n).map { types[$0] ?? TokenizerSpec.normal })
        // A post-processor that prepends a special token is how tokenizer.json says "add BOS".
        if let first = firstTemplateToken(root["post_processor"]), let id = tokens.firstIndex(of: first) {
            spec.addBos = true
            spec.bos = Int32(id)
        }
        if let config {
            let c = try object(config, "tokenizer_config.json")
            func id(_ key: String) -> Int32? {
                let v = c[key]
                let name = (v as? String) ?? ((v as? [String: Any])?["content"] as? String)
                return name.flatMap { tokens.firstIndex(of: $0) }.map { Int32($0) }
            }
            if let b = id("bos_token") { spec.bos = b }
            if let e = id("eos_token") { spec.eos = e }
            if let add = c["add_bos_token"] as? Bool { spec.addBos = add }
            if let t = c["chat_template"] as? String {
                spec.chatTemplate = t
            } else if let named = c["chat_template"] as? [[String: Any]] {
                spec.chatTemplate = named.first { $0["name"] as? String == "default" }?["template"] as? String
            }
        }
        if let chatTemplate { spec.chatTemplate = chatTemplate }
        return spec
    }

    private static func object(_ data: Data, _ what: String) throws(TokenizerError) -> [String: Any] {
        do {
            guard let o = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw TokenizerError.invalidJSON("\(what) is not a JSON object")
            }
            return o
        } catch let e as TokenizerError {
            throw e
        } catch {
            throw .invalidJSON("\(what) does not parse: \(error.localizedDescription)")
        }
    }

    /// The regexes of Llama 3 and Qwen2 as their tokenizer.json spells them.
    static let llama3Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Regex = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// gpt2 = ByteLevel(use_regex); smollm = [Digits(individual), ByteLevel(use_regex)];
    /// llama-bpe / qwen2 = [Split(their regex, isolated), ByteLevel(no regex)].
    static func preTokenizerName(_ node: Any?) throws(TokenizerError) -> String {
        guard let node = node as? [String: Any], let type = node["type"] as? String else {
            throw .unsupportedPreTokenizer("none (a byte-level BPE needs a ByteLevel pre-tokenizer)")
        }
        let steps = type == "Sequence" ? (node["pretokenizers"] as? [[String: Any]] ?? []) : [node]
        let kinds = steps.map { $0["type"] as? String ?? "?" }
        func byteLevel(_ s: [String: Any], regex: Bool) -> Bool {
            s["type"] as? String == "ByteLevel" && (s["use_regex"] as? Bool ?? true) == regex
                && (s["add_prefix_space"] as? Bool ?? false) == false
        }
        if steps.count == 1, byteLevel(steps[0], regex: true) { return PreTokenizer.gpt2.rawValue }
        if steps.count == 2, kinds[0] == "Digits", steps[0]["individual_digits"] as? Bool == true,
           byteLevel(steps[1], regex: true) {
            return PreTokenizer.smollm.rawValue
        }
        if steps.count == 2, kinds[0] == "Split", byteLevel(steps[1], regex: false),
           let pattern = (steps[0]["pattern"] as? [String: Any])?["Regex"] as? String,
           (steps[0]["behavior"] as? String ?? "Isolated") == "Isolated" {
            if pattern == llama3Regex { return PreTokenizer.llama3.rawValue }
            if pattern == qwen2Regex { return PreTokenizer.qwen2.rawValue }
            throw .unsupportedPreTokenizer("Split with regex \(pattern)")
        }
        throw .unsupportedPreTokenizer(kinds.joined(separator: "+"))
    }

    /// The first special token of a TemplateProcessing `single` template, possibly inside a Sequence.
    private static func firstTemplateToken(_ node: Any?) -> String? {
        guard let node = node as? [String: Any] else { return nil }
        if node["type"] as? String == "Sequence" {
            for case let p as [String: Any] in node["processors"] as? [Any] ?? [] {
                if let t = firstTemplateToken(p) { return t }
            }
            return nil
        }
        guard node["type"] as? String == "TemplateProcessing",
              let single = node["single"] as? [[String: Any]], let first = single.first,
              let special = first["SpecialToken"] as? [String: Any] else { return nil }
        return special["id"] as? String
    }
}
