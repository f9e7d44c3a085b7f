// The low-rank update of a frozen linear layer, forward and backward side by side; not the
// frozen product itself (Matmul.swift) nor which layers carry one (ReckonModel/LoRA.swift).

import CBLAS

/// out (N, O) += s · (inp (N, I) · Aᵀ) · Bᵀ with A (r, I), B (O, r) row-major and s = α/r.
/// The rank-r middle u = inp · Aᵀ (N, r) is saved for backward. Each product is one sgemm
/// over all N = B·T rows.
public enum LoRALinear {
    /// u (N, r) = inp · Aᵀ;  out (N, O) += s · u · Bᵀ.
    public static func forward(
        _ out: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, n: Int, inDim: Int, outDim: Int, rank: Int, scale: Float
    ) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(rank), Int32(inDim),
                    1, inp, Int32(inDim), a, Int32(inDim), 0, u, Int32(rank))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(outDim), Int32(rank),
                    scale, u, Int32(rank), b, Int32(rank), 1, out, Int32(outDim))
    }

    /// Given dout (N, O): dB (O, r) += s · doutᵀ · u;  du (N, r) = s · dout · B (scratch);
    /// dA (r, I) += duᵀ · inp;  dinp (N, I) += du · A (the frozen product's dinp is already there).
    public static func backward(
        dinp: UnsafeMutablePointer<Float>, da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>,
        du: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, u: UnsafePointer<Float>,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>, n: Int, inDim: Int, outDim: Int, rank: Int, scale: Float
    ) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(outDim), Int32(rank), Int32(n),
                    scale, dout, Int32(outDim), u, Int32(rank), 1, db, Int32(rank))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(rank), Int32(outDim),
                    scale, dout, Int32(outDim), b, Int32(rank), 0, du, Int32(rank))
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rank), Int32(inDim), Int32(n),
                    1, du, Int32(rank), inp, Int32(inDim), 1, da, Int32(inDim))
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(inDim), Int32(rank),
                    1, du, Int32(rank), a, Int32(inDim), 1, dinp, Int32(inDim))
    }

    /// w (O, I) += s · B · A: folds the update into the weight (export, serving).
    public static func merge(_ w: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             inDim: Int, outDim: Int, rank: Int, scale: Float) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outDim), Int32(inDim), Int32(rank),
                    scale, b, Int32(rank), a, Int32(inDim), 1, w, Int32(inDim))
    }

    /// dw (D) += Σ_i column[i·stride] · rows[i] with rows (N, D): the weight gradient of one
    /// classifier row (a trainable control token's) from a column of dlogits.
    public static func rowGradient(_ dw: UnsafeMutablePointer<Float>, column: UnsafePointer<Float>, stride: Int,
                                   rows: UnsafePointer<Float>, n: Int, dim: Int) {
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(n), Int32(dim), 1, rows, Int32(dim), column, Int32(stride), 1, dw, 1)
    }
}
