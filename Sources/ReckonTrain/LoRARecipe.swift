// The recipe's `[lora]` section: its typed values and keys (help beside each), and the adapter
// config it decodes into. Not the adapters (ReckonModel/LoRA.swift) nor their files.

import ReckonModel

extension Recipe {
    /// LoRA on a frozen base for the sft and degrpo stages (docs/cli.md). Absent (rank 0), both
    /// stages fine-tune every weight.
    public struct LoRA: Sendable, Equatable {
        public var rank = 0
        public var alpha = 16.0
        public var targets: [LoRATarget] = [.q, .k, .v, .o]
        public var base = ""
        public var seed = 1

        /// The adapter config, or nil for full fine-tuning.
        public var config: LoRAConfig? {
            rank > 0 ? LoRAConfig(rank: rank, alpha: Float(alpha), targets: targets) : nil
        }
    }

    static var loraSchema: [RecipeKey] {
        [
        .int("lora", "rank", \.lora.rank, min: 0,
             "adapter rank r; a `[lora]` section sets it ≥ 1 to train adapters on a frozen base, 0 = full fine-tuning"),
        .number("lora", "alpha", \.lora.alpha, min: 0, "α: the adapted weight is W + (α/r)·B·A"),
        .list("lora", "targets", \.lora.targets, "matrices that get adapters (the control-token rows always train)",
              allowed: LoRATarget.allCases.map(\.rawValue).joined(separator: ", "), parse: LoRATarget.init(rawValue:), render: \.rawValue),
        .string("lora", "base", \.lora.base,
                "the frozen base checkpoint (full HDF5, e.g. from `reckon import`); empty = `[sft] init`. Adapters store its path and weights SHA-256"),
        .int("lora", "seed", \.lora.seed, min: 0, "seed of the adapters' A initialisation"),
        ]
    }
}
