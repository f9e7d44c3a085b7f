/// A model's text interface: its tokenizer (byte or BPE), its chat template, the prompt of
/// each way of using it (routed, raw, chat), and the roles its token ids play while
/// generating. Built once per loaded checkpoint (`Checkpoint.text` in ReckonCheckpoint);
/// tokenizing itself is the tokenizers', rendering the template's.

/// How a prompt is made and what the first generated token is.
public enum PromptStyle: String, Sendable, CaseIterable, Codable {
    /// The self-routing format: the model's routed prompt, then `<think>` or `<short>`.
    case routed
    /// Plain continuation of the text: no template, no control token.
    case raw
    /// The model's chat template with a generation prompt, and no control token.
    case chat

    /// Whether token 0 is a routing decision.
    public var isRouted: Bool { self == .routed }
}

/// The roles of token ids while generating, and the text bytes of each id, made once from a
/// tokenizer so the engine and the streamer read them per token without calling it.
public struct TokenRoles: Sendable {
    /// `<think>`, `</think>`, `<short>`; nil when the vocabulary has none (a plain base).
    public let control: ControlTokens?
    /// Tokens that end a generation.   [n_ends]
    public let ends: [Int32]
    /// Never sampled after token 0 of a routed answer: the mode tokens (token 0's alone) and
    /// the byte models' `<pad>`/`<bos>` (inputs only).
    public let excludedRouted: [Int32]
    /// Never sampled in a plain (raw or chat) generation: the router's three tokens, and the
    /// byte models' `<pad>`/`<bos>`.
    public let excludedPlain: [Int32]
    /// The bytes each token adds to the text a user sees; empty for special tokens.   [vocab]
    public let textBytes: [[UInt8]]

    public init(_ tokenizer: some TextTokenizer) {
        control = tokenizer.controlTokens
        ends = tokenizer.endTokens
        var plain = control.map { [$0.think, $0.endThink, $0.short] } ?? []
        var routed = control.map { [$0.think, $0.short] } ?? []
        if tokenizer is Tokenizer {
            plain = [Tokenizer.pad, Tokenizer.bos] + plain
            routed = Tokenizer.outsideAnswers
        }
        excludedRouted = routed
        excludedPlain = plain
        textBytes = (0..<Int32(tokenizer.vocabSize)).map { id in
            tokenizer.isSpecial(id) ? [] : ((try? tokenizer.bytes(of: id)) ?? [])
        }
    }

    /// The byte models' roles.
    public static let bytes = TokenRoles(Tokenizer())

    public func isEnd(_ id: Int32) -> Bool { ends.contains(id) }

    /// The text bytes of `id`; none for an id outside the vocabulary.
    public func text(of id: Int32) -> [UInt8] {
        id >= 0 && Int(id) < textBytes.count ? textBytes[Int(id)] : []
    }
}

/// Errors making a prompt a model cannot take.
public enum PromptError: Error, Equatable, CustomStringConvertible {
    /// Self-routing asked of a model whose vocabulary lacks the control tokens.
    case noControlTokens
    case template(TokenizerError)

    public var description: String {
        switch self {
        case .noControlTokens:
            "the model has no <think>/<short> control tokens, so it cannot route itself; use --raw or --chat (HTTP: \"routing\": \"none\")"
        case .template(let e): "\(e)"
        }
    }
}

/// A loaded model's tokenizer and chat template, and the one definition of its prompts.
public struct ModelText: Sendable {
    public let tokenizer: any TextTokenizer
    public let roles: TokenRoles
    /// The chat template in use: the model's recognised own, or the override.
    public let template: ChatTemplate?
    /// Why there is no template, when there is none.
    public let templateProblem: TokenizerError?

    /// The byte models: `PromptFormat` prompts, no chat template unless `override` names one.
    public static func bytes(templateOverride: ChatTemplateKind? = nil) -> ModelText {
        ModelText(tokenizer: Tokenizer(), roles: .bytes,
                  template: templateOverride.map { ChatTemplate(kind: $0) }, templateProblem: templateOverride == nil ? .noChatTemplate : nil)
    }

    /// A BPE model: its template recognised from the spec's Jinja source, or `templateOverride`.
    /// An unrecognised template is an error only when a chat prompt is made.
    public init(bpe spec: TokenizerSpec, templateOverride: ChatTemplateKind? = nil) throws(TokenizerError) {
        let tokenizer = try BPETokenizer(spec: spec)
        let bosText = spec.bos.map { spec.tokens[Int($0)] }
        var template: ChatTemplate?
        var problem: TokenizerError?
        do throws(TokenizerError) {
            template = try ChatTemplate.resolve(source: spec.chatTemplate, bosText: bosText, override: templateOverride)
        } catch {
            problem = error
        }
        self.init(tokenizer: tokenizer, roles: TokenRoles(tokenizer), template: template, templateProblem: problem)
    }

    init(tokenizer: any TextTokenizer, roles: TokenRoles, template: ChatTemplate?, templateProblem: TokenizerError?) {
        self.tokenizer = tokenizer
        self.roles = roles
        self.template = template
        self.templateProblem = templateProblem
    }

    public var isByteLevel: Bool { tokenizer is Tokenizer }

    /// The template, or the reason there is none.
    public func chatTemplate() throws(PromptError) -> ChatTemplate {
        guard let template else { throw .template(templateProblem ?? .noChatTemplate) }
        return template
    }

    /// Prompt ids of `text` in `style`.
    public func prompt(_ text: String, style: PromptStyle) throws(PromptError) -> [Int32] {
        switch style {
        case .routed: try routedPrompt(text)
        case .raw: rawPrompt(text)
        case .chat: try chatPrompt([ChatMessage(role: "user", content: text)])
        }
    }

    /// The self-routing prompt: `PromptFormat.prompt` on the byte models; on a BPE model the
    /// chat template over one user message, so that a routed answer is the assistant's turn,
    /// opening with `<think>` or `<short>`. Needs the control tokens.
    public func routedPrompt(_ text: String) throws(PromptError) -> [Int32] {
        if isByteLevel { return PromptFormat.prompt(text) }
        guard roles.control != nil else { throw .noControlTokens }
        return try chatPrompt([ChatMessage(role: "user", content: text)])
    }

    /// Plain continuation: BOS when the model asks for it (the byte models always do), then
    /// the text, control spellings kept as text.
    public func rawPrompt(_ text: String) -> [Int32] {
        if let bpe = tokenizer as? BPETokenizer { return bpe.encodePrompt(text) }
        return [Tokenizer.bos] + tokenizer.encode(text, parseSpecials: false)
    }

    /// A conversation rendered with the chat template, generation prompt included.
    public func chatPrompt(_ messages: [ChatMessage]) throws(PromptError) -> [Int32] {
        try chatTemplate().encode(messages, with: tokenizer)
    }

    /// A routed conversation (the chat endpoint on a self-routing model): the byte models see
    /// only the last user message, as they were trained on single prompts.
    public func routedChatPrompt(_ messages: [ChatMessage]) throws(PromptError) -> [Int32] {
        if isByteLevel { return PromptFormat.prompt(messages.last(where: { $0.role == "user" })?.content ?? "") }
        guard roles.control != nil else { throw .noControlTokens }
        return try chatPrompt(messages)
    }

    /// The control token a mode opens with, on a model that has them.
    public func controlToken(_ mode: ReasoningMode) -> Int32? { roles.control?.token(for: mode) }
}
