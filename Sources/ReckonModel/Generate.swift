import ReckonCore

/// Batched generation with the KV cache: every prompt is prefilled in one call,
/// then each decode step runs one row per live sequence. A sequence leaves the batch
/// when it emits <eos> or reaches `maxNewTokens`; the others carry on.
public struct GenerationResult: Sendable, Equatable {
    public var tokens: [Int32]
    /// p over `firstTokenSet` at the first generated position, in that set's order.
    public var firstTokenProbabilities: [Float]
}

extension Transformer {
    public func generate(
        prompts: [[Int32]], maxNewTokens: Int, params: SamplingParams, seed: UInt64,
        firstTokenSet: [Int32]? = nil, forcedFirstTokens: [Int32]? = nil, stopToken: Int32 = Tokenizer.eos
    ) throws -> [GenerationResult] {
        try params.validate()
        guard !prompts.isEmpty else { return [] }
        if let forced = forcedFirstTokens {
            // Token 0 is given, not drawn; its probabilities are still recorded.
            guard forced.count == prompts.count, let set = firstTokenSet, forced.allSatisfy(set.contains) else {
                throw ModelError.shapeMismatch("forced first tokens need one token per prompt, each from the first-token set")
            }
        }
        for p in prompts {
            guard !p.isEmpty else { throw ModelError.shapeMismatch("a prompt must hold at least one token") }
            guard p.count + maxNewTokens <= config.maxSeqLen else {
                throw ModelError.sequenceTooLong(length: p.count + maxNewTokens, maxSeqLen: config.maxSeqLen)
            }
        }
        var cache = try KVCache(config: config, slots: prompts.count)
        var scratch = DecodeScratch(config: config, maxRows: max(prompts.count, 256))
        var rng = RNG(seed: seed)
        let V = config.vocabSize
        // A routed response (token 0 from `firstTokenSet`) has the answer grammar after it.
        let answerExclusions = firstTokenSet == nil ? [] : Tokenizer.outsideAnswers

        // Prefill: the last row of each prompt gives the first token's logits.
        let rows = prompts.enumerated().flatMap { s, p in p.map { DecodeRow(slot: s, token: $0) } }
        let logits = try step(rows, cache: &cache, scratch: &scratch)
        var results = prompts.map { _ in GenerationResult(tokens: [], firstTokenProbabilities: []) }
        var live: [Int] = []
        var last = 0
        for (s, p) in prompts.enumerated() {
            last += p.count
            let row = logits[((last - 1) * V)..<(last * V)]
            if let set = firstTokenSet { results[s].firstTokenProbabilities = try Sampler.probabilities(row, over: set) }
            let t = try forcedFirstTokens?[s] ?? Sampler.sample(row, params: params, allowed: firstTokenSet, rng: &rng)
            results[s].tokens.append(t)
            if t != stopToken && maxNewTokens > 1 { live.append(s) }
        }
        while !live.isEmpty {
            let out = try step(live.map { DecodeRow(slot: $0, token: results[$0].tokens[results[$0].tokens.count - 1]) },
                               cache: &cache, scratch: &scratch)
            var still: [Int] = []
            for (i, s) in live.enumerated() {
                let t = try Sampler.sample(out[(i * V)..<((i + 1) * V)], params: params, excluding: answerExclusions, rng: &rng)
                results[s].tokens.append(t)
                if t != stopToken && results[s].tokens.count < maxNewTokens { still.append(s) }
            }
            live = still
        }
        return results
    }
}
