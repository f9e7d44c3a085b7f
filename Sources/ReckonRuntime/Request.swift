// A request as the engine sees it, its result, what the budget did to it, and the one request-seed derivation.

import ReckonModel

/// One generation request as the engine sees it.
public struct Request: Sendable, Equatable {
    /// The caller's id; results carry it back.
    public var id: String
    /// The prompt in tokens, as `ModelText.prompt` makes it.
    public var prompt: [Int32]
    /// Accounting group (dialect or tenant) for fair share and metrics.
    public var group: String
    public var routing: RoutingPolicy
    public var sampling: SamplingParams
    /// Seeds this request's sampling and its `model` routing draw, so the tokens do not
    /// depend on what else is in the batch.
    public var seed: UInt64
    /// All generated tokens, control token and reasoning included.
    public var maxTokens: Int
    /// The answer ends before the first occurrence of any of these (they are not returned).
    public var stop: [String]
    /// Caps the reasoning tokens this request samples, like vLLM's `thinking_token_budget`.
    public var thinkingTokenBudget: Int?
    /// Tokens forced before `</think>` when thinking is cut (by `thinkingTokenBudget`, the
    /// global budget or the room kept for the answer), so the answer does not run on from a
    /// cut-off trace, as llama.cpp's `--reasoning-budget-message` does. They are part of the
    /// reasoning, are not metered by the global budget, and room is kept for them within
    /// `maxTokens`; empty: `</think>` alone is forced.
    public var thinkClose: [Int32]
    /// Higher goes first under `fifo` and `value`.
    public var priority: Int
    /// No control token: token 0 is sampled like any other and everything generated is
    /// answer (`generate --raw`/`--chat`, a plain base). `routing` and the budget do not apply.
    public var plain: Bool

    public init(id: String, prompt: [Int32], group: String = "default", routing: RoutingPolicy = .model,
                sampling: SamplingParams = .greedy, seed: UInt64 = 0, maxTokens: Int = 200, stop: [String] = [],
                thinkingTokenBudget: Int? = nil, priority: Int = 0, thinkClose: [Int32] = [], plain: Bool = false) {
        self.id = id; self.prompt = prompt; self.group = group; self.routing = routing; self.sampling = sampling
        self.seed = seed; self.maxTokens = maxTokens; self.stop = stop; self.thinkingTokenBudget = thinkingTokenBudget
        self.priority = priority; self.thinkClose = thinkClose; self.plain = plain
    }
}

/// What the budget did to a request. Absent when the budget never got in the way.
public enum BudgetAction: String, Sendable, Equatable, Codable, CaseIterable {
    /// `</think>` was forced because the budget ran out.
    case truncate
    /// Answered in `<short>` mode because the budget could not pay (or the load-linked
    /// threshold rose above its p(think)).
    case downgrade
    /// Waited for budget, then thought.
    case queue
    /// Not served; `rejectReason` says why.
    case reject
}

public enum FinishReason: String, Sendable, Equatable, Codable {
    /// `<eos>` or a stop string.
    case stop
    /// `maxTokens` or the context ran out.
    case length
    case rejected
    /// The client went away before the request finished.
    case cancelled
}

/// Machine-readable reasons a request was not served.
public enum RejectReason: String, Sendable, Equatable, Codable {
    case queueFull = "queue_full"
    case budgetExhausted = "budget_exhausted"
    case queueDeadline = "queue_deadline_exceeded"
    case promptTooLong = "prompt_too_long"
    case invalidRequest = "invalid_request"
}

/// The outcome of one request.
extension Request {
    /// The sampling seed of the n-th request (n ≥ 1) of a run with seed `base`, when the request
    /// gives none: input line n of `reckon generate` and request n of `reckon serve`, so the
    /// same request samples the same tokens in both.
    public static func seed(base: UInt64, number n: UInt64) -> UInt64 { base &+ n &* 0x9E37_79B9_7F4A_7C15 }
}

public struct RequestResult: Sendable, Equatable {
    public var id: String
    public var group: String
    /// The mode actually used; nil when rejected before token 0, and for a plain request.
    public var mode: ReasoningMode?
    /// The model's p(think) over {<think>, <short>} at token 0; nil when never prefilled.
    public var pThink: Double?
    /// Generated tokens, control token first.
    public var tokens: [Int32]
    public var reasoning: String
    public var answer: String
    /// Tokens of `reasoning`: those sampled, plus `closingTokens`.
    public var reasoningTokens: Int
    /// Of `reasoningTokens`, the forced `Request.thinkClose` tokens (0 unless thinking was cut).
    public var closingTokens: Int = 0
    public var answerTokens: Int
    public var budgetAction: BudgetAction?
    /// `</think>` was forced (budget, `thinking_token_budget` or room for the answer).
    public var thinkTruncated: Bool
    public var finishReason: FinishReason
    public var rejectReason: RejectReason?
    /// The effective think threshold when the load-linked law routed this request.
    public var loadThreshold: Double?
    /// Clock times: arrival, token 0, last token.
    public var arrival: Double
    public var firstToken: Double?
    public var finished: Double
    /// Decode FLOPs spent on this request: its prompt and every generated token, attention included.
    public var flops: Double
    /// Budget reserved for this request and returned unspent when it finished.
    public var releasedUnits: Double = 0

    public var latency: Double { finished - arrival }
    public var timeToFirstToken: Double? { firstToken.map { $0 - arrival } }
}
