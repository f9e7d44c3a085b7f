// The recipe's typed sections with their defaults, and `Recipe.schema`, every key once with its help;
// parsing TOML and `--set` into them is RecipeParser.swift's.

import Foundation
import ReckonData
import ReckonModel

/// A training recipe: every setting of a run, read from TOML with a default for each key.
///
/// The sections are plain structs holding typed values (enums for every key with a fixed
/// set of values), so a section is decoded once and nothing downstream re-parses a string.
/// `Recipe.schema` lists every key once, with its section, type, check and help text; the
/// parser, `--set`, the errors, `recipe.toml` and docs/cli.md's key table follow from it.
public struct Recipe: Sendable, Equatable {
    /// A stage of `reckon train`, in the order a recipe lists them.
    public enum Stage: String, Sendable, Equatable, CaseIterable { case data, sft, degrpo, eval }

    // Defaults only: what each key means is written once, in `schema`.
    public struct Model: Sendable, Equatable {
        public var dim = 256, layers = 4, heads = 8, kvHeads = 0, hidden = 768, context = 256
        public var tied = false
        public var seed = 1
    }

    public struct Data: Sendable, Equatable {
        public var train = "", trainN = 20_000, task = ArithTask.arith
        public var levels = "1,2,3,4,5", dialects = "sae", seed = 1
        public var eval = "", evalN = 500, evalDialects = "", evalLevels = "1,2,3,4,5", evalSeed = 2
        public var phrasings = Phrasings.all, evalPhrasings = Phrasings.all
        public var skipBad = false
    }

    public struct SFT: Sendable, Equatable {
        public var initFrom = "", lossNorm = SFTConfig.LossNorm.token, controlWeight = 0.0
        public var steps = 0, epochs = 1.0, batch = 16
        public var lr = 1e-3, minLR = 1e-4, warmup = 100
        public var weightDecay = 0.1, gradClip = 1.0, beta1 = 0.9, beta2 = 0.95
        public var evalEvery = 500, evalN = 200, saveEvery = 500, keepLast = 2
        public var seed = 1, overflow = SFTData.Overflow.reject
        public var microBatch = 0, modes = SFTConfig.Modes.both
    }

    public struct Eval: Sendable, Equatable {
        public var routing: [RoutingPolicy] = [.think, .short, .model]
        public var n = 0, maxTokens = 200, seed = 1
        public var beforeAfter = false
    }

    /// Stage 2 of Thinkless: reinforcement learning of the mode choice (docs/degrpo.md). The
    /// training settings decode straight into the trainer's own `DeGRPOConfig`; the rest are
    /// the stage's: where it starts, how long it runs, the optimizer, evals and saves.
    public struct DeGRPO: Sendable, Equatable {
        public var initFrom = "", steps = 100
        public var config = DeGRPOConfig()
        public var warmup = 0, weightDecay = 0.0, gradClip = 1.0
        public var evalEvery = 25, evalN = 300, saveEvery = 25, keepLast = 2, seed = 1
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
    public var lora = LoRA()
    public var eval = Eval()
    public var output = Output()
    /// Warm-up phases after the first (`[sft]` itself is phase 1).
    public var phases: [Phase] = []
    /// The stages to run, in order.
    public var stages: [Stage] = [.data, .sft, .eval]
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
        case "data": ["train", "train_n", "levels", "dialects", "seed", "phrasings", "skip_bad"].contains(name)
        default: false
        }
    }
}

// MARK: Schema

