// `reasoning_effort` (none/low/medium/high) mapped onto routing at token 0 and a cap on sampled reasoning
// tokens; the request's own fields and the global budget are not its concern.

import ReckonModel

/// `reasoning_effort`, OpenAI's knob for how much a reasoning model thinks, mapped onto
/// Reckon's routing at token 0 and a per-request cap on sampled reasoning tokens. It owns the
/// mapping only; the request's own `routing` and `thinking_token_budget` take precedence
/// (RequestBuilder), and the global budget still applies on top (docs/http-api.md).
enum ReasoningEffort: String, Sendable, CaseIterable {
    /// No thinking: `<short>` is forced.
    case none
    /// Think only when the model is sure it needs to, briefly.
    case low
    /// The server's own routing (the checkpoint's stored rule, or `--routing`), with a cap.
    case medium
    /// Always think, for as long as `max_tokens` leaves room.
    case high

    /// p(think) that `low` requires before it thinks.
    static let lowThreshold = 0.9
    /// Sampled reasoning tokens at most under `low` and `medium`.
    static let lowCap = 32
    static let mediumCap = 128

    /// The accepted values, for error messages.
    static let accepted = allCases.map(\.rawValue).joined(separator: ", ")

    /// The routing this effort asks for, given the server's default routing.
    func routing(serverDefault: RoutingPolicy) -> RoutingPolicy {
        switch self {
        case .none: .short
        case .low: .threshold(Self.lowThreshold)
        case .medium: serverDefault
        case .high: .think
        }
    }

    /// The cap on sampled reasoning tokens: this effort's, never above the server's own
    /// default cap (`--thinking-token-budget`); nil means no cap but the room in `max_tokens`.
    func thinkingCap(serverDefault: Int?) -> Int? {
        let own: Int? = switch self {
        case .none: 0
        case .low: Self.lowCap
        case .medium: Self.mediumCap
        case .high: nil
        }
        guard let own else { return serverDefault }
        return min(own, serverDefault ?? own)
    }
}
