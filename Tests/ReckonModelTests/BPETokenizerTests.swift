import XCTest
import Foundation
import ReckonCore
@testable import ReckonModel

/// Fixtures written by tools/tokenizer_reference.py from Hugging Face `tokenizers`.
enum TokenizerFixtures {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func data(_ name: String) throws -> Data { try Data(contentsOf: dir.appendingPathComponent(name)) }

    static func spec(_ name: String, config: String? = nil) throws -> TokenizerSpec {
        try TokenizerSpec.fromHuggingFace(tokenizerJSON: data(name), config: config.map { try data($0) })
    }

    /// SmolLM2-135M-Instruct's tokenizer with `<think>`, `</think>`, `<short>` appended.
    static let smollm2: Result<TokenizerSpec, Error> = Result {
        try spec("smollm2-tokenizer.json", config: "smollm2-tokenizer_config.json")
    }

    struct Row: Decodable {
        var text: String
        var smollm, smollm_plain, gguf_transformers, llama3, llama3_plain, qwen2, qwen2_plain: [Int32]
    }

    static let corpus: Result<[Row], Error> = Result { try JSONDecoder().decode([Row].self, from: data("tokenizer-corpus.json")) }
}

final class BPETokenizerTests: XCTestCase {
    /// Encodes every corpus string both ways, compares with HF, and checks the round trip.
    private func checkParity(_ tok: BPETokenizer, parsed: KeyPath<TokenizerFixtures.Row, [Int32]>,
                             plain: KeyPath<TokenizerFixtures.Row, [Int32]>?, file: StaticString = #filePath, line: UInt = #line) throws {
        let rows = try TokenizerFixtures.corpus.get()
        XCTAssertGreaterThanOrEqual(rows.count, 2000, file: file, line: line)
        var failures = 0, lossy = 0
        for row in rows {
            var cases = [(true, row[keyPath: parsed])]
            if let plain { cases.append((false, row[keyPath: plain])) }
            for (parse, expected) in cases {
                let ids = tok.encode(row.text, parseSpecials: parse)
                if ids != expected {
                    failures += 1
                    if failures <= 5 {
                        XCTFail("\(tok.spec.pre) parseSpecials=\(parse) \(row.text.debugDescription): \(ids) != HF \(expected)", file: file, line: line)
                    }
                }
                if tok.represents(row.text) {
                    XCTAssertEqual(try tok.decode(ids), row.text, "round trip", file: file, line: line)
                } else {
                    lossy += 1
                }
            }
        }
        XCTAssertEqual(failures, 0, "\(failures) of \(rows.count) strings differ from HF", file: file, line: line)
        // Only the strings with a byte the vocabulary lacks skip the round trip.
        XCTAssertLessThanOrEqual(lossy, 2 * rows.count / 100, file: file, line: line)
    }

    func testSmolLM2MatchesHuggingFaceOnCorpus() throws {
        let spec = try TokenizerFixtures.smollm2.get()
        XCTAssertEqual(spec.pre, "smollm")
        XCTAssertEqual(spec.tokens.count, 49_155)
        XCTAssertEqual(spec.merges.count, 48_900)
        XCTAssertEqual(spec.bos, 1)
        XCTAssertEqual(spec.eos, 2)
        XCTAssertFalse(spec.addBos)
        let tok = try BPETokenizer(spec: spec)
        try checkParity(tok, parsed: \.smollm, plain: \.smollm_plain)
        // The vocabulary lacks 21 bytes; like HF, encoding drops them ("a\u{4}b" is HF's [81, 82]).
        XCTAssertEqual(tok.missingBytes, [4, 6, 19, 20, 22, 29, 192, 193, 241, 242] + (245...255).map { UInt8($0) })
        XCTAssertEqual(tok.encode("a\u{4}b"), [81, 82])
        XCTAssertFalse(tok.represents("a\u{4}b"))
        XCTAssertTrue(tok.represents("héllo 你好 🎉"))
        XCTAssertEqual(tok.encode("Hello world 12345 <|im_start|> héllo 你好 🎉", parseSpecials: true),
                       [19556, 905, 216, 33, 34, 35, 36, 37, 216, 1, 294, 2756, 31394, 216, 18645, 250, 48392, 138, 15107, 232, 227])
    }

