// The chat formats rendered natively, recognising a model's Jinja source as one of them, and a conversation's
// prompt ids; not tokenization itself.

/// The chat formats Reckon renders natively. There is no Jinja engine among our packages, so a
/// model's Jinja source is recognised as one of these (docs/tokenizer.md lists the sources).
public enum ChatTemplateKind: String, Sendable, CaseIterable, Codable {
    /// `<|im_start|>role\ncontent<|im_end|>\n`, as SmolLM2 and Qwen2 write it (each with its
    /// own default system prompt, inserted when the first message is not a system message).
    case chatml
    /// Llama 3: `<|begin_of_text|>` then `<|start_header_id|>role<|end_header_id|>\n\n
    /// content.strip()<|eot_id|>` per message.
    case llama3
    /// No template: the messages' contents joined by newlines, for plain text completion.
    case none
}

public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String
    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

public struct ChatTemplate: Sendable, Equatable {
    public var kind: ChatTemplateKind
    /// ChatML: the system message used when the conversation has none.
    public var defaultSystem: String?
    /// Llama 3: the text of the BOS token, which the template writes itself.
    public var bosText: String

    public init(kind: ChatTemplateKind, defaultSystem: String? = nil, bosText: String = "<|begin_of_text|>") {
        self.kind = kind
        self.defaultSystem = defaultSystem
        self.bosText = bosText
    }

    /// The template for a model: `override` when given (keeping the model's default system
    /// prompt if its own template is of the same kind), else its recognised Jinja source.
    public static func resolve(source: String?, bosText: String?, override: ChatTemplateKind?) throws(TokenizerError) -> ChatTemplate {
        var own: ChatTemplate? = nil
        if let source {
            do throws(TokenizerError) { own = try recognise(source, bosText: bosText) } catch {
                if override == nil { throw error }
            }
        }
        if let override {
            if let own, own.kind == override { return own }
            return ChatTemplate(kind: override, bosText: bosText ?? "<|begin_of_text|>")
        }
        guard let own else { throw .noChatTemplate }
        return own
    }

    /// Recognises a Jinja source by its canonical form (whitespace outside string literals
    /// dropped, `\n` escapes resolved), with ChatML's default system prompt cut out first.
    public static func recognise(_ source: String, bosText: String?) throws(TokenizerError) -> ChatTemplate {
        let canon = canonical(source)
        if canon == canonical(llama3Source) {
            return ChatTemplate(kind: .llama3, bosText: bosText ?? "<|begin_of_text|>")
        }
        if canon == canonical(chatmlSource) { return ChatTemplate(kind: .chatml) }
        // The head ends inside the system literal and the tail starts there: canonicalise
        // each as the literal it is part of.
        let head = canonical(chatmlSystemHead)
        let tail = String(canonical("'" + chatmlSystemTail).dropFirst())
        if canon.count > head.count + tail.count, canon.hasPrefix(head), canon.hasSuffix(tail) {
            let system = String(canon.dropFirst(head.count).dropLast(tail.count))
            if !system.contains("'") { return ChatTemplate(kind: .chatml, defaultSystem: system) }
        }
        let hint = source.contains("<|im_start|>") ? "ChatML markers, but not a known layout"
            : source.contains("<|start_header_id|>") ? "Llama 3 markers, but not Llama 3's layout (Llama 3.1+ adds dates and tools)"
            : "no known markers"
        throw .unrecognisedChatTemplate(hint)
    }

    /// The prompt text for `messages`; tokenize it with `parseSpecials: true`.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        var out = ""
        switch kind {
        case .chatml:
            for (i, m) in messages.enumerated() {
                if i == 0, m.role != "system", let defaultSystem {
                    out += "<|im_start|>system\n" + defaultSystem + "<|im_end|>\n"
                }
                out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n"
            }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            for (i, m) in messages.enumerated() {
                if i == 0 { out += bosText }
                out += "<|start_header_id|>" + m.role + "<|end_header_id|>\n\n" + Self.pythonStrip(m.content) + "<|eot_id|>"
            }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .none:
            out = messages.map(\.content).joined(separator: "\n")
        }
        return out
    }

    /// Jinja's `trim` is Python's `str.strip()`: Unicode White_Space plus U+001C–U+001F.
    static func pythonStrip(_ s: String) -> String {
        func space(_ u: Unicode.Scalar) -> Bool { u.properties.isWhitespace || (0x1C...0x1F).contains(u.value) }
        let scalars = Array(s.unicodeScalars)
        guard let first = scalars.firstIndex(where: { !space($0) }), let last = scalars.lastIndex(where: { !space($0) }) else { return "" }
        var v = String.UnicodeScalarView()
        v.append(contentsOf: scalars[first...last])
        return String(v)
    }

    /// Whitespace outside string literals dropped, quotes unified to `'`, `\n` and `\'` escapes resolved.
    static func canonical(_ source: String) -> String {
        var out = ""
        var quote: Character? = nil
        var escaped = false
        for c in source {
            if let q = quote {
                if escaped {
                    out.append(c == "n" ? "\n" : c)
                    escaped = false
                } else if c == "\\" {
                    escaped = true
                } else if c == q {
                    out.append("'")
                    quote = nil
                } else {
                    out.append(c)
                }
            } else if c == "'" || c == "\"" {
                quote = c
                out.append("'")
            } else if !c.isWhitespace {
                out.append(c)
            }
        }
        return out
    }

    // The recognised sources (whitespace and quoting may differ; `canonical` removes that).
    static let chatmlSource = #"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"#
    static let chatmlSystemHead = #"{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\n"#
    static let chatmlSystemTail = #"<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"#
    static let llama3Source = #"{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"#
}

extension ChatTemplate {
    /// Prompt ids of a conversation: the rendering, with its control tokens parsed. The
    /// templates write BOS themselves where the model wants it (Llama 3), so none is added.
    public func encode(_ messages: [ChatMessage], with tokenizer: some TextTokenizer, addGenerationPrompt: Bool = true) -> [Int32] {
        tokenizer.encode(render(messages, addGenerationPrompt: addGenerationPrompt), parseSpecials: kind != .none)
    }
}

extension BPETokenizer {
    /// Ids of a raw prompt (no template): user text, control spellings kept as text, with BOS
    /// first when the model asks for it (`TokenizerSpec.addBos`).
    public func encodePrompt(_ text: String) -> [Int32] {
        (spec.addBos ? spec.bos.map { [$0] } ?? [] : []) + encode(text, parseSpecials: false)
    }
}
