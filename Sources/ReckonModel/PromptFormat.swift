// The prompt format shared by training, eval and the runtime, and the two answer modes in
// both directions (mode → control token, control token → mode). Tokenizing bytes is
// Tokenizer.swift's.

/// The two answer modes. The model chooses one with its first generated token.
public enum ReasoningMode: String, Sendable, Codable, CaseIterable {
    case think
    case short

    /// The control token that opens an answer in this mode.
    public var controlToken: Int32 { self == .think ? Tokenizer.think : Tokenizer.short }

    /// The mode a control token stands for; nil for any other token.
    public init?(controlToken t: Int32) {
        switch t {
        case Tokenizer.think: self = .think
        case Tokenizer.short: self = .short
        default: return nil
        }
    }
}

/// A generated token list read back into its parts. Built from token ids, never by
/// searching the decoded text, so a prompt or answer that spells "</think>" in bytes
/// cannot confuse it.
public struct ParsedGeneration: Sendable, Equatable {
    /// The mode of token 0; nil when token 0 is neither `<think>` nor `<short>`.
    public var mode: ReasoningMode?
    /// Think mode: the text between `<think>` and `</think>` (or the end, if cut off).
    public var reasoning: String
    /// The text after `<short>`, or after `</think>`, up to `<eos>` or the end.
    public var answer: String
    /// Think mode: whether `</think>` was generated. Always true in short mode.
    public var closedThinking: Bool
    /// Whether the answer ended with `<eos>` rather than running out of tokens.
    public var finished: Bool
    /// Tokens generated, including the control tokens.
    public var tokenCount: Int

    public init(mode: ReasoningMode?, reasoning: String, answer: String, closedThinking: Bool, finished: Bool, tokenCount: Int) {
        self.mode = mode
        self.reasoning = reasoning
        self.answer = answer
        self.closedThinking = closedThinking
        self.finished = finished
        self.tokenCount = tokenCount
    }

    /// A well-formed response: a known mode, thinking closed, and an `<eos>`.
    public var isWellFormed: Bool { mode != nil && closedThinking && finished }
}

/// The single definition of how an example becomes tokens, shared by training,
/// evaluation and the runtime:
///
///     prompt  = <bos> prompt-bytes "\n"
///     short   = <short> short <eos>
///     long    = <think> steps </think> short <eos>
public enum PromptFormat {
    /// `<bos>` + the prompt's UTF-8 bytes + "\n". Specials in user text stay bytes.
    public static func prompt(_ text: String) -> [Int32] {
        [Tokenizer.bos] + Tokenizer().encode(text) + [Int32(UInt8(ascii: "\n"))]
    }

    /// `<short>` + short + `<eos>`.
    public static func shortAnswer(_ short: String) -> [Int32] {
        [Tokenizer.short] + Tokenizer().encode(short) + [Tokenizer.eos]
    }

    /// `<think>` + steps + `</think>` + short + `<eos>`.
    public static func longAnswer(steps: String, short: String) -> [Int32] {
        [Tokenizer.think] + Tokenizer().encode(steps) + [Tokenizer.endThink] + Tokenizer().encode(short) + [Tokenizer.eos]
    }

    /// The answer in `mode`; think mode needs the steps.
    public static func answer(mode: ReasoningMode, short: String, steps: String?) -> [Int32]? {
        switch mode {
        case .short: return shortAnswer(short)
        case .think: return steps.map { longAnswer(steps: $0, short: short) }
        }
    }

