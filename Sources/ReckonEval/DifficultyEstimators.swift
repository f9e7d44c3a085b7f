// Cheap difficulty scores for adaptive best-of-N (prompt entropy, short-answer NLL), each with its FLOPs.

import Foundation
import ReckonCore
import ReckonModel

/// Cheap difficulty estimates for adaptive best-of-N, each with the FLOPs it costs.
public enum DifficultyEstimator: String, Sendable, CaseIterable {
    /// Mean next-token entropy over the first k prompt tokens: prompts the model finds
    /// surprising to read tend to be the ones it finds hard to answer.
    case prefixEntropy = "entropy"
    /// Mean −log p of a fast greedy `<short>` answer: low confidence in its own direct
    /// answer signals a hard problem.
    case greedyNLL = "nll"

    /// Prompt tokens the entropy estimator reads.
    public static let prefixTokens = 16

    /// The estimate for one prompt (made by `format`) and its cost in FLOPs; the short answer
    /// opens with `format`'s `<short>` and stops at one of its end tokens.
    public func estimate(model: Transformer, prompt: [Int32], maxTokens: Int, format: RoutedFormat = .bytes) throws -> (score: Double, flops: Double) {
        switch self {
        case .prefixEntropy:
            let k = min(Self.prefixTokens, prompt.count)
            let logits = try Self.logits(model: model, tokens: Array(prompt.prefix(k)))
            let V = model.config.vocabSize
            var total = 0.0
            for i in 0..<k { total += Self.entropy(logits[(i * V)..<((i + 1) * V)]) }
            return (total / Double(max(1, k)), Self.flops(model.config, rows: k))
        case .greedyNLL:
            // Greedy short answer, then its tokens scored in one pass over prompt + answer.
            let limit = min(maxTokens, model.config.maxSeqLen - prompt.count)
            guard limit >= 2 else { return (0, 0) }
            var tokens = prompt + [format.control.short]
            var cache = try KVCache(config: model.config, slots: 1)
            var scratch = DecodeScratch(config: model.config, maxRows: prompt.count + 1)
            var logits = try model.step(tokens.map { DecodeRow(slot: 0, token: $0) }, cache: &cache, scratch: &scratch)
            let V = model.config.vocabSize
            var nll = 0.0, generated = 0
            while generated < limit - 1 {
                let row = logits[(logits.count - V)..<logits.count]
                var best = 0
                for t in 0..<V where row[row.startIndex + t] > row[row.startIndex + best] { best = t }
                nll -= Self.logSoftmax(row, Int32(best))
                generated += 1
                tokens.append(Int32(best))
                if format.roles.isEnd(Int32(best)) || tokens.count >= model.config.maxSeqLen { break }
                logits = try model.step([DecodeRow(slot: 0, token: Int32(best))], cache: &cache, scratch: &scratch)
            }
            return (nll / Double(max(1, generated)), Self.flops(model.config, rows: tokens.count - 1))
        }
    }

    static func logits(model: Transformer, tokens: [Int32]) throws -> [Float] {
        var cache = try KVCache(config: model.config, slots: 1)
        var scratch = DecodeScratch(config: model.config, maxRows: max(1, tokens.count))
        return try model.step(tokens.map { DecodeRow(slot: 0, token: $0) }, cache: &cache, scratch: &scratch)
    }

    static func entropy(_ row: ArraySlice<Float>) -> Double {
        let mx = Double(row.max() ?? 0)
        let z = row.reduce(0.0) { $0 + exp(Double($1) - mx) }
        return row.reduce(0.0) { acc, x in
            let p = exp(Double(x) - mx) / z
            return p > 0 ? acc - p * log(p) : acc
        }
    }

    static func logSoftmax(_ row: ArraySlice<Float>, _ t: Int32) -> Double {
        let mx = Double(row.max() ?? 0)
        let z = row.reduce(0.0) { $0 + exp(Double($1) - mx) }
        return Double(row[row.startIndex + Int(t)]) - mx - log(z)
    }

    /// FLOPs of running `rows` consecutive positions from the start of a sequence.
    static func flops(_ c: ModelConfig, rows: Int) -> Double {
        (0..<rows).reduce(0) { $0 + c.decodeFlopsPerToken(context: $1 + 1) }
    }
}
