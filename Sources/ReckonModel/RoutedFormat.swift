/// The self-routing format on any tokenizer, for training and evaluation: the prompt, the
/// answer of each mode and the reading of a generation, on the byte models exactly
/// `PromptFormat`'s, on an imported model a chat turn. Built from a `ModelText` once its
/// control tokens and chat template are known to exist, so making sequences cannot fail.
///
///     byte models   prompt = <bos> prompt "\n"            answer = <short> short <eos>
///     chat models   prompt = template([user: prompt])     answer = <short> short <end of turn>
///                   (the assistant's turn; think: <think> steps </think> short <end of turn>)
public struct RoutedFormat: Sendable {
    public let text: ModelText
    public let control: ControlTokens
    /// The chat template of a BPE model; nil on the byte models.
    public let template: ChatTemplate?
    /// The token that closes an answer: `<eos>` on the byte models, a chat model's end of turn
    /// (`<|im_end|>`, `<|eot_id|>`) or else its EOS.
    public let end: Int32

    /// The byte models' format, `PromptFormat`.
    public static let bytes = RoutedFormat(text: .bytes(), control: ControlTokens(think: Tokenizer.think, endThink: Tokenizer.endThink,
                                                                                 short: Tokenizer.short), template: nil, end: Tokenizer.eos)

    init(text: ModelText, control: ControlTokens, template: ChatTemplate?, end: Int32) {
        self.text = text
        self.control = control
        self.template = template
        self.end = end
    }

    public var roles: TokenRoles { text.roles }

    /// One line for logs: the format and the ids of the tokens it relies on.
    public var summary: String {
        let ids = "<think> \(control.think), </think> \(control.endThink), <short> \(control.short)"
        guard let template else { return "the byte format: \(ids), answers end with <eos> \(end)" }
        return "\(template.kind.rawValue) chat turns: \(ids), answers end with token \(end)"
    }

    /// The user's turn, rendered with the generation prompt.
    public func prompt(_ prompt: String) -> [Int32] {
        guard let template else { return PromptFormat.prompt(prompt) }
        return template.encode([ChatMessage(role: "user", content: prompt)], with: text.tokenizer)
    }

    /// The answer in `mode` (think mode needs `steps`): the control token, the text (control
    /// spellings in it stay text), and the closing token.
    public func answer(mode: ReasoningMode, short: String, steps: String?) -> [Int32]? {
        guard template != nil else { return PromptFormat.answer(mode: mode, short: short, steps: steps) }
        let tok = text.tokenizer
        switch mode {
        case .short: return [control.short] + tok.encode(short, parseSpecials: false) + [end]
        case .think:
            guard let steps else { return nil }
            return [control.think] + tok.encode(steps, parseSpecials: false) + [control.endThink] + tok.encode(short, parseSpecials: false) + [end]
        }
    }

    /// The conversation a routed example is, as chat messages: the user's prompt and the
    /// assistant's answer opening with its control token (the template adds the model's
    /// default system prompt). Rendered without a generation prompt, its tokens begin with
    /// `prompt(_:) + answer(...)`.
    public func conversation(prompt: String, mode: ReasoningMode, short: String, steps: String?) -> [ChatMessage]? {
        let names = ControlTokens.names
        let content: String
        switch mode {
        case .short: content = names.short + short
        case .think:
            guard let steps else { return nil }
            content = names.think + steps + names.endThink + short
        }
        return [ChatMessage(role: "user", content: prompt), ChatMessage(role: "assistant", content: content)]
    }

    /// A generation (the tokens after the prompt) read back from its ids: token 0 the mode,
    /// the text up to `</think>` the reasoning, the text after it up to an end token the answer.
    public func parse(_ generated: [Int32]) -> ParsedGeneration {
        guard template != nil else { return PromptFormat.parse(generated) }
        var parsed = ParsedGeneration(mode: nil, reasoning: "", answer: "", closedThinking: false, finished: false, tokenCount: generated.count)
        guard let first = generated.first, let mode = control.mode(of: first) else { return parsed }
        parsed.mode = mode
        let roles = text.roles
        var i = 1
        if mode == .think {
            var steps: [UInt8] = []
            while i < generated.count, generated[i] != control.endThink, !roles.isEnd(generated[i]) {
                steps += roles.text(of: generated[i])
                i += 1
            }
            parsed.reasoning = String(decoding: steps, as: UTF8.self)
            guard i < generated.count, generated[i] == control.endThink else {
                parsed.finished = i < generated.count
                return parsed
            }
            i += 1
        }
        parsed.closedThinking = true
        var answer: [UInt8] = []
        while i < generated.count, !roles.isEnd(generated[i]) {
            answer += roles.text(of: generated[i])
            i += 1
        }
        parsed.answer = String(decoding: answer, as: UTF8.self)
        parsed.finished = i < generated.count
        return parsed
    }
}

extension ModelText {
    /// The routed format of this model: `PromptFormat` on the byte models; on a BPE model its
    /// chat template, which must exist, with the control tokens, which must too.
    public func routedFormat() throws(PromptError) -> RoutedFormat {
        if isByteLevel { return .bytes }
        guard let control = roles.control else { throw .noControlTokens }
        let template = try chatTemplate()
        let marker = template.kind == .llama3 ? "<|eot_id|>" : template.kind == .chatml ? "<|im_end|>" : nil
        let markerID = marker.map { tokenizer.encode($0, parseSpecials: true) }
        let end: Int32
        if let ids = markerID, ids.count == 1 {
            end = ids[0]
        } else if let eos = tokenizer.eos {
            end = eos
        } else {
            throw .template(.invalidSpec("no end-of-turn token and no EOS to close an answer with"))
        }
        return RoutedFormat(text: self, control: control, template: template, end: end)
    }
}
