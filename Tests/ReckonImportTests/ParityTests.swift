import Foundation
import XCTest
import ReckonCheckpoint
import ReckonCore
import ReckonImport
import ReckonModel

/// The import against transformers (fp32, eager), with references from
/// tools/make_parity_reference.py: logits within 1e-4 of the row's largest |logit| at every
/// position, and greedy continuations identical token for token.
final class ParityTests: XCTestCase {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let tolerance: Float = 1e-4

    struct Prompt {
        var text: String
        var ids: [Int32]
        var greedy: [Int32]
    }

    func json(_ name: String) throws -> [String: Any] {
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.path(name)), name)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func prompt(_ p: [String: Any]) throws -> Prompt {
        Prompt(text: p["text"] as? String ?? "", ids: try XCTUnwrap(p["ids"] as? [Int]).map(Int32.init),
               greedy: try XCTUnwrap(p["greedy"] as? [Int]).map(Int32.init))
    }

    /// Logits of every position of each prompt from the full (training-path) forward, the
    /// prompts right-padded into one batch: causal attention keeps padding out of real rows.
    /// One batch also keeps the row count above `Matmul.smallRowLimit`, so the products go
    /// through OpenBLAS rather than the few-row C kernel, which a debug build leaves unoptimised.
    func logits(_ model: Transformer, _ prompts: [[Int32]]) throws -> [[[Float]]] {
        let T = prompts.map(\.count).max() ?? 1
        var acts = try Activations(config: model.config, batch: prompts.count, seqLen: T)
        let tokens = prompts.flatMap { $0 + [Int32](repeating: 0, count: T - $0.count) }
        try acts.setBatch(tokens: tokens, targets: tokens.map { _ in -1 })
        model.forward(&acts)
        return prompts.enumerated().map { b, ids in (0..<ids.count).map { Array(acts.logits(row: b * T + $0)) } }
    }

    /// Greedy continuations of all prompts at once, one KV-cache slot each (the serving path);
    /// the argmax runs over the whole vocabulary, control tokens included. With `copies` > 1
    /// each prompt runs in that many slots (all must agree), so a decode step has enough rows
    /// for OpenBLAS in a debug build (see `logits`).
    func greedy(_ model: Transformer, _ prompts: [[Int32]], steps: Int, copies: Int = 1) throws -> [[Int32]] {
        let V = model.config.vocabSize
        let slots = (0..<copies).flatMap { _ in prompts }
        let capacity = (prompts.map(\.count).max() ?? 0) + steps
        var cache = try KVCache(config: model.config, slots: slots.count, capacity: capacity)
        var scratch = DecodeScratch(config: model.config, maxRows: 256, capacity: capacity)
        // Prefill every slot, in calls of up to 256 rows; a slot's last row gives its first token.
        let rows = slots.enumerated().flatMap { slot, ids in ids.map { DecodeRow(slot: slot, token: $0) } }
        let lastRow = Set(slots.indices.map { slot in slots[..<(slot + 1)].map(\.count).reduce(0, +) - 1 })
        var last: [Int32] = []
        for start in stride(from: 0, to: rows.count, by: 256) {
            let chunk = Array(rows[start..<min(rows.count, start + 256)])
            let out = try model.step(chunk, cache: &cache, scratch: &scratch)
            for i in chunk.indices where lastRow.contains(start + i) { last.append(argmax(out[(i * V)..<((i + 1) * V)])) }
        }
        var generated = last.map { [$0] }
        for _ in 1..<steps {
            let out = try model.step(last.enumerated().map { DecodeRow(slot: $0.offset, token: $0.element) }, cache: &cache, scratch: &scratch)
            last = (0..<slots.count).map { argmax(out[($0 * V)..<(($0 + 1) * V)]) }
            for i in generated.indices { generated[i].append(last[i]) }
        }
        for c in 1..<max(copies, 1) {
            for i in prompts.indices {
                XCTAssertEqual(generated[c * prompts.count + i], generated[i], "copy \(c) of prompt \(i) decoded differently")
            }
        }
        return Array(generated.prefix(prompts.count))
    }

    func argmax(_ x: ArraySlice<Float>) -> Int32 {
        var best = x.startIndex
        for i in x.indices where x[i] > x[best] { best = i }
        return Int32(best - x.startIndex)
    }

    /// max_i |a_i − b_i| / max_i |b_i| over the reference's entries.
    func relativeError(_ ours: [Float], _ reference: [Float]) -> Float {
        let scale = max(reference.map(abs).max() ?? 0, 1e-12)
        return zip(ours, reference).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }

    // MARK: Tiny random models through safetensors

    func checkTiny(_ name: String, sharded: Bool, qkvBias: Bool, tied: Bool) throws {
        let ckpt = try Importer.load(Fixtures.path(name))
        XCTAssertEqual(ckpt.source?.format, "safetensors")
        XCTAssertEqual(ckpt.config.qkvBias, qkvBias)
        XCTAssertEqual(ckpt.config.tiedEmbeddings, tied)
        XCTAssertEqual(ckpt.tokenizer?.tokens.suffix(3), ["<think>", "</think>", "<short>"])
        if sharded { XCTAssert(FileManager.default.fileExists(atPath: Fixtures.path("\(name)/model.safetensors.index.json"))) }
        let model = try ckpt.model()
        let ref = try json("\(name)_reference.json")
        let prompts = try XCTUnwrap(ref["prompts"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(prompts.count, 4)
        let all = try logits(model, try prompts.map { try prompt($0).ids })
        for (p, ours) in zip(prompts, all) {
            let expected = try XCTUnwrap(p["logits"] as? [[Double]]).map { $0.map(Float.init) }
            for (pos, row) in expected.enumerated() {
                let V = row.count
                XCTAssertEqual(V + 3, ckpt.config.vocabSize)
                let err = relativeError(Array(ours[pos][0..<V]), row)
                XCTAssertLessThan(err, Self.tolerance, "\(name) \"\(p["text"] ?? "")\" position \(pos): relative max-abs \(err)")
            }
        }
        let parsed = try prompts.map(prompt)
        let got = try greedy(model, parsed.map(\.ids), steps: try XCTUnwrap(ref["greedy_steps"] as? Int))
        for (p, g) in zip(parsed, got) { XCTAssertEqual(g, p.greedy, "\(name) greedy continuation of \"\(p.text)\"") }
    }

    /// Llama: half-split Q/K rows interleaved, an untied classifier, RoPE base 50000, shards.
    func testTinyLlamaSafetensorsMatchesTransformers() throws {
        try checkTiny("tiny-llama", sharded: true, qkvBias: false, tied: false)
    }

    /// Qwen2: q/k/v biases (interleaved with their rows), tied embeddings, one file.
    func testTinyQwen2SafetensorsMatchesTransformers() throws {
        try checkTiny("tiny-qwen2", sharded: false, qkvBias: true, tied: true)
    }

    // MARK: SmolLM2-135M-Instruct from its GGUF

    static let gguf = "checkpoints/base/SmolLM2-135M-Instruct.Q4_1.gguf"
    static let ggufSHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

    /// The fetched base (tools/fetch_base.sh runs when it is absent); skips only if the fetch fails.
    static func fetchedBase() throws -> String {
        let path = repo.appendingPathComponent(gguf).path
        if FileManager.default.fileExists(atPath: path) { return path }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [repo.appendingPathComponent("tools/fetch_base.sh").path]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0, FileManager.default.fileExists(atPath: path) else {
            let reason = "tools/fetch_base.sh failed (status \(p.terminationStatus)): \(out.suffix(300))"
            print("ParityTests: skipping SmolLM2 parity: \(reason)")
            throw XCTSkip(reason)
        }
        return path
    }

    func testSmolLM2GGUFMatchesTransformers() throws {
        let path = try Self.fetchedBase()
        let ckpt = try Importer.load(path)
        XCTAssertEqual(ckpt.source?.sha256, Self.ggufSHA)
        let c = ckpt.config
        XCTAssertEqual([c.nLayers, c.dim, c.nHeads, c.nKVHeads, c.hiddenDim, c.vocabSize, c.maxSeqLen], [30, 576, 9, 3, 1536, 49155, 8192])
        XCTAssertEqual(c.ropeTheta, 100000)
        XCTAssertTrue(c.tiedEmbeddings)
        let model = try ckpt.model()

        let ref = try json("smollm2_reference.json")
        let raw = try XCTUnwrap(ref["prompts"] as? [[String: Any]])
        let prompts = try raw.map(prompt)
        XCTAssertGreaterThanOrEqual(prompts.count, 20)
        XCTAssertEqual(Set(raw.compactMap { $0["kind"] as? String }), ["plain", "chat"])
        // The imported tokenizer (GGUF metadata plus the control tokens) encodes the plain prompts
        // to the ids transformers' tokenizer gave them.
        let tokenizer = try BPETokenizer(spec: try XCTUnwrap(ckpt.tokenizer))
        for (p, entry) in zip(prompts, raw) where entry["kind"] as? String == "plain" {
            XCTAssertEqual(tokenizer.encode(p.text), p.ids, "encoding of \"\(p.text)\"")
        }
        XCTAssertEqual(tokenizer.encode("<think>", parseSpecials: true), [49152])
        let rowsData = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.path("smollm2_rows.f32")))
        let fullRows = rowsData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let V = try XCTUnwrap(ref["vocab_size"] as? Int)
        var worst: Float = 0
        // Plain and chat prompts in separate batches: similar lengths, half the activations each.
        var ourLogits: [[[Float]]] = Array(repeating: [], count: prompts.count)
        for kind in ["plain", "chat"] {
            let members = raw.indices.filter { raw[$0]["kind"] as? String == kind }
            for (i, rows) in zip(members, try logits(model, members.map { prompts[$0].ids })) { ourLogits[i] = rows }
        }
        for (k, (p, entry)) in zip(prompts, raw).enumerated() {
            let ours = ourLogits[k]
            let topIDs = try XCTUnwrap(entry["top_ids"] as? [[Int]])
            let topLogits = try XCTUnwrap(entry["top_logits"] as? [[Double]])
            let maxAbs = try XCTUnwrap(entry["max_abs"] as? [Double])
            for pos in 0..<p.ids.count {
                let scale = Float(maxAbs[pos])
                // The reference's 20 largest logits, and the row's scale itself.
                var err = abs((ours[pos][0..<V].map(abs).max() ?? 0) - scale) / scale
                for (id, value) in zip(topIDs[pos], topLogits[pos]) { err = max(err, abs(ours[pos][id] - Float(value)) / scale) }
                worst = max(worst, err)
                XCTAssertLessThan(err, Self.tolerance, "\"\(p.text)\" position \(pos): relative error \(err) on the top 20")
            }
            if let row = entry["full_row"] as? Int {
                let reference = Array(fullRows[(row * V)..<((row + 1) * V)])
                let err = relativeError(Array(ours[p.ids.count - 1][0..<V]), reference)
                worst = max(worst, err)
                XCTAssertLessThan(err, Self.tolerance, "\"\(p.text)\" last position, all \(V) logits: relative max-abs \(err)")
            }
        }
        print("ParityTests: SmolLM2 worst relative logit error \(worst) over \(prompts.map(\.ids.count).reduce(0, +)) positions")
        let copies = Matmul.smallRowLimit / prompts.count + 1
        let got = try greedy(model, prompts.map(\.ids), steps: try XCTUnwrap(ref["greedy_steps"] as? Int), copies: copies)
        var identical = 0
        for (p, g) in zip(prompts, got) {
            XCTAssertEqual(g, p.greedy, "greedy continuation of \"\(p.text)\"")
            if g == p.greedy { identical += 1 }
        }
        print("ParityTests: SmolLM2 greedy continuations identical for \(identical)/\(prompts.count) prompts")
    }
}
