import Foundation
import XCTest
import ReckonCore
import ReckonModel
@testable import ReckonCheckpoint

/// Reads the exported llama2.c files back with an independent little parser.
final class ExportTests: XCTestCase {
    struct V0File {
        var header: [Int32]
        var floats: [Float]
    }

    func readV0(_ path: String) throws -> V0File {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let words = stride(from: 0, to: data.count - 3, by: 4).map { i in
            UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
        }
        XCTAssertEqual(data.count % 4, 0)
        return V0File(header: words.prefix(7).map { Int32(bitPattern: $0) }, floats: words.dropFirst(7).map { Float(bitPattern: $0) })
    }

    /// The size run.c's memory_map_weights walks for this header, worked out from §11 directly.
    func impliedSize(_ h: [Int32]) -> Int {
        let d = Int(h[0]), F = Int(h[1]), L = Int(h[2]), H = Int(h[3]), Hkv = Int(h[4]), V = abs(Int(h[5])), T = Int(h[6])
        let hs = d / H, kvd = Hkv * hs
        var n = V * d                                  // tok_embeddings
        n += L * d                                     // attention_norm
        n += L * d * d + 2 * L * kvd * d + L * d * d   // wq, wk, wv, wo
        n += L * d                                     // ffn_norm
        n += 3 * L * F * d                             // w1, w2, w3
        n += d                                         // norm
        n += 2 * T * hs / 2                            // freq_cis_real, freq_cis_imag
        if h[5] < 0 { n += V * d }                     // wcls
        return 28 + 4 * n
    }

