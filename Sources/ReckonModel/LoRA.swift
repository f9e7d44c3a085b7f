// LoRA adapters on a frozen base: their config, parameter layout and buffers, the per-layer
// forward/backward hooks the transformer calls, and merging into the base. Not the files
// (ReckonCheckpoint/AdapterCheckpoint.swift) nor the optimizer (ReckonTrain/TrainableParameters.swift).

import ReckonCore

/// A base matrix LoRA can adapt, by the usual short name.
public enum LoRATarget: String, CaseIterable, Codable, Sendable {
    case q, k, v, o, gate, up, down

    /// The adapted matrix's name in `ParameterLayout`.
    public var matrix: String {
        switch self {
        case .q: "wq"
        case .k: "wk"
        case .v: "wv"
        case .o: "wo"
        case .gate: "w1"
        case .up: "w3"
        case .down: "w2"
        }
    }

    /// (out, in) of one layer's matrix.
    func shape(_ c: ModelConfig) -> (out: Int, in: Int) {
        switch self {
        case .q, .o: (c.dim, c.dim)
        case .k, .v: (c.kvDim, c.dim)
        case .gate, .up: (c.hiddenDim, c.dim)
        case .down: (c.dim, c.hiddenDim)
        }
    }

    /// Where the stacked (L, out, in) matrix starts in the base buffer.
    func offset(_ pl: ParameterLayout) -> Int {
        switch self {
        case .q: pl.wq
        case .k: pl.wk
        case .v: pl.wv
        case .o: pl.wo
        case .gate: pl.w1
        case .up: pl.w3
        case .down: pl.w2
        }
    }
}

/// Rank, α and targets of a run's adapters (dropout is always 0).
public struct LoRAConfig: Codable, Sendable, Equatable {
    public var rank: Int
    public var alpha: Float
    /// Adapted matrices, in `LoRATarget.allCases` order without repeats.
    public var targets: [LoRATarget]

    public init(rank: Int, alpha: Float, targets: [LoRATarget]) {
        self.rank = rank
        self.alpha = alpha
        self.targets = LoRATarget.allCases.filter(targets.contains)
    }

    /// s = α/r, the factor on B·A: changing r at fixed α leaves the update's scale alone.
    public var scale: Float { alpha / Float(rank) }

    public func validate(for c: ModelConfig) throws(ModelError) {
        guard rank >= 1, rank <= min(c.dim, c.hiddenDim) else {
            throw .invalidConfig("LoRA rank \(rank) must be in 1...\(min(c.dim, c.hiddenDim))")
        }
        guard alpha > 0, alpha.isFinite else { throw .invalidConfig("LoRA alpha \(alpha) must be positive") }
        guard !targets.isEmpty else { throw .invalidConfig("LoRA needs at least one target of q, k, v, o, gate, up, down") }
    }
}

/// Where each trainable tensor lives in the adapter's one contiguous buffer.
/// A is (r, in) and B (out, r) per layer, stacked along a leading L, row-major like the base.
public struct LoRALayout: Sendable, Equatable {
    public struct Pair: Sendable, Equatable {
        public let target: LoRATarget
        public let a: Int       // (L, r, in)
        public let b: Int       // (L, out, r)
        public let inDim: Int, outDim: Int
    }
    public let pairs: [Pair]
    public let controlEmbed: Int   // (K, d) embedding rows of the control tokens (also their classifier rows when tied)
    public let controlCls: Int?    // (K, d) classifier rows of the control tokens; untied models only
    public let count: Int
    public let tensors: [TensorSpec]

