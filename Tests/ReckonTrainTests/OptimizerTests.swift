import XCTest
import ReckonCore
import ReckonModel
@testable import ReckonTrain

final class OptimizerTests: XCTestCase {
    let config = ModelConfig(dim: 4, nLayers: 1, nHeads: 1, hiddenDim: 4, maxSeqLen: 4)

    /// One AdamW step against the formula worked by hand: after step 1 the bias-corrected
    /// m̂ = g and v̂ = g², so each parameter moves by lr·g/(|g| + eps) plus lr·wd·p where decayed.
    func testAdamWFirstStepMatchesHandComputation() throws {
        let layout = ParameterLayout(config)
        var opt = AdamW(config: AdamWConfig(weightDecay: 0.1, gradClip: 0), layout: layout)
        var params = [Float](repeating: 0.5, count: layout.count)
        var grads = [Float](repeating: 0, count: layout.count)
        let wq = layout.wq, norm = layout.attnNorm
        grads[wq] = 2; grads[wq + 1] = -0.001; grads[norm] = 3
        let lr: Float = 0.01
        try opt.update(params: &params, grads: grads, lr: lr)
        XCTAssertEqual(params[wq], 0.5 - lr * 2 / (2 + 1e-8) - lr * 0.1 * (0.5 - lr), accuracy: 1e-7)
        XCTAssertEqual(params[wq + 1], 0.5 + lr * 0.001 / (0.001 + 1e-8) - lr * 0.1 * (0.5 + lr), accuracy: 1e-6)
        XCTAssertEqual(params[norm], 0.5 - lr, accuracy: 1e-7, "norm gains take no weight decay")
        XCTAssertEqual(params[wq + 2], 0.5 * (1 - lr * 0.1), accuracy: 1e-7, "zero gradient: only decay")
        XCTAssertEqual(opt.m[wq], 0.2, accuracy: 1e-7)
        XCTAssertEqual(opt.v[wq], 0.05 * 4, accuracy: 1e-7)
        XCTAssertEqual(opt.step, 1)
        // Second step: m = 0.9·0.2 + 0.1·g, v = 0.95·0.2 + 0.05·g², bias corrections 1 − β^2.
        var p2 = params
        try opt.update(params: &p2, grads: grads, lr: lr)
        let m = 0.9 * 0.2 + 0.1 * 2.0, v = 0.95 * 0.2 + 0.05 * 4.0
        let mh = m / (1 - 0.81), vh = v / (1 - 0.9025)
        let expect = Double(params[wq]) - Double(lr) * mh / (vh.squareRoot() + 1e-8)
        XCTAssertEqual(Double(p2[wq]), expect - Double(lr) * 0.1 * expect, accuracy: 1e-6)
    }

    /// Scaled ranges step at lr × factor: on step 1 every parameter with a gradient moves by
    /// about its rate, so the ratio is the factor. The moments are the same either way.
    func testScaledRangesStepAtTheirOwnRate() throws {
        let layout = ParameterLayout(config)
        let P = layout.count
        let grads = (0..<P).map { Float($0 % 7) - 3 + 0.5 }
        var plain = AdamW(config: AdamWConfig(weightDecay: 0, gradClip: 0), layout: layout)
        var split = plain
        var a = [Float](repeating: 0, count: P), b = a
        try plain.update(params: &a, grads: grads, lr: 1e-3)
        let head = 3..<7, tail = (P - 2)..<P
        try split.update(params: &b, grads: grads, lr: 1e-3, scaled: [(tail, 0.5), (head, 20)])
        for i in 0..<P {
            let factor: Float = head.contains(i) ? 20 : tail.contains(i) ? 0.5 : 1
            XCTAssertEqual(b[i], a[i] * factor, accuracy: 1e-9, "parameter \(i)")
        }
        XCTAssertEqual(plain.moments, split.moments)
        var c = a
        XCTAssertThrowsError(try split.update(params: &c, grads: grads, lr: 1e-3, scaled: [(0..<4, 2), (3..<5, 2)]), "overlapping")
        XCTAssertThrowsError(try split.update(params: &c, grads: grads, lr: 1e-3, scaled: [((P - 1)..<(P + 1), 2)]), "past the end")
    }