    func testV0FileMatchesHeaderAndCheckpoint() throws {
        let dir = try Fixture.directory(self)
        let ckpt = try Fixture.checkpoint()
        let c = ckpt.config
        try Llama2cExport.export(ckpt, model: dir + "/m.bin", tokenizer: dir + "/t.bin")
        let v0 = try readV0(dir + "/m.bin")
        XCTAssertEqual(v0.header, [16, 32, 2, 4, 2, -262, 8], "untied: negative vocab_size")
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: dir + "/m.bin")[.size] as? Int)
        XCTAssertEqual(size, impliedSize(v0.header))
        XCTAssertEqual(size, Llama2cExport.expectedSize(dim: 16, hiddenDim: 32, nLayers: 2, nHeads: 4, nKVHeads: 2,
                                                         vocabSize: -262, maxSeqLen: 8))

        // Walk the file in §11 order and compare with the checkpoint, undoing the id swap.
        let layout = ParameterLayout(c)
        var at = 0
        func take(_ n: Int) -> [Float] { defer { at += n }; return Array(v0.floats[at..<(at + n)]) }
        func unpermuted(_ rows: [Float]) -> [Float] {
            (0..<c.vocabSize).flatMap { ours in rows[(Llama2cExport.llamaID(ours) * c.dim)..<((Llama2cExport.llamaID(ours) + 1) * c.dim)] }
        }
        for t in layout.tensors where t.name != "wcls" {
            var values = take(t.count)
            if t.name == "tok_embeddings" { values = unpermuted(values) }
            XCTAssertEqual(values.map(\.bitPattern), ckpt.params[t.range].map(\.bitPattern), t.name)
        }
        let rope = RoPETable(headDim: c.headDim, maxSeqLen: c.maxSeqLen, theta: c.ropeTheta)
        XCTAssertEqual(take(c.maxSeqLen * c.headDim / 2), rope.cos)
        XCTAssertEqual(take(c.maxSeqLen * c.headDim / 2), rope.sin)
        let wcls = try XCTUnwrap(layout.tensor(named: "wcls"))
        XCTAssertEqual(unpermuted(take(wcls.count)).map(\.bitPattern), ckpt.params[wcls.range].map(\.bitPattern))
        XCTAssertEqual(at, v0.floats.count, "nothing after wcls")

        // The swap really moved rows: llama2.c row 1 is our <bos> embedding.
        let bosRow = Array(v0.floats[(1 * c.dim)..<(2 * c.dim)])
        XCTAssertEqual(bosRow, Array(ckpt.params[(257 * c.dim)..<(258 * c.dim)]))
    }

    func testTiedModelHasPositiveVocabAndNoClassifier() throws {
        let dir = try Fixture.directory(self)
        var config = Fixture.config
        config.tiedEmbeddings = true
        try Llama2cExport.export(try Fixture.checkpoint(config: config), model: dir + "/m.bin", tokenizer: dir + "/t.bin")
        let v0 = try readV0(dir + "/m.bin")
        XCTAssertEqual(v0.header[5], 262)
        XCTAssertEqual(28 + 4 * v0.floats.count, impliedSize(v0.header))
    }

    /// With the permuted tables, the model run on llama2.c ids gives the same logits, permuted.
    func testPermutedWeightsComputeTheSameModel() throws {
        let dir = try Fixture.directory(self)
        let ckpt = try Fixture.checkpoint()
        try Llama2cExport.export(ckpt, model: dir + "/m.bin", tokenizer: dir + "/t.bin")
        let v0 = try readV0(dir + "/m.bin")
        let c = ckpt.config, layout = ParameterLayout(c)
        let ropeCount = c.maxSeqLen * c.headDim
        let wcls = try XCTUnwrap(layout.tensor(named: "wcls"))
        let exported = Array(v0.floats[0..<wcls.offset]) + Array(v0.floats[(wcls.offset + ropeCount)...])
        let ours = try ckpt.model(), theirs = try Transformer(config: c, params: exported)

        let tokens: [Int32] = [257, 1, 72, 105, 258, 10, 1, 257]
        var a = try Activations(config: c, batch: 1, seqLen: 8), b = a
        try a.setBatch(tokens: tokens, targets: tokens)
        let mapped = tokens.map { Int32(Llama2cExport.llamaID(Int($0))) }
        try b.setBatch(tokens: mapped, targets: mapped)
        ours.forward(&a)
        theirs.forward(&b)
        for row in 0..<8 {
            let la = Array(a.logits(row: row)), lb = Array(b.logits(row: row))
            for id in 0..<c.vocabSize {
                XCTAssertEqual(la[id], lb[Llama2cExport.llamaID(id)], accuracy: 1e-5)
            }
        }
    }

    func testTokenizerFile() throws {
        let bytes = Llama2cExport.tokenizerFile(vocabSize: 262)
        var at = 0
        func u32() -> UInt32 {
            defer { at += 4 }
            return (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) }
        }
        XCTAssertEqual(u32(), 8, "max_token_length is </think>")
        var tokens: [String] = []
        for _ in 0..<262 {
            XCTAssertEqual(Float(bitPattern: u32()), 0)
            let n = Int(Int32(bitPattern: u32()))
            tokens.append(String(decoding: bytes[at..<(at + n)], as: UTF8.self))
            at += n
        }
        XCTAssertEqual(at, bytes.count)
        XCTAssertEqual(tokens[1], "<bos>", "llama2.c BOS = 1")
        XCTAssertEqual(tokens[257], "<0x01>", "byte 0x01 took <bos>'s place")
        XCTAssertEqual(tokens[0], "<0x00>")
        XCTAssertEqual(tokens[10], "<0x0A>")
        XCTAssertEqual(tokens[32], " ", "run.c's dummy prefix looks up a literal space")
        XCTAssertEqual(tokens[65], "A")
        XCTAssertEqual(tokens[0xE9], "<0xE9>")
        XCTAssertEqual(Array(tokens[256...]), ["<pad>", "<0x01>", "<eos>", "<think>", "</think>", "<short>"])
        XCTAssertEqual(Set(tokens).count, 262, "token strings are unique, so run.c's lookup is unambiguous")
    }

    func testRefusesWhatRunCCannotExpress() throws {
        let dir = try Fixture.directory(self)
        var eps = try Fixture.checkpoint()
        eps.config.normEps = 1e-6
        let out = dir + "/m.bin"
        Fixture.assertError(out, ["eps", "1e-05"], { try Llama2cExport.export(eps, model: out, tokenizer: dir + "/t.bin") }) {
            if case .exportUnsupported = $0 { true } else { false }
        }
        var theta = try Fixture.checkpoint()
        theta.config.ropeTheta = 500_000
        Fixture.assertError(out, ["theta", "10000"], { try Llama2cExport.export(theta, model: out, tokenizer: dir + "/t.bin") }) {
            if case .exportUnsupported = $0 { true } else { false }
        }
        var nan = try Fixture.checkpoint()
        nan.params[ParameterLayout(nan.config).w1 + 3] = .nan
        Fixture.assertError(out, ["w1", "non-finite"], { try Llama2cExport.export(nan, model: out, tokenizer: dir + "/t.bin") }) {
            if case .exportUnsupported = $0 { true } else { false }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written on refusal")
    }
}
