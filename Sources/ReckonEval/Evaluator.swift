import Foundation
import ReckonCore
import ReckonData
import ReckonModel

// Evaluation under a routing policy: batches of examples through the one generation loop
// (ReckonModel/Generate.swift), each response scored by ReckonData's verifier. Tables and
// JSON are EvalReport.swift's and EvalTable.swift's.

/// The outcome for one example.
public struct EvalRecord: Sendable, Equatable, Codable {
    public var index: Int
    public var id: String?
    public var group: String?
    public var difficulty: Int?
    /// The mode of token 0; nil if the response is empty or starts with anything else.
    public var mode: ReasoningMode?
    /// The model's p(think) at token 0 (NaN when the prompt left no room to answer).
    public var pThink: Double
    /// Generated tokens, control tokens included.
    public var generatedTokens: Int
    /// The answer text the verifier saw.
    public var answer: String
    /// Think mode reached `</think>` and the response ended with `<eos>`.
    public var wellFormed: Bool
    public var correct: Bool
    /// The prompt filled the context, so nothing was generated; counted apart from the figures.
    public var skipped: Bool
    /// The generated token ids, token 0 first (what the golden test pins down).
    public var tokens: [Int32] = []

    enum CodingKeys: String, CodingKey {
        case index, id, group, difficulty, mode
        case pThink = "p_think", generatedTokens = "generated_tokens"
        case answer, wellFormed = "well_formed", correct, skipped, tokens
    }
}

public struct EvalOptions: Sendable, Equatable {
    public var routing: RoutingPolicy
    /// Tokens generated per answer at most, control tokens included.
    public var maxNewTokens: Int
    /// Prompts generated together.
    public var batchSize: Int
    /// Seeds the `.model` routing draws; example i always gets the same draw.
    public var seed: UInt64

    public init(routing: RoutingPolicy, maxNewTokens: Int = 200, batchSize: Int = 64, seed: UInt64 = 1) {
        self.routing = routing
        self.maxNewTokens = maxNewTokens
        self.batchSize = batchSize
        self.seed = seed
    }
}

public enum Evaluator {
    /// Scores one generation against its example with ReckonData's verifier. A response is
    /// correct when its mode is known, thinking (if any) was closed, and the answer after it
    /// matches the gold answer.
    public static func score(_ example: Example, index: Int, generation: GenerationResult, format: RoutedFormat = .bytes) -> EvalRecord {
        let parsed = format.parse(generation.tokens)
        let correct = parsed.mode != nil && parsed.closedThinking && Verifier.matches(parsed.answer, gold: example.answer)
        return EvalRecord(index: index, id: example.id, group: example.group, difficulty: example.difficulty,
                          mode: parsed.mode, pThink: generation.pThink, generatedTokens: parsed.tokenCount,
                          answer: parsed.answer, wellFormed: parsed.isWellFormed, correct: correct,
                          skipped: generation.tokens.isEmpty, tokens: generation.tokens)
    }

    /// Runs every example under the routing policy and returns the per-example records.
    /// `progress(done, total)` is called after each batch. Prompts are made and answers read
    /// by `format`, the model's (`ModelText.routedFormat`; the byte models' by default).
    public static func run(model: Transformer, examples: [Example], options: EvalOptions, format: RoutedFormat = .bytes,
                           progress: ((Int, Int) -> Void)? = nil) throws -> [EvalRecord] {
        guard !examples.isEmpty else { throw EvalError.emptyDataSet }
        let root = RNG(seed: options.seed)
        var records: [EvalRecord] = []
        records.reserveCapacity(examples.count)
        var start = 0
        while start < examples.count {
            let range = start..<min(examples.count, start + max(1, options.batchSize))
            let prompts = range.map { format.prompt(examples[$0].prompt) }
            let uniforms = range.map { i -> Double in
                var r = root.derived(UInt64(i))
                return r.uniformDouble()
            }
            // Token 0 from the routing policy, the rest greedy.
            let generations = try model.generate(prompts: prompts, maxNewTokens: options.maxNewTokens,
                                                 first: .routed(options.routing, uniforms: uniforms), roles: format.roles)
            for (j, i) in range.enumerated() {
                records.append(score(examples[i], index: i, generation: generations[j], format: format))
            }
            start = range.upperBound
            progress?(start, examples.count)
        }
        return records
    }
}
