import ReckonCore

// The one batched generation loop: eval, DeGRPO rollouts and `reckon generate --routing`
// all come here. It owns prefill, the first-token strategy and the live/still decode loop;
// it does not own batching over time (the runtime engine schedules requests continuously on
// its own, through the same `Transformer.step`) or scoring (ReckonEval, ReckonTrain).

/// How token 0 of each response is chosen. Every strategy but `.free` picks between
/// `<think>` and `<short>`, records p(think), and keeps the mode tokens (and `<pad>`, `<bos>`)
/// out of the rest of the response (`Tokenizer.outsideAnswers`).
public enum FirstToken: Sendable, Equatable {
    /// Drawn like every other token: plain generation, no p(think).
    case free
    /// Drawn from the model restricted to {<think>, <short>} with the sampling parameters
    /// (DeGRPO rollouts).
    case sampled
    /// Given, one mode per prompt (paired rollouts).
    case forced([ReasoningMode])
    /// Chosen by a routing policy; `uniforms[i]` is prompt i's draw for `.model` (eval).
    case routed(RoutingPolicy, uniforms: [Double])
}

/// One response: its tokens (token 0 first) and the model's p(think) over {<think>, <short>}
/// at token 0, whatever the strategy then chose (NaN for `.free`, and when nothing was generated).
public struct GenerationResult: Sendable, Equatable {
    public var tokens: [Int32]
    public var pThink: Double

    public init(tokens: [Int32], pThink: Double) {
        self.tokens = tokens
        self.pThink = pThink
    }
}

extension Transformer {
    /// Generates a response for every prompt in one batch with the KV cache: one prefill, then
    /// one decode call per step over the sequences still running. A sequence stops at `<eos>`
    /// or at its token limit.
    ///
    /// Overflow, the one rule: a response may take `maxNewTokens` tokens, capped so prompt +
    /// response fit the context. A prompt that fills the context on its own gets an empty
    /// response (p(think) NaN); callers count it as skipped. `rowsPerCall` bounds the rows
    /// of one `step` call (prefill is cut into calls of that many rows). `roles` say which
    /// ids are the control tokens and which end a response (the model's tokenizer's).
    public func generate(
        prompts: [[Int32]], maxNewTokens: Int, params: SamplingParams = .greedy, seed: UInt64 = 0,
        first: FirstToken = .free, rowsPerCall: Int = 512, roles: TokenRoles = .bytes
    ) throws -> [GenerationResult] {
        try params.validate()
        guard maxNewTokens >= 1 else { throw ModelError.shapeMismatch("maxNewTokens must be ≥ 1, got \(maxNewTokens)") }
        let given: Int? = switch first {
        case .forced(let modes): modes.count
        case .routed(_, let uniforms): uniforms.count
        case .free, .sampled: nil
        }
        if let given, given != prompts.count {
            throw ModelError.shapeMismatch("the first-token strategy needs one entry per prompt, got \(given) for \(prompts.count)")
        }
        for p in prompts where p.isEmpty { throw ModelError.shapeMismatch("a prompt must hold at least one token") }
        let context = config.maxSeqLen, V = config.vocabSize
        var results = prompts.map { _ in GenerationResult(tokens: [], pThink: .nan) }
        let runnable = prompts.indices.filter { prompts[$0].count < context }
        guard !runnable.isEmpty else { return results }
        let limit = prompts.map { min(maxNewTokens, context - $0.count) }

        var cache = try KVCache(config: config, slots: prompts.count)
        var scratch = DecodeScratch(config: config, maxRows: rowsPerCall)
        var rng = RNG(seed: seed)
        guard roles.textBytes.count == V else {
            throw ModelError.shapeMismatch("the tokenizer has \(roles.textBytes.count) tokens, the model \(V)")
        }
        let control = roles.control ?? ControlTokens(think: -1, endThink: -1, short: -1)
        if first != .free, roles.control == nil {
            throw ModelError.noControlTokens
        }
        let controls = control.firstToken
        let exclusions = first == .free ? [] : roles.excludedRouted

        // Prefill: the last row of each prompt gives token 0's logits.
        let logits = try step(runnable.flatMap { s in prompts[s].map { DecodeRow(slot: s, token: $0) } },
                              cache: &cache, scratch: &scratch)
        var live: [Int] = []
        var end = 0
        for s in runnable {
            end += prompts[s].count
            let row = logits[((end - 1) * V)..<(end * V)]
            if first != .free { results[s].pThink = Double(try Sampler.probabilities(row, over: controls)[0]) }
            let t: Int32 = switch first {
            case .free: try Sampler.sample(row, params: params, rng: &rng)
            case .sampled: try Sampler.sample(row, params: params, allowed: controls, rng: &rng)
            case .forced(let modes): control.token(for: modes[s])
            case .routed(let policy, let uniforms): control.token(for: policy.choose(pThink: results[s].pThink, u: uniforms[s]))
            }
            results[s].tokens.append(t)
            if !roles.isEnd(t) && limit[s] > 1 { live.append(s) }
        }
        while !live.isEmpty {
            let out = try step(live.map { DecodeRow(slot: $0, token: results[$0].tokens[results[$0].tokens.count - 1]) },
                               cache: &cache, scratch: &scratch)
            var still: [Int] = []
            for (i, s) in live.enumerated() {
                let t = try Sampler.sample(out[(i * V)..<((i + 1) * V)], params: params, excluding: exclusions, rng: &rng)
                results[s].tokens.append(t)
                if !roles.isEnd(t) && results[s].tokens.count < limit[s] { still.append(s) }
            }
            live = still
        }
        return results
    }
}