    /// Reads a generation (the tokens after the prompt) back into mode, reasoning and answer.
    /// Bytes between specials are decoded as UTF-8 (repaired if invalid); any special other
    /// than the expected structure ends the part it appears in.
    public static func parse(_ generated: [Int32]) -> ParsedGeneration {
        var parsed = ParsedGeneration(mode: nil, reasoning: "", answer: "", closedThinking: false,
                                      finished: false, tokenCount: generated.count)
        guard let first = generated.first else { return parsed }
        switch first {
        case Tokenizer.think: parsed.mode = .think
        case Tokenizer.short: parsed.mode = .short
        default: return parsed
        }
        var i = 1
        if parsed.mode == .think {
            var steps: [UInt8] = []
            while i < generated.count, generated[i] != Tokenizer.endThink, generated[i] != Tokenizer.eos {
                if let byte = byte(generated[i]) { steps.append(byte) }
                i += 1
            }
            parsed.reasoning = String(decoding: steps, as: UTF8.self)
            guard i < generated.count, generated[i] == Tokenizer.endThink else {
                parsed.finished = i < generated.count  // an <eos> inside the thinking
                return parsed
            }
            i += 1
        }
        parsed.closedThinking = true
        var answer: [UInt8] = []
        while i < generated.count, generated[i] != Tokenizer.eos {
            if let byte = byte(generated[i]) { answer.append(byte) }
            i += 1
        }
        parsed.answer = String(decoding: answer, as: UTF8.self)
        parsed.finished = i < generated.count
        return parsed
    }

    private static func byte(_ id: Int32) -> UInt8? {
        (0..<256).contains(id) ? UInt8(id) : nil
    }
}

/// One training sequence: prompt then answer, with the positions whose next token is scored.
public struct TrainingSequence: Sendable, Equatable {
    /// Prompt and answer tokens.
    public var tokens: [Int32]
    /// Number of prompt tokens; position i predicts tokens[i + 1], scored when i + 1 ≥ promptLength.
    public var promptLength: Int

    public init(prompt: [Int32], answer: [Int32]) {
        tokens = prompt + answer
        promptLength = prompt.count
    }

    /// Positions whose target is an answer token: the control token, the answer, `</think>`, `<eos>`.
    public var answerTokenCount: Int { tokens.count - promptLength }

    /// Inputs and targets padded to `length` rows: row i reads tokens[i] and targets
    /// tokens[i + 1] if that is an answer token, else −1 (no loss). Padding is `<pad>` / −1.
    /// Needs tokens.count − 1 ≤ length.
    public func rows(length: Int) -> (inputs: [Int32], targets: [Int32]) {
        var inputs = [Int32](repeating: Tokenizer.pad, count: length)
        var targets = [Int32](repeating: -1, count: length)
        for i in 0..<min(length, tokens.count - 1) {
            inputs[i] = tokens[i]
            if i + 1 >= promptLength { targets[i] = tokens[i + 1] }
        }
        return (inputs, targets)
    }

    /// Rows needed: every token but the last is an input.
    public var rowCount: Int { tokens.count - 1 }
}

/// Training sequences packed for one forward pass, the one padding rule of warm-up SFT and
/// DeGRPO (loss weights stay with the callers). Row-major: sequence b owns rows b·T ..< (b + 1)·T.
public struct PackedBatch: Sendable, Equatable {
    /// T, rows per sequence.
    public let length: Int
    public var inputs: [Int32]   // (B, T); `<pad>` past each sequence
    public var targets: [Int32]  // (B, T); −1 (no loss) on prompt and padding rows

    /// The padded length of a batch whose longest sequence needs `longest` rows: the next
    /// multiple of `bucket`, capped at the context. Buckets bound how many activation shapes
    /// a run allocates; padded rows carry no loss, so the gradient does not depend on them.
    public static func length(longest: Int, bucket: Int, context: Int) -> Int {
        min(context, (max(1, longest) + bucket - 1) / bucket * bucket)
    }

    /// Packs `sequences` into `batch` rows of sequences (extra rows are all padding), each
    /// padded or cut to `length` rows.
    public init(_ sequences: some Collection<TrainingSequence>, length: Int, batch: Int? = nil) {
        self.length = length
        let b = max(batch ?? sequences.count, sequences.count)
        inputs = []
        targets = []
        inputs.reserveCapacity(b * length)
        targets.reserveCapacity(b * length)
        for s in sequences {
            let rows = s.rows(length: length)
            inputs += rows.inputs
            targets += rows.targets
        }
        let padding = (b - sequences.count) * length
        inputs += repeatElement(Tokenizer.pad, count: padding)
        targets += repeatElement(-1, count: padding)
    }
}
