// How the mode token is chosen (model, forced or threshold) and its `--routing` syntax; applying it during
// generation is Generate.swift's.

/// How token 0 — the mode — is chosen. Everything after it is greedy.
public enum RoutingPolicy: Sendable, Equatable, CustomStringConvertible {
    /// Sample the mode from the model's own distribution over {<think>, <short>}.
    case model
    /// Force <think>.
    case think
    /// Force <short>.
    case short
    /// Think iff p(think) ≥ T.
    case threshold(Double)

    /// Parses `model`, `think`, `short` or `threshold:T` with 0 ≤ T ≤ 1.
    public init(parsing text: String) throws(RoutingError) {
        switch text {
        case "model": self = .model
        case "think": self = .think
        case "short": self = .short
        default:
            guard text.hasPrefix("threshold:"), let t = Double(text.dropFirst("threshold:".count)), t >= 0, t <= 1 else {
                throw .badRouting(text)
            }
            self = .threshold(t)
        }
    }

    public var description: String {
        switch self {
        case .model: "model"
        case .think: "think"
        case .short: "short"
        case .threshold(let t): "threshold:\(t)"
        }
    }

    /// The mode for a prompt whose p(think) is `pThink`; `u` is a uniform draw in [0, 1)
    /// used only by `.model`.
    public func choose(pThink: Double, u: Double) -> ReasoningMode {
        switch self {
        case .model: u < pThink ? .think : .short
        case .think: .think
        case .short: .short
        case .threshold(let t): pThink >= t ? .think : .short
        }
    }
}

public enum RoutingError: Error, Equatable, CustomStringConvertible {
    case badRouting(String)

    public var description: String {
        switch self {
        case .badRouting(let s): "unknown routing \"\(s)\" (use model, think, short or threshold:T with 0 ≤ T ≤ 1)"
        }
    }
}
