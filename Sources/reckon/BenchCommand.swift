// `reckon bench`: sgemm peak, attention by block size, a training step and cached decode, medians from one run;
// the kernels it times are ReckonCore's and ReckonModel's.

import ArgumentParser
import CBLAS
import Foundation
import ReckonCore
import ReckonModel
import ReckonTrain

/// `reckon bench`: sgemm peak, a full training step and cached decode, measured in one run,
/// on the bench model or (`--checkpoint`) a stored model (BenchCheckpoint.swift).
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure sgemm GFLOP/s, training tokens/s and MFU, and decode tokens/s on the bench model or a checkpoint.")

    @Option(help: "Benchmark this checkpoint (e.g. an imported SmolLM2) instead of the bench model: decode, prefill, training and the bandwidth bound.")
    var checkpoint: String?
    @Option(help: "BLAS and worker threads.") var threads: Int = 2
    @Option(help: "With --checkpoint: thread counts measured in turn, comma-separated.") var threadCounts: String = "1,2"
    @Option(name: .customLong("train-steps"), help: "Timed training steps (median reported; default 5, or 3 with --checkpoint).")
    var trainStepsOption: Int?
    @Option(name: .customLong("batch"), help: "Training batch size (default 16, or 8 with --checkpoint).") var batchOption: Int?
    @Option(help: "With --checkpoint: training sequence length.") var seqLen: Int = 256
    @Option(help: "With --checkpoint: sequences per forward/backward (gradients accumulate); 0 = the whole batch.")
    var microBatch: Int = 0
    @Option(help: "Decode steps timed per batch size.") var decodeSteps: Int = 128
    @Option(help: "With --checkpoint: decode batch sizes measured in turn, comma-separated (the ratio needs 1 and 32).")
    var decodeBatches: String = "1,32"
    @Option(name: .customLong("prompt-length"), help: "Prompt length prefilled before decode timing (default 16, or 64 with --checkpoint).")
    var promptLengthOption: Int?
    @Option(help: "With --checkpoint: one prompt's length for the prefill figure.") var prefillLength: Int = 256
    @Flag(help: "Skip the training-step measurement.") var skipTrain = false
    @Flag(help: "With --checkpoint: skip the decode and prefill measurements.") var skipDecode = false
    @Flag(help: "With --checkpoint: skip the sgemm peak and the projections-only timings.") var skipProducts = false
    @Option(help: "Write the figures as JSON to this file.") var json: String?

    var trainSteps: Int { trainStepsOption ?? (checkpoint == nil ? 5 : 3) }
    var batch: Int { batchOption ?? (checkpoint == nil ? 16 : 8) }
    var promptLength: Int { promptLengthOption ?? (checkpoint == nil ? 16 : 64) }

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be ≥ 1") }
        guard trainSteps >= 1, batch >= 1, decodeSteps >= 1, promptLength >= 1, prefillLength >= 1, seqLen >= 1, microBatch >= 0 else {
            throw ValidationError("--train-steps, --batch, --decode-steps, --prompt-length, --prefill-length and --seq-len must be ≥ 1, --micro-batch ≥ 0")
        }
        if checkpoint != nil {
            _ = try parsedThreadCounts()
            _ = try Self.positiveList(decodeBatches, option: "--decode-batches")
        } else {
            guard promptLength + decodeSteps <= ModelConfig.bench.maxSeqLen else {
                throw ValidationError("--prompt-length + --decode-steps must fit the bench context of \(ModelConfig.bench.maxSeqLen)")
            }
        }
    }

    func parsedThreadCounts() throws -> [Int] { try Self.positiveList(threadCounts, option: "--thread-counts") }

    static func positiveList(_ text: String, option: String) throws -> [Int] {
        let counts = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !counts.isEmpty, counts.allSatisfy({ ($0 ?? 0) >= 1 }) else {
            throw ValidationError("\(option) must be positive integers separated by commas, got \"\(text)\"")
        }
        return counts.compactMap { $0 }
    }

    func run() throws {
        if let checkpoint {
            let plan = CheckpointBenchPlan(
                threadCounts: try parsedThreadCounts(), promptLength: promptLength, newTokens: decodeSteps,
                decodeBatches: try Self.positiveList(decodeBatches, option: "--decode-batches"), prefillLength: prefillLength, trainBatch: batch, trainSeqLen: seqLen,
                microBatch: microBatch, trainSteps: trainSteps, skipTrain: skipTrain, skipDecode: skipDecode, skipProducts: skipProducts)
            return try runCheckpoint(checkpoint, plan: plan)
        }
        BLAS.setThreads(threads)
        let config = ModelConfig.bench
        var out: [String: Double] = [:]
        log("bench model: d=\(config.dim) L=\(config.nLayers) H=\(config.nHeads) F=\(config.hiddenDim) V=\(config.vocabSize) T=\(config.maxSeqLen), threads \(threads), workers \(Parallel.workers)")

        let peak = measureSgemm(n: 512)
        out["sgemm_gflops"] = peak
        log(String(format: "sgemm n=512: %.1f GFLOP/s", peak))

        if !skipTrain { try benchTrain(config: config, peak: peak, into: &out) }

        let decode1 = try measureDecode(config: config, batch: 1)
        let decode32 = try measureDecode(config: config, batch: 32)
        out["decode_tokens_per_s_batch1"] = decode1
        out["decode_tokens_per_s_batch32"] = decode32
        out["decode_batch_ratio"] = decode32 / decode1
        log(String(format: "decode batch 1: %.0f tokens/s", decode1))
        log(String(format: "decode batch 32: %.0f tokens/s", decode32))
        log(String(format: "decode batch-32 / batch-1 throughput: %.2fx", decode32 / decode1))
        // A hard bound on the ratio: batch 32 cannot do its FLOPs faster than the sgemm peak,
        // so the ratio is at most peak ÷ the GFLOP/s batch 1 already achieves.
        let flopsPerToken = config.decodeFlopsPerToken(context: promptLength + decodeSteps / 2)
        let gflops1 = decode1 * flopsPerToken / 1e9
        out["decode_gflops_batch1"] = gflops1
        out["decode_batch_ratio_bound_at_peak"] = peak / gflops1
        log(String(format: "decode batch 1 does %.1f GFLOP/s, so at the sgemm peak batch 32 could be at most %.2fx faster",
                   gflops1, peak / gflops1))
        // The ceiling on that ratio with this BLAS: batch 32 can be no faster than its
        // projections alone, timed at the same shapes in this run.
        let products32 = measureProducts(config: config, rows: 32)
        out["decode_products_gflops_batch32"] = products32.gflops
        out["decode_products_tokens_per_s_batch32"] = products32.tokensPerSecond
        out["decode_batch_ratio_ceiling"] = products32.tokensPerSecond / decode1
        log(String(format: "decode batch 32, projections only: %.0f tokens/s (%.1f GFLOP/s); ratio ceiling %.2fx",
                   products32.tokensPerSecond, products32.gflops, products32.tokensPerSecond / decode1))
        // The few-row kernel against OpenBLAS on the same products, side by side: the
        // evidence for `Matmul.smallRowLimit`.
        for rows in [1, 32, 64, 128] {
            let own = measureProducts(config: config, rows: rows), blas = measureProducts(config: config, rows: rows, openBLAS: true)
            out["products_gflops_rows\(rows)"] = own.gflops
            out["products_openblas_gflops_rows\(rows)"] = blas.gflops
            log(String(format: "projections at %d rows: %.1f GFLOP/s through Matmul.forward, %.1f through OpenBLAS (%.2fx)",
                       rows, own.gflops, blas.gflops, own.gflops / blas.gflops))
        }
        out["parameters"] = Double(ParameterLayout(config).count)
        out["threads"] = Double(threads)

        if let json {
            let data = try JSONSerialization.data(withJSONObject: out, options: [.prettyPrinted, .sortedKeys])
            try data.write(to: URL(fileURLWithPath: json))
            log("wrote \(json)")
        }
    }

    func benchTrain(config: ModelConfig, peak: Double, into out: inout [String: Double]) throws {
        let train = try measureTrainStep(config: config)
        let flopsPerStep = config.trainFlopsPerToken(seqLen: config.maxSeqLen) * Double(batch * config.maxSeqLen)
        let tokensPerSecond = Double(batch * config.maxSeqLen) / train, gflops = flopsPerStep / train / 1e9
        out["train_step_seconds"] = train
        out["train_tokens_per_s"] = tokensPerSecond
        out["train_gflops"] = gflops
        out["train_mfu"] = gflops / peak
        log(String(format: "train step (B=%d, T=%d): median %.3f s, %.0f tokens/s, %.1f GFLOP/s, MFU %.3f",
                   batch, config.maxSeqLen, train, tokensPerSecond, gflops, gflops / peak))
        // Attention forward + backward of one layer by causal block size, side by side: the
        // evidence for `Attention.causalBlock` (a block of T rows is the full T × T products).
        let T = config.maxSeqLen
        let blocks = [32, 64, 128, T].filter { $0 <= T }
        for (block, seconds) in zip(blocks, measureAttention(config: config, blocks: blocks)) {
            out["attention_ms_block\(block)"] = seconds * 1e3
            log(String(format: "attention forward+backward, one layer, causal block %d: median %.2f ms", block, seconds * 1e3))
        }
    }

    /// Median seconds of one layer's attention forward and backward at the training shapes,
    /// per block size; the sizes take turns in every round, so drift hits them alike.
    func measureAttention(config c: ModelConfig, blocks: [Int]) -> [Double] {
        let T = c.maxSeqLen, hd = c.headDim, qDim = c.nHeads * hd, kvDim = c.kvDim
        var rng = RNG(seed: 5)
        let q = (0..<(batch * T * qDim)).map { _ in rng.normal() }          // (B·T, H·hd)
        let k = (0..<(batch * T * kvDim)).map { _ in rng.normal() }         // (B·T, Hkv·hd)
        let v = (0..<(batch * T * kvDim)).map { _ in rng.normal() }         // (B·T, Hkv·hd)
        let dout = (0..<(batch * T * qDim)).map { _ in rng.normal() }       // (B·T, H·hd)
        var out = [Float](repeating: 0, count: batch * T * qDim), dq = out  // (B·T, H·hd)
        var dk = [Float](repeating: 0, count: batch * T * kvDim), dv = dk   // (B·T, Hkv·hd)
        var att = [Float](repeating: 0, count: batch * c.nHeads * T * T)    // (B, H, T, T)
        var scratch = [Float](repeating: 0, count: Parallel.workers * T * T) // (workers, T, T)
        func once(_ block: Int) {
            Attention.forward(out: &out, att: &att, q: q, k: k, v: v, batch: batch, seqLen: T,
                              heads: c.nHeads, kvHeads: c.nKVHeads, headDim: hd, block: block)
            Attention.backward(dq: &dq, dk: &dk, dv: &dv, scratch: &scratch, dout: dout, att: att, q: q, k: k, v: v,
                               batch: batch, seqLen: T, heads: c.nHeads, kvHeads: c.nKVHeads, headDim: hd, block: block)
        }
        for block in blocks { once(block) }
        var times = [[Double]](repeating: [], count: blocks.count)
        for _ in 0..<max(5, trainSteps) {
            for (i, block) in blocks.enumerated() {
                let t0 = Self.now()
                once(block)
                times[i].append(Self.now() - t0)
            }
        }
        return times.map(Self.median)
    }

    func log(_ s: String) { print(s); fflush(nil) }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// Median GFLOP/s of an n×n×n sgemm over repeated trials.
    func measureSgemm(n: Int) -> Double {
        var rng = RNG(seed: 1)
        let a = (0..<(n * n)).map { _ in rng.normal() }, b = a
        var c = [Float](repeating: 0, count: n * n)
        func once() {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n),
                        1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
        }
        for _ in 0..<3 { once() }
        var trials: [Double] = []
        for _ in 0..<9 {
            let reps = 10, t0 = Self.now()
            for _ in 0..<reps { once() }
            trials.append(2 * Double(n * n * n) * Double(reps) / (Self.now() - t0) / 1e9)
        }
        return Self.median(trials)
    }

    /// Median seconds of forward + backward + AdamW on random tokens.
    func measureTrainStep(config: ModelConfig) throws -> Double {
        var model = try Transformer(config: config, seed: 1)
        var acts = try Activations(config: config, batch: batch, seqLen: config.maxSeqLen)
        var opt = AdamW(config: AdamWConfig(), layout: model.layout)
        var rng = RNG(seed: 2)
        let n = acts.rows
        let tokens = (0..<n).map { _ in Int32(rng.int(below: 256)) }
        let targets = (0..<n).map { _ in Int32(rng.int(below: 256)) }
        try acts.setBatch(tokens: tokens, targets: targets)
        let weights = [Float](repeating: 1 / Float(n), count: n)
        func step() throws {
            model.zeroGrad()
            model.forward(&acts)
            try model.backward(&acts, weights: weights)
            try opt.update(params: &model.params, grads: model.grads, lr: 1e-4)
        }
        for _ in 0..<2 { try step() }
        var times: [Double] = []
        for _ in 0..<trainSteps {
            let t0 = Self.now()
            try step()
            times.append(Self.now() - t0)
        }
        return Self.median(times)
    }

    /// Decode tokens/s with `batch` live sequences after a prefill of `promptLength` tokens each.
    /// Greedy tokens are fed back; <eos> does not stop the timing loop.
    func measureDecode(config: ModelConfig, batch b: Int) throws -> Double {
        let model = try Transformer(config: config, seed: 1)
        var cache = try KVCache(config: config, slots: b)
        var scratch = DecodeScratch(config: config, maxRows: max(b * promptLength, b))
        var rng = RNG(seed: 3)
        let prompt = (0..<(b * promptLength)).map { i in DecodeRow(slot: i / promptLength, token: Int32(rng.int(below: 256))) }
        var logits = try model.step(prompt, cache: &cache, scratch: &scratch)
        let V = config.vocabSize
        var next = (0..<b).map { s in argmax(logits, row: (s + 1) * promptLength - 1, V) }
        var times: [Double] = []
        for _ in 0..<decodeSteps {
            let t0 = Self.now()
            logits = try model.step((0..<b).map { DecodeRow(slot: $0, token: next[$0]) }, cache: &cache, scratch: &scratch)
            next = (0..<b).map { argmax(logits, row: $0, V) }
            times.append(Self.now() - t0)
        }
        return Double(b * decodeSteps) / times.reduce(0, +)
    }

    /// Tokens/s and GFLOP/s of one decode step's projections alone (every layer's q, k, v, o,
    /// w1, w3, w2 and the classifier, through the decode path's own `Matmul.forward`) at
    /// `rows` rows: an upper bound on decode throughput at that batch size.
    /// `openBLAS` sends every product to OpenBLAS (sgemv for one row) instead of `Matmul.forward`.
    func measureProducts(config c: ModelConfig, rows n: Int, openBLAS: Bool = false, trials: Int? = nil) -> (tokensPerSecond: Double, gflops: Double) {
        let d = c.dim, kvd = c.kvDim, F = c.hiddenDim, V = c.vocabSize
        let shapes = [(d, d), (d, kvd), (d, kvd), (d, d), (d, F), (d, F), (F, d)]  // (in, out)
        var rng = RNG(seed: 4)
        // Every layer gets its own weights, so the cache sees the model's real footprint.
        let weights = (0..<(c.nLayers * shapes.count)).map { i in
            (0..<(shapes[i % shapes.count].0 * shapes[i % shapes.count].1)).map { _ in rng.normal() * 0.02 }
        }
        let cls = (0..<(V * d)).map { _ in rng.normal() * 0.02 }
        let inp = (0..<(n * F)).map { _ in rng.normal() }          // (n, max(d, F))
        var out = [Float](repeating: 0, count: n * max(F, V))     // (n, max(F, V))
        let flops = 2 * Double(n) * Double(c.nLayers * shapes.reduce(0) { $0 + $1.0 * $1.1 } + V * d)
        func product(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ inDim: Int, _ outDim: Int) {
            if openBLAS {
                Matmul.forwardBLAS(y, x, w, n: n, inDim: inDim, outDim: outDim)
            } else {
                Matmul.forward(y, x, w, n: n, inDim: inDim, outDim: outDim)
            }
        }
        func once() {
            inp.withUnsafeBufferPointer { x in
                out.withUnsafeMutableBufferPointer { y in
                    for (i, w) in weights.enumerated() {
                        let (inDim, outDim) = shapes[i % shapes.count]
                        w.withUnsafeBufferPointer { product(y.baseAddress!, x.baseAddress!, $0.baseAddress!, inDim, outDim) }
                    }
                    cls.withUnsafeBufferPointer { product(y.baseAddress!, x.baseAddress!, $0.baseAddress!, d, V) }
                }
            }
        }
        for _ in 0..<min(5, trials ?? 5) { once() }
        var times: [Double] = []
        for _ in 0..<(trials ?? decodeSteps) {
            let t0 = Self.now()
            once()
            times.append(Self.now() - t0)
        }
        let t = Self.median(times)
        return (Double(n) / t, flops / t / 1e9)
    }

    func argmax(_ logits: [Float], row: Int, _ V: Int) -> Int32 {
        logits.withUnsafeBufferPointer { Self.argmax($0.baseAddress! + row * V, V) }
    }

    /// The first index of the largest of x[0..<count].
    static func argmax(_ x: UnsafePointer<Float>, _ count: Int) -> Int32 {
        var best = 0
        for j in 1..<count where x[j] > x[best] { best = j }
        return Int32(best)
    }

    /// Greedy next tokens of `rows` rows of logits (rows, V), the rows split over the pool.
    func argmaxRows(_ logits: [Float], rows: Int, _ V: Int, into next: inout [Int32]) {
        logits.withUnsafeBufferPointer { l in
            next.withUnsafeMutableBufferPointer { out in
                let lp = l.baseAddress!, op = out.baseAddress!
                Parallel.forEach(rows) { op[$0] = Self.argmax(lp + $0 * V, V) }
            }
        }
    }
}
