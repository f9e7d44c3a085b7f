// `reckon bench --checkpoint`: decode, prefill and training speed of a stored model (such as an
// imported SmolLM2-135M) and the memory-bandwidth bound on its decode; not the bench model's figures.
import CBLAS
import Foundation
import ReckonCheckpoint
import ReckonCore
import ReckonModel
import ReckonTrain

/// Settings of one checkpoint bench, resolved from `BenchCommand`'s options.
struct CheckpointBenchPlan {
    var threadCounts: [Int]
    var promptLength: Int     // tokens prefilled before decode is timed
    var newTokens: Int        // decode steps timed
    var decodeBatches: [Int]  // live sequences per decode step
    var prefillLength: Int    // one prompt's tokens, prefilled in one call
    var trainBatch: Int, trainSeqLen: Int, microBatch: Int, trainSteps: Int
    var skipTrain: Bool, skipDecode: Bool, skipProducts: Bool
}

extension BenchCommand {
    func runCheckpoint(_ path: String, plan: CheckpointBenchPlan) throws {
        var model = try Self.loadModel(path)
        let c = model.config
        var out: [String: Double] = ["parameters": Double(model.parameterCount)]
        log("checkpoint \(path): d=\(c.dim) L=\(c.nLayers) H=\(c.nHeads)/\(c.nKVHeads) F=\(c.hiddenDim) V=\(c.vocabSize), \(model.parameterCount) parameters")
        let weightBytes = Double(Self.decodeWeightFloats(c) * MemoryLayout<Float>.size)
        out["decode_weight_bytes"] = weightBytes
        log(String(format: "one decode step reads %.1f MB of weights", weightBytes / 1e6))
        for threads in plan.threadCounts {
            BLAS.setThreads(threads)
            let key = "t\(threads)_"
            log("— \(threads) thread(s)")
            let (copy, read) = Self.measureBandwidth(megabytes: 256)
            out[key + "copy_gb_per_s"] = copy / 1e9
            out[key + "read_gb_per_s"] = read / 1e9
            let copyBound = copy / weightBytes, readBound = read / weightBytes
            out[key + "decode_bound_tokens_per_s"] = copyBound
            out[key + "decode_bound_read_tokens_per_s"] = readBound
            log(String(format: "copy %.1f GB/s (read + write), read %.1f GB/s: decode bound %.1f tokens/s (by copy), %.1f (by read)",
                       copy / 1e9, read / 1e9, copyBound, readBound))
            if !plan.skipDecode {
                for b in plan.decodeBatches {
                    let tps = try measureCheckpointDecode(model, batch: b, plan: plan)
                    out[key + "decode_tokens_per_s_batch\(b)"] = tps
                    log(String(format: "decode batch %d (prompt %d, %d new tokens): %.1f tokens/s", b, plan.promptLength, plan.newTokens, tps))
                }
                if let one = out[key + "decode_tokens_per_s_batch1"] {
                    out[key + "decode_fraction_of_bound"] = one / copyBound
                    out[key + "decode_fraction_of_read_bound"] = one / readBound
                    log(String(format: "decode batch 1 is %.2f of the copy bound and %.2f of the read bound", one / copyBound, one / readBound))
                    if let many = out[key + "decode_tokens_per_s_batch32"] {
                        out[key + "decode_batch_ratio"] = many / one
                        log(String(format: "decode batch-32 / batch-1 throughput: %.1fx", many / one))
                    }
                }
                if !plan.skipProducts {
                    measureComputeBounds(c, key: key, into: &out)
                    if let one = out[key + "decode_tokens_per_s_batch1"], let cached = out[key + "shapes_in_cache_tokens_per_s_rows32"] {
                        out[key + "decode_batch_ratio_ceiling"] = cached / one
                        log(String(format: "batch-32 compute ceiling: %.0f tokens/s = %.1fx batch 1 (the products at the decode shapes, weights in cache)",
                                   cached, cached / one))
                    }
                    if let one = out[key + "decode_tokens_per_s_batch1"], let peak = out[key + "decode_batch32_bound_at_peak"] {
                        out[key + "decode_batch_ratio_ceiling_at_peak"] = peak / one
                        log(String(format: "at the n=512 sgemm peak instead: %.0f tokens/s = %.1fx batch 1", peak, peak / one))
                    }
                }
                let prefill = try measurePrefill(model, length: plan.prefillLength)
                out[key + "prefill_tokens_per_s"] = prefill
                log(String(format: "prefill (%d tokens in one call): %.0f tokens/s", plan.prefillLength, prefill))
            }
            if !plan.skipTrain {
                let (seconds, loss) = try measureCheckpointTrain(&model, plan: plan)
                let tokens = Double(plan.trainBatch * plan.trainSeqLen)
                out[key + "train_step_seconds"] = seconds
                out[key + "train_tokens_per_s"] = tokens / seconds
                log(String(format: "train step (AdamW, B=%d, T=%d, micro-batch %d): median %.2f s, %.1f tokens/s (loss %.3f)",
                           plan.trainBatch, plan.trainSeqLen, plan.microBatch, seconds, tokens / seconds, loss))
            }
        }
        if let rss = Self.peakRSSBytes() {
            out["peak_rss_bytes"] = Double(rss)
            log(String(format: "peak RSS (VmHWM): %.0f MB", Double(rss) / 1e6))
        }
        if let json {
            let data = try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
            log("wrote \(json)")
        }
    }