extension Recipe {
    /// Every key: section, name, typed storage, check and help (the one place a key's
    /// meaning is written; docs/cli.md's table is `Recipe.keyTable`). Top-level keys use the section "".
    static var schema: [RecipeKey] {
        [
        .list("", "stages", \.stages, "stages to run, in order", allowed: Stage.allCases.map(\.rawValue).joined(separator: ", "),
              parse: Stage.init(rawValue:), render: \.rawValue),

        .int("model", "dim", \.model.dim, min: 1, "width d"),
        .int("model", "layers", \.model.layers, min: 1, "transformer blocks"),
        .int("model", "heads", \.model.heads, min: 1, "attention heads"),
        .int("model", "kv_heads", \.model.kvHeads, min: 0, "KV heads (grouped-query attention); 0 = `heads`"),
        .int("model", "hidden", \.model.hidden, min: 1, "SwiGLU hidden width"),
        .int("model", "context", \.model.context, min: 8, "context length in tokens"),
        .bool("model", "tied", \.model.tied, "classifier tied to the token embedding"),
        .int("model", "seed", \.model.seed, min: 0, "initialisation seed of a new model"),

        .string("data", "train", \.data.train, "JSONL file to train on; empty = generate `train_n` problems"),
        .int("data", "train_n", \.data.trainN, min: 1, "generated training problems"),
        .choice("data", "task", \.data.task, "the generated task (docs/data.md); the eval set is generated from the same task"),
        .string("data", "levels", \.data.levels, "level mix of the training set, `1,2,3,4,5` or weighted `1=1,5=3` (the `reckon data gen` syntax)",
                check: RecipeMixes.checkLevels),
        .string("data", "dialects", \.data.dialects, "dialect mix of the training set, `sae` or weighted `sae=0.9,aae=0.1`", check: RecipeMixes.checkDialects),
        .int("data", "seed", \.data.seed, min: 0, "seed of the generated training set"),
        .choice("data", "phrasings", \.data.phrasings,
                "phrasing templates of the generated training set: `all`, `train` (each list's held-out template left out) or `held-out` (docs/data.md)"),
        .string("data", "eval", \.data.eval, "JSONL file to evaluate on; empty = generate `eval_n` examples"),
        .int("data", "eval_n", \.data.evalN, min: 1, "generated eval examples: each problem in every eval dialect"),
        .string("data", "eval_dialects", \.data.evalDialects, "dialects of the paired eval set; empty = those of the training mix",
                check: { $0.isEmpty ? nil : RecipeMixes.checkDialects($0) }),
        .string("data", "eval_levels", \.data.evalLevels, "levels of the generated eval set", check: RecipeMixes.checkLevels),
        .int("data", "eval_seed", \.data.evalSeed, min: 0, "seed of the generated eval set"),
        .choice("data", "eval_phrasings", \.data.evalPhrasings, "phrasing templates of the generated eval set (as `phrasings`)"),
        .bool("data", "skip_bad", \.data.skipBad, "skip malformed JSONL lines (and report how many) instead of stopping"),

        .string("sft", "init", \.sft.initFrom, "start from this checkpoint's weights (fresh optimizer); empty = a new model from `[model]`"),
        .choice("sft", "loss_norm", \.sft.lossNorm,
                "`token`: one mean over the batch's answer tokens; `sequence`: the mean of each sequence's mean, so short answers weigh as much as scratchpads"),
        .number("sft", "control_weight", \.sft.controlWeight, min: 0,
                "the control token's own loss weight per sequence, out of the answer mean; 0 keeps it in the mean"),
        .choice("sft", "modes", \.sft.modes,
                "answers trained per prompt: `both`, or only `short` or `think` (then the control token gets no loss, docs/results.md)"),
        .int("sft", "steps", \.sft.steps, min: 0, "optimizer steps; 0 = ceil(epochs × prompts / batch)"),
        .number("sft", "epochs", \.sft.epochs, min: 0, "passes over the data when `steps` is 0"),
        .int("sft", "batch", \.sft.batch, min: 1, "prompts per step; each gives both modes (unless `modes` picks one), so 2× as many sequences"),
        .int("sft", "micro_batch", \.sft.microBatch, min: 0,
             "sequences per forward/backward, their gradients summed into the same update; 0 = each mode's batch at once. Lowers peak memory"),
        .number("sft", "lr", \.sft.lr, min: 0, "peak learning rate: linear warm-up, then cosine to `min_lr`"),
        .number("sft", "min_lr", \.sft.minLR, min: 0, "final learning rate"),
        .int("sft", "warmup", \.sft.warmup, min: 0, "warm-up steps"),
        .number("sft", "weight_decay", \.sft.weightDecay, min: 0, "AdamW weight decay"),
        .number("sft", "grad_clip", \.sft.gradClip, min: 0, "gradient-norm clip"),
        .number("sft", "beta1", \.sft.beta1, min: 0, "AdamW β₁"),
        .number("sft", "beta2", \.sft.beta2, min: 0, "AdamW β₂"),
        .int("sft", "eval_every", \.sft.evalEvery, min: 0, "periodic eval (forced think and short) every this many steps; 0 = none"),
        .int("sft", "eval_n", \.sft.evalN, min: 1, "eval examples of the periodic eval (the first of the eval set)"),
        .int("sft", "save_every", \.sft.saveEvery, min: 0, "checkpoint every this many steps; 0 = only at the end"),
        .int("sft", "keep_last", \.sft.keepLast, min: 1, "checkpoints kept"),
        .int("sft", "seed", \.sft.seed, min: 0, "seed of the data order"),
        .choice("sft", "overflow", \.sft.overflow, "examples longer than the context: `reject` drops both modes, `truncate` cuts the sequence at the context"),

        .string("degrpo", "init", \.degrpo.initFrom, "warm-up checkpoint (also the frozen KL reference); empty = this run's sft model"),
        .int("degrpo", "steps", \.degrpo.steps, min: 1, "optimizer steps (× `passes` updates)"),
        .int("degrpo", "prompts_per_step", \.degrpo.config.promptsPerStep, min: 1, "prompts per step"),
        .int("degrpo", "group_size", \.degrpo.config.rollout.groupSize, min: 2, "G: rollouts per prompt"),
        .int("degrpo", "max_response_tokens", \.degrpo.config.rollout.maxResponseTokens, min: 2, "generation limit per rollout"),
        .float("degrpo", "temperature", \.degrpo.config.rollout.sampling.temperature, min: 0, "rollout sampling temperature"),
        .float("degrpo", "top_p", \.degrpo.config.rollout.sampling.topP, min: 0, max: 1, "rollout top-p, in (0, 1]"),
        .choice("degrpo", "loss", \.degrpo.config.loss.kind, "`degrpo` (decoupled control-token term) or `grpo` (vanilla, for comparison)"),
        .float("degrpo", "alpha", \.degrpo.config.loss.alpha, min: 0, "α: weight of the control-token term, relative to one response's token mean"),
        .float("degrpo", "gamma", \.degrpo.config.rollout.reward.gamma, min: 0, "γ: think penalty; a correct think earns 1 − γ"),
        .float("degrpo", "epsilon", \.degrpo.config.loss.epsilon, min: 0, "ε: ratio clip"),
        .float("degrpo", "beta", \.degrpo.config.loss.beta, min: 0, "β: KL coefficient (0 skips the reference pass)"),
        .choice("degrpo", "aggregation", \.degrpo.config.loss.aggregation, "`sequence-mean`: each rollout weighs the same; `token-mean`: each token of the batch does"),
        .bool("degrpo", "normalize_std", \.degrpo.config.rollout.normalizeStd, "divide advantages by the group's std"),
        .bool("degrpo", "freeze_decision_bias", \.degrpo.config.freezeDecisionBias,
              "hold still the paths that move every prompt's mode choice alike (docs/degrpo.md)"),
        .choice("degrpo", "control_advantage", \.degrpo.config.controlAdvantage,
                "`group`: the control token uses the group advantage; `contrast`: with the batch's mean advantage of thinking removed"),
        .number("degrpo", "contrast_strength", \.degrpo.config.contrastStrength, min: 0, "λ in [0, 1]: the share of that mean `contrast` removes"),
        .int("degrpo", "contrast_steps", \.degrpo.config.contrastSteps, min: 0, "contrast only the first N steps; 0 = all"),
        .choice("degrpo", "trainable", \.degrpo.config.trainable, "`all` parameters, or only the `decision` rows of `<think>` and `<short>` in the classifier"),
        .bool("degrpo", "response_term", \.degrpo.config.responseTerm, "train the response tokens' policy term"),
        .number("degrpo", "head_lr", \.degrpo.config.headLR, min: 0, "learning rate of the `<think>`/`<short>` classifier rows (with `[lora]`: of the control tokens' rows); 0 = `lr`"),
        .choice("degrpo", "rollouts", \.degrpo.config.rollout.modes, "`sampled`: token 0 drawn from the policy; `paired`: half of each group forced to each mode"),
        .int("degrpo", "passes", \.degrpo.config.passes, min: 1, "μ: optimisation passes per rollout batch"),
        .int("degrpo", "micro_batch", \.degrpo.config.microBatch, min: 1, "rollouts per forward/backward"),
        .number("degrpo", "lr", \.degrpo.config.lr, min: 0, "constant learning rate after the warm-up"),
        .int("degrpo", "warmup", \.degrpo.warmup, min: 0, "linear warm-up steps"),
        .number("degrpo", "weight_decay", \.degrpo.weightDecay, min: 0, "AdamW weight decay"),
        .number("degrpo", "grad_clip", \.degrpo.gradClip, min: 0, "gradient-norm clip"),
        .int("degrpo", "eval_every", \.degrpo.evalEvery, min: 0, "periodic eval with the model's own routing; 0 = none"),
        .int("degrpo", "eval_n", \.degrpo.evalN, min: 1, "eval examples of the periodic eval"),
        .int("degrpo", "save_every", \.degrpo.saveEvery, min: 0, "checkpoint every this many steps; 0 = only at the end"),
        .int("degrpo", "keep_last", \.degrpo.keepLast, min: 1, "checkpoints kept in `checkpoints-degrpo/`"),
        .int("degrpo", "seed", \.degrpo.seed, min: 0, "seed of the prompt draws and rollout sampling"),

        ] + loraSchema + [
        .list("eval", "routing", \.eval.routing, "routings of the final eval, each in turn",
              allowed: "model, think, short, threshold:T (0 ≤ T ≤ 1)", parse: { try? RoutingPolicy(parsing: $0) }, render: \.description),
        .int("eval", "n", \.eval.n, min: 0, "examples of the eval set to use; 0 = all"),
        .int("eval", "max_tokens", \.eval.maxTokens, min: 1, "generated tokens per answer, capped by the context"),
        .int("eval", "seed", \.eval.seed, min: 0, "seed of the model routing's draws"),
        .bool("eval", "before_after", \.eval.beforeAfter,
              "also evaluate the model the degrpo stage started from, and print think rate and accuracy by level before and after"),

        .string("output", "dir", \.output.dir, "output folder", check: { $0.isEmpty ? "must not be empty" : nil }),
        ]
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
