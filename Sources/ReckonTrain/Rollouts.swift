import ReckonCore
import ReckonData
import ReckonModel

// DeGRPO's rollouts through the one generation loop (ReckonModel/Generate.swift), scored; not the loss.

/// One prompt of the RL set: its tokens and what a correct answer is.
public struct RLPrompt: Sendable, Equatable {
    public var tokens: [Int32]
    public var answer: String
    public var difficulty: Int
    public var group: String
    public init(tokens: [Int32], answer: String, difficulty: Int = 0, group: String = "") {
        self.tokens = tokens; self.answer = answer; self.difficulty = difficulty; self.group = group
    }
    /// The example's prompt in the model's routed format (`PromptFormat` on the byte models).
    public init(_ e: Example, format: RoutedFormat = .bytes) {
        self.init(tokens: format.prompt(e.prompt), answer: e.answer, difficulty: e.difficulty ?? 0, group: e.group ?? "")
    }
}

/// One sampled response, scored.
public struct Rollout: Sendable, Equatable {
    public var prompt: Int
    public var response: [Int32]
    public var outcome: RolloutOutcome
    public var reward: Float
    public var advantage: Float
    /// A `<think>` that reached the length limit before `</think>`.
    public var truncated: Bool
    /// The control token's own advantage, when it differs from `advantage`
    /// (`Advantage.batchContrast`).
    public var controlAdvantage: Float? = nil
    /// The policy's p(<think>) at the decision, over {<think>, <short>}.
    public var pThink: Float = 0.5
    /// π(mode)/q(mode): the importance weight of the control token when paired rollouts
    /// forced its mode (q = ½); 1 when the mode was drawn from the policy. Over a group it
    /// makes the push on the logit of <think> over <short> α·π(think)·π(short)·(mean think
    /// reward − mean short reward): the exact gradient, with no noise from drawing the mode.
    public var controlImportance: Float = 1
}

public struct RolloutConfig: Sendable, Equatable, Codable {
    /// Samples per prompt (G).
    public var groupSize: Int = 8
    public var maxResponseTokens: Int = 160
    public var sampling = SamplingParams(temperature: 1.0, topP: 1.0)
    public var normalizeStd = false
    public var reward = RewardConfig()
    /// How each rollout's first token is chosen.
    public enum Modes: String, Sendable, Equatable, Codable, CaseIterable {
        /// Drawn from the policy.
        case sampled
        /// Half of each group forced to <think> and half to <short>, so every prompt measures
        /// both modes whatever the policy prefers.
        case paired
    }
    public var modes = Modes.sampled
    public var pairedModes: Bool { modes == .paired }
    public init() {}
}

public enum Rollouts {
    /// G samples per prompt in one batched, KV-cached generation. Token 0 is drawn from the
    /// model restricted to {<think>, <short>}; the mode is read from that token alone.
    /// `members` samples only those places of each group (a rank's share of a data-parallel
    /// step); the advantages, which need whole groups, are then left at 0 for `assignAdvantages`.
    /// Responses end and are read back by `format`, the model's (the byte models' by default).
    public static func sample(
        policy: Transformer, prompts: [RLPrompt], config c: RolloutConfig, seed: UInt64, members: Range<Int>? = nil,
        format: RoutedFormat = .bytes
    ) throws -> [Rollout] {
        let members = members ?? 0..<c.groupSize
        guard !members.isEmpty, members.lowerBound >= 0, members.upperBound <= c.groupSize else {
            throw TrainError.invalidRollout("group places \(members) are not a non-empty part of 0..<\(c.groupSize)")
        }
        let M = members.count
        let replicated = prompts.flatMap { p in Array(repeating: p.tokens, count: M) }
        // The longest prompt bounds the response length the context leaves room for.
        let room = policy.config.maxSeqLen - (prompts.map(\.tokens.count).max() ?? 0)
        guard room >= 2 else { throw ModelError.sequenceTooLong(length: policy.config.maxSeqLen - room + 2, maxSeqLen: policy.config.maxSeqLen) }
        let first: FirstToken = c.pairedModes
            ? .forced(prompts.flatMap { _ in members.map { $0 < c.groupSize / 2 ? .think : .short } }) : .sampled
        // Every rollout of a step gets the same limit, the room the longest prompt leaves.
        let generations = try policy.generate(prompts: replicated, maxNewTokens: min(c.maxResponseTokens, room), params: c.sampling,
                                              seed: seed, first: first, rowsPerCall: max(replicated.count, 256), roles: format.roles)
        var rollouts: [Rollout] = []
        rollouts.reserveCapacity(generations.count)
        for (i, g) in generations.enumerated() {
            let p = i / M
            let parsed = format.parse(g.tokens)
            let mode: ReasoningMode = parsed.mode ?? .short
            let truncated = parsed.mode == .think && !parsed.closedThinking
            let correct = parsed.isWellFormed && Verifier.matches(parsed.answer, gold: prompts[p].answer)
            let outcome = RolloutOutcome(mode: mode, correct: correct, malformed: !parsed.isWellFormed)
            var r = Rollout(prompt: p, response: g.tokens, outcome: outcome,
                            reward: c.reward.reward(outcome), advantage: 0, truncated: truncated)
            r.pThink = Float(g.pThink)
            if c.pairedModes { r.controlImportance = 2 * (mode == .think ? r.pThink : 1 - r.pThink) }
            rollouts.append(r)
        }
        if M == c.groupSize { assignAdvantages(&rollouts, config: c) }
        return rollouts
    }

    /// Each rollout's group-relative advantage; `rollouts` holds whole groups, G consecutive per prompt.
    public static func assignAdvantages(_ rollouts: inout [Rollout], config c: RolloutConfig) {
        for start in stride(from: 0, to: rollouts.count, by: c.groupSize) {
            let range = start..<min(start + c.groupSize, rollouts.count)
            let adv = Advantage.groupRelative(rollouts[range].map(\.reward), normalizeStd: c.normalizeStd)
            for (k, i) in range.enumerated() { rollouts[i].advantage = adv[k] }
        }
    }
}