    /// Batch 32 is compute-bound: at the sgemm peak it could run at most peak ÷ (2 FLOPs per
    /// weight), and its projections alone, timed at the model's shapes, bound it closer.
    func measureComputeBounds(_ c: ModelConfig, key: String, into out: inout [String: Double]) {
        let peak = measureSgemm(n: 512)
        let weightFLOPs = 2 * Double(Self.decodeWeightFloats(c))
        out[key + "sgemm_gflops"] = peak
        out[key + "decode_batch32_bound_at_peak"] = peak * 1e9 / weightFLOPs
        log(String(format: "sgemm n=512: %.1f GFLOP/s, so batch 32 could decode at most %.0f tokens/s", peak, peak * 1e9 / weightFLOPs))
        // The arithmetic's own limit at batch 32: every product of a decode step at its shape,
        // with its weights already in cache, through either path; the faster one bounds the step.
        let ownCached = measureShapesInCache(c, rows: 32, openBLAS: false)
        let blasCached = measureShapesInCache(c, rows: 32, openBLAS: true)
        let cached = max(ownCached.tokensPerSecond, blasCached.tokensPerSecond)
        out[key + "shapes_in_cache_gflops_rows32"] = ownCached.gflops
        out[key + "shapes_in_cache_openblas_gflops_rows32"] = blasCached.gflops
        out[key + "shapes_in_cache_tokens_per_s_rows32"] = cached
        log(String(format: "decode-step products at 32 rows, weights in cache: %.1f GFLOP/s through Matmul.forward, %.1f through OpenBLAS sgemm: at most %.0f tokens/s",
                   ownCached.gflops, blasCached.gflops, cached))
        for rows in [1, 32] {
            let own = measureProducts(config: c, rows: rows, trials: 5)
            let blas = measureProducts(config: c, rows: rows, openBLAS: true, trials: 5)
            out[key + "products_tokens_per_s_rows\(rows)"] = own.tokensPerSecond
            out[key + "products_openblas_tokens_per_s_rows\(rows)"] = blas.tokensPerSecond
            log(String(format: "projections alone at %d rows: %.0f tokens/s (%.1f GFLOP/s) through Matmul.forward, %.0f (%.1f) through OpenBLAS",
                       rows, own.tokensPerSecond, own.gflops, blas.tokensPerSecond, blas.gflops))
        }
    }

    /// One decode step's products at `rows` rows as if memory cost nothing: each distinct
    /// shape (q and o, k and v, w1 and w3, w2, the classifier) timed on one weight matrix used
    /// over and over, so it stays in cache (the classifier on a 4,096-row slice, scaled to
    /// the vocabulary); the fastest of 9 timings each (a ceiling is what the CPU can do, and
    /// another process's time slice only ever slows a timing down), added up with each
    /// shape's count per step.
    func measureShapesInCache(_ c: ModelConfig, rows n: Int, openBLAS: Bool) -> (tokensPerSecond: Double, gflops: Double) {
        let d = c.dim, kvd = c.kvDim, F = c.hiddenDim, L = c.nLayers
        let slice = min(4096, c.vocabSize)
        // (in, out, times per step)
        let shapes: [(Int, Int, Double)] = [(d, d, Double(2 * L)), (d, kvd, Double(2 * L)), (d, F, Double(2 * L)),
                                            (F, d, Double(L)), (d, slice, Double(c.vocabSize) / Double(slice))]
        var rng = RNG(seed: 8)
        let inp = (0..<(n * max(d, F))).map { _ in rng.normal() }
        var out = [Float](repeating: 0, count: n * max(F, slice))
        var seconds = 0.0, flops = 0.0
        for (inDim, outDim, count) in shapes {
            let w = (0..<(inDim * outDim)).map { _ in rng.normal() * 0.02 }
            let reps = max(1, 40_000_000 / (2 * n * inDim * outDim))   // about 2 ms a timing at 20 GFLOP/s
            var times: [Double] = []
            inp.withUnsafeBufferPointer { x in
                w.withUnsafeBufferPointer { wp in
                    out.withUnsafeMutableBufferPointer { y in
                        func once() {
                            if openBLAS {
                                Matmul.forwardBLAS(y.baseAddress!, x.baseAddress!, wp.baseAddress!, n: n, inDim: inDim, outDim: outDim)
                            } else {
                                Matmul.forward(y.baseAddress!, x.baseAddress!, wp.baseAddress!, n: n, inDim: inDim, outDim: outDim)
                            }
                        }
                        once()
                        for _ in 0..<9 {
                            let t0 = Self.now()
                            for _ in 0..<reps { once() }
                            times.append((Self.now() - t0) / Double(reps))
                        }
                    }
                }
            }
            seconds += (times.min() ?? 0) * count
            flops += 2 * Double(n * inDim * outDim) * count
        }
        return (Double(n) / seconds, flops / seconds / 1e9)
    }

