// Softmax cross-entropy against integer targets, forward and backward, and the stable logsumexp and entropy
// of a row; the classifier's product is Matmul.swift's.

import CKernels
import Foundation

/// Softmax cross-entropy against integer targets, row by row.
/// Rows whose target is negative are ignored (log-prob 0, gradient 0).
public enum CrossEntropy {
    /// logprobs (N) = log softmax(logits (N, V))[target].
    public static func forward(
        logprobs: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
        targets: UnsafePointer<Int32>, n: Int, vocab: Int
    ) {
        Parallel.chunks(n, minChunk: 16) { _, rows in
            for i in rows {
                let t = Int(targets[i])
                guard t >= 0 else { logprobs[i] = 0; continue }
                let row = logits + i * vocab
                logprobs[i] = row[t] - rowLogSumExp(row, vocab)
            }
        }
    }

    /// dlogits (N, V) = weight_i · (softmax(logits_i) − onehot(target_i)):
    /// the gradient of Σ_i weight_i · (−logprob_i). Overwrites dlogits.
    public static func backward(
        dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>,
        targets: UnsafePointer<Int32>, weights: UnsafePointer<Float>, n: Int, vocab: Int
    ) {
        Parallel.chunks(n, minChunk: 16) { _, rows in
            for i in rows {
                let t = Int(targets[i]), w = weights[i]
                let row = logits + i * vocab, d = dlogits + i * vocab
                guard t >= 0, w != 0 else { d.update(repeating: 0, count: vocab); continue }
                let lse = rowLogSumExp(row, vocab)
                if CPUKernels.available {
                    rk_scaled_exp(row, Int32(vocab), lse, w, d)
                } else {
                    for j in 0..<vocab { d[j] = w * expf(row[j] - lse) }
                }
                d[t] -= w
            }
        }
    }

    /// log Σ exp(x_j) of a vocabulary-wide row: the 8-lane kernel when the CPU has it (its
    /// exp is within about 1e-7 of expf), else `logSumExp`, its reference.
    @inline(__always)
    public static func rowLogSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        CPUKernels.available ? rk_log_sum_exp(x, Int32(n)) : logSumExp(x, n)
    }

    /// log Σ exp(x_j), stable.
    @inline(__always)
    public static func logSumExp(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        var mx = -Float.infinity
        for j in 0..<n { mx = max(mx, x[j]) }
        var s: Float = 0
        for j in 0..<n { s += expf(x[j] - mx) }
        return mx + logf(s)
    }

    /// Entropy of softmax(x) in nats.
    public static func entropy(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
        let lse = logSumExp(x, n)
        var h: Float = 0
        for j in 0..<n { let lp = x[j] - lse; h -= expf(lp) * lp }
        return h
    }
}
