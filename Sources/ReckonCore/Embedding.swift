// Token embedding lookup and its scatter-add gradient.

/// Token embedding lookup: out (N, D) = table[tokens] with table (V, D).
public enum Embedding {
    public static func forward(
        _ out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Int32>,
        table: UnsafePointer<Float>, n: Int, dim: Int
    ) {
        for i in 0..<n {
            (out + i * dim).update(from: table + Int(tokens[i]) * dim, count: dim)
        }
    }

    /// dtable (V, D) += scatter of dout (N, D) by token.
    public static func backward(
        dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
        tokens: UnsafePointer<Int32>, n: Int, dim: Int
    ) {
        for i in 0..<n {
            let dst = dtable + Int(tokens[i]) * dim, src = dout + i * dim
            for j in 0..<dim { dst[j] += src[j] }
        }
    }
}
