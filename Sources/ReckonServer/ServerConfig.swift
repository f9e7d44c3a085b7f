// The settings of `reckon serve` and the defaults a request gets; the CLI flags are reckon/ServeCommand.swift's.

import ReckonModel
import ReckonRuntime

/// Settings of `reckon serve`: where it listens, who may call it, its limits, and the
/// defaults a request gets for the fields it leaves out.
public struct ServerConfig: Sendable {
    /// The documented default port.
    public static let defaultPort = 8088

    /// Loopback by default: the server is reachable from other machines only when asked.
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests); the port bound is reported when the server starts.
    public var port = ServerConfig.defaultPort
    /// When set, every path but exactly `/health` needs `Authorization: Bearer <key>`.
    public var apiKey: String?
    /// Seconds a client has to send a request's head (request line and headers), counted
    /// from the connection opening or the previous response ending; then the connection closes.
    public var headerTimeout = 10.0
    /// Seconds a client has to send a request's body, counted from the end of its head.
    public var bodyTimeout = 30.0
    /// Open connections at most; one accepted over the limit is closed at once.
    public var maxConnections = 512
    /// Seconds graceful shutdown waits for requests in flight before closing their connections.
    public var shutdownTimeout = 30.0
    /// Larger bodies get 413.
    public var maxBodyBytes = 1 << 20
    /// The largest `max_tokens` a request may ask for; nil: the model's context length.
    public var maxTokensLimit: Int?
    /// The longest prompt in tokens (with `<bos>` and the closing newline); nil: the
    /// context length − 1, leaving room for one generated token.
    public var maxPromptTokens: Int?
    /// The name `/v1/models` lists and requests may give as `model`.
    public var modelName = "reckon"
    /// Distinct `group` labels the metrics keep; further groups are counted under `_other`.
    public var maxMetricGroups = 256
    public var defaults = RequestDefaults()
    /// Forced before `</think>` when thinking is cut (by a cap, the budget or the room for the
    /// answer), like llama.cpp's `--reasoning-budget-message`; empty: `</think>` alone.
    public var thinkCloseText = ServerConfig.defaultThinkCloseText
    public static let defaultThinkCloseText = "... I have run out of thinking budget; answering now."
    /// `reckon serve`'s default on byte-level models: their scratchpads end in `|=`, and after a
    /// cut think they answer better after it than after the English text (docs/http-api.md).
    public static let byteLevelThinkCloseText = "|="
    /// trace, debug, info, notice, warning, error or critical (standard error).
    public var logLevel = "info"
    /// Keep the budget in Redis, shared with every replica naming it (docs/deployment.md).
    public var budgetStore: RedisBudgetAddress?
    public var budgetStoreFallback: BudgetStoreFallback = .deny

    public init() {}
}

/// What a request gets for a field it does not send (the `reckon serve` flags of `RuntimeOptions`).
public struct RequestDefaults: Sendable {
    public var routing: RoutingPolicy = .model
    public var sampling: SamplingParams = .greedy
    public var maxTokens = 200
    public var thinkingTokenBudget: Int?
    /// Requests without a `seed` get seed + n·φ for the n-th request.
    public var seed: UInt64 = 1

    public init() {}
}
