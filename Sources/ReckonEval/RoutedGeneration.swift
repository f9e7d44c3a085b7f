import ReckonCore
import ReckonModel

/// One response: the generated tokens (token 0 is the control token) and the model's
/// p(think) over {<think>, <short>} at token 0, whatever the policy then chose.
public struct RoutedGeneration: Sendable, Equatable {
    public var tokens: [Int32]
    public var pThink: Double

    public init(tokens: [Int32], pThink: Double) {
        self.tokens = tokens
        self.pThink = pThink
    }
}

public enum RoutedGenerator {
    /// Generates a response for every prompt with the KV cache, all prompts in one batch:
    /// one prefill call, then one decode call per step over the sequences still running.
    /// Token 0 comes from `routing` (with `uniforms[i]` as the draw for `.model`), the rest
    /// is greedy until `<eos>` or `maxNewTokens`, which is capped so prompt + answer fit
    /// the context. A prompt that fills the context gets an empty response and p(think) NaN.
    public static func generate(model: Transformer, prompts: [[Int32]], routing: RoutingPolicy,
                                maxNewTokens: Int, uniforms: [Double]) throws -> [RoutedGeneration] {
        precondition(uniforms.count == prompts.count, "one uniform draw per prompt")
        let context = model.config.maxSeqLen, V = model.config.vocabSize
        var results = prompts.map { _ in RoutedGeneration(tokens: [], pThink: .nan) }
        let runnable = prompts.indices.filter { !prompts[$0].isEmpty && prompts[$0].count < context }
        guard !runnable.isEmpty, maxNewTokens > 0 else { return results }

        var cache = try KVCache(config: model.config, slots: prompts.count)
        var scratch = DecodeScratch(config: model.config, maxRows: 512)
        let limit = prompts.map { min(maxNewTokens, context - $0.count) }

        let rows = runnable.flatMap { s in prompts[s].map { DecodeRow(slot: s, token: $0) } }
        let logits = try model.step(rows, cache: &cache, scratch: &scratch)
        var live: [Int] = []
        var end = 0
        for s in runnable {
            end += prompts[s].count
            let row = logits[((end - 1) * V)..<(end * V)]
            let p = try Sampler.probabilities(row, over: [Tokenizer.think, Tokenizer.short])
            results[s].pThink = Double(p[0])
            let mode = routing.choose(pThink: Double(p[0]), u: uniforms[s])
            results[s].tokens.append(mode.controlToken)
            if limit[s] > 1 { live.append(s) }
        }
        var rng = RNG(seed: 0)  // greedy decoding never draws from it
        while !live.isEmpty {
            let out = try model.step(live.map { DecodeRow(slot: $0, token: results[$0].tokens[results[$0].tokens.count - 1]) },
                                     cache: &cache, scratch: &scratch)
            var still: [Int] = []
            for (i, s) in live.enumerated() {
                let t = try Sampler.sample(out[(i * V)..<((i + 1) * V)], params: .greedy, excluding: Tokenizer.outsideAnswers, rng: &rng)
                results[s].tokens.append(t)
                if t != Tokenizer.eos && results[s].tokens.count < limit[s] { still.append(s) }
            }
            live = still
        }
        return results
    }
}
