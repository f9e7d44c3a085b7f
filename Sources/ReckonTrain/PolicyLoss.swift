// The clipped policy-gradient loss of DeGRPO and GRPO and its per-token weights; not the advantages
// (Rewards.swift) or the step that applies them (DeGRPO.swift).

import Foundation

/// The clipped policy-gradient objectives of GRPO and decoupled GRPO (Thinkless; docs/degrpo.md, "One step", 6).
///
/// For rollout i with response tokens t = 0…Tᵢ (token 0 is the control token):
///   ρ = exp(logp − logp_old),  ℓ = min(ρ·A, clip(ρ, 1−ε, 1+ε)·A),
///   k3 = exp(ref − logp) − (ref − logp) − 1.
/// DeGRPO maximises  (1/G) Σᵢ [α·ℓᵢ,₀ + (1/Tᵢ) Σ_{t≥1} ℓᵢ,ₜ] − β·KL;
/// vanilla GRPO puts token 0 inside the mean: (1/G) Σᵢ (1/(Tᵢ+1)) Σ_{t≥0} ℓᵢ,ₜ − β·KL.
/// The result is the loss −J and, per token, w = ∂J/∂logp: exactly the weights that
/// `Transformer.backward` takes, since it differentiates Σ w·(−logp).
public struct PolicyLossConfig: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case degrpo, grpo }
    /// How the response term averages its tokens.
    public enum Aggregation: String, Sendable, Codable, CaseIterable {
        /// (1/G) Σᵢ (1/Tᵢ) Σₜ: every rollout weighs the same (the paper's formula; our default).
        case sequenceMean = "sequence-mean"
        /// Σᵢ Σₜ / Σᵢ Tᵢ over the batch: every token weighs the same (the reference code's choice).
        case batchTokenMean = "token-mean"
    }
    public var kind: Kind = .degrpo
    /// Weight of the control-token term under DeGRPO.
    public var alpha: Float = 1
    /// Clip range ε of the ratio.
    public var epsilon: Float = 0.2
    /// KL coefficient β against the frozen reference.
    public var beta: Float = 0.001
    public var aggregation: Aggregation = .sequenceMean

    public init(kind: Kind = .degrpo, alpha: Float = 1, epsilon: Float = 0.2, beta: Float = 0.001,
                aggregation: Aggregation = .sequenceMean) {
        self.kind = kind; self.alpha = alpha; self.epsilon = epsilon; self.beta = beta; self.aggregation = aggregation
    }
}

/// One rollout's per-token log-probabilities of its own response tokens; index 0 is the control token.
public struct PolicyRollout: Sendable, Equatable {
    public var logprobs: [Float]
    public var oldLogprobs: [Float]
    public var refLogprobs: [Float]
    public var advantage: Float
    /// The control token's advantage; nil means `advantage`.
    public var controlAdvantage: Float?
    /// π(token 0)/q(token 0) when token 0 was drawn from q rather than from the policy (paired
    /// rollouts force it, q = ½). It weights token 0's clipped term and its k3 alike, so both
    /// estimate what they would under the policy's own draw. Unweighted, a forced mode the policy
    /// finds unlikely has k3 ≈ π_ref/π: a pull back to the reference that grows without bound.
    public var controlImportance: Float
    public init(logprobs: [Float], oldLogprobs: [Float], refLogprobs: [Float], advantage: Float, controlAdvantage: Float? = nil,
                controlImportance: Float = 1) {
        self.logprobs = logprobs; self.oldLogprobs = oldLogprobs; self.refLogprobs = refLogprobs; self.advantage = advantage
        self.controlAdvantage = controlAdvantage; self.controlImportance = controlImportance
    }
}

public struct PolicyLossResult: Sendable {
    /// −J.
    public var loss: Double
    /// ∂J/∂logp per rollout and token.
    public var weights: [[Float]]
    /// Token 0's share of J and the rest of the clipped term (before the KL penalty).
    public var controlTerm: Double
    public var responseTerm: Double
    /// Mean k3 KL per token of these rollouts (token 0 importance-weighted), and the total
    /// weight behind that mean, so micro-batches combine as Σ kl·klWeight / Σ klWeight.
    public var kl: Double
    public var klWeight: Double
    /// The same for the control tokens alone.
    public var controlKL: Double
    public var controlKLWeight: Double
    /// Fraction of these rollouts' tokens whose ratio is clipped (gradient cut).
    public var clipFraction: Double
}

