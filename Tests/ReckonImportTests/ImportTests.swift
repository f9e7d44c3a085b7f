import Foundation
import XCTest
import ReckonCheckpoint
@testable import ReckonImport
import ReckonModel

/// A tiny Llama-style GGUF built in memory, with a GPT-2-style tokenizer, and its failure modes.
final class ImportTests: XCTestCase {
    let V = 262, d = 8, F = 12, L = 2

    func tinyModel(arch: String = "llama", bias: Bool = false) -> (GGUFWriter, [String: [Float]]) {
        var w = GGUFWriter()
        w.add("general.architecture", .string(arch))
        w.add("\(arch).block_count", .uint32(UInt32(L)))
        w.add("\(arch).embedding_length", .uint32(UInt32(d)))
        w.add("\(arch).feed_forward_length", .uint32(UInt32(F)))
        w.add("\(arch).attention.head_count", .uint32(2))
        w.add("\(arch).attention.head_count_kv", .uint32(1))
        w.add("\(arch).context_length", .uint32(64))
        w.add("\(arch).rope.freq_base", .float32(100000))
        w.add("\(arch).attention.layer_norm_rms_epsilon", .float32(1e-5))
        w.add("tokenizer.ggml.model", .string("gpt2"))
        w.add("tokenizer.ggml.pre", .string("smollm"))
        w.add("tokenizer.ggml.tokens", .array((0..<V).map { .string("t\($0)") }))
        w.add("tokenizer.ggml.token_type", .array((0..<V).map { .int32($0 < 2 ? 3 : 1) }))
        w.add("tokenizer.ggml.merges", .array([.string("t 1")]))
        w.add("tokenizer.ggml.bos_token_id", .uint32(1))
        w.add("tokenizer.ggml.eos_token_id", .uint32(0))
        w.add("tokenizer.chat_template", .string("{{ messages }}"))
        var values: [String: [Float]] = [:]
        var seed: UInt64 = 1
        func tensor(_ name: String, _ shape: [Int]) {
            let n = shape.reduce(1, *)
            let x: [Float] = (0..<n).map { _ in
                seed = seed &* 6364136223846793005 &+ 1442695040888963407
                return Float(Int(seed >> 40) % 2001 - 1000) / 1000
            }
            values[name] = x
            w.add(name, floats: x, shape: shape)
        }
        tensor("token_embd.weight", [V, d])
        tensor("output_norm.weight", [d])
        for l in 0..<L {
            tensor("blk.\(l).attn_norm.weight", [d])
            tensor("blk.\(l).attn_q.weight", [d, d])
            tensor("blk.\(l).attn_k.weight", [4, d])
            tensor("blk.\(l).attn_v.weight", [4, d])
            if bias {
                tensor("blk.\(l).attn_q.bias", [d])
                tensor("blk.\(l).attn_k.bias", [4])
                tensor("blk.\(l).attn_v.bias", [4])
            }
            tensor("blk.\(l).attn_output.weight", [d, d])
            tensor("blk.\(l).ffn_norm.weight", [d])
            tensor("blk.\(l).ffn_gate.weight", [F, d])
            tensor("blk.\(l).ffn_up.weight", [F, d])
            tensor("blk.\(l).ffn_down.weight", [d, F])
        }
        return (w, values)
    }

