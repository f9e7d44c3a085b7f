// Rollout outcomes, their rewards and the group-relative advantages; not the loss (PolicyLoss.swift).

import ReckonModel

/// Thinkless rewards and group-relative advantages (docs/degrpo.md, "One step", 3–4).

/// How a rollout ended, read from its tokens (the mode from token 0, never from the text).
public struct RolloutOutcome: Sendable, Equatable {
    public var mode: ReasoningMode
    public var correct: Bool
    /// A `<think>` that hit the length limit before `</think>`, or output that does not parse.
    public var malformed: Bool
    public init(mode: ReasoningMode, correct: Bool, malformed: Bool = false) {
        self.mode = mode; self.correct = correct; self.malformed = malformed
    }
}

public struct RewardConfig: Sendable, Equatable, Codable {
    /// Think penalty γ > 0: a correct think earns 1 − γ, a correct short earns 1.
    public var gamma: Float
    public init(gamma: Float = 0.5) { self.gamma = gamma }

    public func reward(_ o: RolloutOutcome) -> Float {
        guard o.correct, !o.malformed else { return -1 }
        return o.mode == .short ? 1 : 1 - gamma
    }
}

public enum Advantage {
    /// A_i = r_i − mean(r) within one prompt's group; divided by the group's std when
    /// `normalizeStd` (groups with zero spread get 0, not a division by zero).
    public static func groupRelative(_ rewards: [Float], normalizeStd: Bool = false) -> [Float] {
        guard !rewards.isEmpty else { return [] }
        let n = Float(rewards.count)
        let mean = rewards.reduce(0, +) / n
        let centred = rewards.map { $0 - mean }
        guard normalizeStd else { return centred }
        let std = (centred.reduce(0) { $0 + $1 * $1 } / n).squareRoot()
        return std > 1e-6 ? centred.map { $0 / std } : centred.map { _ in 0 }
    }

    /// Control-token advantages with the batch's shared preference for one mode removed.
    ///
    /// With x_i = 1[think]_i − (think fraction of i's group), the control term's gradient on
    /// what every prompt shares is ∝ Σ_i A_i x_i. Subtracting β·x_i, with β = Σ A_i x_i / Σ x_i²
    /// over the batch (the batch's mean advantage of thinking), makes that sum zero: the
    /// control token then learns only where thinking pays more, or less, than on average.
    /// Rollouts keep `advantage` for the response term; `groups[i]` names i's prompt.
    /// `strength` λ removes λ·β·x instead: λ = 1 is the full contrast, λ = 0 the group
    /// advantage, and in between the mean think rate keeps a (1 − λ) share of its push.
    public static func batchContrast(_ advantages: [Float], thinks: [Bool], groups: [Int], strength: Double = 1) -> [Float] {
        precondition(advantages.count == thinks.count && thinks.count == groups.count)
        var count: [Int: Int] = [:], think: [Int: Int] = [:]
        for (g, t) in zip(groups, thinks) { count[g, default: 0] += 1; think[g, default: 0] += t ? 1 : 0 }
        let x = zip(groups, thinks).map { g, t in (t ? 1 : 0) - Double(think[g] ?? 0) / Double(count[g] ?? 1) }
        let sxx = x.reduce(0) { $0 + $1 * $1 }
        guard sxx > 1e-12 else { return advantages }
        let beta = zip(advantages, x).reduce(0) { $0 + Double($1.0) * $1.1 } / sxx
        return zip(advantages, x).map { Float(Double($0) - strength * beta * $1) }
    }
}
