// The activation and backward-scratch buffers of training-shaped passes at one (B, T), with their named views;
// the decode path's buffers are Decode.swift's.

import ReckonCore

/// Offsets of the saved activations and the backward scratch for one (B, T) shape.
/// N = B·T rows. Every view is a slice of one of three contiguous buffers.
public struct ActivationLayout: Sendable {
    public let batch: Int, seqLen: Int
    // Saved for backward (buffer `acts`):
    let residual: Int   // (L+1, N, d)  residual stream entering each layer, then the final one
    let ln1: Int        // (L, N, d)
    let ln1Rstd: Int    // (L, N)
    let q: Int          // (L, N, d)    rotated
    let k: Int          // (L, N, kvd)  rotated
    let v: Int          // (L, N, kvd)
    let att: Int        // (L, B, H, T, T) softmax probabilities
    let attOut: Int     // (L, N, d)    before wo
    let resMid: Int     // (L, N, d)    residual after attention
    let ln2: Int        // (L, N, d)
    let ln2Rstd: Int    // (L, N)
    let h1: Int         // (L, N, F)    w1 branch
    let h3: Int         // (L, N, F)    w3 branch
    let gate: Int       // (L, N, F)    silu(h1)·h3
    let lnf: Int        // (N, d)
    let lnfRstd: Int    // (N)
    let logits: Int     // (N, V)
    let logprobs: Int   // (N)          log p(target)
    let actsCount: Int
    // Backward scratch (buffer `scratch`), reused by every layer:
    let dRes: Int       // (N, d)
    let dLn: Int        // (N, d)
    let dAttOut: Int    // (N, d)
    let dq: Int         // (N, d)
    let dk: Int         // (N, kvd)
    let dv: Int         // (N, kvd)
    let dh1: Int        // (N, F)
    let dh3: Int        // (N, F)
    let dGate: Int      // (N, F)
    let dLogits: Int    // (N, V)
    let dAtt: Int       // (workers, T, T)
    let scratchCount: Int
    // Integer inputs (buffer `ints`):
    let tokens: Int     // (N)
    let targets: Int    // (N)  −1 = no target
    let positions: Int  // (N)
    let intsCount: Int

    init(_ c: ModelConfig, batch B: Int, seqLen T: Int) {
        batch = B; seqLen = T
        let N = B * T, d = c.dim, kvd = c.kvDim, F = c.hiddenDim, V = c.vocabSize, L = c.nLayers, H = c.nHeads
        var at = 0
        func take(_ n: Int) -> Int { defer { at += n }; return at }
        residual = take((L + 1) * N * d); ln1 = take(L * N * d); ln1Rstd = take(L * N)
        q = take(L * N * d); k = take(L * N * kvd); v = take(L * N * kvd)
        att = take(L * B * H * T * T); attOut = take(L * N * d); resMid = take(L * N * d)
        ln2 = take(L * N * d); ln2Rstd = take(L * N)
        h1 = take(L * N * F); h3 = take(L * N * F); gate = take(L * N * F)
        lnf = take(N * d); lnfRstd = take(N); logits = take(N * V); logprobs = take(N)
        actsCount = at
        at = 0
        dRes = take(N * d); dLn = take(N * d); dAttOut = take(N * d)
        dq = take(N * d); dk = take(N * kvd); dv = take(N * kvd)
        dh1 = take(N * F); dh3 = take(N * F); dGate = take(N * F)
        dLogits = take(N * V); dAtt = take(Parallel.workers * T * T)
        scratchCount = at
        at = 0
        tokens = take(N); targets = take(N); positions = take(N)
        intsCount = at
    }
}

/// Buffers for training-shaped forward and backward passes at a fixed (B, T).
public struct Activations {
    public let layout: ActivationLayout
    public let vocabSize: Int
    var acts: [Float]
    var scratch: [Float]
    var ints: [Int32]

    public init(config: ModelConfig, batch: Int, seqLen: Int) throws(ModelError) {
        guard batch > 0, seqLen > 0 else { throw .shapeMismatch("batch \(batch) and seqLen \(seqLen) must be positive") }
        guard seqLen <= config.maxSeqLen else { throw .sequenceTooLong(length: seqLen, maxSeqLen: config.maxSeqLen) }
        layout = ActivationLayout(config, batch: batch, seqLen: seqLen)
        vocabSize = config.vocabSize
        acts = [Float](repeating: 0, count: layout.actsCount)
        scratch = [Float](repeating: 0, count: layout.scratchCount)
        ints = [Int32](repeating: 0, count: layout.intsCount)
        for i in 0..<(batch * seqLen) { ints[layout.positions + i] = Int32(i % seqLen) }
    }

    public var batch: Int { layout.batch }
    public var seqLen: Int { layout.seqLen }

    /// Bytes the three buffers of a (batch, seqLen) shape take, without allocating them
    /// (a run's memory estimate).
    public static func bytes(config: ModelConfig, batch: Int, seqLen: Int) -> Int {
        let l = ActivationLayout(config, batch: batch, seqLen: seqLen)
        return (l.actsCount + l.scratchCount) * MemoryLayout<Float>.size + l.intsCount * MemoryLayout<Int32>.size
    }
    public var rows: Int { layout.batch * layout.seqLen }

    /// Loads a batch: tokens (B·T) and targets (B·T, −1 where no loss applies).
    public mutating func setBatch(tokens: [Int32], targets: [Int32]) throws(ModelError) {
        let n = rows
        guard tokens.count == n, targets.count == n else {
            throw .shapeMismatch("expected \(n) tokens and targets, got \(tokens.count) and \(targets.count)")
        }
        try Tokenizer.validate(tokens, vocabSize: vocabSize)
        for t in targets where t >= Int32(vocabSize) || t < -1 {
            throw .tokenOutOfRange(id: Int(t), vocabSize: vocabSize)
        }
        ints.replaceSubrange(layout.tokens..<(layout.tokens + n), with: tokens)
        ints.replaceSubrange(layout.targets..<(layout.targets + n), with: targets)
    }

    /// log p(target) per row after `forward` (N); 0 where there is no target.
    public var logprobs: ArraySlice<Float> { acts[layout.logprobs..<(layout.logprobs + rows)] }

    /// Logits of row i after `forward` (V).
    public func logits(row i: Int) -> ArraySlice<Float> {
        let o = layout.logits + i * vocabSize
        return acts[o..<(o + vocabSize)]
    }

    /// Entropy (nats) of the next-token distribution at row i after `forward`.
    public func entropy(row i: Int) -> Float {
        acts.withUnsafeBufferPointer { a in
            CrossEntropy.entropy(a.baseAddress! + layout.logits + i * vocabSize, vocabSize)
        }
    }

    mutating func withPointers<R>(
        _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Int32>) -> R
    ) -> R {
        acts.withUnsafeMutableBufferPointer { a in
            scratch.withUnsafeMutableBufferPointer { s in
                ints.withUnsafeMutableBufferPointer { i in
                    body(a.baseAddress!, s.baseAddress!, i.baseAddress!)
                }
            }
        }
    }
}
