// RMSNorm without bias, forward and backward.

/// RMSNorm without bias: out = inp · rstd · w, rstd = 1/√(mean(inp²) + eps). Rows are independent.
public enum RMSNorm {
    /// out (N, D), rstd (N) saved for backward; inp (N, D), w (D).
    public static func forward(
        _ out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
        _ inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, n: Int, dim: Int, eps: Float
    ) {
        Parallel.chunks(n, minChunk: 32) { _, rows in
            for i in rows {
                let xi = inp + i * dim, oi = out + i * dim
                var ss: Float = 0
                for j in 0..<dim { ss += xi[j] * xi[j] }
                let s = 1 / (ss / Float(dim) + eps).squareRoot()
                rstd[i] = s
                for j in 0..<dim { oi[j] = xi[j] * s * weight[j] }
            }
        }
    }

    /// dinp (N, D) += ∂L/∂inp; dweight (D) += ∂L/∂w unless nil (a frozen gain).
    public static func backward(
        dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
        dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        rstd: UnsafePointer<Float>, n: Int, dim: Int
    ) {
        // dweight is shared across rows: each part takes a share of its columns and sums every
        // row into them in row order, so each element's sum is the serial one.
        if let dweight {
            Parallel.chunks(dim, minChunk: n >= 64 ? 64 : dim) { _, cols in
                for i in 0..<n {
                    let xi = inp + i * dim, gi = dout + i * dim, s = rstd[i]
                    for j in cols { dweight[j] += gi[j] * xi[j] * s }
                }
            }
        }
        Parallel.chunks(n, minChunk: 32) { _, rows in
            for i in rows {
                let xi = inp + i * dim, gi = dout + i * dim, di = dinp + i * dim, s = rstd[i]
                var dot: Float = 0
                for j in 0..<dim { dot += gi[j] * weight[j] * xi[j] }
                let c = dot * s * s / Float(dim)
                for j in 0..<dim { di[j] += s * (gi[j] * weight[j] - xi[j] * c) }
            }
        }
    }
}
