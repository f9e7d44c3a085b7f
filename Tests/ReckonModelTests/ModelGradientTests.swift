import XCTest
import ReckonCore
@testable import ReckonModel

/// Finite-difference check of the whole model: embedding → L × (attention, MLP) → classifier → masked CE.
final class ModelGradientTests: XCTestCase {
    /// Weights are drawn at std 0.3, far above the training init, so every path carries
    /// gradient well above float32 noise. Tolerance 2e-2 of each tensor's gradient scale, h = 1e-2.
    func checkWholeModel(tied: Bool, kvHeads: Int, qkvBias: Bool = false) throws {
        let config = ModelConfig(dim: 8, nLayers: 2, nHeads: 2, nKVHeads: kvHeads, hiddenDim: 12,
                                 maxSeqLen: 8, tiedEmbeddings: tied, qkvBias: qkvBias)
        var rng = RNG(seed: 5)
        let layout = ParameterLayout(config)
        var params = (0..<layout.count).map { _ in 0.3 * rng.normal() }
        for t in layout.tensors where !t.decay && !ParameterLayout.biasNames.contains(t.name) {
            for i in t.range { params[i] = 1 + 0.1 * rng.normal() }
        }
        var model = try Transformer(config: config, params: params)
        let B = 2, T = 6, N = B * T
        var acts = try Activations(config: config, batch: B, seqLen: T)
        let tokens = (0..<N).map { _ in Int32(rng.int(below: Tokenizer.vocabSize)) }
        var targets = (0..<N).map { _ in Int32(rng.int(below: Tokenizer.vocabSize)) }
        targets[2] = -1
        // A loss mask: the first two positions of each row carry no loss, like a prompt.
        let weights: [Float] = (0..<N).map { i in (i % T < 2 || targets[i] < 0) ? 0 : 1 }
        try acts.setBatch(tokens: tokens, targets: targets)
        model.zeroGrad()
        model.forward(&acts)
        try model.backward(&acts, weights: weights)
        let analytic = model.grads

        func loss(_ p: [Float]) -> Double {
            var m = model
            m.params = p
            var a = acts
            m.forward(&a)
            return Double(Transformer.loss(a, weights: weights))
        }
        for t in layout.tensors {
            // Only the embedding rows of tokens in the batch receive gradient; probe those.
            let idx = t.name == "tok_embeddings"
                ? tokens.prefix(4).flatMap { tok in (0..<config.dim).map { t.offset + Int(tok) * config.dim + $0 } }
                : FiniteDifference.sampleIndices(t.count, count: 24).map { t.offset + $0 }
            let num = FiniteDifference.gradient(of: loss, at: params, indices: idx, h: 1e-2)
            let err = FiniteDifference.relativeError(analytic: idx.map { Double(analytic[$0]) }, numeric: num)
            XCTAssertLessThan(err, 2e-2, "\(t.name) (tied: \(tied), kv heads: \(kvHeads)): relative error \(err)")
            XCTAssertGreaterThan(num.map(abs).max() ?? 0, 1e-5, "\(t.name): gradient is vacuous")
        }
    }

    func testWholeModelUntiedFullHeads() throws { try checkWholeModel(tied: false, kvHeads: 2) }
    func testWholeModelTiedGroupedKV() throws { try checkWholeModel(tied: true, kvHeads: 1) }
    /// Qwen2's shape: q/k/v biases (drawn at std 0.3 like the matrices), grouped KV, tied.
    func testWholeModelQKVBiasGroupedKV() throws { try checkWholeModel(tied: true, kvHeads: 1, qkvBias: true) }

    func testBackwardAccumulatesUntilZeroed() throws {
        let config = ModelConfig(dim: 8, nLayers: 1, nHeads: 2, hiddenDim: 8, maxSeqLen: 4)
        var model = try Transformer(config: config, seed: 1)
        XCTAssertTrue(model.grads.isEmpty, "a model that only runs forward holds no gradient buffer")
        var acts = try Activations(config: config, batch: 1, seqLen: 4)
        try acts.setBatch(tokens: [1, 2, 3, 4], targets: [2, 3, 4, 5])
        let w: [Float] = [0.25, 0.25, 0.25, 0.25]
        model.forward(&acts)
        try model.backward(&acts, weights: w)
        XCTAssertEqual(model.grads.count, model.parameterCount)
        let once = model.grads
        try model.backward(&acts, weights: w)
        for (a, b) in zip(model.grads, once) { XCTAssertEqual(a, 2 * b, accuracy: 1e-6 + 1e-5 * abs(b)) }
        model.zeroGrad()
        XCTAssertEqual(model.grads.count, model.parameterCount)
        XCTAssert(model.grads.allSatisfy { $0 == 0 })
    }
}
