// The SwiGLU gate, forward and backward, with their scalar references; the 8-lane kernels are
// CKernels/swiglu.c's, the MLP's products around the gate Matmul.swift's.

import CKernels
import Foundation

/// SwiGLU gate: out = silu(a) ⊙ b, silu(a) = a·σ(a).
public enum SwiGLU {
    /// out, a, b: (N·F) flat. `out` may be `a`.
    public static func forward(
        _ out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int
    ) {
        Parallel.chunks(count, minChunk: 8192) { _, r in
            if CPUKernels.available {
                rk_swiglu_forward(a + r.lowerBound, b + r.lowerBound, out + r.lowerBound, r.count)
            } else {
                forwardReference(out + r.lowerBound, a: a + r.lowerBound, b: b + r.lowerBound, count: r.count)
            }
        }
    }

    /// da, db (N·F) = gradients through the gate (overwritten: the gate is their only consumer).
    public static func backward(
        da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int
    ) {
        Parallel.chunks(count, minChunk: 8192) { _, r in
            let o = r.lowerBound
            if CPUKernels.available {
                rk_swiglu_backward(dout + o, a + o, b + o, da + o, db + o, r.count)
            } else {
                backwardReference(da: da + o, db: db + o, dout: dout + o, a: a + o, b: b + o, count: r.count)
            }
        }
    }

    /// The scalar reference of `forward` (and of `rk_swiglu_forward`).
    public static func forwardReference(
        _ out: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int
    ) {
        for i in 0..<count {
            let x = a[i]
            out[i] = x / (1 + expf(-x)) * b[i]
        }
    }

    /// The scalar reference of `backward` (and of `rk_swiglu_backward`).
    public static func backwardReference(
        da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>,
        dout: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, count: Int
    ) {
        for i in 0..<count {
            let x = a[i], sig = 1 / (1 + expf(-x)), silu = x * sig
            db[i] = dout[i] * silu
            da[i] = dout[i] * b[i] * sig * (1 + x * (1 - sig))
        }
    }
}
