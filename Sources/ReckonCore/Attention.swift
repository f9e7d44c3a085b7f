// Causal multi-head attention over B·T rows, forward and backward, its softmax rows with their scalar
// references, and one query row against cached keys; the AVX kernels are CKernels' (softmax.c, attend_head.c).

import CBLAS
import CKernels
import Foundation

/// Causal multi-head self-attention over B independent sequences of T tokens,
/// with grouped KV heads (H query heads share H/Hkv each KV head).
/// The products per (sequence, head) are sgemms; each softmax row is one kernel call.
///
/// Every product skips what the causal mask zeroes: queries go in blocks of `causalBlock`
/// rows, and a block's products stop at its last key. With T = 256 that is 10/16 of the
/// full T × T work. Only exact zeros are dropped from any sum, and the softmax zeroes the
/// masked entries a block does compute, so the results are those of the full products.
public enum Attention {
    /// Query rows per block of the causal products (`reckon bench` times the choices; a
    /// block of T rows is the full products).
    public static let causalBlock = 64

    /// out (B·T, H·hd); att (B, H, T, T) saved softmax probabilities, written only on and
    /// below each query block's last key (the rest is never read);
    /// q (B·T, H·hd), k, v (B·T, Hkv·hd), rotated already.
    public static func forward(
        out: UnsafeMutablePointer<Float>, att: UnsafeMutablePointer<Float>,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        batch: Int, seqLen T: Int, heads: Int, kvHeads: Int, headDim hd: Int, block: Int = causalBlock
    ) {
        let qDim = heads * hd, kvDim = kvHeads * hd, group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        precondition(block >= 1, "the causal block must have at least one row (got \(block))")
        Parallel.withSingleThreadedBLAS {
            Parallel.forEach(batch * heads) { unit in
                let b = unit / heads, h = unit % heads, kh = h / group
                let Q = q + b * T * qDim + h * hd
                let K = k + b * T * kvDim + kh * hd
                let V = v + b * T * kvDim + kh * hd
                let P = att + unit * T * T
                let O = out + b * T * qDim + h * hd
                for r0 in stride(from: 0, to: T, by: block) {
                    let rows = min(block, T - r0), keys = r0 + rows
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(keys), Int32(hd),
                                scale, Q + r0 * qDim, Int32(qDim), K, Int32(kvDim), 0, P + r0 * T, Int32(T))
                    for i in r0..<(r0 + rows) { softmaxRow(P + i * T, len: i + 1, width: keys) }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(hd), Int32(keys),
                                1, P + r0 * T, Int32(T), V, Int32(kvDim), 0, O + r0 * qDim, Int32(qDim))
                }
            }
        }
    }

    /// Overwrites dq (B·T, H·hd), dk, dv (B·T, Hkv·hd) with the gradients of the loss.
    /// scratch: (workers, T, T).
    public static func backward(
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, att: UnsafePointer<Float>,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        batch: Int, seqLen T: Int, heads: Int, kvHeads: Int, headDim hd: Int, block: Int = causalBlock
    ) {
        let qDim = heads * hd, kvDim = kvHeads * hd, group = heads / kvHeads
        let scale = 1 / Float(hd).squareRoot()
        precondition(block >= 1, "the causal block must have at least one row (got \(block))")
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
                        // By query block: dP, the softmax backward and dq stop at the block's last key.
                        for r0 in stride(from: 0, to: T, by: block) {
                            let rows = min(block, T - r0), keys = r0 + rows
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(keys), Int32(hd),
                                        1, dout + off + r0 * qDim, Int32(qDim), V, Int32(kvDim), 0, dP + r0 * T, Int32(T))
                            for i in r0..<(r0 + rows) {
                                softmaxBackwardRow(P + i * T, dP + i * T, len: i + 1, width: keys, scale: scale)
                            }
                            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(hd), Int32(keys),
                                        1, dP + r0 * T, Int32(T), K, Int32(kvDim), 0, dq + off + r0 * qDim, Int32(qDim))
                        }
                        // By key block: keys from j0 on are attended only by queries from j0 on.
                        for j0 in stride(from: 0, to: T, by: block) {
                            let cols = min(block, T - j0), queries = T - j0
                            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(cols), Int32(hd), Int32(queries),
                                        1, P + j0 * T + j0, Int32(T), dout + off + j0 * qDim, Int32(qDim),
                                        1, dV + j0 * kvDim, Int32(kvDim))
                            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(cols), Int32(hd), Int32(queries),
                                        1, dP + j0 * T + j0, Int32(T), q + off + j0 * qDim, Int32(qDim),
                                        1, dK + j0 * kvDim, Int32(kvDim))
                        }
                    }
                }
            }
        }
    }
}

