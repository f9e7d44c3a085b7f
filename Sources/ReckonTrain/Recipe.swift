import Foundation
import ReckonData
import ReckonModel

/// A training recipe: every setting of a run, read from TOML with a default for each key.
///
/// The sections are plain structs; `Recipe.schema` lists every key once, with its
/// section, type and where it is stored. Adding a section means adding its struct
/// here and its keys to the schema; the parser, `--set` and the printer follow.
public struct Recipe: Sendable, Equatable {
    public struct Model: Sendable, Equatable {
        public var dim = 256
        public var layers = 4
        public var heads = 8
        /// 0 means as many KV heads as query heads.
        public var kvHeads = 0
        public var hidden = 768
        public var context = 256
        public var tied = false
        public var seed = 1
    }

    public struct Data: Sendable, Equatable {
        /// A JSONL file to train on; empty means generate `train_n` arithmetic problems.
        public var train = ""
        public var trainN = 20_000
        /// The generated task: `arith` or `overthink` (`reckon data gen --task`).
        public var task = "arith"
        /// Level mix, `1,2,3,4,5` or weighted `1=1,5=3` (the `reckon data gen --levels` syntax).
        public var levels = "1,2,3,4,5"
        /// Dialect mix, `sae` or weighted `sae=0.9,aae=0.1`.
        public var dialects = "sae"
        public var seed = 1
        /// A JSONL file to evaluate on; empty means generate `eval_n` problems.
        public var eval = ""
        public var evalN = 500
        /// Dialects of the generated eval set; empty means those of the training mix.
        /// The eval set is paired: every problem in every dialect, equal weights.
        public var evalDialects = ""
        public var evalLevels = "1,2,3,4,5"
        public var evalSeed = 2
        /// Skip malformed JSONL lines (and report how many) instead of stopping.
        public var skipBad = false
    }

    public struct SFT: Sendable, Equatable {
        /// A checkpoint whose weights the stage starts from (with a fresh optimizer);
        /// empty means a new model from `[model]`.
        public var initFrom = ""
        /// "token": one mean over the batch's answer tokens; "sequence": the mean of each
        /// sequence's mean, so short answers weigh as much as scratchpads.
        public var lossNorm = "token"
        /// The control token's own loss weight per sequence; 0 keeps it in the answer mean.
        public var controlWeight = 0.0
        /// Optimizer steps; 0 means derive them from `epochs`.
        public var steps = 0
        public var epochs = 1.0
        /// Prompts per step; each contributes both modes, so 2× as many sequences.
        public var batch = 16
        public var lr = 1e-3
        public var minLR = 1e-4
        public var warmup = 100
        public var weightDecay = 0.1
        public var gradClip = 1.0
        public var beta1 = 0.9
        public var beta2 = 0.95
        /// Evaluate every this many steps on `eval_n` examples (0 = only at the end).
        public var evalEvery = 500
        public var evalN = 200
        /// Save a checkpoint every this many steps (0 = only at the end).
        public var saveEvery = 500
        public var keepLast = 2
        public var seed = 1
        /// Examples that do not fit the context: "reject" drops both modes of the prompt,
        /// "truncate" cuts the sequence at the context (the end of a long answer is lost).
        public var overflow = "reject"
    }

    public struct Eval: Sendable, Equatable {
        /// `model`, `think`, `short` or `threshold:T`; a comma list evaluates each in turn.
        public var routing = "think,short,model"
        /// Examples of the eval set to use; 0 means all.
        public var n = 0
        /// Generated tokens allowed per answer, prompt excluded; capped by the context.
        public var maxTokens = 200
        public var seed = 1
        /// Also evaluate the model the degrpo stage started from, and print the two side by
        /// side: think rate and accuracy by level, before and after.
        public var beforeAfter = false
    }

