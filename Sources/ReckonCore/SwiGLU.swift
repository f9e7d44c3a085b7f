// The SwiGLU gate, forward and backward; the MLP's products around it are Matmul.swift's.

import Foundation

/// SwiGLU gate: out = silu(a) ⊙ b, silu(a) = a·σ(a).
public enum SwiGLU {
    /// out, a, b: (N·F) flat.
    public static func forward(
        _ out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int
    ) {
        Parallel.chunks(count, minChunk: 8192) { _, r in
            for i in r {
                let x = a[i]
                out[i] = x / (1 + expf(-x)) * b[i]
            }
        }
    }

    /// da, db (N·F) = gradients through the gate (overwritten: the gate is their only consumer).
    public static func backward(
        da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int
    ) {
        Parallel.chunks(count, minChunk: 8192) { _, r in
            for i in r {
                let x = a[i], sig = 1 / (1 + expf(-x)), silu = x * sig
                db[i] = dout[i] * silu
                da[i] = dout[i] * b[i] * sig * (1 + x * (1 - sig))
            }
        }
    }
}
