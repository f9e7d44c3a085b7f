// The bias-free linear layer, forward and backward: one sgemm over all rows (its rows shared out over the
// pool's threads), few rows through the small kernel (CKernels/small_gemm.c); the bias is Bias.swift's.

import CBLAS
import CKernels

/// One weight matrix w (O, I) and its output c (N, O), of products that share an input
/// (`rk_gemm_segment`, handed to the kernel as it is).
public typealias Projection = rk_gemm_segment

extension Projection {
    public init(_ out: UnsafeMutablePointer<Float>, _ w: UnsafePointer<Float>, outDim: Int) {
        self.init(w: w, c: out, m: Int32(outDim))
    }
}

/// Linear layer without bias: out (N, O) = inp (N, I) · wᵀ, with w stored (O, I) row-major.
/// One product covers all N = B·T rows: with several threads, one single-threaded sgemm per
/// thread over its share of the rows (`split`).
public enum Matmul {
    /// Row counts up to this go to the few-row kernel (`reckon bench` compares the two).
    public static let smallRowLimit = 64

    /// out (N, O) = inp (N, I) · wᵀ  (+ out, when `accumulate`)
    public static func forward(
        _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        n: Int, inDim: Int, outDim: Int, accumulate: Bool = false
    ) {
        // Decode's few rows: sgemm would repack the whole weight matrix for each call, which
        // costs as much as the product. The small kernel reads it in place, and sums each
        // output in the same order at any row count, so decode is batch-invariant.
        if n <= smallRowLimit, inDim % 8 == 0, CPUKernels.available {
            rk_small_gemm(inp, w, out, Int32(n), Int32(inDim), Int32(outDim), accumulate ? 1 : 0)
            return
        }
        // Each part packs the whole of the operand it does not split: split the larger side.
        if n >= outDim {
            split(n) { r in
                forwardBLAS(out + r.lowerBound * outDim, inp + r.lowerBound * inDim, w,
                            n: r.count, inDim: inDim, outDim: outDim, accumulate: accumulate)
            }
            return
        }
        split(outDim) { r in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                        Int32(n), Int32(r.count), Int32(inDim),
                        1, inp, Int32(inDim), w + r.lowerBound * inDim, Int32(inDim),
                        accumulate ? 1 : 0, out + r.lowerBound, Int32(outDim))
        }
    }

    /// `forward` for each projection of `inp` (N, I). Few rows run as one job on the pool (a
    /// layer's query, key and value; its gate and up), so the threads meet once for all of
    /// them; every output is the one `forward` gives.
    public static func forward(_ projections: [Projection], _ inp: UnsafePointer<Float>, n: Int, inDim: Int) {
        if n <= smallRowLimit, inDim % 8 == 0, CPUKernels.available {
            rk_small_gemm_shared(inp, Int32(n), Int32(inDim), projections, Int32(projections.count), 0)
            return
        }
        for p in projections { forward(p.c, inp, p.w, n: n, inDim: inDim, outDim: Int(p.m)) }
    }

    /// Parts of a split product have at least this many rows.
    public static let rowsPerPart = 64

    /// Runs `body` over 0..<count (rows or columns of a product) in one contiguous share per
    /// pool thread, each a single-threaded sgemm: OpenBLAS's own threads meet at barriers inside every product
    /// (and yield the core while they wait), where the pool's parts are claimed, so a thread
    /// that finishes first or starts late does not hold the other. sgemm sums each element over
    /// the inner dimension whatever rows it is given, so the split changes no result
    /// (`SmallGemmTests.testSplitProductsEqualOneCall`).
    @inline(__always)
    static func split(_ count: Int, _ body: (Range<Int>) -> Void) {
        if BLAS.threads < 2 || count < 2 * rowsPerPart { body(0..<count); return }
        Parallel.withSingleThreadedBLAS { Parallel.chunks(count, minChunk: rowsPerPart) { _, r in body(r) } }
    }

    /// The same product through OpenBLAS alone (`reckon bench` times it against `forward`).
    public static func forwardBLAS(
        _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
        n: Int, inDim: Int, outDim: Int, accumulate: Bool = false
    ) {
        // One row is a matrix-vector product; sgemm would repack the weights for it.
        if n == 1 {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(outDim), Int32(inDim),
                        1, w, Int32(inDim), inp, 1, accumulate ? 1 : 0, out, 1)
            return
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans,
                    Int32(n), Int32(outDim), Int32(inDim),
                    1, inp, Int32(inDim), w, Int32(inDim),
                    accumulate ? 1 : 0, out, Int32(outDim))
    }

    /// dinp (N, I) (+)= dout (N, O) · w  and  dw (O, I) += doutᵀ · inp.
    /// `dinp` is overwritten unless `accumulateInput`; parameter gradients always accumulate.
    /// A nil `dw` is a frozen weight (LoRA's base): its product is skipped.
    public static func backward(
        dinp: UnsafeMutablePointer<Float>?, dw: UnsafeMutablePointer<Float>?,
        dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, w: UnsafePointer<Float>,
        n: Int, inDim: Int, outDim: Int, accumulateInput: Bool = false
    ) {
        if let dinp {
            split(n) { r in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
                            Int32(r.count), Int32(inDim), Int32(outDim),
                            1, dout + r.lowerBound * outDim, Int32(outDim), w, Int32(inDim),
                            accumulateInput ? 1 : 0, dinp + r.lowerBound * inDim, Int32(inDim))
            }
        }
        guard let dw else { return }
        // Split over the weight's rows or columns, the larger: each part sums over all n rows,
        // as one call would.
        if outDim >= inDim {
            split(outDim) { r in
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                            Int32(r.count), Int32(inDim), Int32(n),
                            1, dout + r.lowerBound, Int32(outDim), inp, Int32(inDim),
                            1, dw + r.lowerBound * inDim, Int32(inDim))
            }
            return
        }
        split(inDim) { r in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans,
                        Int32(outDim), Int32(r.count), Int32(n),
                        1, dout, Int32(outDim), inp + r.lowerBound, Int32(inDim),
                        1, dw + r.lowerBound, Int32(inDim))
        }
    }
}