    /// transformers reads the GGUF with GPT-2's split alone; our gpt2 scanner gives its ids.
    func testGPT2SplitMatchesTransformersGGUFReading() throws {
        var spec = try TokenizerFixtures.smollm2.get()
        spec.pre = "gpt2"
        spec.tokens.removeLast(3)
        spec.tokenTypes.removeLast(3)
        try checkParity(BPETokenizer(spec: spec), parsed: \.gguf_transformers, plain: nil)
    }

    func testLlama3StyleMatchesHuggingFaceOnCorpus() throws {
        let spec = try TokenizerFixtures.spec("llama3-style-tokenizer.json")
        XCTAssertEqual(spec.pre, "llama-bpe")
        try checkParity(BPETokenizer(spec: spec), parsed: \.llama3, plain: \.llama3_plain)
    }

    func testQwen2StyleMatchesHuggingFaceOnCorpus() throws {
        let spec = try TokenizerFixtures.spec("qwen2-style-tokenizer.json")
        XCTAssertEqual(spec.pre, "qwen2")
        try checkParity(BPETokenizer(spec: spec), parsed: \.qwen2, plain: \.qwen2_plain)
    }

    /// Splits worked out by hand from each regex.
    func testPreTokenizerSplitsByHand() {
        func pieces(_ p: PreTokenizer, _ s: String) -> [String] {
            let u = Array(s.unicodeScalars)
            return p.split(u).map { r in var v = String.UnicodeScalarView(); v.append(contentsOf: u[r]); return String(v) }
        }
        XCTAssertEqual(pieces(.gpt2, "hello  world"), ["hello", " ", " world"])
        XCTAssertEqual(pieces(.gpt2, "a  1"), ["a", " ", " 1"])
        XCTAssertEqual(pieces(.smollm, "a  1"), ["a", "  ", "1"])
        XCTAssertEqual(pieces(.smollm, "x 123"), ["x", " ", "1", "2", "3"])
        XCTAssertEqual(pieces(.gpt2, "it's 'S ok!?\n\n"), ["it", "'s", " '", "S", " ok", "!?", "\n\n"])
        XCTAssertEqual(pieces(.llama3, "it's 'S 12345 (hi)\n\n  x"), ["it", "'s", " '", "S", " ", "123", "45", " (", "hi", ")\n\n", " ", " x"])
        XCTAssertEqual(pieces(.llama3, "we'RE 'll"), ["we", "'RE", " '", "ll"])
        XCTAssertEqual(pieces(.qwen2, "v12 \t\n y"), ["v", "1", "2", " \t\n", " y"])
    }

    /// A four-token-merge vocabulary, encoded by hand: "abcab" -> "abc" "ab".
    func testMergesApplyByRank() throws {
        var tokens = (0..<256).map { String(ByteLevel.unicode[$0]) }
        tokens += ["ab", "bc", "abc", "<ctl>"]
        let spec = TokenizerSpec(pre: "gpt2", tokens: tokens, merges: ["a b", "ab c", "b c"],
                                 tokenTypes: [Int32](repeating: 1, count: 259) + [3])
        let tok = try BPETokenizer(spec: spec)
        XCTAssertEqual(tok.encode("abcab"), [258, 256])
        // "bc" ranks below "a b", so "abc" merges a+b first and never forms "bc".
        XCTAssertEqual(tok.encode("bcab"), [257, 256])
        XCTAssertEqual(tok.encode("<ctl>x", parseSpecials: true), [259, 120])
        XCTAssertEqual(tok.encode("<ctl>", parseSpecials: false), [60, 99, 116, 108, 62])
        XCTAssertEqual(try tok.decode([259, 258, 32]), "<ctl>abc ")
        XCTAssertThrowsError(try tok.decode([260])) { XCTAssertEqual($0 as? ModelError, .tokenOutOfRange(id: 260, vocabSize: 260)) }
    }

    /// Long pieces merge through a heap, short ones by rescanning; both give the same ids.
    func testHeapMergeEqualsScanMerge() throws {
        let tok = try BPETokenizer(spec: TokenizerFixtures.smollm2.get())
        var rng = RNG(seed: 22)
        let alphabet = Array("etaoinshrdlu 的是不了人我在有他这ééñ'…—!?0123456789\n\t")
        for _ in 0..<300 {
            let n = 2 + Int(rng.uniform() * 120)
            let text = String((0..<n).map { _ in alphabet[min(alphabet.count - 1, Int(rng.uniform() * Float(alphabet.count)))] })
            let sym = tok.byteSymbols(Array(text.utf8))
            XCTAssertEqual(tok.mergeByHeap(sym), tok.mergeByScan(sym), text.debugDescription)
        }
    }

