// Rotary position embedding: the cos/sin table and the in-place rotation, whose inverse is the backward pass.

import Foundation

/// Rotary position embedding on interleaved pairs (i, i+1) within each head, as llama2.c does.
public struct RoPETable: Sendable {
    public let headDim: Int
    public let maxSeqLen: Int
    /// cos, sin: (maxSeqLen, headDim/2)
    public let cos: [Float]
    public let sin: [Float]

    public init(headDim: Int, maxSeqLen: Int, theta: Float) {
        self.headDim = headDim
        self.maxSeqLen = maxSeqLen
        let half = headDim / 2
        var c = [Float](repeating: 0, count: maxSeqLen * half), s = c
        for pos in 0..<maxSeqLen {
            for i in 0..<half {
                let freq = 1.0 / Foundation.pow(Double(theta), Double(2 * i) / Double(headDim))
                let angle = Double(pos) * freq
                c[pos * half + i] = Float(Foundation.cos(angle))
                s[pos * half + i] = Float(Foundation.sin(angle))
            }
        }
        cos = c
        sin = s
    }
}

public enum RoPE {
    /// Rotates x (N, heads·headDim) in place; row i sits at positions[i].
    /// `inverse` applies the transposed rotation, which is the backward pass.
    public static func apply(
        _ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
        cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
        n: Int, heads: Int, headDim: Int, inverse: Bool = false
    ) {
        let half = headDim / 2, width = heads * headDim
        let sign: Float = inverse ? -1 : 1
        Parallel.chunks(n, minChunk: 128) { _, rows in
            for i in rows {
                let c = cos + Int(positions[i]) * half, s = sin + Int(positions[i]) * half
                let row = x + i * width
                for h in 0..<heads {
                    let v = row + h * headDim
                    for j in 0..<half {
                        let x0 = v[2 * j], x1 = v[2 * j + 1], sj = sign * s[j]
                        v[2 * j] = x0 * c[j] - x1 * sj
                        v[2 * j + 1] = x0 * sj + x1 * c[j]
                    }
                }
            }
        }
    }
}
