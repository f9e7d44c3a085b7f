// Cached decoding: the per-slot KV cache, its work buffers, and the forward over rows appended to slots;
// the loops that call it are Generate.swift's and ReckonRuntime's.

import ReckonCore
import Foundation

/// Keys and values of every layer for a set of independent sequences ("slots").
/// A slot holds one sequence; slots start, grow and reset independently, which is
/// what continuous batching needs.
public struct KVCache: Sendable {
    public let slots: Int
    public let capacity: Int
    let layers: Int, kvDim: Int
    /// keys, values: (L, slots, Hkv, capacity, hd), rotated keys. Each head's positions are
    /// contiguous, so one query's scan over its history streams through memory.
    var keys: [Float]
    var values: [Float]
    /// Tokens held per slot (slots).
    public private(set) var lengths: [Int]

    public init(config: ModelConfig, slots: Int, capacity: Int? = nil) throws(ModelError) {
        let cap = capacity ?? config.maxSeqLen
        guard slots > 0 else { throw .shapeMismatch("a KV cache needs at least one slot") }
        guard cap > 0, cap <= config.maxSeqLen else { throw .sequenceTooLong(length: cap, maxSeqLen: config.maxSeqLen) }
        self.slots = slots
        self.capacity = cap
        layers = config.nLayers
        kvDim = config.kvDim
        keys = [Float](repeating: 0, count: config.nLayers * slots * cap * config.kvDim)
        values = keys
        lengths = [Int](repeating: 0, count: slots)
    }

    /// Frees a slot for a new sequence.
    public mutating func reset(slot: Int) throws(ModelError) {
        guard slot >= 0, slot < slots else { throw .invalidSlot(slot) }
        lengths[slot] = 0
    }

    mutating func advance(slot: Int, by n: Int) { lengths[slot] += n }
}

/// One token to run: appended to `slot`'s sequence at its next position.
public struct DecodeRow: Sendable, Equatable {
    public var slot: Int
    public var token: Int32
    public init(slot: Int, token: Int32) { self.slot = slot; self.token = token }
}

/// Offsets of the decode work buffer for up to R rows per call.
struct DecodeLayout: Sendable {
    let x: Int        // (R, d) residual stream
    let ln: Int       // (R, d)
    let q: Int        // (R, d)
    let k: Int        // (R, kvd)
    let v: Int        // (R, kvd)
    let attOut: Int   // (R, d)
    let h1: Int       // (R, F)
    let h3: Int       // (R, F)
    let scores: Int   // (R, H, capacity)
    let logits: Int   // (R, V)
    let rstd: Int     // (R)
    let count: Int

    init(_ c: ModelConfig, rows R: Int, capacity: Int) {
        var at = 0
        func take(_ n: Int) -> Int { defer { at += n }; return at }
        x = take(R * c.dim); ln = take(R * c.dim); q = take(R * c.dim)
        k = take(R * c.kvDim); v = take(R * c.kvDim); attOut = take(R * c.dim)
        h1 = take(R * c.hiddenDim); h3 = take(R * c.hiddenDim)
        scores = take(R * c.nHeads * capacity); logits = take(R * c.vocabSize); rstd = take(R)
        count = at
    }
}

/// Work buffers for cached decoding of up to `maxRows` rows per call.
public struct DecodeScratch: Sendable {
    public let maxRows: Int
    let capacity: Int
    let layout: DecodeLayout
    var buf: [Float]
    var positions: [Int32]  // (R)
    var tokens: [Int32]     // (R)
    var slots: [Int]        // (R)

    public init(config c: ModelConfig, maxRows: Int, capacity: Int? = nil) {
        self.maxRows = max(1, maxRows)
        self.capacity = capacity ?? c.maxSeqLen
        layout = DecodeLayout(c, rows: self.maxRows, capacity: self.capacity)
        buf = [Float](repeating: 0, count: layout.count)
        positions = [Int32](repeating: 0, count: self.maxRows)
        tokens = positions
        slots = [Int](repeating: 0, count: self.maxRows)
    }
}

