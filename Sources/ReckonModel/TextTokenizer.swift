// The tokenizer protocol the model, sampler and runtime use, the control tokens, and the byte tokenizer's
// conformance; the two tokenizers are Tokenizer.swift and BPETokenizer.swift.

/// What the model, the sampler and the runtime need from a tokenizer. Two implementations:
/// `Tokenizer` (bytes + six specials, the small models) and `BPETokenizer` (a pretrained
/// model's byte-level BPE vocabulary). docs/tokenizer.md describes both.
public protocol TextTokenizer: Sendable {
    var vocabSize: Int { get }
    /// Ids of `text`. Control-token spellings stay plain text unless `parseSpecials`, so user
    /// text cannot inject `<think>` or `<|im_start|>` by accident.
    func encode(_ text: String, parseSpecials: Bool) -> [Int32]
    /// Text of `ids`; control tokens render as their spelling. `decode(encode(s)) == s`.
    func decode(_ ids: [Int32]) throws(ModelError) -> String
    /// The UTF-8 bytes one token contributes, for streaming output that may split a character.
    func bytes(of id: Int32) throws(ModelError) -> [UInt8]
    /// `<think>`, `</think>`, `<short>`, when the vocabulary has them (a plain base has not).
    var controlTokens: ControlTokens? { get }
    var bos: Int32? { get }
    var eos: Int32? { get }
    /// Whether `id` is markup rather than text (a control token such as `<|im_start|>` or
    /// `<think>`): text shown to a user skips it, as HF's `skip_special_tokens` does.
    func isSpecial(_ id: Int32) -> Bool
    /// Tokens that end a generation: EOS, and the end-of-turn and end-of-text tokens a chat
    /// model closes its answers with.
    var endTokens: [Int32] { get }
}

/// The router's control tokens. The sampler restricts token 0 of a response to
/// `[think, short]`, whatever tokenizer the ids come from.
public struct ControlTokens: Sendable, Equatable {
    public var think: Int32
    public var endThink: Int32
    public var short: Int32

    public init(think: Int32, endThink: Int32, short: Int32) {
        self.think = think
        self.endThink = endThink
        self.short = short
    }

    /// The spellings a real vocabulary carries them under.
    public static let names = (think: "<think>", endThink: "</think>", short: "<short>")
    public static let spellings: Set<String> = [names.think, names.endThink, names.short]

    /// Token 0's allowed set: `<think>` or `<short>`.
    public var firstToken: [Int32] { [think, short] }

    /// The token that opens an answer in `mode`.
    public func token(for mode: ReasoningMode) -> Int32 { mode == .think ? think : short }

    /// The mode a token opens; nil for any other token.
    public func mode(of token: Int32) -> ReasoningMode? {
        token == think ? .think : token == short ? .short : nil
    }
}

extension Tokenizer: TextTokenizer {
    public var vocabSize: Int { Self.vocabSize }
    public var controlTokens: ControlTokens? { ControlTokens(think: Self.think, endThink: Self.endThink, short: Self.short) }
    public var bos: Int32? { Self.bos }
    public var eos: Int32? { Self.eos }
    public var endTokens: [Int32] { [Self.eos] }
    public func isSpecial(_ id: Int32) -> Bool { id >= 256 }

    public func bytes(of id: Int32) throws(ModelError) -> [UInt8] {
        if id >= 0, id < 256 { return [UInt8(id)] }
        return Array(try decode([id]).utf8)
    }
}

/// Errors building a tokenizer or a chat template from a model's files.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case unsupportedPreTokenizer(String)
    case unsupportedModel(String)
    case invalidSpec(String)
    case invalidJSON(String)
    case unrecognisedChatTemplate(String)
    case noChatTemplate

    public var description: String {
        switch self {
        case .unsupportedPreTokenizer(let name):
            "unsupported pre-tokenizer \"\(name)\"; supported: \(PreTokenizer.allCases.map(\.rawValue).joined(separator: ", "))"
        case .unsupportedModel(let why): "unsupported tokenizer: \(why)"
        case .invalidSpec(let why): "invalid tokenizer: \(why)"
        case .invalidJSON(let why): "invalid tokenizer.json: \(why)"
        case .unrecognisedChatTemplate(let why):
            "unrecognised chat template (\(why)); known: \(ChatTemplateKind.allCases.map(\.rawValue).joined(separator: ", ")); pass --chat-template to choose one"
        case .noChatTemplate: "the model has no chat template; pass --chat-template chatml|llama3|none"
        }
    }
}
