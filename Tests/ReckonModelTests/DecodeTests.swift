import XCTest
import ReckonCore
@testable import ReckonModel

final class DecodeTests: XCTestCase {
    /// Head size 4: attention over the cache goes through sgemv. Tests that set `wideHeads`
    /// use head size 8, which the AVX attention kernel takes.
    var config = ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 24, maxSeqLen: 16)
    let wideHeads = ModelConfig(dim: 32, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 40, maxSeqLen: 16)

    /// Full-forward logits for one sequence, one row per position.
    func fullForward(_ model: Transformer, _ seq: [Int32]) throws -> [[Float]] {
        var acts = try Activations(config: config, batch: 1, seqLen: seq.count)
        try acts.setBatch(tokens: seq, targets: seq.map { _ in -1 })
        model.forward(&acts)
        return (0..<seq.count).map { Array(acts.logits(row: $0)) }
    }

    func assertClose(_ a: ArraySlice<Float>, _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        let scale = max(b.map(abs).max() ?? 0, 1e-6)
        let err = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(err / scale, 1e-4, "\(what): max relative difference \(err / scale)", file: file, line: line)
    }

    /// Three sequences of different lengths start and finish at different steps, mixing
    /// prefill rows and single-token decode rows in the same calls. Every position's
    /// cached logits must match the full forward within 1e-4 relative.
    func testCachedDecodeMatchesFullForwardForRaggedBatch() throws {
        var rng = RNG(seed: 11)
        var params = try Transformer(config: config, seed: 3).params
        for i in params.indices { params[i] *= 10 }   // sharper attention than the small init gives
        let model = try Transformer(config: config, params: params)
        let seqs: [[Int32]] = [9, 14, 5].map { n in (0..<n).map { _ in Int32(rng.int(below: Tokenizer.vocabSize)) } }
        let reference = try seqs.map { try fullForward(model, $0) }

        var cache = try KVCache(config: config, slots: 3)
        var scratch = DecodeScratch(config: config, maxRows: 8)
        var fed = [0, 0, 0]
        // Schedule: (slot, how many tokens to feed this call). Slot 1 starts late, slot 2 finishes early.
        let schedule: [[(Int, Int)]] = [
            [(0, 4), (2, 3)], [(0, 1), (2, 1)], [(0, 1), (1, 6), (2, 1)],
            [(0, 1), (1, 1)], [(0, 1), (1, 1)], [(0, 1), (1, 1)], [(1, 1)], [(1, 1)], [(1, 1)], [(1, 1)], [(1, 1)],
        ]
        for call in schedule {
            var rows: [DecodeRow] = []
            var owners: [(slot: Int, pos: Int)] = []
            for (slot, count) in call {
                for _ in 0..<count {
                    rows.append(DecodeRow(slot: slot, token: seqs[slot][fed[slot]]))
                    owners.append((slot, fed[slot]))
                    fed[slot] += 1
                }
            }
            let logits = try model.step(rows, cache: &cache, scratch: &scratch)
            let V = config.vocabSize
            for (i, o) in owners.enumerated() {
                assertClose(logits[(i * V)..<((i + 1) * V)], reference[o.slot][o.pos], "slot \(o.slot) position \(o.pos)")
            }
        }
        XCTAssertEqual(fed, seqs.map(\.count))
        XCTAssertEqual(cache.lengths, seqs.map(\.count))

        // A freed slot serves a new sequence from position 0.
        try cache.reset(slot: 2)
        let fresh = try model.step(seqs[0].prefix(3).map { DecodeRow(slot: 2, token: $0) }, cache: &cache, scratch: &scratch)
        assertClose(fresh[(2 * config.vocabSize)...], reference[0][2], "reused slot")
    }

    func testCachedDecodeMatchesFullForwardWithQKVBias() throws {
        config.qkvBias = true
        let layout = ParameterLayout(config)
        var rng = RNG(seed: 4)
        var params = try Transformer(config: config, seed: 3).params
        for i in params.indices { params[i] *= 10 }
        for name in ["bq", "bk", "bv"] {
            let t = try XCTUnwrap(layout.tensor(named: name))
            for i in t.range { params[i] = rng.normal() }
        }
        let model = try Transformer(config: config, params: params)
        let seq: [Int32] = (0..<9).map { _ in Int32(rng.int(below: Tokenizer.vocabSize)) }
        let reference = try fullForward(model, seq)
        var cache = try KVCache(config: config, slots: 1)
        var scratch = DecodeScratch(config: config, maxRows: 8)
        let prefill = try model.step(seq.prefix(5).map { DecodeRow(slot: 0, token: $0) }, cache: &cache, scratch: &scratch)
        let V = config.vocabSize
        for pos in 0..<5 { assertClose(prefill[(pos * V)..<((pos + 1) * V)], reference[pos], "prefill position \(pos)") }
        for pos in 5..<9 {
            let logits = try model.step([DecodeRow(slot: 0, token: seq[pos])], cache: &cache, scratch: &scratch)
            assertClose(logits[0...], reference[pos], "decode position \(pos)")
        }
    }

    func testCachedDecodeMatchesFullForwardWithKernelAttention() throws {
        config = wideHeads
        try testCachedDecodeMatchesFullForwardForRaggedBatch()
    }

    func testDecodeIsBatchInvariantWithKernelAttention() throws {
        config = wideHeads
        try testDecodeIsBatchInvariant()
    }

    /// A sequence's logits do not depend on the sequences decoded with it: decoded alone and
    /// in a batch of five ragged sequences, every position agrees bit for bit. Without AVX/FMA
    /// the batched products go to OpenBLAS, whose sums depend on the row count, and only
    /// the 1e-4 closeness of every decode test holds.
    func testDecodeIsBatchInvariant() throws {
        var rng = RNG(seed: 12)
        let model = try Transformer(config: config, seed: 4)
        let seqs: [[Int32]] = [10, 3, 12, 7, 9].map { n in (0..<n).map { _ in Int32(rng.int(below: Tokenizer.vocabSize)) } }
        let V = config.vocabSize
        func decode(_ slots: [Int]) throws -> [[Float]] {   // one token per live slot per call; logits of slots[0]
            var cache = try KVCache(config: config, slots: seqs.count)
            var scratch = DecodeScratch(config: config, maxRows: seqs.count)
            var out: [[Float]] = []
            for t in 0..<seqs[slots[0]].count {
                let live = slots.filter { t < seqs[$0].count }
                let logits = try model.step(live.map { DecodeRow(slot: $0, token: seqs[$0][t]) }, cache: &cache, scratch: &scratch)
                out.append(Array(logits[0..<V]))
            }
            return out
        }
        let alone = try decode([0]), batched = try decode([0, 1, 2, 3, 4])
        if CPUKernels.available {
            XCTAssertEqual(alone, batched)
        } else {
            for (t, row) in batched.enumerated() { assertClose(row[...], alone[t], "position \(t)") }
        }
    }

    func testDecodeRejectsBadInput() throws {
        let model = try Transformer(config: config, seed: 1)
        var cache = try KVCache(config: config, slots: 1, capacity: 2)
        var scratch = DecodeScratch(config: config, maxRows: 4)
        XCTAssertThrowsError(try model.step([DecodeRow(slot: 1, token: 0)], cache: &cache, scratch: &scratch)) {
            XCTAssertEqual($0 as? ModelError, .invalidSlot(1))
        }
        XCTAssertThrowsError(try model.step([DecodeRow(slot: 0, token: 999)], cache: &cache, scratch: &scratch)) {
            XCTAssertEqual($0 as? ModelError, .tokenOutOfRange(id: 999, vocabSize: config.vocabSize))
        }
        XCTAssertThrowsError(try model.step((0..<3).map { _ in DecodeRow(slot: 0, token: 1) }, cache: &cache, scratch: &scratch)) {
            XCTAssertEqual($0 as? ModelError, .cacheFull(slot: 0, capacity: 2))
        }
        XCTAssertEqual(cache.lengths, [0], "a rejected call leaves the cache untouched")
    }

    /// Greedy batched generation equals generating each prompt alone, and token 0 follows the
    /// first-token strategy.
    func testBatchedGenerationMatchesSingleAndRestrictsFirstToken() throws {
        let model = try Transformer(config: config, seed: 9)
        let prompts: [[Int32]] = [[1, 2, 3], [200, 17], [5, 6, 7, 8, 9]]
        let set = [Tokenizer.think, Tokenizer.short]
        let batched = try model.generate(prompts: prompts, maxNewTokens: 6, params: .greedy, seed: 1, first: .sampled)
        for (i, p) in prompts.enumerated() {
            let single = try model.generate(prompts: [p], maxNewTokens: 6, params: .greedy, seed: 1, first: .sampled)
            // sgemm blocks differently for different row counts, so probabilities agree to rounding.
            XCTAssertEqual(batched[i].tokens, single[0].tokens)
            XCTAssertEqual(batched[i].pThink, single[0].pThink, accuracy: 1e-5)
            XCTAssert(set.contains(batched[i].tokens[0]))
            // Greedy over the two control tokens takes the likelier one.
            XCTAssertEqual(batched[i].tokens[0], batched[i].pThink >= 0.5 ? Tokenizer.think : Tokenizer.short)
        }
        // Forced first tokens replace the draw but keep its probabilities.
        let f = try model.generate(prompts: prompts, maxNewTokens: 6, params: .greedy, seed: 1, first: .forced([.short, .think, .short]))
        XCTAssertEqual(f.map { $0.tokens[0] }, [Tokenizer.short, Tokenizer.think, Tokenizer.short])
        XCTAssertEqual(f.map(\.pThink), batched.map(\.pThink))
        XCTAssertThrowsError(try model.generate(prompts: prompts, maxNewTokens: 6, first: .forced([.short])), "one per prompt")
        XCTAssertThrowsError(try model.generate(prompts: prompts, maxNewTokens: 6, first: .routed(.model, uniforms: [0])), "one per prompt")
        XCTAssertThrowsError(try model.generate(prompts: prompts, maxNewTokens: 0), "at least one token")
        XCTAssertThrowsError(try model.generate(prompts: [[]], maxNewTokens: 2), "an empty prompt")
        // A threshold routes by p(think) alone.
        let routed = try model.generate(prompts: prompts, maxNewTokens: 6, first: .routed(.threshold(0.5), uniforms: [0, 0, 0]))
        XCTAssertEqual(routed.map(\.tokens), batched.map(\.tokens))
        let sampledA = try model.generate(prompts: prompts, maxNewTokens: 6, params: SamplingParams(temperature: 1), seed: 4)
        let sampledB = try model.generate(prompts: prompts, maxNewTokens: 6, params: SamplingParams(temperature: 1), seed: 4)
        XCTAssertEqual(sampledA.map(\.tokens), sampledB.map(\.tokens), "same seed, same samples")
        XCTAssertTrue(sampledA.allSatisfy { $0.pThink.isNaN }, "free generation records no p(think)")
    }

    /// The one overflow rule: responses are capped so prompt + response fit the context, and a
    /// prompt that fills the context gets an empty response.
    func testGenerationCapsAtTheContext() throws {
        let model = try Transformer(config: config, seed: 9)
        let C = config.maxSeqLen
        let prompts: [[Int32]] = [[1, 2], [Int32](repeating: 5, count: C - 3), [Int32](repeating: 5, count: C)]
        let out = try model.generate(prompts: prompts, maxNewTokens: 50, first: .routed(.think, uniforms: [0, 0, 0]))
        XCTAssertLessThanOrEqual(out[0].tokens.count, min(50, C - 2))
        XCTAssertLessThanOrEqual(out[1].tokens.count, 3)
        XCTAssertEqual(out[1].tokens.first, Tokenizer.think)
        XCTAssertEqual(out[2].tokens, [])
        XCTAssertTrue(out[2].pThink.isNaN)
    }
}