    /// The router's first token on a real vocabulary: `<think>`/`<short>` are control tokens,
    /// user text cannot produce them, and the sampler's restricted draw returns one of them.
    func testControlTokensOnRealVocabulary() throws {
        let tok = try BPETokenizer(spec: TokenizerFixtures.smollm2.get())
        let ctl = try XCTUnwrap(tok.controlTokens)
        XCTAssertEqual(ctl, ControlTokens(think: 49_152, endThink: 49_153, short: 49_154))
        XCTAssertEqual(tok.encode("<think>2+2</think>", parseSpecials: true).first, ctl.think)
        XCTAssertFalse(tok.encode("<think><short>").contains { $0 >= 49_152 })
        var rng = RNG(seed: 7)
        var logits = [Float](repeating: 0, count: tok.vocabSize)
        for i in logits.indices { logits[i] = Float(i % 97) * 0.1 }
        logits[Int(ctl.short)] = -1
        logits[Int(ctl.think)] = -0.5
        XCTAssertEqual(try Sampler.sample(logits[...], params: .greedy, allowed: ctl.firstToken, rng: &rng), ctl.think)
        for _ in 0..<20 {
            let t = try Sampler.sample(logits[...], params: SamplingParams(temperature: 1), allowed: ctl.firstToken, rng: &rng)
            XCTAssertTrue(ctl.firstToken.contains(t))
        }
        XCTAssertEqual(Tokenizer().controlTokens?.firstToken, [Tokenizer.think, Tokenizer.short])
        // Recorded as user-defined (type 4), they still need parseSpecials.
        var spec = try TokenizerFixtures.smollm2.get()
        spec.tokenTypes[Int(ctl.think)] = TokenizerSpec.userDefined
        let typed4 = try BPETokenizer(spec: spec)
        XCTAssertFalse(typed4.encode("<think>").contains(ctl.think))
        XCTAssertEqual(typed4.encode("<think>", parseSpecials: true), [ctl.think])
    }

    func testUnsupportedInputsAreClearErrors() throws {
        XCTAssertThrowsError(try BPETokenizer.checkGGUFModel("llama")) {
            XCTAssertTrue("\($0)".contains("SentencePiece"), "\($0)")
        }
        XCTAssertNoThrow(try BPETokenizer.checkGGUFModel("gpt2"))
        var spec = try TokenizerFixtures.smollm2.get()
        spec.pre = "falcon"
        XCTAssertThrowsError(try BPETokenizer(spec: spec)) {
            XCTAssertEqual("\($0)", "unsupported pre-tokenizer \"falcon\"; supported: gpt2, smollm, llama-bpe, qwen2")
        }
        let unigram = Data(#"{"model":{"type":"Unigram","vocab":[["a",0.0]]}}"#.utf8)
        XCTAssertThrowsError(try TokenizerSpec.fromHuggingFace(tokenizerJSON: unigram)) {
            XCTAssertEqual($0 as? TokenizerError, .unsupportedModel("tokenizer.json model Unigram; only byte-level BPE is supported"))
        }
        let spBPE = Data(#"{"model":{"type":"BPE","byte_fallback":true,"vocab":{},"merges":[]}}"#.utf8)
        XCTAssertThrowsError(try TokenizerSpec.fromHuggingFace(tokenizerJSON: spBPE))
        XCTAssertThrowsError(try TokenizerSpec.fromHuggingFace(tokenizerJSON: Data("{".utf8))) {
            XCTAssertTrue("\($0)".hasPrefix("invalid tokenizer.json"), "\($0)")
        }
        let badMerge = TokenizerSpec(pre: "gpt2", tokens: (0..<256).map { String(ByteLevel.unicode[$0]) }, merges: ["a b"],
                                     tokenTypes: [Int32](repeating: 1, count: 256))
        XCTAssertThrowsError(try BPETokenizer(spec: badMerge)) {
            XCTAssertEqual($0 as? TokenizerError, .invalidSpec("merge 0 \"a b\" does not join two tokens into a third"))
        }
    }
}
