// The FLOPs of training and decoding per token, counted once for every benchmark and report.

/// FLOP accounting, stated once here and in docs/performance.md.
///
/// N_mm counts the parameters that take part in matrix products: every parameter
/// except the input embedding table (a lookup) and the norm gains; the classifier
/// counts once (also when tied). A multiply-add is 2 FLOPs.
public extension ModelConfig {
    var matmulParameterCount: Int {
        let d = dim, L = nLayers
        return L * (d * d * 2 + 2 * kvDim * d + 3 * hiddenDim * d) + vocabSize * d
    }

    /// Training FLOPs per token at context T: 6·N_mm (forward 2, backward 4) plus
    /// attention 12·L·T·d (QKᵀ and PV, forward and backward, over the full T×T).
    func trainFlopsPerToken(seqLen T: Int) -> Double {
        6 * Double(matmulParameterCount) + 12 * Double(nLayers * T * dim)
    }

    /// Decode FLOPs for one token attending over `context` cached positions:
    /// 2·N_mm plus 4·L·d·context for QKᵀ and PV.
    func decodeFlopsPerToken(context: Int) -> Double {
        2 * Double(matmulParameterCount) + 4 * Double(nLayers * dim * context)
    }
}
