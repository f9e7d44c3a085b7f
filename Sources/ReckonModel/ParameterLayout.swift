// Names, shapes, offsets and weight decay of every tensor in the flat parameter buffer; the buffer and its
// initial values are Transformer.swift's.

/// One named tensor inside a flat buffer.
public struct TensorSpec: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    /// Weight decay applies to matrices, not to norm gains.
    public let decay: Bool
    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}

/// Where each parameter lives in the one contiguous parameter buffer.
/// Order and shapes follow llama2.c's v0 file, so export is a straight copy.
/// Matrices are (out, in) row-major; per-layer tensors are stacked along a leading L.
public struct ParameterLayout: Sendable, Equatable {
    public let tokEmbed: Int   // (V, d)
    public let attnNorm: Int   // (L, d)
    public let wq: Int         // (L, d, d)
    public let wk: Int         // (L, kvd, d)
    public let wv: Int         // (L, kvd, d)
    public let wo: Int         // (L, d, d)
    public let ffnNorm: Int    // (L, d)
    public let w1: Int         // (L, F, d)
    public let w2: Int         // (L, d, F)
    public let w3: Int         // (L, F, d)
    public let finalNorm: Int  // (d)
    public let wcls: Int       // (V, d); equals tokEmbed when tied
    /// q/k/v biases, only with `qkvBias`; after every llama2.c tensor so those keep their offsets.
    public let bq: Int?        // (L, d)
    public let bk: Int?        // (L, kvd)
    public let bv: Int?        // (L, kvd)
    public let count: Int
    public let tensors: [TensorSpec]

    public init(_ c: ModelConfig) {
        let d = c.dim, L = c.nLayers, kvd = c.kvDim, F = c.hiddenDim, V = c.vocabSize
        var specs: [TensorSpec] = []
        var at = 0
        func add(_ name: String, _ shape: [Int], decay: Bool) -> Int {
            let s = TensorSpec(name: name, shape: shape, offset: at, decay: decay)
            specs.append(s)
            at += s.count
            return s.offset
        }
        tokEmbed = add("tok_embeddings", [V, d], decay: true)
        attnNorm = add("attention_norm", [L, d], decay: false)
        wq = add("wq", [L, d, d], decay: true)
        wk = add("wk", [L, kvd, d], decay: true)
        wv = add("wv", [L, kvd, d], decay: true)
        wo = add("wo", [L, d, d], decay: true)
        ffnNorm = add("ffn_norm", [L, d], decay: false)
        w1 = add("w1", [L, F, d], decay: true)
        w2 = add("w2", [L, d, F], decay: true)
        w3 = add("w3", [L, F, d], decay: true)
        finalNorm = add("norm", [d], decay: false)
        wcls = c.tiedEmbeddings ? tokEmbed : add("wcls", [V, d], decay: true)
        bq = c.qkvBias ? add("bq", [L, d], decay: false) : nil
        bk = c.qkvBias ? add("bk", [L, kvd], decay: false) : nil
        bv = c.qkvBias ? add("bv", [L, kvd], decay: false) : nil
        count = at
        tensors = specs
    }

    /// Biases start at 0; the other undecayed tensors are norm gains, which start at 1.
    public static let biasNames: Set<String> = ["bq", "bk", "bv"]

    public func tensor(named name: String) -> TensorSpec? { tensors.first { $0.name == name } }
}
