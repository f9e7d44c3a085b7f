import ReckonData
import ReckonModel

// Examples to pairs of training sequences under the overflow rule; packing is `PackedBatch`'s.

/// The warm-up training set: every usable example as a pair of sequences, its short-mode
/// and its think-mode answer after the same prompt, so both go in one batch. `format` is the
/// model's (`ModelText.routedFormat`): `PromptFormat` on the byte models, a chat turn on an
/// imported one.
public struct SFTData: Sendable {
    public struct Pair: Sendable, Equatable {
        public var short: TrainingSequence
        public var long: TrainingSequence
    }

    /// What to do with an example whose think-mode sequence exceeds the context.
    public enum Overflow: String, Sendable, CaseIterable {
        /// Drop the example (both modes), so the model never learns a cut-off answer.
        case reject
        /// Keep the first `context` tokens; the loss then covers only what fits.
        case truncate
    }

    public var pairs: [Pair]
    /// Examples dropped because a sequence did not fit (overflow = reject).
    public var rejected: Int
    /// Examples cut to the context (overflow = truncate).
    public var truncated: Int
    /// Examples without a `long` answer, which warm-up cannot use.
    public var missingLong: Int

    public init(examples: [Example], context: Int, overflow: Overflow, format: RoutedFormat = .bytes) {
        pairs = []
        rejected = 0
        truncated = 0
        missingLong = 0
        for e in examples {
            guard let steps = e.long else { missingLong += 1; continue }
            let prompt = format.prompt(e.prompt)
            guard let shortAnswer = format.answer(mode: .short, short: e.shortAnswer, steps: nil),
                  let longAnswer = format.answer(mode: .think, short: e.shortAnswer, steps: steps) else { missingLong += 1; continue }
            var short = TrainingSequence(prompt: prompt, answer: shortAnswer)
            var long = TrainingSequence(prompt: prompt, answer: longAnswer)
            // The whole sequence must fit, as it must at generation time; a prompt that leaves
            // no room for the control token is useless even when truncating.
            if long.tokens.count > context || short.tokens.count > context {
                guard overflow == .truncate, prompt.count < context else { rejected += 1; continue }
                long.tokens = Array(long.tokens.prefix(context))
                short.tokens = Array(short.tokens.prefix(context))
                truncated += 1
            }
            pairs.append(Pair(short: short, long: long))
        }
    }

    public var count: Int { pairs.count }
}