    public init(_ lc: LoRAConfig, model c: ModelConfig, controlCount K: Int) {
        let L = c.nLayers, r = lc.rank, d = c.dim
        var specs: [TensorSpec] = [], at = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            let s = TensorSpec(name: name, shape: shape, offset: at, decay: true)
            specs.append(s)
            at += s.count
            return s.offset
        }
        pairs = lc.targets.map { t in
            let (o, i) = t.shape(c)
            let a = add("\(t.matrix).lora_a", [L, r, i])
            let b = add("\(t.matrix).lora_b", [L, o, r])
            return Pair(target: t, a: a, b: b, inDim: i, outDim: o)
        }
        controlEmbed = add("control_embeddings", [K, d])
        controlCls = c.tiedEmbeddings ? nil : add("control_wcls", [K, d])
        count = at
        tensors = specs
    }

    /// The control tokens' rows (embedding, then classifier when untied): the end of the layout.
    public var controlRows: Range<Int> { controlEmbed..<count }
    public func pair(_ t: LoRATarget) -> Pair? { pairs.first { $0.target == t } }
    public func tensor(named name: String) -> TensorSpec? { tensors.first { $0.name == name } }
}

/// The trainable part of a LoRA run: the adapters and the control-token rows, with their gradients.
/// The base stays in `Transformer.params`; only these buffers move.
public struct LoRA: Sendable {
    public let config: LoRAConfig
    public let model: ModelConfig
    public let layout: LoRALayout
    /// The control tokens whose embedding and classifier rows train (K): `<think>`, `</think>`, `<short>`.
    public let controlTokens: [Int32]
    /// Adapters and control rows, (P_lora) flat; views in `layout`.
    public var params: [Float]
    /// Gradients, (P_lora) flat, same views. Backward accumulates; zeroed once per step.
    public var grads: [Float]

    /// Fresh adapters on `base`: A ~ N(0, 1/in), B = 0, control rows copied from the base.
    /// B = 0 makes B·A = 0, so step 0 is exactly the base model (the LoRA paper's init), while
    /// a random A lets B's first gradient s·doutᵀ·(x·Aᵀ) be non-zero; with both at 0 neither
    /// would ever move. std 1/√in keeps x·Aᵀ at the scale of x.
    public init(config: LoRAConfig, base: Transformer, controlTokens: [Int32], seed: UInt64) throws(ModelError) {
        try self.init(config: config, model: base.config, controlTokens: controlTokens,
                      params: [Float](repeating: 0, count: LoRALayout(config, model: base.config, controlCount: controlTokens.count).count))
        var rng = RNG(seed: seed)
        for p in layout.pairs {
            let std = 1 / Float(p.inDim).squareRoot()
            for i in p.a..<(p.a + base.config.nLayers * config.rank * p.inDim) { params[i] = std * rng.normal() }
        }
        let d = model.dim, pl = base.layout
        for (k, id) in controlTokens.enumerated() {
            let e = pl.tokEmbed + Int(id) * d
            params.replaceSubrange((layout.controlEmbed + k * d)..<(layout.controlEmbed + (k + 1) * d), with: base.params[e..<(e + d)])
            if let cls = layout.controlCls {
                let w = pl.wcls + Int(id) * d
                params.replaceSubrange((cls + k * d)..<(cls + (k + 1) * d), with: base.params[w..<(w + d)])
            }
        }
    }

    /// Adapters over stored values (a checkpoint).
    public init(config: LoRAConfig, model: ModelConfig, controlTokens: [Int32], params: [Float]) throws(ModelError) {
        try config.validate(for: model)
        for id in controlTokens where id < 0 || Int(id) >= model.vocabSize {
            throw .tokenOutOfRange(id: Int(id), vocabSize: model.vocabSize)
        }
        guard Set(controlTokens).count == controlTokens.count else { throw .invalidConfig("LoRA control tokens \(controlTokens) repeat") }
        let layout = LoRALayout(config, model: model, controlCount: controlTokens.count)
        guard params.count == layout.count else {
            throw .shapeMismatch("LoRA config needs \(layout.count) parameters, got \(params.count)")
        }
        self.config = config
        self.model = model
        self.layout = layout
        self.controlTokens = controlTokens
        self.params = params
        grads = [Float](repeating: 0, count: layout.count)
    }

    public var parameterCount: Int { layout.count }
}

// MARK: Attaching and merging

