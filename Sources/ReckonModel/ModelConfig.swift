// The architecture's hyperparameters and their consistency check; where each tensor lives is ParameterLayout.swift's.

/// Architecture of a Llama-style decoder: pre-norm RMSNorm, RoPE on interleaved pairs,
/// SwiGLU MLP, optional q/k/v biases (Qwen2), optional grouped KV heads, optional tied classifier.
public struct ModelConfig: Codable, Sendable, Equatable {
    public var dim: Int
    public var nLayers: Int
    public var nHeads: Int
    public var nKVHeads: Int
    public var hiddenDim: Int
    public var vocabSize: Int
    public var maxSeqLen: Int
    public var tiedEmbeddings: Bool
    public var ropeTheta: Float
    public var normEps: Float
    /// Biases on the q, k and v projections (Qwen2); no other layer has a bias.
    public var qkvBias: Bool

    public init(dim: Int, nLayers: Int, nHeads: Int, nKVHeads: Int? = nil, hiddenDim: Int,
                vocabSize: Int = Tokenizer.vocabSize, maxSeqLen: Int, tiedEmbeddings: Bool = false,
                ropeTheta: Float = 10000, normEps: Float = 1e-5, qkvBias: Bool = false) {
        self.dim = dim
        self.nLayers = nLayers
        self.nHeads = nHeads
        self.nKVHeads = nKVHeads ?? nHeads
        self.hiddenDim = hiddenDim
        self.vocabSize = vocabSize
        self.maxSeqLen = maxSeqLen
        self.tiedEmbeddings = tiedEmbeddings
        self.ropeTheta = ropeTheta
        self.normEps = normEps
        self.qkvBias = qkvBias
    }

    public var headDim: Int { dim / nHeads }
    public var kvDim: Int { nKVHeads * headDim }

    /// The standard bench model: d=256, 4 layers, 8 heads, SwiGLU 768, context 256.
    public static let bench = ModelConfig(dim: 256, nLayers: 4, nHeads: 8, hiddenDim: 768, maxSeqLen: 256)

    /// Checks that the shapes are consistent; every loader and constructor calls it.
    public func validate() throws(ModelError) {
        func need(_ ok: Bool, _ why: String) throws(ModelError) {
            if !ok { throw .invalidConfig(why) }
        }
        try need(dim > 0 && nLayers > 0 && nHeads > 0 && nKVHeads > 0 && hiddenDim > 0,
                 "dim, nLayers, nHeads, nKVHeads and hiddenDim must be positive")
        try need(dim % nHeads == 0, "dim \(dim) is not divisible by nHeads \(nHeads)")
        try need(headDim % 2 == 0, "head dimension \(headDim) must be even for RoPE pairs")
        try need(nHeads % nKVHeads == 0, "nHeads \(nHeads) is not a multiple of nKVHeads \(nKVHeads)")
        try need(vocabSize >= Tokenizer.vocabSize, "vocabSize \(vocabSize) is below the tokenizer's \(Tokenizer.vocabSize)")
        try need(maxSeqLen > 0 && maxSeqLen <= 1 << 16, "maxSeqLen \(maxSeqLen) must be in 1...65536")
        try need(ropeTheta > 0 && normEps > 0, "ropeTheta and normEps must be positive")
    }
}

public enum ModelError: Error, Equatable, CustomStringConvertible {
    case invalidConfig(String)
    case tokenOutOfRange(id: Int, vocabSize: Int)
    case sequenceTooLong(length: Int, maxSeqLen: Int)
    case shapeMismatch(String)
    case cacheFull(slot: Int, capacity: Int)
    case invalidSlot(Int)
    /// Routing asked of a vocabulary without `<think>`/`<short>`.
    case noControlTokens

    public var description: String {
        switch self {
        case .invalidConfig(let why): "invalid model config: \(why)"
        case .tokenOutOfRange(let id, let v): "token id \(id) is outside the vocabulary 0..<\(v)"
        case .sequenceTooLong(let n, let m): "sequence of \(n) tokens exceeds the context of \(m)"
        case .shapeMismatch(let why): "shape mismatch: \(why)"
        case .cacheFull(let s, let c): "KV cache slot \(s) is full (\(c) positions)"
        case .invalidSlot(let s): "KV cache slot \(s) does not exist"
        case .noControlTokens: "the tokenizer has no <think>/<short> control tokens to route with"
        }
    }
}
