// What the optimizer steps: every parameter (full fine-tuning) or only an attached adapter's
// (LoRA: the A, B matrices and the control rows), so the moments exist for the trainable tensors
// only. Not the update rule (AdamW.swift) nor the adapters themselves (ReckonModel/LoRA.swift).

import ReckonCheckpoint
import ReckonModel

extension AdamW {
    /// AdamW over `count` parameters with weight decay on `decayRanges`.
    init(config: AdamWConfig, count: Int, decayRanges: [Range<Int>]) {
        self.config = config
        parameterCount = count
        moments = [Float](repeating: 0, count: 2 * count)
        step = 0
        self.decayRanges = decayRanges
    }

    /// AdamW over the model's trainable parameters: the adapter's when one is attached, else all.
    public init(config: AdamWConfig, trainable model: Transformer) {
        if let lora = model.lora {
            self.init(config: config, count: lora.layout.count, decayRanges: lora.layout.tensors.filter(\.decay).map(\.range))
        } else {
            self.init(config: config, layout: model.layout)
        }
    }

    /// The optimizer from a checkpoint's state, for the model's trainable parameters.
    public init(_ state: OptimizerState, trainable model: Transformer) throws(TrainError) {
        self.init(config: AdamWConfig(beta1: state.beta1, beta2: state.beta2, eps: state.eps,
                                      weightDecay: state.weightDecay, gradClip: state.gradClip), trainable: model)
        guard state.moments.count == moments.count else {
            throw .shapeMismatch("the checkpoint's optimizer holds \(state.moments.count) moment values; the trainable parameters need \(moments.count)")
        }
        moments = state.moments
        step = state.step
    }

    /// One update of the model's trainable parameters from its gradients; with an adapter, its
    /// control rows are then written into the model (ReckonModel/LoRA.swift). Returns the
    /// gradient norm before clipping.
    @discardableResult
    public mutating func update(_ model: inout Transformer, lr: Float,
                                scaled: [(range: Range<Int>, factor: Float)] = []) throws(TrainError) -> Float {
        guard model.lora != nil else { return try update(params: &model.params, grads: model.grads, lr: lr, scaled: scaled) }
        let norm = try update(params: &model.lora!.params, grads: model.lora!.grads, lr: lr, scaled: scaled)
        model.installControlRows()
        return norm
    }
}

extension Transformer {
    /// The gradients the optimizer reads: the adapter's when one is attached, else the base's
    /// (what shard sums and the ranks' allreduce add up).
    public var trainableGrads: [Float] { lora?.grads ?? grads }

    /// Runs `body` on the trainable gradients in place (no copy of a base-sized buffer).
    public mutating func withTrainableGrads<R>(_ body: (inout [Float]) throws -> R) rethrows -> R {
        if lora != nil { return try body(&lora!.grads) }
        return try body(&grads)
    }
}