extension Transformer {
    /// Freezes the base and trains `lora` instead: the base gradient buffer is released, and
    /// the adapter's control rows are written into the model's rows of those tokens.
    public mutating func attach(_ lora: LoRA) throws(ModelError) {
        guard lora.model == config else { throw .shapeMismatch("the adapters were built for another model config") }
        self.lora = lora
        grads = []
        installControlRows()
    }

    /// Copies the adapter's control rows (K·d floats, twice when untied) into the embedding and
    /// classifier, so the frozen forward sees the trained rows. Run after every update of them;
    /// the rest of the base is never copied.
    public mutating func installControlRows() {
        guard let lora else { return }
        let d = config.dim, pl = layout, ll = lora.layout
        for (k, id) in lora.controlTokens.enumerated() {
            let src = ll.controlEmbed + k * d, dst = pl.tokEmbed + Int(id) * d
            params.replaceSubrange(dst..<(dst + d), with: lora.params[src..<(src + d)])
            if let cls = ll.controlCls {
                let w = pl.wcls + Int(id) * d
                params.replaceSubrange(w..<(w + d), with: lora.params[(cls + k * d)..<(cls + (k + 1) * d)])
            }
        }
    }

    /// One model with W + (α/r)·B·A in every adapted matrix and the adapter's control rows:
    /// what export and serving load. Without an adapter, the model itself.
    public func merged() throws(ModelError) -> Transformer {
        guard let lora else { return self }
        var p = params
        let c = config, r = lora.config.rank, s = lora.config.scale, pl = layout
        p.withUnsafeMutableBufferPointer { pb in
            lora.params.withUnsafeBufferPointer { lb in
                for pair in lora.layout.pairs {
                    let base = pair.target.offset(pl), I = pair.inDim, O = pair.outDim
                    for l in 0..<c.nLayers {
                        LoRALinear.merge(pb.baseAddress! + base + l * O * I, a: lb.baseAddress! + pair.a + l * r * I,
                                         b: lb.baseAddress! + pair.b + l * O * r, inDim: I, outDim: O, rank: r, scale: s)
                    }
                }
            }
        }
        return try Transformer(config: c, params: p)
    }
}

// MARK: Forward and backward hooks

/// The adapters as the training forward and backward see them: pointers into the adapter's
/// params and grads and into the saved rank-r middles. Every call is a no-op without an adapter,
/// so the frozen-base passes read like the full ones.
struct LoRAHook {
    /// What the hook needs of the adapter besides its buffers (so holding it copies no buffer).
    struct Shape {
        let config: LoRAConfig, layout: LoRALayout, controlTokens: [Int32]
        init(_ lora: LoRA) { config = lora.config; layout = lora.layout; controlTokens = lora.controlTokens }
    }
    let shape: Shape?
    let p: UnsafePointer<Float>?
    let g: UnsafeMutablePointer<Float>?
    /// Saved u = x·Aᵀ of every (layer, pair): (L, pairs, N, r); in decode, one (N, r) reused.
    let saved: UnsafeMutablePointer<Float>?
    /// Backward scratch du (N, r).
    let du: UnsafeMutablePointer<Float>?
    let n: Int
    /// Whether every (layer, pair) keeps its u for backward (training) or shares one (decode).
    var keep = true

    /// Floats of saved activations and of backward scratch a (B·T = n)-row pass needs.
    static func activationCounts(_ lora: LoRA?, rows n: Int) -> (saved: Int, scratch: Int) {
        guard let lora else { return (0, 0) }
        return (lora.model.nLayers * lora.layout.pairs.count * n * lora.config.rank, n * lora.config.rank)
    }

    private func slot(_ t: LoRATarget, _ l: Int) -> (LoRALayout.Pair, UnsafeMutablePointer<Float>)? {
        guard let shape, let saved, let k = shape.layout.pairs.firstIndex(where: { $0.target == t }) else { return nil }
        return (shape.layout.pairs[k], keep ? saved + (l * shape.layout.pairs.count + k) * n * shape.config.rank : saved)
    }