extension Attention {
    /// row[0..<len] = softmax(row[0..<len]), row[len..<width] = 0.
    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, len: Int, width: Int) {
        if CPUKernels.available {
            rk_softmax_row(row, Int32(len), Int32(width))
            return
        }
        softmaxRowReference(row, len: len, width: width)
    }

    /// The scalar reference of `softmaxRow` (and of `rk_softmax_row`, which tests compare with it).
    public static func softmaxRowReference(_ row: UnsafeMutablePointer<Float>, len: Int, width: Int) {
        var mx = -Float.infinity
        for j in 0..<len { mx = max(mx, row[j]) }
        var sum: Float = 0
        for j in 0..<len { let e = expf(row[j] - mx); row[j] = e; sum += e }
        let inv = 1 / sum
        for j in 0..<len { row[j] *= inv }
        for j in len..<width { row[j] = 0 }
    }

    /// Softmax backward, with the 1/√hd score scale folded in: g ← p ⊙ (g − p·g) · scale on
    /// [0, len), 0 on [len, width).
    @inline(__always)
    static func softmaxBackwardRow(_ p: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                                   len: Int, width: Int, scale: Float) {
        if CPUKernels.available {
            rk_softmax_backward_row(p, g, Int32(len), Int32(width), scale)
            return
        }
        softmaxBackwardRowReference(p, g, len: len, width: width, scale: scale)
    }

    /// The scalar reference of `softmaxBackwardRow` (and of `rk_softmax_backward_row`).
    public static func softmaxBackwardRowReference(_ p: UnsafePointer<Float>, _ g: UnsafeMutablePointer<Float>,
                                                   len: Int, width: Int, scale: Float) {
        var dot: Float = 0
        for j in 0..<len { dot += p[j] * g[j] }
        for j in 0..<len { g[j] = p[j] * (g[j] - dot) * scale }
        for j in len..<width { g[j] = 0 }
    }
}

extension Attention {
    /// One query row of one head against `len` cached positions (decode and prefill).
    /// out (hd) = softmax(q·Kᵀ/√hd) · V, with keys and values (len, hd) contiguous; scores: (len) scratch.
    /// With AVX/FMA and hd % 8 == 0 it runs in `rk_attend_head`; otherwise in the reference.
    @inline(__always)
    public static func cachedHead(
        out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, len: Int, headDim hd: Int
    ) {
        // A few thousand FLOPs per call: BLAS's call overhead and a scalar expf per position
        // would cost more than the arithmetic, so the AVX kernel does it in one function.
        if hd % 8 == 0, CPUKernels.available {
            rk_attend_head(q, keys, values, Int32(len), Int32(hd), 1 / Float(hd).squareRoot(), scores, out)
            return
        }
        cachedHeadReference(out: out, scores: scores, q: q, keys: keys, values: values, len: len, headDim: hd)
    }

    /// `group` query heads that share one KV head against its `len` cached positions: q and out
    /// (group, hd), scores (group, len) scratch. Each head's result is `cachedHead`'s, bit for
    /// bit; with AVX/FMA (`rk_attend_group`) each cached row is read once for the whole group.
    @inline(__always)
    public static func cachedGroup(
        out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, len: Int, headDim hd: Int, group: Int
    ) {
        if hd % 8 == 0, CPUKernels.available {
            rk_attend_group(q, keys, values, Int32(len), Int32(hd), Int32(group), 1 / Float(hd).squareRoot(), scores, out)
            return
        }
        for h in 0..<group {
            cachedHeadReference(out: out + h * hd, scores: scores + h * len, q: q + h * hd,
                                keys: keys, values: values, len: len, headDim: hd)
        }
    }

    /// The reference of `cachedHead` (and of `rk_attend_head`): both products as sgemv calls,
    /// the softmax scalar.
    public static func cachedHeadReference(
        out: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
        keys: UnsafePointer<Float>, values: UnsafePointer<Float>, len: Int, headDim hd: Int
    ) {
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