    /// Stage 2 of Thinkless: reinforcement learning of the mode choice (DESIGN.md §6).
    public struct DeGRPO: Sendable, Equatable {
        /// The warm-up checkpoint to start from (and the frozen KL reference); empty means
        /// this run's sft model (`model.h5` in the output folder).
        public var initFrom = ""
        public var steps = 100
        public var promptsPerStep = 16
        /// G: rollouts per prompt.
        public var groupSize = 8
        public var maxResponseTokens = 160
        public var temperature = 1.0
        public var topP = 1.0
        /// "degrpo" (decoupled control-token term) or "grpo" (vanilla, for comparison).
        public var loss = "degrpo"
        /// Weight α of the control-token term, relative to one response's token-mean.
        public var alpha = 1.0
        /// Think penalty: a correct think earns 1 − γ.
        public var gamma = 0.5
        public var epsilon = 0.2
        public var beta = 0.001
        /// "sequence-mean" (each rollout weighs the same) or "token-mean" (over the batch).
        public var aggregation = "sequence-mean"
        public var normalizeStd = false
        /// Hold the prompt-independent paths to the mode choice still (`DeGRPOConfig.freezeDecisionBias`).
        public var freezeDecisionBias = false
        /// "group": the control token uses the group advantage; "contrast": with the batch's
        /// mean advantage of thinking removed (`Advantage.batchContrast`).
        public var controlAdvantage = "group"
        /// λ: the share of the batch's mean think advantage "contrast" removes (1 = all of it).
        public var contrastStrength = 1.0
        /// Contrast only the first N steps (0: all of them).
        public var contrastSteps = 0
        /// "all" (every parameter) or "decision" (only the `<think>`/`<short>` classifier rows).
        public var trainable = "all"
        /// Train the response tokens' policy term (`DeGRPOConfig.responseTerm`).
        public var responseTerm = true
        /// "sampled" (token 0 drawn from the policy) or "paired" (half of each group forced to each mode).
        public var rollouts = "sampled"
        /// Learning rate of the `<think>`/`<short>` classifier rows; 0 means `lr`. Follows `lr`'s schedule.
        public var headLR = 0.0
        /// μ: optimisation passes per rollout batch.
        public var passes = 1
        public var microBatch = 16
        public var lr = 1e-5
        public var warmup = 0
        public var weightDecay = 0.0
        public var gradClip = 1.0
        public var evalEvery = 25
        public var evalN = 300
        public var saveEvery = 25
        public var keepLast = 2
        public var seed = 1
    }

    public struct Output: Sendable, Equatable {
        public var dir = "runs/default"
    }

    /// A later warm-up phase, one `[[phase]]` table. Phases run after `[sft]`, in order, each
    /// from the weights the phase before it ended with and a fresh optimizer. A phase lists
    /// only what it changes: `[sft]` keys other than `init`, and the training keys of `[data]`;
    /// everything else carries over from the phase before.
    public struct Phase: Sendable, Equatable {
        var settings: [PhaseSetting] = []
    }

    struct PhaseSetting: Sendable, Equatable {
        let section: String
        let name: String
        let value: RecipeValue
    }

    public var model = Model()
    public var data = Data()
    public var sft = SFT()
    public var degrpo = DeGRPO()
    public var eval = Eval()
    public var output = Output()
    /// Warm-up phases after the first (`[sft]` itself is phase 1).
    public var phases: [Phase] = []
    /// The stages to run, in order.
    public var stages = "data,sft,eval"
    /// The TOML text the recipe came from, stored in checkpoints.
    public var text = ""

    public init() {}

    public var modelConfig: ModelConfig {
        ModelConfig(dim: model.dim, nLayers: model.layers, nHeads: model.heads,
                    nKVHeads: model.kvHeads == 0 ? model.heads : model.kvHeads, hiddenDim: model.hidden,
                    maxSeqLen: model.context, tiedEmbeddings: model.tied)
    }

    /// The recipe of each warm-up phase, phase 1 first: phase k is phase k − 1 with its own
    /// settings applied.
    public func phaseRecipes() throws(RecipeError) -> [Recipe] {
        var current = self
        current.phases = []
        var out = [current]
        for (i, phase) in phases.enumerated() {
            for s in phase.settings {
                try current.set(section: s.section, key: s.name, to: s.value, source: "[[phase]] \(i + 2)")
            }
            out.append(current)
        }
        return out
    }

    /// The keys a `[[phase]]` may change.
    static func phaseAllows(section: String, name: String) -> Bool {
        switch section {
        case "sft": name != "init"
        case "data": ["train", "train_n", "levels", "dialects", "seed", "skip_bad"].contains(name)
        default: false
        }
    }