    /// out (N, O) += s·B·A·inp for `t` of layer l.
    func forward(_ t: LoRATarget, _ l: Int, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>) {
        guard let (pair, u) = slot(t, l), let shape, let p else { return }
        let r = shape.config.rank, I = pair.inDim, O = pair.outDim
        LoRALinear.forward(out, u: u, inp, a: p + pair.a + l * r * I, b: p + pair.b + l * O * r,
                           n: n, inDim: I, outDim: O, rank: r, scale: shape.config.scale)
    }

    /// dA, dB of `t` at layer l, and dinp += its share; after the frozen product's backward.
    func backward(_ t: LoRATarget, _ l: Int, dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>) {
        guard let (pair, u) = slot(t, l), let shape, let p, let g, let du else { return }
        let r = shape.config.rank, I = pair.inDim, O = pair.outDim
        LoRALinear.backward(dinp: dinp, da: g + pair.a + l * r * I, db: g + pair.b + l * O * r, du: du, dout: dout,
                            inp: inp, u: u, a: p + pair.a + l * r * I, b: p + pair.b + l * O * r,
                            n: n, inDim: I, outDim: O, rank: r, scale: shape.config.scale)
    }

    /// The control rows' embedding gradient: dout (N, d) rows of control-token inputs.
    func backwardEmbedding(dout: UnsafePointer<Float>, tokens: UnsafePointer<Int32>, dim d: Int) {
        guard let shape, let g else { return }
        for i in 0..<n {
            guard let k = shape.controlTokens.firstIndex(of: tokens[i]) else { continue }
            let dst = g + shape.layout.controlEmbed + k * d, src = dout + i * d
            for j in 0..<d { dst[j] += src[j] }
        }
    }

    /// The control rows' classifier gradient: row k += Σ_i dlogits[i, id_k] · lnf[i]. One
    /// matrix-vector product per control token (K of them), over all N rows.
    func backwardClassifier(dlogits: UnsafePointer<Float>, lnf: UnsafePointer<Float>, dim d: Int, vocab V: Int) {
        guard let shape, let g else { return }
        let rows = shape.layout.controlCls ?? shape.layout.controlEmbed
        for (k, id) in shape.controlTokens.enumerated() {
            LoRALinear.rowGradient(g + rows + k * d, column: dlogits + Int(id), stride: V, rows: lnf, n: n, dim: d)
        }
    }
}

extension Transformer {
    /// The adapter's parameters, or nil without one.
    func withAdapterParams<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        guard let lora else { return body(nil) }
        return lora.params.withUnsafeBufferPointer { body($0.baseAddress) }
    }

    /// The adapter's parameters and gradients, or nils without one.
    static func withAdapterBuffers<R>(_ lora: inout LoRA?, _ body: (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?) -> R) -> R {
        // Moved out while in use, so its gradient buffer stays uniquely held and is written in place.
        guard var adapter = lora else { return body(nil, nil) }
        lora = nil
        defer { lora = adapter }
        return adapter.params.withUnsafeBufferPointer { p in
            adapter.grads.withUnsafeMutableBufferPointer { g in body(p.baseAddress, g.baseAddress) }
        }
    }
}

extension Activations {
    /// Grows the buffers for an adapter's saved middles (after the base activations) and its
    /// backward scratch (after the base scratch); allocates once per (shape, adapter).
    mutating func reserveLoRA(_ counts: (saved: Int, scratch: Int)) {
        if acts.count < layout.actsCount + counts.saved { acts += [Float](repeating: 0, count: layout.actsCount + counts.saved - acts.count) }
        if scratch.count < layout.scratchCount + counts.scratch {
            scratch += [Float](repeating: 0, count: layout.scratchCount + counts.scratch - scratch.count)
        }
    }
}

/// A flat buffer's named tensors: the base's `ParameterLayout` or the adapter's `LoRALayout`,
/// which checkpoints write and read the same way.
public protocol TensorLayout: Sendable {
    var tensors: [TensorSpec] { get }
    var count: Int { get }
}

extension ParameterLayout: TensorLayout {}
extension LoRALayout: TensorLayout {}