/// Batch-wide counts that fix the normalisation, so a batch split into micro-batches
/// gets exactly the weights it would get whole.
public struct PolicyLossTotals: Sendable, Equatable {
    public var sequences: Int
    public var responseTokens: Int
    public var allTokens: Int
    public init(sequences: Int, responseTokens: Int, allTokens: Int) {
        self.sequences = sequences; self.responseTokens = responseTokens; self.allTokens = allTokens
    }
    public init(_ tokenCounts: [Int]) {
        self.init(sequences: tokenCounts.count, responseTokens: tokenCounts.reduce(0) { $0 + $1 - 1 },
                  allTokens: tokenCounts.reduce(0, +))
    }
}

public enum PolicyLoss {
    /// `totals` defaults to the counts of `rollouts` itself; pass the whole batch's when
    /// `rollouts` is one micro-batch of it.
    public static func compute(_ rollouts: [PolicyRollout], config c: PolicyLossConfig,
                               totals: PolicyLossTotals? = nil) throws(TrainError) -> PolicyLossResult {
        guard !rollouts.isEmpty else { throw .shapeMismatch("policy loss over an empty batch") }
        for (i, r) in rollouts.enumerated() {
            guard !r.logprobs.isEmpty, r.oldLogprobs.count == r.logprobs.count, r.refLogprobs.count == r.logprobs.count else {
                throw .shapeMismatch("rollout \(i): logprobs, old and reference log-probs must have the same non-zero length")
            }
            guard r.controlImportance.isFinite, r.controlImportance >= 0 else {
                throw .invalidRollout("rollout \(i): the control token's importance weight must be finite and ≥ 0, got \(r.controlImportance)")
            }
        }
        let tot = totals ?? PolicyLossTotals(rollouts.map(\.logprobs.count))
        let G = Double(tot.sequences), responseTokens = Double(max(1, tot.responseTokens)), allTokens = Double(tot.allTokens)
        let localTokens = Double(rollouts.reduce(0) { $0 + $1.logprobs.count })
        var weights: [[Float]] = []
        var control = 0.0, response = 0.0, klSum = 0.0, klTerm = 0.0, clipped = 0, klCount = 0.0
        var controlKLSum = 0.0, controlKLCount = 0.0
        for r in rollouts {
            let n = r.logprobs.count, T = n - 1
            // Weight of each token's ℓ in J.
            func tokenWeight(_ t: Int) -> Double {
                switch c.kind {
                case .grpo: return 1 / (G * Double(n))
                case .degrpo:
                    if t == 0 { return Double(c.alpha) / G }
                    switch c.aggregation {
                    case .sequenceMean: return 1 / (G * Double(T))
                    case .batchTokenMean: return 1 / responseTokens
                    }
                }
            }
            // The KL term uses the same per-token weights as GRPO's mean over all tokens.
            let klWeight = c.aggregation == .batchTokenMean ? 1 / allTokens : 1 / (G * Double(n))
            var w = [Float](repeating: 0, count: n)
            for t in 0..<n {
                let lp = Double(r.logprobs[t]), A = Double(t == 0 ? r.controlAdvantage ?? r.advantage : r.advantage)
                let rho = exp(lp - Double(r.oldLogprobs[t]))
                let lo = 1 - Double(c.epsilon), hi = 1 + Double(c.epsilon)
                let clippedRho = min(max(rho, lo), hi)
                // min(ρA, clip(ρ)A): the unclipped branch is active (and carries gradient ρA)
                // unless the clip bound is the smaller one.
                let unclipped = rho * A, bound = clippedRho * A
                let ell = min(unclipped, bound)
                let gradActive = unclipped <= bound
                if !gradActive { clipped += 1 }
                let iw = t == 0 ? Double(r.controlImportance) : 1
                let tw = tokenWeight(t) * iw
                if t == 0 { control += tw * ell } else { response += tw * ell }
                let diff = Double(r.refLogprobs[t]) - lp
                let k3 = exp(diff) - diff - 1
                klSum += iw * k3; klCount += iw
                if t == 0 { controlKLSum += iw * k3; controlKLCount += iw }
                klTerm += iw * klWeight * k3
                // ∂k3/∂logp = 1 − exp(ref − logp).
                let dJ = (gradActive ? tw * rho * A : 0) - Double(c.beta) * iw * klWeight * (1 - exp(diff))
                w[t] = Float(dJ)
            }
            weights.append(w)
        }
        let J = control + response - Double(c.beta) * klTerm
        return PolicyLossResult(loss: -J, weights: weights, controlTerm: control, responseTerm: response,
                                kl: klCount > 0 ? klSum / klCount : 0, klWeight: klCount,
                                controlKL: controlKLCount > 0 ? controlKLSum / controlKLCount : 0, controlKLWeight: controlKLCount,
                                clipFraction: Double(clipped) / localTokens)
    }
}