extension Transformer {
    /// Runs `rows` through the model with the KV cache and returns their logits (rows, V).
    /// Rows of one slot must be in order; they take that slot's next positions. Prefill is a
    /// call with a prompt's tokens as rows, decode a call with one row per live sequence:
    /// either way every projection is one sgemm over all rows.
    public func step(_ rows: [DecodeRow], cache: inout KVCache, scratch: inout DecodeScratch) throws(ModelError) -> [Float] {
        // One chunk (every decode step): its logits are the answer, without a second copy.
        if !rows.isEmpty, rows.count <= scratch.maxRows { return try stepChunk(rows[...], cache: &cache, scratch: &scratch) }
        var out: [Float] = []
        out.reserveCapacity(rows.count * config.vocabSize)
        var start = 0
        while start < rows.count {
            let end = min(rows.count, start + scratch.maxRows)
            out += try stepChunk(rows[start..<end], cache: &cache, scratch: &scratch)
            start = end
        }
        return out
    }

    private func stepChunk(_ rows: ArraySlice<DecodeRow>, cache: inout KVCache, scratch: inout DecodeScratch) throws(ModelError) -> [Float] {
        let c = config
        guard cache.kvDim == c.kvDim, cache.layers == c.nLayers else {
            throw .shapeMismatch("KV cache was built for another model")
        }
        guard scratch.capacity >= cache.capacity else {
            throw .shapeMismatch("decode scratch capacity \(scratch.capacity) < cache capacity \(cache.capacity)")
        }
        // Assign positions and check every row before touching any buffer.
        var next = cache.lengths
        for (i, r) in rows.enumerated() {
            guard r.slot >= 0, r.slot < cache.slots else { throw .invalidSlot(r.slot) }
            guard r.token >= 0, Int(r.token) < c.vocabSize else { throw .tokenOutOfRange(id: Int(r.token), vocabSize: c.vocabSize) }
            guard next[r.slot] < cache.capacity else { throw .cacheFull(slot: r.slot, capacity: cache.capacity) }
            scratch.positions[i] = Int32(next[r.slot])
            scratch.tokens[i] = r.token
            scratch.slots[i] = r.slot
            next[r.slot] += 1
        }
        let n = rows.count
        let d = c.dim, kvd = c.kvDim, F = c.hiddenDim, V = c.vocabSize, H = c.nHeads, hd = c.headDim
        let group = c.nHeads / c.nKVHeads, cap = cache.capacity, S = cache.slots, eps = c.normEps
        let pl = layout, sc = scratch.layout, rope = self.rope
        // The adapters' rank-r middle (n, r), shared by every layer: one small buffer per call.
        var loraMiddle = [Float](repeating: 0, count: lora.map { n * $0.config.rank } ?? 0)
        let loraShape = lora.map(LoRAHook.Shape.init)
        withAdapterParams { lp in
        loraMiddle.withUnsafeMutableBufferPointer { lm in
        params.withUnsafeBufferPointer { pbuf in
            scratch.buf.withUnsafeMutableBufferPointer { sbuf in
                scratch.positions.withUnsafeBufferPointer { posBuf in
                    scratch.tokens.withUnsafeBufferPointer { tokBuf in
                        cache.keys.withUnsafeMutableBufferPointer { kbuf in
                            cache.values.withUnsafeMutableBufferPointer { vbuf in
                                scratch.slots.withUnsafeBufferPointer { slotBuf in
                                    let p = pbuf.baseAddress!, s = sbuf.baseAddress!, pos = posBuf.baseAddress!
                                    let kc = kbuf.baseAddress!, vc = vbuf.baseAddress!, slot = slotBuf.baseAddress!
                                    let x = s + sc.x, ln = s + sc.ln, q = s + sc.q, k = s + sc.k, v = s + sc.v
                                    let attOut = s + sc.attOut, h1 = s + sc.h1, h3 = s + sc.h3
                                    let rstd = s + sc.rstd
                                    let adapt = LoRAHook(shape: loraShape, p: lp, g: nil, saved: lm.baseAddress, du: nil, n: n, keep: false)
                                    Embedding.forward(x, tokens: tokBuf.baseAddress!, table: p + pl.tokEmbed, n: n, dim: d)
                                    for l in 0..<c.nLayers {
                                        RMSNorm.forward(ln, rstd: rstd, x, weight: p + pl.attnNorm + l * d, n: n, dim: d, eps: eps)
                                        Matmul.forward([.init(q, p + pl.wq + l * d * d, outDim: d),
                                                        .init(k, p + pl.wk + l * kvd * d, outDim: kvd),
                                                        .init(v, p + pl.wv + l * kvd * d, outDim: kvd)], ln, n: n, inDim: d)
                                        adapt.forward(.q, l, out: q, inp: ln)
                                        adapt.forward(.k, l, out: k, inp: ln)
                                        adapt.forward(.v, l, out: v, inp: ln)
                                        if let bq = pl.bq, let bk = pl.bk, let bv = pl.bv {
                                            Bias.forward(q, bias: p + bq + l * d, n: n, dim: d)
                                            Bias.forward(k, bias: p + bk + l * kvd, n: n, dim: kvd)
                                            Bias.forward(v, bias: p + bv + l * kvd, n: n, dim: kvd)
                                        }
                                        rope.apply(q, positions: pos, n: n, heads: H)
                                        rope.apply(k, positions: pos, n: n, heads: c.nKVHeads)
                                        // Write this step's keys and values before attending, so a
                                        // prefill row sees the earlier rows of its own prompt.
                                        let layerBase = l * S * cap * kvd
                                        for i in 0..<n {
                                            for kh in 0..<c.nKVHeads {
                                                let at = layerBase + ((slot[i] * c.nKVHeads + kh) * cap + Int(pos[i])) * hd
                                                (kc + at).update(from: k + i * kvd + kh * hd, count: hd)
                                                (vc + at).update(from: v + i * kvd + kh * hd, count: hd)
                                            }
                                        }
                                        Parallel.withSingleThreadedBLAS { Parallel.forEach(n * c.nKVHeads) { unit in
                                            // The query heads of one KV head together: its cached rows are read once.
                                            let i = unit / c.nKVHeads, kh = unit % c.nKVHeads, h = kh * group
                                            let base = layerBase + (slot[i] * c.nKVHeads + kh) * cap * hd
                                            Attention.cachedGroup(out: attOut + i * d + h * hd, scores: s + sc.scores + (i * H + h) * cap,
                                                                  q: q + i * d + h * hd, keys: kc + base, values: vc + base,
                                                                  len: Int(pos[i]) + 1, headDim: hd, group: group)
                                        } }
                                        Matmul.forward(x, attOut, p + pl.wo + l * d * d, n: n, inDim: d, outDim: d, accumulate: true)
                                        adapt.forward(.o, l, out: x, inp: attOut)
                                        RMSNorm.forward(ln, rstd: rstd, x, weight: p + pl.ffnNorm + l * d, n: n, dim: d, eps: eps)
                                        Matmul.forward([.init(h1, p + pl.w1 + l * F * d, outDim: F),
                                                        .init(h3, p + pl.w3 + l * F * d, outDim: F)], ln, n: n, inDim: d)
                                        adapt.forward(.gate, l, out: h1, inp: ln)
                                        adapt.forward(.up, l, out: h3, inp: ln)
                                        SwiGLU.forward(h1, a: h1, b: h3, count: n * F)
                                        Matmul.forward(x, h1, p + pl.w2 + l * d * F, n: n, inDim: F, outDim: d, accumulate: true)
                                        adapt.forward(.down, l, out: x, inp: h1)
                                    }
                                    RMSNorm.forward(ln, rstd: rstd, x, weight: p + pl.finalNorm, n: n, dim: d, eps: eps)
                                    Matmul.forward(s + sc.logits, ln, p + pl.wcls, n: n, inDim: d, outDim: V)
                                }
                            }
                        }
                    }
                }
            }
        }
        }
        }
        for r in rows { cache.advance(slot: r.slot, by: 1) }
        return Array(scratch.buf[sc.logits..<(sc.logits + n * V)])
    }
}