    func testGlobalNormClipping() throws {
        let layout = ParameterLayout(config)
        var opt = AdamW(config: AdamWConfig(weightDecay: 0, gradClip: 1), layout: layout)
        var params = [Float](repeating: 0, count: layout.count)
        var grads = [Float](repeating: 0, count: layout.count)
        grads[0] = 3; grads[1] = 4
        let norm = try opt.update(params: &params, grads: grads, lr: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        XCTAssertEqual(opt.m[0], 0.1 * 3 / 5, accuracy: 1e-7, "the first moment sees the clipped gradient")
        XCTAssertEqual(opt.m[1], 0.1 * 4 / 5, accuracy: 1e-7)
        grads[2] = .nan
        XCTAssertThrowsError(try opt.update(params: &params, grads: grads, lr: 1)) { XCTAssertEqual($0 as? TrainError, .nonFiniteGradient) }
        XCTAssertThrowsError(try opt.update(params: &params, grads: [1], lr: 1))
    }

    /// The pooled, 8-lane update over runs of one rate and one decay equals the scalar loop
    /// it replaced (every parameter stepped at its rate, then the decayed ones shrunk by
    /// lr·wd), bit for bit, with scaled ranges that straddle decayed and undecayed tensors.
    func testUpdateOverRunsEqualsTheScalarLoop() throws {
        let layout = ParameterLayout(ModelConfig(dim: 8, nLayers: 2, nHeads: 2, hiddenDim: 16, maxSeqLen: 4))
        let P = layout.count, lr: Float = 3e-3
        var rng = RNG(seed: 9)
        let grads = (0..<P).map { _ in rng.normal() }, start = (0..<P).map { _ in rng.normal() }
        let norm = layout.attnNorm
        let scaled: [(range: Range<Int>, factor: Float)] = [((norm - 5)..<(norm + 3), 4), ((P - 20)..<P, 0.25)]
        var opt = AdamW(config: AdamWConfig(weightDecay: 0.1, gradClip: 0.5), layout: layout)
        var params = start
        for _ in 0..<2 { try opt.update(params: &params, grads: grads, lr: lr, scaled: scaled) }

        var p = start, m = [Float](repeating: 0, count: P), v = m
        let gnorm = AdamW.gradNorm(grads), clip: Float = 0.5 / gnorm
        let decayed = layout.tensors.filter(\.decay).map(\.range)
        for t in 1...2 {
            let k = AdamWKernel.Constants(beta1: 0.9, beta2: 0.95, eps: 1e-8,
                                          bc1: 1 - Float(pow(Double(Float(0.9)), Double(t))),
                                          bc2: 1 - Float(pow(Double(Float(0.95)), Double(t))), clip: clip)
            for i in 0..<P {
                let rate = lr * (scaled.first { $0.range.contains(i) }?.factor ?? 1)
                let decay = decayed.contains { $0.contains(i) } ? lr * 0.1 : 0
                AdamWKernel.updateReference(p: &p[i], g: [grads[i]], m: &m[i], v: &v[i], count: 1, rate: rate, decay: decay, constants: k)
            }
        }
        XCTAssertEqual(params, p)
        XCTAssertEqual(opt.m, m)
        XCTAssertEqual(opt.v, v)
    }

    func testWarmupCosineSchedule() throws {
        let s = try LRSchedule(maxLR: 1e-3, minLR: 1e-4, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(s.lr(at: 0), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(s.lr(at: 9), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(s.lr(at: 10), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(s.lr(at: 60), 5.5e-4, accuracy: 1e-8, "half-way down the cosine")
        XCTAssertEqual(s.lr(at: 110), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(s.lr(at: 500), 1e-4, accuracy: 1e-9)
        XCTAssertThrowsError(try LRSchedule(maxLR: 1e-3, minLR: 1e-2, totalSteps: 10))
        XCTAssertThrowsError(try LRSchedule(maxLR: 1e-3, warmupSteps: 20, totalSteps: 10))
    }
}

final class OverfitTests: XCTestCase {
    /// Trains a tiny model on one fixed batch; returns the loss after every step.
    func overfit(seed: UInt64, steps: Int) throws -> [Float] {
        let config = ModelConfig(dim: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 64, maxSeqLen: 16)
        var model = try Transformer(config: config, seed: seed)
        let B = 4, T = 16, N = B * T
        var acts = try Activations(config: config, batch: B, seqLen: T)
        var rng = RNG(seed: 100)
        let seq = (0..<(N + 1)).map { _ in Int32(rng.int(below: 256)) }
        try acts.setBatch(tokens: Array(seq[0..<N]), targets: Array(seq[1...N]))
        // Mask the first token of each row, as a prompt would be.
        let weights: [Float] = (0..<N).map { $0 % T == 0 ? 0 : 1 / Float(B * (T - 1)) }
        var opt = AdamW(config: AdamWConfig(weightDecay: 0), layout: model.layout)
        let schedule = try LRSchedule(maxLR: 1e-2, minLR: 1e-3, warmupSteps: 10, totalSteps: steps)
        var losses: [Float] = []
        for step in 0..<steps {
            model.zeroGrad()
            model.forward(&acts)
            losses.append(Transformer.loss(acts, weights: weights))
            try model.backward(&acts, weights: weights)
            try opt.update(params: &model.params, grads: model.grads, lr: schedule.lr(at: step))
        }
        model.forward(&acts)
        losses.append(Transformer.loss(acts, weights: weights))
        return losses
    }

    func testTinyModelOverfitsOneBatchDeterministically() throws {
        let a = try overfit(seed: 7, steps: 150)
        XCTAssertGreaterThan(a[0], 5, "starts near ln(262)")
        XCTAssertLessThan(a[a.count - 1], 0.05, "final loss \(a[a.count - 1])")
        let b = try overfit(seed: 7, steps: 150)
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "same seed, bit-identical loss trajectory")
    }
}
