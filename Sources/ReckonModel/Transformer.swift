// The model: config, parameter and gradient buffers, and the training-shaped forward and backward passes;
// cached decoding is Decode.swift's.

import ReckonCore

/// The model: its config, the parameter layout, and one contiguous buffer each for
/// parameters and gradients. Forward and backward for training shapes live here;
/// cached decoding is in Decode.swift.
public struct Transformer: Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout
    let rope: RoPETable
    /// All parameters, (P) flat; views in `layout`.
    public var params: [Float]
    /// Gradients, (P) flat, same views. Backward accumulates; `zeroGrad` once per step.
    /// Empty until the first `zeroGrad` or `backward`, so a model that only decodes (serve,
    /// generate, eval) does not hold a second parameter-sized buffer; and empty while an
    /// adapter trains instead (`attach`): the base is frozen.
    public var grads: [Float]
    /// LoRA adapters and control rows on this frozen base (LoRA.swift); nil for full fine-tuning.
    public var lora: LoRA?

    /// A freshly initialised model: N(0, 0.02) matrices, with residual-output projections
    /// scaled by 1/√(2L) so the residual stream starts near unit scale; norm gains at 1.
    public init(config: ModelConfig, seed: UInt64) throws(ModelError) {
        try config.validate()
        self.config = config
        layout = ParameterLayout(config)
        rope = RoPETable(headDim: config.headDim, maxSeqLen: config.maxSeqLen, theta: config.ropeTheta)
        var rng = RNG(seed: seed)
        var p = [Float](repeating: 0, count: layout.count)
        let residualScale = 1 / Float(2 * config.nLayers).squareRoot()
        for t in layout.tensors {
            if !t.decay {
                let start: Float = ParameterLayout.biasNames.contains(t.name) ? 0 : 1
                for i in t.range { p[i] = start }
                continue
            }
            let std: Float = (t.name == "wo" || t.name == "w2") ? 0.02 * residualScale : 0.02
            for i in t.range { p[i] = std * rng.normal() }
        }
        params = p
        grads = []
    }

    /// A model over existing parameters (from a checkpoint).
    public init(config: ModelConfig, params: [Float]) throws(ModelError) {
        try config.validate()
        let layout = ParameterLayout(config)
        guard params.count == layout.count else {
            throw .shapeMismatch("config needs \(layout.count) parameters, got \(params.count)")
        }
        self.config = config
        self.layout = layout
        rope = RoPETable(headDim: config.headDim, maxSeqLen: config.maxSeqLen, theta: config.ropeTheta)
        self.params = params
        grads = []
    }

    public var parameterCount: Int { layout.count }

    public mutating func zeroGrad() {
        if lora == nil, grads.count != layout.count { grads = [Float](repeating: 0, count: layout.count) }
        grads.withUnsafeMutableBufferPointer { g in   // 538 MB for SmolLM2-135M: on every thread
            guard let base = g.baseAddress else { return }
            Parallel.chunks(g.count, minChunk: 1 << 20) { _, r in (base + r.lowerBound).update(repeating: 0, count: r.count) }
        }
        lora?.grads.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    // MARK: Forward

    /// Runs the model over the batch loaded in `acts`, filling logits and log p(target).
    public func forward(_ acts: inout Activations) {
        let c = config, pl = layout, al = acts.layout, rope = self.rope
        let B = al.batch, T = al.seqLen, N = B * T
        let d = c.dim, kvd = c.kvDim, F = c.hiddenDim, V = c.vocabSize
        let H = c.nHeads, Hkv = c.nKVHeads, hd = c.headDim, eps = c.normEps
        acts.reserveLoRA(LoRAHook.activationCounts(lora, rows: N))
        params.withUnsafeBufferPointer { pbuf in
            withAdapterParams { lp in
            acts.withPointers { a, s, ints in
                let p = pbuf.baseAddress!
                let adapt = LoRAHook(shape: lora.map(LoRAHook.Shape.init), p: lp, g: nil, saved: a + al.actsCount, du: s + al.scratchCount, n: N)
                let tokens = ints + al.tokens, positions = ints + al.positions
                Embedding.forward(a + al.residual, tokens: tokens, table: p + pl.tokEmbed, n: N, dim: d)
                for l in 0..<c.nLayers {
                    let x = a + al.residual + l * N * d
                    // Attention block: x → norm → q,k,v → rope → attention → wo, added to x.
                    let ln1 = a + al.ln1 + l * N * d
                    RMSNorm.forward(ln1, rstd: a + al.ln1Rstd + l * N, x, weight: p + pl.attnNorm + l * d,
                                    n: N, dim: d, eps: eps)
                    let q = a + al.q + l * N * d, k = a + al.k + l * N * kvd, v = a + al.v + l * N * kvd
                    Matmul.forward(q, ln1, p + pl.wq + l * d * d, n: N, inDim: d, outDim: d)
                    Matmul.forward(k, ln1, p + pl.wk + l * kvd * d, n: N, inDim: d, outDim: kvd)
                    Matmul.forward(v, ln1, p + pl.wv + l * kvd * d, n: N, inDim: d, outDim: kvd)
                    adapt.forward(.q, l, out: q, inp: ln1)
                    adapt.forward(.k, l, out: k, inp: ln1)
                    adapt.forward(.v, l, out: v, inp: ln1)
                    if let bq = pl.bq, let bk = pl.bk, let bv = pl.bv {
                        Bias.forward(q, bias: p + bq + l * d, n: N, dim: d)
                        Bias.forward(k, bias: p + bk + l * kvd, n: N, dim: kvd)
                        Bias.forward(v, bias: p + bv + l * kvd, n: N, dim: kvd)
                    }
                    rope.apply(q, positions: positions, n: N, heads: H)
                    rope.apply(k, positions: positions, n: N, heads: Hkv)
                    let attOut = a + al.attOut + l * N * d
                    Attention.forward(out: attOut, att: a + al.att + l * B * H * T * T, q: q, k: k, v: v,
                                      batch: B, seqLen: T, heads: H, kvHeads: Hkv, headDim: hd)
                    let mid = a + al.resMid + l * N * d
                    mid.update(from: x, count: N * d)
                    Matmul.forward(mid, attOut, p + pl.wo + l * d * d, n: N, inDim: d, outDim: d, accumulate: true)
                    adapt.forward(.o, l, out: mid, inp: attOut)
                    // MLP block: mid → norm → w2(silu(w1·) ⊙ w3·), added to mid.
                    let ln2 = a + al.ln2 + l * N * d
                    RMSNorm.forward(ln2, rstd: a + al.ln2Rstd + l * N, mid, weight: p + pl.ffnNorm + l * d,
                                    n: N, dim: d, eps: eps)
                    let h1 = a + al.h1 + l * N * F, h3 = a + al.h3 + l * N * F, gate = a + al.gate + l * N * F
                    Matmul.forward(h1, ln2, p + pl.w1 + l * F * d, n: N, inDim: d, outDim: F)
                    Matmul.forward(h3, ln2, p + pl.w3 + l * F * d, n: N, inDim: d, outDim: F)
                    adapt.forward(.gate, l, out: h1, inp: ln2)
                    adapt.forward(.up, l, out: h3, inp: ln2)
                    SwiGLU.forward(gate, a: h1, b: h3, count: N * F)
                    let next = a + al.residual + (l + 1) * N * d
                    next.update(from: mid, count: N * d)
                    Matmul.forward(next, gate, p + pl.w2 + l * d * F, n: N, inDim: F, outDim: d, accumulate: true)
                    adapt.forward(.down, l, out: next, inp: gate)
                }
                let xL = a + al.residual + c.nLayers * N * d, lnf = a + al.lnf, logits = a + al.logits
                RMSNorm.forward(lnf, rstd: a + al.lnfRstd, xL, weight: p + pl.finalNorm, n: N, dim: d, eps: eps)
                Matmul.forward(logits, lnf, p + pl.wcls, n: N, inDim: d, outDim: V)
                CrossEntropy.forward(logprobs: a + al.logprobs, logits: logits, targets: ints + al.targets, n: N, vocab: V)
            }
            }
        }
    }

    // MARK: Backward

    /// Accumulates into `grads` the gradient of  L = Σ_i weights_i · (−log p(target_i)).
    /// SFT passes mask_i / Σmask; policy-gradient losses pass their per-token coefficients.
    /// With an adapter attached, only the adapter's gradients are formed; the base's products
    /// for weight gradients are skipped.
    public mutating func backward(_ acts: inout Activations, weights: [Float]) throws(ModelError) {
        guard weights.count == acts.rows else {
            throw .shapeMismatch("expected \(acts.rows) loss weights, got \(weights.count)")
        }
        if lora == nil, grads.count != layout.count { grads = [Float](repeating: 0, count: layout.count) }
        let c = config, pl = layout, al = acts.layout, rope = self.rope
        let B = al.batch, T = al.seqLen, N = B * T
        let d = c.dim, kvd = c.kvDim, F = c.hiddenDim, V = c.vocabSize
        let H = c.nHeads, Hkv = c.nKVHeads, hd = c.headDim
        acts.reserveLoRA(LoRAHook.activationCounts(lora, rows: N))
        let frozen = lora != nil, shape = lora.map(LoRAHook.Shape.init)
        params.withUnsafeBufferPointer { pbuf in
            grads.withUnsafeMutableBufferPointer { gbuf in
              Self.withAdapterBuffers(&lora) { lp, lg in
                weights.withUnsafeBufferPointer { wbuf in
                    acts.withPointers { a, s, ints in
                        let p = pbuf.baseAddress!
                        // The base's gradient views, or nil for a frozen base.
                        let g: UnsafeMutablePointer<Float>? = frozen ? nil : gbuf.baseAddress
                        func gw(_ offset: Int) -> UnsafeMutablePointer<Float>? { g.map { $0 + offset } }
                        let adapt = LoRAHook(shape: shape, p: lp, g: lg, saved: a + al.actsCount, du: s + al.scratchCount, n: N)
                        let tokens = ints + al.tokens, positions = ints + al.positions
                        let dRes = s + al.dRes, dLn = s + al.dLn
                        // Classifier and final norm.
                        let dLogits = s + al.dLogits
                        CrossEntropy.backward(dlogits: dLogits, logits: a + al.logits, targets: ints + al.targets,
                                              weights: wbuf.baseAddress!, n: N, vocab: V)
                        Matmul.backward(dinp: dLn, dw: gw(pl.wcls), dout: dLogits, inp: a + al.lnf, w: p + pl.wcls,
                                        n: N, inDim: d, outDim: V)
                        adapt.backwardClassifier(dlogits: dLogits, lnf: a + al.lnf, dim: d, vocab: V)
                        dRes.update(repeating: 0, count: N * d)
                        RMSNorm.backward(dinp: dRes, dweight: gw(pl.finalNorm), dout: dLn,
                                         inp: a + al.residual + c.nLayers * N * d, weight: p + pl.finalNorm,
                                         rstd: a + al.lnfRstd, n: N, dim: d)
                        for l in stride(from: c.nLayers - 1, through: 0, by: -1) {
                            // MLP block; dRes carries ∂L/∂(layer output) and becomes ∂L/∂mid.
                            let ln2 = a + al.ln2 + l * N * d, mid = a + al.resMid + l * N * d
                            let h1 = a + al.h1 + l * N * F, h3 = a + al.h3 + l * N * F
                            let dGate = s + al.dGate, dh1 = s + al.dh1, dh3 = s + al.dh3
                            Matmul.backward(dinp: dGate, dw: gw(pl.w2 + l * d * F), dout: dRes, inp: a + al.gate + l * N * F,
                                            w: p + pl.w2 + l * d * F, n: N, inDim: F, outDim: d)
                            adapt.backward(.down, l, dinp: dGate, dout: dRes, inp: a + al.gate + l * N * F)
                            SwiGLU.backward(da: dh1, db: dh3, dout: dGate, a: h1, b: h3, count: N * F)
                            Matmul.backward(dinp: dLn, dw: gw(pl.w1 + l * F * d), dout: dh1, inp: ln2,
                                            w: p + pl.w1 + l * F * d, n: N, inDim: d, outDim: F)
                            adapt.backward(.gate, l, dinp: dLn, dout: dh1, inp: ln2)
                            Matmul.backward(dinp: dLn, dw: gw(pl.w3 + l * F * d), dout: dh3, inp: ln2,
                                            w: p + pl.w3 + l * F * d, n: N, inDim: d, outDim: F, accumulateInput: true)
                            adapt.backward(.up, l, dinp: dLn, dout: dh3, inp: ln2)
                            RMSNorm.backward(dinp: dRes, dweight: gw(pl.ffnNorm + l * d), dout: dLn, inp: mid,
                                             weight: p + pl.ffnNorm + l * d, rstd: a + al.ln2Rstd + l * N, n: N, dim: d)
                            // Attention block; dRes becomes ∂L/∂(layer input).
                            let x = a + al.residual + l * N * d, ln1 = a + al.ln1 + l * N * d
                            let q = a + al.q + l * N * d, k = a + al.k + l * N * kvd, v = a + al.v + l * N * kvd
                            let dAttOut = s + al.dAttOut, dq = s + al.dq, dk = s + al.dk, dv = s + al.dv
                            Matmul.backward(dinp: dAttOut, dw: gw(pl.wo + l * d * d), dout: dRes, inp: a + al.attOut + l * N * d,
                                            w: p + pl.wo + l * d * d, n: N, inDim: d, outDim: d)
                            adapt.backward(.o, l, dinp: dAttOut, dout: dRes, inp: a + al.attOut + l * N * d)
                            Attention.backward(dq: dq, dk: dk, dv: dv, scratch: s + al.dAtt, dout: dAttOut,
                                               att: a + al.att + l * B * H * T * T, q: q, k: k, v: v,
                                               batch: B, seqLen: T, heads: H, kvHeads: Hkv, headDim: hd)
                            rope.apply(dq, positions: positions, n: N, heads: H, inverse: true)
                            rope.apply(dk, positions: positions, n: N, heads: Hkv, inverse: true)
                            if let g, let bq = pl.bq, let bk = pl.bk, let bv = pl.bv {
                                Bias.backward(dbias: g + bq + l * d, dout: dq, n: N, dim: d)
                                Bias.backward(dbias: g + bk + l * kvd, dout: dk, n: N, dim: kvd)
                                Bias.backward(dbias: g + bv + l * kvd, dout: dv, n: N, dim: kvd)
                            }
                            Matmul.backward(dinp: dLn, dw: gw(pl.wq + l * d * d), dout: dq, inp: ln1,
                                            w: p + pl.wq + l * d * d, n: N, inDim: d, outDim: d)
                            adapt.backward(.q, l, dinp: dLn, dout: dq, inp: ln1)
                            Matmul.backward(dinp: dLn, dw: gw(pl.wk + l * kvd * d), dout: dk, inp: ln1,
                                            w: p + pl.wk + l * kvd * d, n: N, inDim: d, outDim: kvd, accumulateInput: true)
                            adapt.backward(.k, l, dinp: dLn, dout: dk, inp: ln1)
                            Matmul.backward(dinp: dLn, dw: gw(pl.wv + l * kvd * d), dout: dv, inp: ln1,
                                            w: p + pl.wv + l * kvd * d, n: N, inDim: d, outDim: kvd, accumulateInput: true)
                            adapt.backward(.v, l, dinp: dLn, dout: dv, inp: ln1)
                            RMSNorm.backward(dinp: dRes, dweight: gw(pl.attnNorm + l * d), dout: dLn, inp: x,
                                             weight: p + pl.attnNorm + l * d, rstd: a + al.ln1Rstd + l * N, n: N, dim: d)
                        }
                        if let g { Embedding.backward(dtable: g + pl.tokEmbed, dout: dRes, tokens: tokens, n: N, dim: d) }
                        adapt.backwardEmbedding(dout: dRes, tokens: tokens, dim: d)
                    }
                }
              }
            }
        }
    }

    /// Loss Σ_i weights_i · (−log p(target_i)) of the last forward pass.
    public static func loss(_ acts: Activations, weights: [Float]) -> Float {
        var s: Double = 0
        for (i, lp) in acts.logprobs.enumerated() where weights[i] != 0 { s -= Double(weights[i]) * Double(lp) }
        return Float(s)
    }
}

extension RoPETable {
    /// Rotates rows of x (N, heads·headDim) in place at the given positions.
    func apply(_ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>, n: Int, heads: Int, inverse: Bool = false) {
        cos.withUnsafeBufferPointer { c in
            sin.withUnsafeBufferPointer { s in
                RoPE.apply(x, positions: positions, cos: c.baseAddress!, sin: s.baseAddress!,
                           n: n, heads: heads, headDim: headDim, inverse: inverse)
            }
        }
    }
}
