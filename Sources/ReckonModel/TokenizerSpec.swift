// The plain data that defines a byte-level BPE tokenizer; no encoding logic (BPETokenizer.swift).

/// The plain data that defines a byte-level BPE tokenizer, as GGUF metadata and Hugging Face's
/// `tokenizer.json` both describe it. Importers fill it, checkpoints store it, and the BPE
/// tokenizer is built from it; it owns no encoding logic itself.
public struct TokenizerSpec: Codable, Sendable, Equatable {
    /// The pre-tokenizer, by GGUF's `tokenizer.ggml.pre` name: "gpt2", "smollm", "llama-bpe", "qwen2".
    public var pre: String
    /// Token text by id, in GPT-2's byte-to-unicode spelling (a space is "Ġ").   [vocab]
    public var tokens: [String]
    /// Merge rules in rank order, each "left right".   [n_merges]
    public var merges: [String]
    /// GGUF token types by id: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
    /// Control and user-defined tokens are matched in text before BPE.   [vocab]
    public var tokenTypes: [Int32]
    public var bos: Int32?
    public var eos: Int32?
    /// Whether encoding a prompt prepends `bos` (GGUF `tokenizer.ggml.add_bos_token`).
    public var addBos: Bool
    /// The Jinja source of the model's chat template, if it has one.
    public var chatTemplate: String?

    public init(pre: String, tokens: [String], merges: [String], tokenTypes: [Int32],
                bos: Int32? = nil, eos: Int32? = nil, addBos: Bool = false, chatTemplate: String? = nil) {
        self.pre = pre
        self.tokens = tokens
        self.merges = merges
        self.tokenTypes = tokenTypes
        self.bos = bos
        self.eos = eos
        self.addBos = addBos
        self.chatTemplate = chatTemplate
    }

    public static let normal: Int32 = 1
    public static let control: Int32 = 3
    public static let userDefined: Int32 = 4

    /// The end-of-text and end-of-turn spellings of the vocabularies we import (GPT-2/SmolLM,
    /// ChatML, Llama 3): a generation ends on any of them, as llama.cpp's end-of-generation set does.
    public static let endSpellings: Set<String> = ["<|endoftext|>", "<|im_end|>", "<|end_of_text|>", "<|eot_id|>"]
}