    func temp(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-import-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    func importing(_ w: GGUFWriter, _ name: String) throws -> Checkpoint {
        let path = temp(name)
        try w.write(to: path)
        return try Importer.load(path)
    }

    func assertFails(_ w: GGUFWriter, _ name: String, _ check: (ImportError) -> Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = temp(name)
        try w.write(to: path)
        do {
            _ = try Importer.load(path)
            XCTFail("import of \(name) succeeded", file: file, line: line)
        } catch {
            XCTAssert(check(error), "unexpected error: \(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "error is not one line: \(error)", file: file, line: line)
            XCTAssert(error.description.hasPrefix(path), "error does not name the file: \(error)", file: file, line: line)
        }
    }

    /// Llama GGUF tensors land unpermuted in our layout; the control tokens follow the vocabulary
    /// with the mean embedding row; the tokenizer and source are recorded and survive a save/load.
    func testLlamaImportMapsEveryTensorAndAppendsControlTokens() throws {
        let (w, values) = tinyModel()
        let ckpt = try importing(w, "tiny-llama.gguf")
        let c = ckpt.config, layout = ParameterLayout(c)
        XCTAssertEqual(c, ModelConfig(dim: d, nLayers: L, nHeads: 2, nKVHeads: 1, hiddenDim: F, vocabSize: V + 3,
                                      maxSeqLen: 64, tiedEmbeddings: true, ropeTheta: 100000, normEps: 1e-5))
        func view(_ name: String, layer: Int? = nil) -> [Float] {
            let t = layout.tensor(named: name)!
            guard let layer else { return Array(ckpt.params[t.range]) }
            let size = t.count / c.nLayers
            return Array(ckpt.params[(t.offset + layer * size)..<(t.offset + (layer + 1) * size)])
        }
        let embed = view("tok_embeddings")
        XCTAssertEqual(Array(embed[0..<(V * d)]), values["token_embd.weight"])
        for j in 0..<d {
            let mean = (0..<V).map { Double(values["token_embd.weight"]![$0 * d + j]) }.reduce(0, +) / Double(V)
            for i in 0..<3 { XCTAssertEqual(Double(embed[(V + i) * d + j]), mean, accuracy: 1e-6) }
        }
        XCTAssertEqual(view("norm"), values["output_norm.weight"])
        for l in 0..<L {
            XCTAssertEqual(view("wq", layer: l), values["blk.\(l).attn_q.weight"])
            XCTAssertEqual(view("wk", layer: l), values["blk.\(l).attn_k.weight"])
            XCTAssertEqual(view("w1", layer: l), values["blk.\(l).ffn_gate.weight"])
            XCTAssertEqual(view("w2", layer: l), values["blk.\(l).ffn_down.weight"])
            XCTAssertEqual(view("w3", layer: l), values["blk.\(l).ffn_up.weight"])
            XCTAssertEqual(view("attention_norm", layer: l), values["blk.\(l).attn_norm.weight"])
        }
        let tok = try XCTUnwrap(ckpt.tokenizer)
        XCTAssertEqual(tok.tokens.suffix(4), ["t261", "<think>", "</think>", "<short>"])
        XCTAssertEqual(tok.tokenTypes.suffix(3), [4, 4, 4])
        XCTAssertEqual(tok.pre, "smollm")
        XCTAssertEqual(tok.bos, 1)
        XCTAssertEqual(tok.chatTemplate, "{{ messages }}")
        XCTAssertEqual(ckpt.source?.format, "gguf")
        XCTAssertEqual(ckpt.source?.sha256.count, 64)

        let out = temp("tiny-llama.h5")
        try ckpt.save(to: out)
        let back = try Checkpoint.load(from: out)
        XCTAssertEqual(back.config, c)
        XCTAssertEqual(back.params, ckpt.params)
        XCTAssertEqual(back.tokenizer, tok)
        XCTAssertEqual(back.source, ckpt.source)
    }

    /// Qwen2 GGUF keeps Hugging Face's half-split Q/K order: rows (and biases) are interleaved.
    func testQwen2ImportInterleavesQKAndKeepsBiases() throws {
        let (w, values) = tinyModel(arch: "qwen2", bias: true)
        let ckpt = try importing(w, "tiny-qwen2.gguf")
        XCTAssertTrue(ckpt.config.qkvBias)
        let layout = ParameterLayout(ckpt.config)
        let bq = layout.tensor(named: "bq")!, bv = layout.tensor(named: "bv")!, wk = layout.tensor(named: "wk")!
        XCTAssertEqual(Array(ckpt.params[bq.offset..<(bq.offset + d)]), Importer.interleave(values["blk.0.attn_q.bias"]!, heads: 2, headDim: 4))
        XCTAssertNotEqual(Array(ckpt.params[bq.offset..<(bq.offset + d)]), values["blk.0.attn_q.bias"]!)
        XCTAssertEqual(Array(ckpt.params[bv.offset..<(bv.offset + 4)]), values["blk.0.attn_v.bias"]!)
        XCTAssertEqual(Array(ckpt.params[wk.offset..<(wk.offset + 4 * d)]), Importer.interleave(values["blk.0.attn_k.weight"]!, heads: 1, headDim: 4))
    }

    /// Export to GGUF and import again: F32 is bit-exact (the control tokens are kept, not added
    /// twice); F16 equals each weight rounded to half, norms stay F32.
    func testGGUFExportRoundTrips() throws {
        let (w, _) = tinyModel(arch: "qwen2", bias: true)
        let ckpt = try importing(w, "rt-source.gguf")
        let f32 = temp("rt-f32.gguf"), f16 = temp("rt-f16.gguf")
        try GGUFExport.writer(ckpt, precision: .f32, name: "rt").write(to: f32)
        try GGUFExport.writer(ckpt, precision: .f16, name: "rt").write(to: f16)
        let back = try Importer.load(f32)
        XCTAssertEqual(back.config, ckpt.config)
        XCTAssertEqual(back.params, ckpt.params)
        XCTAssertEqual(back.tokenizer, ckpt.tokenizer)
        let file = try GGUFFile(path: f16)
        XCTAssertEqual(file.metadata["reckon.control_token_ids"], .array([.uint32(262), .uint32(263), .uint32(264)]))
        XCTAssertEqual(file.metadata["tokenizer.chat_template"], .string("{{ messages }}"))
        XCTAssertEqual(file.tensor(named: "blk.0.attn_q.weight")?.type, .f16)
        XCTAssertEqual(file.tensor(named: "blk.0.attn_q.bias")?.type, .f32)
        let half = try Importer.load(f16)
        let layout = ParameterLayout(ckpt.config)
        for t in layout.tensors {
            let matrix = t.shape.count == 3 || ["tok_embeddings", "wcls"].contains(t.name)
            let rounded = ckpt.params[t.range].map { matrix ? Dequantize.halfToFloat(GGUFWriter.floatToHalf($0)) : $0 }
            XCTAssertEqual(Array(half.params[t.range]), rounded, t.name)
        }
    }

    // MARK: One clear error per bad input

    func testTruncatedGGUF() throws {
        let (w, _) = tinyModel()
        let bytes = w.bytes()
        for cut in [3, 30, 400, bytes.count - 5] {
            let path = temp("cut-\(cut).gguf")
            try Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try Importer.load(path), "cut at \(cut)") { error in
                let e = error as! ImportError
                switch e {
                case .truncated, .notGGUF: XCTAssert(e.description.contains("truncated") || cut < 4, "\(cut): \(e)")
                default: XCTFail("cut at \(cut): \(e)")
                }
            }
        }
    }

    func testUnknownTensorType() throws {
        var (w, _) = tinyModel()
        w.tensors[1].rawType = 99
        try assertFails(w, "unknown-type.gguf") { $0 == .unknownTensorType(path: temp("unknown-type.gguf"), tensor: "output_norm.weight", type: 99) }
        var (w2, _) = tinyModel()
        w2.tensors[1].rawType = GGMLType.q2_K.rawValue
        try assertFails(w2, "q2k.gguf") { "\($0)".contains("Q2_K, which is not supported (supported: F32, F16, BF16, Q8_0") }
    }

    func testMissingTokenizer() throws {
        var (w, _) = tinyModel()
        w.metadata.removeAll { $0.0 == "tokenizer.ggml.tokens" }
        try assertFails(w, "no-tokens.gguf") { "\($0)".contains("no tokenizer: tokenizer.ggml.tokens is missing") }
        var (w2, _) = tinyModel()
        w2.metadata.removeAll { $0.0.hasPrefix("tokenizer.") }
        try assertFails(w2, "no-tokenizer.gguf") { if case .missingTokenizer = $0 { true } else { false } }
        var (w3, _) = tinyModel()
        w3.metadata = w3.metadata.map { $0.0 == "tokenizer.ggml.model" ? ($0.0, .string("llama")) : $0 }
        try assertFails(w3, "spm.gguf") { "\($0)".contains("SentencePiece") }
    }

    func testShapeDisagreeingWithMetadata() throws {
        var (w, _) = tinyModel()
        w.metadata = w.metadata.map { $0.0 == "llama.feed_forward_length" ? ($0.0, .uint32(16)) : $0 }
        try assertFails(w, "shape.gguf") { $0 == .shapeMismatch(path: temp("shape.gguf"), tensor: "blk.0.ffn_gate.weight", found: [12, 8], expected: [16, 8]) }
    }

    func testUnsupportedArchitecture() throws {
        let (w, _) = tinyModel(arch: "gemma2")
        try assertFails(w, "gemma.gguf") { "\($0)".hasSuffix("architecture \"gemma2\" is not supported (supported: llama, qwen2)") }
    }

    func testUnexpectedTensorIsRefused() throws {
        var (w, _) = tinyModel()
        w.add("blk.0.attn_output.bias", floats: [Float](repeating: 0, count: d), shape: [d])
        try assertFails(w, "extra.gguf") { $0 == .unexpectedTensor(path: temp("extra.gguf"), tensor: "blk.0.attn_output.bias") }
    }
}