    /// The model alone: the checkpoint's copy of the parameters is released on return, so a
    /// training step does not trigger a copy-on-write of a second 4-byte-per-parameter buffer.
    static func loadModel(_ path: String) throws -> Transformer {
        try Checkpoint.load(from: path).model()
    }

    /// Floats one decode step reads from the parameters: every matrix of every layer, the
    /// classifier, the norm gains, the biases, and one embedding row (the same matrix as the
    /// classifier when tied, so it is not counted twice).
    static func decodeWeightFloats(_ c: ModelConfig) -> Int {
        let d = c.dim, kvd = c.kvDim, F = c.hiddenDim
        let perLayer = 2 * d * d + 2 * kvd * d + 3 * F * d + 2 * d + (c.qkvBias ? d + 2 * kvd : 0)
        return c.nLayers * perLayer + c.vocabSize * d + d + (c.tiedEmbeddings ? 0 : d)
    }

    /// Median copy (bytes read + bytes written per second, as STREAM counts it) and read
    /// bandwidth over a buffer far larger than any cache, split across the pool's threads.
    static func measureBandwidth(megabytes: Int) -> (copy: Double, read: Double) {
        let n = megabytes << 20 / MemoryLayout<Float>.size
        var src = [Float](repeating: 1, count: n), dst = [Float](repeating: 0, count: n)
        var copies: [Double] = [], reads: [Double] = []
        var sink: Float = 0
        src.withUnsafeMutableBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                let sp = s.baseAddress!, dp = d.baseAddress!
                let parts = BLAS.threads
                var partial = [Float](repeating: 0, count: parts)
                for trial in 0..<8 {
                    var t0 = now()
                    Parallel.chunks(parts) { _, range in
                        for p in range {
                            let lo = n * p / parts, hi = n * (p + 1) / parts
                            memcpy(dp + lo, sp + lo, (hi - lo) * MemoryLayout<Float>.size)
                        }
                    }
                    let copy = now() - t0
                    t0 = now()
                    partial.withUnsafeMutableBufferPointer { acc in
                        let accp = acc.baseAddress!
                        Parallel.chunks(parts) { _, range in
                            for p in range { accp[p] = readSum(sp + n * p / parts, count: n * (p + 1) / parts - n * p / parts) }
                        }
                    }
                    let read = now() - t0
                    sink += partial.reduce(0, +)
                    if trial > 0 {  // the first trial faults the pages in
                        copies.append(2 * Double(n * MemoryLayout<Float>.size) / copy)
                        reads.append(Double(n * MemoryLayout<Float>.size) / read)
                    }
                }
            }
        }
        if sink.isNaN { print("") }  // keeps the reads from being optimised away
        return (median(copies), median(reads))
    }

    /// Σ x, eight independent 8-lane sums so the loads, not the adds, are the limit.
    static func readSum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = [SIMD8<Float>](repeating: .zero, count: 8)
        var i = 0
        x.withMemoryRebound(to: SIMD8<Float>.self, capacity: count / 8) { v in
            var a0 = SIMD8<Float>.zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0
            let blocks = count / 64
            for b in 0..<blocks {
                let o = b * 8
                a0 += v[o]; a1 += v[o + 1]; a2 += v[o + 2]; a3 += v[o + 3]
                a4 += v[o + 4]; a5 += v[o + 5]; a6 += v[o + 6]; a7 += v[o + 7]
            }
            acc = [a0, a1, a2, a3, a4, a5, a6, a7]
            i = blocks * 64
        }
        var s = acc.reduce(SIMD8<Float>.zero, +).sum()
        while i < count { s += x[i]; i += 1 }
        return s
    }

    /// Decode tokens/s with `batch` sequences: each prompt is prefilled (untimed), then
    /// `newTokens` greedy steps of one row per sequence are timed one by one; batch ÷ the
    /// median step time, which a step that another process preempted does not move.
    func measureCheckpointDecode(_ model: Transformer, batch b: Int, plan: CheckpointBenchPlan) throws -> Double {
        let c = model.config, V = c.vocabSize
        let capacity = plan.promptLength + plan.newTokens
        var cache = try KVCache(config: c, slots: b, capacity: capacity)
        var scratch = DecodeScratch(config: c, maxRows: max(b, plan.promptLength), capacity: capacity)
        var rng = RNG(seed: 3)
        var next = [Int32](repeating: 0, count: b)
        for s in 0..<b {
            let prompt = (0..<plan.promptLength).map { _ in DecodeRow(slot: s, token: Int32(rng.int(below: V))) }
            let logits = try model.step(prompt, cache: &cache, scratch: &scratch)
            next[s] = argmax(logits, row: plan.promptLength - 1, V)
        }
        var times: [Double] = []
        for _ in 0..<plan.newTokens {
            let t0 = Self.now()
            let logits = try model.step((0..<b).map { DecodeRow(slot: $0, token: next[$0]) }, cache: &cache, scratch: &scratch)
            argmaxRows(logits, rows: b, V, into: &next)
            times.append(Self.now() - t0)
        }
        return Double(b) / Self.median(times)
    }

    /// Tokens/s of one `length`-token prompt run through the cached path in one call; median of 5.
    func measurePrefill(_ model: Transformer, length: Int) throws -> Double {
        let c = model.config
        var cache = try KVCache(config: c, slots: 1, capacity: length)
        var scratch = DecodeScratch(config: c, maxRows: length, capacity: length)
        var rng = RNG(seed: 6)
        let prompt = (0..<length).map { _ in DecodeRow(slot: 0, token: Int32(rng.int(below: c.vocabSize))) }
        var times: [Double] = []
        for trial in 0..<6 {
            try cache.reset(slot: 0)
            let t0 = Self.now()
            _ = try model.step(prompt, cache: &cache, scratch: &scratch)
            if trial > 0 { times.append(Self.now() - t0) }
        }
        return Double(length) / Self.median(times)
    }

    /// Median seconds of a full fine-tuning step on random tokens: forward and backward over
    /// B·T rows (in micro-batches of `microBatch` sequences when set), then AdamW on every
    /// parameter. One untimed warm-up step. Returns (seconds, last loss).
    func measureCheckpointTrain(_ model: inout Transformer, plan: CheckpointBenchPlan) throws -> (Double, Float) {
        let c = model.config, B = plan.trainBatch, T = plan.trainSeqLen
        let micro = plan.microBatch > 0 ? min(plan.microBatch, B) : B
        var rng = RNG(seed: 2)
        let tokens = (0..<(B * T)).map { _ in Int32(rng.int(below: c.vocabSize)) }
        let targets = (0..<(B * T)).map { _ in Int32(rng.int(below: c.vocabSize)) }
        let weights = [Float](repeating: 1 / Float(B * T), count: micro * T)
        var acts = try Activations(config: c, batch: micro, seqLen: T)
        var opt = AdamW(config: AdamWConfig(), layout: model.layout)
        var loss: Float = 0
        func step() throws {
            model.zeroGrad()
            loss = 0
            for start in stride(from: 0, to: B, by: micro) {
                let rows = (start * T)..<(min(B, start + micro) * T)
                if rows.count != acts.rows { acts = try Activations(config: c, batch: rows.count / T, seqLen: T) }
                try acts.setBatch(tokens: Array(tokens[rows]), targets: Array(targets[rows]))
                model.forward(&acts)
                let w = Array(weights[0..<rows.count])
                loss += Transformer.loss(acts, weights: w)
                try model.backward(&acts, weights: w)
            }
            try opt.update(params: &model.params, grads: model.grads, lr: 1e-5)
        }
        try step()
        var times: [Double] = []
        for _ in 0..<plan.trainSteps {
            let t0 = Self.now()
            try step()
            times.append(Self.now() - t0)
            log(String(format: "  train step %d/%d: %.2f s", times.count, plan.trainSteps, times.last!))
        }
        return (Self.median(times), loss)
    }

    /// The process's peak resident set (VmHWM), when /proc reports it.
    static func peakRSSBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first
            return kb.map { $0 * 1024 }
        }
        return nil
    }
}
