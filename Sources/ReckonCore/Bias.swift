// A projection's bias: added to every row, and its gradient summed over the rows.

/// A bias added to every row of a projection's output (Qwen2's q, k and v projections).
public enum Bias {
    /// x (n, dim) += bias (dim) on every row.
    public static func forward(_ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>, n: Int, dim: Int) {
        for i in 0..<n {
            let row = x + i * dim
            for j in 0..<dim { row[j] += bias[j] }
        }
    }

    /// dbias (dim) += Σ_i dout[i] over the n rows of dout (n, dim).
    public static func backward(dbias: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, n: Int, dim: Int) {
        for i in 0..<n {
            let row = dout + i * dim
            for j in 0..<dim { dbias[j] += row[j] }
        }
    }
}
