// AdamW's element-wise update and the gradient's sum of squares over the pool, each with its scalar
// reference; the optimizer's state, clipping and rate schedule are ReckonTrain/AdamW.swift's.

import CKernels

/// The per-parameter half of AdamW. A SmolLM2-135M step updates 134.5 M parameters: one at a
/// time on one thread that took about as long as a tenth of the forward and backward, so
/// the update runs 8 lanes wide (`rk_adamw`, bit-identical to `updateReference`) on every
/// thread of the pool.
public enum AdamWKernel {
    /// The step's constants.
    public struct Constants: Sendable {
        public var beta1: Float, beta2: Float, eps: Float
        /// Bias corrections 1 − β₁ᵗ and 1 − β₂ᵗ.
        public var bc1: Float, bc2: Float
        /// Gradient scale from global-norm clipping (1 = none).
        public var clip: Float
        public init(beta1: Float, beta2: Float, eps: Float, bc1: Float, bc2: Float, clip: Float) {
            self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.bc1 = bc1; self.bc2 = bc2; self.clip = clip
        }
    }

    /// A contiguous run of parameters with one learning rate and one decay (lr · weight
    /// decay, or 0).
    public struct Run: Sendable, Equatable {
        public var range: Range<Int>
        public var rate: Float
        public var decay: Float
        public init(range: Range<Int>, rate: Float, decay: Float) { self.range = range; self.rate = rate; self.decay = decay }
    }

    /// Updates p, m, v (each indexed like g) over `runs`, split across the pool.
    public static func update(
        p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
        v: UnsafeMutablePointer<Float>, runs: [Run], constants k: Constants
    ) {
        let total = runs.reduce(0) { $0 + $1.range.count }
        // Element i of the flattened runs is parameter starts[r] + (i − offsets[r]).
        var offsets: [Int] = [], at = 0
        for r in runs { offsets.append(at); at += r.range.count }
        Parallel.chunks(total, minChunk: 1 << 16) { _, share in
            for (r, run) in runs.enumerated() {
                let lo = max(share.lowerBound, offsets[r]), hi = min(share.upperBound, offsets[r] + run.range.count)
                guard lo < hi else { continue }
                let start = run.range.lowerBound + (lo - offsets[r])
                if CPUKernels.available {
                    var args = rk_adamw_args(beta1: k.beta1, beta2: k.beta2, eps: k.eps, bc1: k.bc1, bc2: k.bc2,
                                             clip: k.clip, rate: run.rate, decay: run.decay)
                    rk_adamw(p + start, g + start, m + start, v + start, hi - lo, &args)
                } else {
                    updateReference(p: p + start, g: g + start, m: m + start, v: v + start, count: hi - lo,
                                    rate: run.rate, decay: run.decay, constants: k)
                }
            }
        }
    }

    /// The scalar reference of `rk_adamw`: the update as the optimizer has always written it.
    public static func updateReference(
        p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
        v: UnsafeMutablePointer<Float>, count: Int, rate: Float, decay: Float, constants k: Constants
    ) {
        for i in 0..<count {
            let gi = g[i] * k.clip
            m[i] = k.beta1 * m[i] + (1 - k.beta1) * gi
            v[i] = k.beta2 * v[i] + (1 - k.beta2) * gi * gi
            p[i] -= rate * (m[i] / k.bc1) / ((v[i] / k.bc2).squareRoot() + k.eps)
            if decay != 0 { p[i] -= decay * p[i] }
        }
    }

    /// Values per block of `sumOfSquares`: the blocks, not the threads, fix the order of the
    /// sum, so the result does not depend on the thread count.
    public static let sumBlock = 1 << 16

    /// Σ x[i]² in double precision: blocks of `sumBlock` summed on the pool, then the block
    /// sums in order.
    public static func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
        let blocks = (count + sumBlock - 1) / sumBlock
        var partial = [Double](repeating: 0, count: blocks)
        partial.withUnsafeMutableBufferPointer { out in
            let o = out.baseAddress
            Parallel.chunks(blocks) { _, range in
                for b in range {
                    let lo = b * sumBlock, n = min(sumBlock, count - lo)
                    o?[b] = CPUKernels.available ? rk_sum_squares(x + lo, n) : sumOfSquaresReference(x + lo, count: n)
                }
            }
        }
        return partial.reduce(0, +)
    }

    /// The scalar reference of `rk_sum_squares`, one value at a time.
    public static func sumOfSquaresReference(_ x: UnsafePointer<Float>, count: Int) -> Double {
        var s: Double = 0
        for i in 0..<count { s += Double(x[i]) * Double(x[i]) }
        return s
    }
}
