import XCTest
import ReckonCore
@testable import ReckonModel

/// The whole model with LoRA on every target: finite-difference gradients of the adapters and
/// control rows, a frozen base, merged against unmerged outputs (training and cached decode).
final class LoRATests: XCTestCase {
    static let control: [Int32] = [Tokenizer.think, Tokenizer.endThink, Tokenizer.short]

    /// A tiny model (std 0.3 weights like ModelGradientTests) with adapters whose B is random,
    /// so every path carries gradient; the batch holds control tokens as inputs and targets.
    func setUp(tied: Bool, kvHeads: Int, targets: [LoRATarget] = LoRATarget.allCases) throws -> (Transformer, Activations, [Float]) {
        let config = ModelConfig(dim: 8, nLayers: 2, nHeads: 2, nKVHeads: kvHeads, hiddenDim: 12, maxSeqLen: 8, tiedEmbeddings: tied)
        var rng = RNG(seed: 7)
        let layout = ParameterLayout(config)
        var params = (0..<layout.count).map { _ in 0.3 * rng.normal() }
        for t in layout.tensors where !t.decay { for i in t.range { params[i] = 1 + 0.1 * rng.normal() } }
        var model = try Transformer(config: config, params: params)
        var lora = try LoRA(config: LoRAConfig(rank: 3, alpha: 6, targets: targets), base: model, controlTokens: Self.control, seed: 3)
        for pair in lora.layout.pairs {
            for i in pair.b..<(pair.b + config.nLayers * pair.outDim * 3) { lora.params[i] = 0.3 * rng.normal() }
        }
        try model.attach(lora)
        let B = 2, T = 6, N = B * T
        var acts = try Activations(config: config, batch: B, seqLen: T)
        var tokens = (0..<N).map { _ in Int32(rng.int(below: Tokenizer.vocabSize)) }
        var targets = (0..<N).map { _ in Int32(rng.int(below: Tokenizer.vocabSize)) }
        tokens[1] = Tokenizer.think; tokens[7] = Tokenizer.short; tokens[9] = Tokenizer.think
        targets[0] = Tokenizer.think; targets[6] = Tokenizer.short; targets[4] = Tokenizer.endThink
        try acts.setBatch(tokens: tokens, targets: targets)
        let weights: [Float] = (0..<N).map { i in i % T == 5 ? 0 : 1 }
        return (model, acts, weights)
    }

    func checkGradients(tied: Bool, kvHeads: Int) throws {
        var (model, acts, weights) = try setUp(tied: tied, kvHeads: kvHeads)
        let base = model.params
        model.zeroGrad()
        model.forward(&acts)
        try model.backward(&acts, weights: weights)
        XCTAssertTrue(model.grads.isEmpty, "a frozen base keeps no gradient buffer")
        XCTAssertEqual(model.params, base, "backward leaves the base alone")
        let lora = try XCTUnwrap(model.lora)
        func loss(_ p: [Float]) -> Double {
            var m = model
            m.lora!.params = p
            m.installControlRows()
            var a = acts
            m.forward(&a)
            return Double(Transformer.loss(a, weights: weights))
        }
        for t in lora.layout.tensors {
            let idx = FiniteDifference.sampleIndices(t.count, count: 24).map { t.offset + $0 }
            // The random B makes the loss strongly curved (the v path's error grows as h²: 0.3% at
            // h = 3e-3, 3.5% at 1e-2), so h is smaller than ModelGradientTests' 1e-2.
            let num = FiniteDifference.gradient(of: loss, at: lora.params, indices: idx, h: 3e-3)
            let err = FiniteDifference.relativeError(analytic: idx.map { Double(lora.grads[$0]) }, numeric: num)
            XCTAssertLessThan(err, 1e-2, "\(t.name) (tied: \(tied)): relative error \(err)")
            XCTAssertGreaterThan(num.map(abs).max() ?? 0, 1e-5, "\(t.name): gradient is vacuous")
        }
    }

    func testAdapterGradientsUntiedFullHeads() throws { try checkGradients(tied: false, kvHeads: 2) }
    func testAdapterGradientsTiedGroupedKV() throws { try checkGradients(tied: true, kvHeads: 1) }

    /// B = 0 at initialisation: the adapted model is the base, exactly.
    func testFreshAdaptersLeaveTheBaseOutputs() throws {
        let config = ModelConfig(dim: 8, nLayers: 2, nHeads: 2, hiddenDim: 12, maxSeqLen: 8)
        let base = try Transformer(config: config, seed: 4)
        var adapted = base
        try adapted.attach(LoRA(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v, .down]), base: base,
                                controlTokens: Self.control, seed: 1))
        var a1 = try Activations(config: config, batch: 1, seqLen: 6), a2 = a1
        try a1.setBatch(tokens: [257, 1, 2, 259, 3, 4], targets: [1, 2, 259, 3, 4, 5])
        a2 = a1
        base.forward(&a1)
        adapted.forward(&a2)
        XCTAssertEqual(Array(a1.logprobs), Array(a2.logprobs))
    }

    /// W + (α/r)·B·A with the control rows gives the unmerged outputs to 1e-5, in the training
    /// forward and in cached decode.
    func testMergedMatchesUnmerged() throws {
        for tied in [false, true] {
            var (model, acts, _) = try setUp(tied: tied, kvHeads: 1)
            // Move the control rows off the base's so merging them is tested too.
            for i in model.lora!.layout.controlEmbed..<model.lora!.params.count { model.lora!.params[i] += 0.5 }
            model.installControlRows()
            let merged = try model.merged()
            XCTAssertNil(merged.lora)
            var other = acts
            model.forward(&acts)
            merged.forward(&other)
            for i in 0..<acts.rows {
                for (x, y) in zip(acts.logits(row: i), other.logits(row: i)) { XCTAssertEqual(x, y, accuracy: 1e-5) }
            }
            let rows = [Tokenizer.bos, 5, Tokenizer.think, 9].map { DecodeRow(slot: 0, token: $0) }
            var c1 = try KVCache(config: model.config, slots: 1), c2 = c1
            var s1 = DecodeScratch(config: model.config, maxRows: 4), s2 = s1
            let l1 = try model.step(rows, cache: &c1, scratch: &s1)
            let l2 = try merged.step(rows, cache: &c2, scratch: &s2)
            XCTAssertEqual(l1.count, l2.count)
            for (x, y) in zip(l1, l2) { XCTAssertEqual(x, y, accuracy: 1e-5) }
            // And decode agrees with the training forward on the same prefix.
            var a = try Activations(config: model.config, batch: 1, seqLen: 4)
            try a.setBatch(tokens: rows.map(\.token), targets: [-1, -1, -1, -1])
            model.forward(&a)
            for (x, y) in zip(a.logits(row: 3), l1[(3 * model.config.vocabSize)...]) { XCTAssertEqual(x, y, accuracy: 1e-4) }
        }
    }

    func testBadConfigsAreErrors() throws {
        let config = ModelConfig(dim: 8, nLayers: 1, nHeads: 2, hiddenDim: 12, maxSeqLen: 8)
        let base = try Transformer(config: config, seed: 1)
        XCTAssertThrowsError(try LoRA(config: LoRAConfig(rank: 0, alpha: 1, targets: [.q]), base: base, controlTokens: [259], seed: 1))
        XCTAssertThrowsError(try LoRA(config: LoRAConfig(rank: 2, alpha: 1, targets: []), base: base, controlTokens: [259], seed: 1))
        XCTAssertThrowsError(try LoRA(config: LoRAConfig(rank: 2, alpha: 1, targets: [.q]), base: base, controlTokens: [999], seed: 1))
    }
}