    public var stageList: [String] {
        stages.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

// MARK: Schema

extension Recipe {
    /// Every key: section, name, type, storage and an optional range check.
    /// Top-level keys use the section "".
    static var schema: [RecipeKey] {
        [
            .string("", "stages", \.stages, check: checkStages),

            .int("model", "dim", \.model.dim, min: 1),
            .int("model", "layers", \.model.layers, min: 1),
            .int("model", "heads", \.model.heads, min: 1),
            .int("model", "kv_heads", \.model.kvHeads, min: 0),
            .int("model", "hidden", \.model.hidden, min: 1),
            .int("model", "context", \.model.context, min: 8),
            .bool("model", "tied", \.model.tied),
            .int("model", "seed", \.model.seed, min: 0),

            .string("data", "train", \.data.train),
            .int("data", "train_n", \.data.trainN, min: 1),
            .string("data", "task", \.data.task, check: {
                ArithTask(rawValue: $0) == nil
                    ? "must be one of \(ArithTask.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))" : nil
            }),
            .string("data", "levels", \.data.levels, check: RecipeMixes.checkLevels),
            .string("data", "dialects", \.data.dialects, check: RecipeMixes.checkDialects),
            .int("data", "seed", \.data.seed, min: 0),
            .string("data", "eval", \.data.eval),
            .int("data", "eval_n", \.data.evalN, min: 1),
            .string("data", "eval_dialects", \.data.evalDialects, check: { $0.isEmpty ? nil : RecipeMixes.checkDialects($0) }),
            .string("data", "eval_levels", \.data.evalLevels, check: RecipeMixes.checkLevels),
            .int("data", "eval_seed", \.data.evalSeed, min: 0),
            .bool("data", "skip_bad", \.data.skipBad),

            .string("sft", "init", \.sft.initFrom),
            .string("sft", "loss_norm", \.sft.lossNorm, check: { ["token", "sequence"].contains($0) ? nil : "must be \"token\" or \"sequence\"" }),
            .number("sft", "control_weight", \.sft.controlWeight, min: 0),
            .int("sft", "steps", \.sft.steps, min: 0),
            .number("sft", "epochs", \.sft.epochs, min: 0),
            .int("sft", "batch", \.sft.batch, min: 1),
            .number("sft", "lr", \.sft.lr, min: 0),
            .number("sft", "min_lr", \.sft.minLR, min: 0),
            .int("sft", "warmup", \.sft.warmup, min: 0),
            .number("sft", "weight_decay", \.sft.weightDecay, min: 0),
            .number("sft", "grad_clip", \.sft.gradClip, min: 0),
            .number("sft", "beta1", \.sft.beta1, min: 0),
            .number("sft", "beta2", \.sft.beta2, min: 0),
            .int("sft", "eval_every", \.sft.evalEvery, min: 0),
            .int("sft", "eval_n", \.sft.evalN, min: 1),
            .int("sft", "save_every", \.sft.saveEvery, min: 0),
            .int("sft", "keep_last", \.sft.keepLast, min: 1),
            .int("sft", "seed", \.sft.seed, min: 0),
            .string("sft", "overflow", \.sft.overflow, check: { ["reject", "truncate"].contains($0) ? nil : "must be \"reject\" or \"truncate\"" }),

            .string("degrpo", "init", \.degrpo.initFrom),
            .int("degrpo", "steps", \.degrpo.steps, min: 1),
            .int("degrpo", "prompts_per_step", \.degrpo.promptsPerStep, min: 1),
            .int("degrpo", "group_size", \.degrpo.groupSize, min: 2),
            .int("degrpo", "max_response_tokens", \.degrpo.maxResponseTokens, min: 2),
            .number("degrpo", "temperature", \.degrpo.temperature, min: 0),
            .number("degrpo", "top_p", \.degrpo.topP, min: 0),
            .string("degrpo", "loss", \.degrpo.loss, check: { PolicyLossConfig.Kind(rawValue: $0) == nil ? "must be \"degrpo\" or \"grpo\"" : nil }),
            .number("degrpo", "alpha", \.degrpo.alpha, min: 0),
            .number("degrpo", "gamma", \.degrpo.gamma, min: 0),
            .number("degrpo", "epsilon", \.degrpo.epsilon, min: 0),
            .number("degrpo", "beta", \.degrpo.beta, min: 0),
            .string("degrpo", "aggregation", \.degrpo.aggregation, check: {
                PolicyLossConfig.Aggregation(rawValue: $0) == nil ? "must be \"sequence-mean\" or \"token-mean\"" : nil }),
            .bool("degrpo", "normalize_std", \.degrpo.normalizeStd),
            .bool("degrpo", "freeze_decision_bias", \.degrpo.freezeDecisionBias),
            .string("degrpo", "control_advantage", \.degrpo.controlAdvantage, check: { ["group", "contrast"].contains($0) ? nil : "must be \"group\" or \"contrast\"" }),
            .number("degrpo", "contrast_strength", \.degrpo.contrastStrength, min: 0),
            .int("degrpo", "contrast_steps", \.degrpo.contrastSteps, min: 0),
            .string("degrpo", "trainable", \.degrpo.trainable, check: { ["all", "decision"].contains($0) ? nil : "must be \"all\" or \"decision\"" }),
            .bool("degrpo", "response_term", \.degrpo.responseTerm),
            .number("degrpo", "head_lr", \.degrpo.headLR, min: 0),
            .string("degrpo", "rollouts", \.degrpo.rollouts, check: { ["sampled", "paired"].contains($0) ? nil : "must be \"sampled\" or \"paired\"" }),
            .int("degrpo", "passes", \.degrpo.passes, min: 1),
            .int("degrpo", "micro_batch", \.degrpo.microBatch, min: 1),
            .number("degrpo", "lr", \.degrpo.lr, min: 0),
            .int("degrpo", "warmup", \.degrpo.warmup, min: 0),
            .number("degrpo", "weight_decay", \.degrpo.weightDecay, min: 0),
            .number("degrpo", "grad_clip", \.degrpo.gradClip, min: 0),
            .int("degrpo", "eval_every", \.degrpo.evalEvery, min: 0),
            .int("degrpo", "eval_n", \.degrpo.evalN, min: 1),
            .int("degrpo", "save_every", \.degrpo.saveEvery, min: 0),
            .int("degrpo", "keep_last", \.degrpo.keepLast, min: 1),
            .int("degrpo", "seed", \.degrpo.seed, min: 0),

            .string("eval", "routing", \.eval.routing, check: checkRoutings),
            .int("eval", "n", \.eval.n, min: 0),
            .int("eval", "max_tokens", \.eval.maxTokens, min: 1),
            .int("eval", "seed", \.eval.seed, min: 0),
            .bool("eval", "before_after", \.eval.beforeAfter),

            .string("output", "dir", \.output.dir, check: { $0.isEmpty ? "must not be empty" : nil }),
        ]
    }

    static func checkStages(_ text: String) -> String? {
        let known = ["data", "sft", "degrpo", "eval"]
        let list = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if let bad = list.first(where: { !known.contains($0) }) {
            return "has unknown stage \"\(bad)\" (known: \(known.joined(separator: ", ")))"
        }
        return nil
    }

    static func checkRoutings(_ text: String) -> String? {
        for part in text.split(separator: ",") {
            let spec = part.trimmingCharacters(in: .whitespaces)
            guard let error = RoutingSyntax.check(spec) else { continue }
            return error
        }
        return text.isEmpty ? "must name at least one routing" : nil
    }
}

/// The routing spellings recipes and the CLI accept: `model`, `think`, `short`, `threshold:T`.
/// ReckonEval owns the policy itself; recipes only check the spelling here.
public enum RoutingSyntax {
    public static func check(_ spec: String) -> String? {
        if ["model", "think", "short"].contains(spec) { return nil }
        if spec.hasPrefix("threshold:"), let t = Double(spec.dropFirst("threshold:".count)), t >= 0, t <= 1 { return nil }
        return "has unknown routing \"\(spec)\" (use model, think, short or threshold:T with 0 ≤ T ≤ 1)"
    }
}

// MARK: Errors

public enum RecipeError: Error, Equatable, CustomStringConvertible {
    /// The TOML itself does not parse.
    case syntax(source: String, message: String)
    case unknownSection(source: String, section: String)
    case unknownKey(source: String, key: String)
    case wrongType(source: String, key: String, expected: String, found: String)
    case invalidValue(source: String, key: String, reason: String)
    case badOverride(String)
    case unreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case let .syntax(s, m): "\(s): \(m)"
        case let .unknownSection(s, sec): "\(s): unknown section [\(sec)] (known: \(Recipe.sectionNames.map { "[\($0)]" }.joined(separator: ", ")))"
        case let .unknownKey(s, k): "\(s): unknown key \(k)"
        case let .wrongType(s, k, e, f): "\(s): \(k) must be \(e), got \(f)"
        case let .invalidValue(s, k, r): "\(s): \(k) \(r)"
        case let .badOverride(m): "--set: \(m)"
        case let .unreadable(p, r): "\(p): cannot read the recipe: \(r)"
        }
    }
}
