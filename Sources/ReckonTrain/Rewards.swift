import ReckonModel

/// Thinkless rewards and group-relative advantages (DESIGN.md §6).

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
}
