import ReckonModel
@testable import ReckonTrain

// The hand-built DeGRPO group that DeGRPOTests and LoRATrainTests train on, and the p(think)
// they measure its effect by.

/// One prompt, `2+2`, whose think rollouts are right and short ones wrong.
enum ThinkWinsGroup {
    static let prompt = RLPrompt(tokens: PromptFormat.prompt("2+2"), answer: "4", difficulty: 1)

    /// Four rollouts (think, short, think, short) with their rewards under `gamma` and group
    /// advantages: the think ones positive, the short ones negative.
    static func rollouts(gamma: Float) -> [Rollout] {
        let think = PromptFormat.longAnswer(steps: "2+2=4", short: "4"), short = PromptFormat.shortAnswer("5")
        let rc = RewardConfig(gamma: gamma)
        var rollouts = [think, short, think, short].map { resp -> Rollout in
            let o = RolloutOutcome(mode: resp[0] == Tokenizer.think ? .think : .short, correct: resp[0] == Tokenizer.think)
            return Rollout(prompt: 0, response: resp, outcome: o, reward: rc.reward(o), advantage: 0, truncated: false)
        }
        let adv = Advantage.groupRelative(rollouts.map(\.reward))
        for i in rollouts.indices { rollouts[i].advantage = adv[i] }
        return rollouts
    }

    /// p(think) of `model` at `prompt`'s decision.
    static func pThink(_ model: Transformer) throws -> Float {
        Float(try model.generate(prompts: [prompt.tokens], maxNewTokens: 1, first: .sampled)[0].pThink)
    }
}
