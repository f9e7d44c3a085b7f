import CBLAS
import CKernels
import Foundation

/// Causal multi-head self-attention over B independent sequences of T tokens,
/// with grouped KV heads (H query heads share H/Hkv each KV head).
/// The two products per (sequence, head) are sgemms; softmax is a tight loop.
public enum Attention {
    /// out (B·T, H·hd); att (B, H, T, T) saved softmax probabilities;
    /// q (B·T, H·hd), k, v (B·T, Hkv·hd), rotated already.
    public static func forward(
        out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        batch: Int, seqLen T: Int, heads: Int, kvHeads: Int, headDim hd: Int
    ) {
        let qDim = heads * hd, kvDim = kvHeads * hd, group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        Parallel.withSingleThreadedBLAS {
            Parallel.forEach(batch * heads) { unit in
                let b = unit / heads, h = unit % heads, kh = h / group
                let Q = q + b * T * qDim + h * hd
                let K = k + b * T * kvDim + kh * hd
                let V = v + b * T * kvDim + kh * hd
                let P = att + unit * T * T
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(hd),
                            scale, Q, Int32(qDim), K, Int32(kvDim), 0, P, Int32(T))
                for i in 0..<T {
                    let row = P + i * T
                    var mx = -Float.infinity
                    for j in 0...i { mx = max(mx, row[j]) }
                    var sum: Float = 0
                    for j in 0...i { let e = expf(row[j] - mx); row[j] = e; sum += e }
                    let inv = 1 / sum
                    for j in 0...i { row[j] *= inv }
                    for j in (i + 1)..<T { row[j] = 0 }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(T),
                            1, P, Int32(T), V, Int32(kvDim), 0, out + b * T * qDim + h * hd, Int32(qDim))
            }
        }
    }

    /// Overwrites dq (B·T, H·hd), dk, dv (B·T, Hkv·hd) with the gradients of the loss.
    /// scratch: (workers, T, T).
    public static func backward(
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, att: UnsafePointer<Float>,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        batch: Int, seqLen T: Int, heads: Int, kvHeads: Int, headDim hd: Int
    ) {
        let qDim = heads * hd, kvDim = kvHeads * hd, group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        // One work unit per (sequence, KV head): the heads of a group accumulate into
        // the same dk/dv slice, so they stay on one worker.
        Parallel.withSingleThreadedBLAS {
            Parallel.chunks(batch * kvHeads) { worker, units in
                let dP = scratch + worker * T * T
                for unit in units {
                    let b = unit / kvHeads, kh = unit % kvHeads
                    let K = k + b * T * kvDim + kh * hd, V = v + b * T * kvDim + kh * hd
                    let dK = dk + b * T * kvDim + kh * hd, dV = dv + b * T * kvDim + kh * hd
                    for t in 0..<T {
                        (dK + t * kvDim).update(repeating: 0, count: hd)
                        (dV + t * kvDim).update(repeating: 0, count: hd)
                    }
                    for h in (kh * group)..<((kh + 1) * group) {
                        let off = b * T * qDim + h * hd
                        let P = att + (b * heads + h) * T * T
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(T), Int32(T), Int32(hd),
                                    1, dout + off, Int32(qDim), V, Int32(kvDim), 0, dP, Int32(T))
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(T),
                                    1, P, Int32(T), dout + off, Int32(qDim), 1, dV, Int32(kvDim))
                        // Softmax backward, with the 1/√hd score scale folded in.
                        for i in 0..<T {
                            let p = P + i * T, g = dP + i * T
                            var dot: Float = 0
                            for j in 0...i { dot += p[j] * g[j] }
                            for j in 0...i { g[j] = p[j] * (g[j] - dot) * scale }
                            for j in (i + 1)..<T { g[j] = 0 }
                        }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(T),
                                    1, dP, Int32(T), K, Int32(kvDim), 0, dq + off, Int32(qDim))
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(T), Int32(hd), Int32(T),
                                    1, dP, Int32(T), q + off, Int32(qDim), 1, dK, Int32(kvDim))
                    }
                }
            }
        }
    }
}

extension Attention {
    /// One query row of one head against `len` cached positions (decode and prefill).
    /// out (hd) = softmax(q·Kᵀ/√hd) · V, with keys and values (len, hd) contiguous; scores: (len) scratch.
    /// With AVX/FMA and hd % 8 == 0 it runs in `rk_attend_head`; otherwise both products are
    /// sgemv calls and the softmax is scalar.
    @inline(__always)
    public static func cachedHead(
        out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, len: Int, headDim hd: Int
    ) {
        // A few thousand FLOPs per call: BLAS's call overhead and a scalar expf per position
        // would cost more than the arithmetic, so the AVX kernel does it in one function.
        if hd % 8 == 0, Matmul.smallKernelAvailable {
            rk_attend_head(q, keys, values, Int32(len), Int32(hd), 1 / Float(hd).squareRoot(), scores, out)
            return
        }
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(len), Int32(hd), 1 / Float(hd).squareRoot(),
                    keys, Int32(hd), q, 1, 0, scores, 1)
        var mx = -Float.infinity
        for t in 0..<len { mx = max(mx, scores[t]) }
        var sum: Float = 0
        for t in 0..<len { let e = expf(scores[t] - mx); scores[t] = e; sum += e }
        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(len), Int32(hd), 1 / sum,
                    values, Int32(hd), scores, 1, 0, out, 1)
    }
}
