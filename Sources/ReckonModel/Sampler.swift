// Sampling settings and one token drawn from logits (temperature, top-k, top-p, allowed and excluded ids),
// plus the softmax over a few ids that gives p(think); the routing decision is RoutingPolicy.swift's.

import ReckonCore
import Foundation

/// How the next token is drawn. temperature 0 means greedy.
public struct SamplingParams: Sendable, Equatable, Codable {
    public var temperature: Float
    /// Keep the k most likely tokens; 0 keeps all.
    public var topK: Int
    /// Keep the smallest set whose probability reaches p; 1 keeps all.
    public var topP: Float

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    public static let greedy = SamplingParams(temperature: 0)

    public func validate() throws(SamplingError) {
        guard temperature >= 0, temperature.isFinite else { throw .invalid("temperature must be ≥ 0, got \(temperature)") }
        guard topK >= 0 else { throw .invalid("top_k must be ≥ 0, got \(topK)") }
        guard topP > 0, topP <= 1 else { throw .invalid("top_p must be in (0, 1], got \(topP)") }
    }
}

public enum SamplingError: Error, Equatable, CustomStringConvertible {
    case invalid(String)
    case emptyAllowedSet
    case tokenOutOfRange(Int32)
    public var description: String {
        switch self {
        case .invalid(let why): "invalid sampling parameters: \(why)"
        case .emptyAllowedSet: "the allowed token set is empty"
        case .tokenOutOfRange(let t): "allowed token \(t) is outside the vocabulary"
        }
    }
}

public enum Sampler {
    /// Draws one token from `logits` (V). With `allowed`, only those ids can be drawn
    /// (the router's <think>/<short> choice at token 0); ids in `excluding` never are
    /// (`Tokenizer.outsideAnswers` after token 0). Deterministic for a given RNG state.
    public static func sample(
        _ logits: ArraySlice<Float>, params: SamplingParams, allowed: [Int32]? = nil, excluding: [Int32] = [], rng: inout RNG
    ) throws(SamplingError) -> Int32 {
        let base = logits.startIndex
        var ids: [Int32]
        if let allowed {
            guard !allowed.isEmpty else { throw .emptyAllowedSet }
            for t in allowed where t < 0 || Int(t) >= logits.count { throw .tokenOutOfRange(t) }
            ids = allowed
        } else {
            ids = (0..<Int32(logits.count)).map { $0 }
        }
        if !excluding.isEmpty {
            ids.removeAll { excluding.contains($0) }
            guard !ids.isEmpty else { throw .emptyAllowedSet }
        }
        if params.temperature == 0 {
            var best = ids[0]
            for t in ids where logits[base + Int(t)] > logits[base + Int(best)] { best = t }
            return best
        }
        // Candidates by descending logit; ties keep id order so the result is reproducible.
        ids.sort { logits[base + Int($0)] > logits[base + Int($1)] || (logits[base + Int($0)] == logits[base + Int($1)] && $0 < $1) }
        if params.topK > 0, params.topK < ids.count { ids.removeLast(ids.count - params.topK) }
        let mx = logits[base + Int(ids[0])]
        var probs = ids.map { expf((logits[base + Int($0)] - mx) / params.temperature) }
        let total = probs.reduce(0, +)
        if params.topP < 1 {
            var cum: Float = 0, keep = probs.count
            for (i, p) in probs.enumerated() {
                cum += p / total
                if cum >= params.topP { keep = i + 1; break }
            }
            probs.removeLast(probs.count - keep)
            ids.removeLast(ids.count - keep)
        }
        let u = rng.uniform() * probs.reduce(0, +)
        var acc: Float = 0
        for (i, p) in probs.enumerated() {
            acc += p
            if u < acc { return ids[i] }
        }
        return ids[ids.count - 1]
    }

    /// Softmax at temperature 1 restricted to `tokens`, in the order given:
    /// e.g. [p(<think>), p(<short>)] with the two summing to 1.
    public static func probabilities(_ logits: ArraySlice<Float>, over tokens: [Int32]) throws(SamplingError) -> [Float] {
        guard !tokens.isEmpty else { throw .emptyAllowedSet }
        for t in tokens where t < 0 || Int(t) >= logits.count { throw .tokenOutOfRange(t) }
        let base = logits.startIndex
        let xs = tokens.map { logits[base + Int($0)] }
        let mx = xs.max() ?? 0
        let es = xs.map { expf($0 - mx) }
        let s = es.reduce(0, +)
        return es.map { $0 / s }
    }
}
