import ReckonModel
@testable import ReckonRuntime
import XCTest

/// A tiny byte-level BPE vocabulary: the 256 byte tokens, "é" (C3 A9) and "bc" as merges, the
/// ChatML markers and `<|endoftext|>` as control tokens, and optionally the router's tokens.
enum TinyBPE {
    static let e = Int32(256), bc = Int32(257), endOfText = Int32(258), imStart = Int32(259), imEnd = Int32(260)

    static func spec(controlTokens: Bool) -> TokenizerSpec {
        var tokens = (0..<256).map { String(ByteLevel.unicode[$0]) }
        tokens += ["\u{C3}\u{A9}", "bc", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        var types = [Int32](repeating: TokenizerSpec.normal, count: 258) + [TokenizerSpec.control, TokenizerSpec.control, TokenizerSpec.control]
        if controlTokens {
            tokens += ["<think>", "</think>", "<short>"]
            types += [TokenizerSpec.userDefined, TokenizerSpec.userDefined, TokenizerSpec.userDefined]
        }
        return TokenizerSpec(pre: "gpt2", tokens: tokens, merges: ["\u{C3} \u{A9}", "b c"], tokenTypes: types, bos: endOfText, eos: imEnd)
    }
}

/// A model that emits a fixed token sequence whatever the prompt.
struct FixedBackend: DecodeBackend {
    let vocabSize: Int
    let contextLength = 64
    let slots = 1
    let script: [Int32]
    private var generated = 0  // model calls so far: the prefill's gives token 0

    init(vocabSize: Int, script: [Int32]) {
        self.vocabSize = vocabSize
        self.script = script
    }

    mutating func step(_ rows: [DecodeRow]) throws -> [Float] {
        var out: [Float] = []
        for _ in rows {
            var l = [Float](repeating: -30, count: vocabSize)
            l[Int(script[min(generated, script.count - 1)])] = 0
            out += l
        }
        generated += 1
        return out
    }

    mutating func release(slot: Int) throws { generated = 0 }
    func flopsPerToken(context: Int) -> Double { 1 }
}

/// Plain generation (`--raw`, `--chat`, a base without control tokens) through the engine with
/// a BPE vocabulary: no control token, multi-byte tokens, stop strings inside a token.
final class PlainGenerationTests: XCTestCase {
    func run(_ script: [Int32], controlTokens: Bool = false, stop: [String] = [], plain: Bool = true) throws -> (RequestResult, [TokenEvent]) {
        let text = try ModelText(bpe: TinyBPE.spec(controlTokens: controlTokens), templateOverride: .chatml)
        var engine = try Engine(backend: FixedBackend(vocabSize: text.tokenizer.vocabSize, script: script),
                                config: EngineConfig(slots: 1), roles: text.roles)
        let refused = try engine.submit(Request(id: "p", prompt: try text.prompt("hi", style: .chat), stop: stop, plain: plain), now: 0)
        XCTAssertNil(refused)
        var events: [TokenEvent] = []
        for _ in 0..<20 {
            let report = try engine.step(now: 0)
            events += report.events
            if let r = report.finished.first { return (r, events) }
        }
        throw Unfinished()
    }

    /// A request still running after the whole script is a failure, not a skip.
    struct Unfinished: Error, CustomStringConvertible {
        var description: String { "the request did not finish within 20 steps" }
    }

    /// "€" arrives as three byte tokens, "é" as one merged token; `<|im_end|>` ends it.
    func testPlainAnswerIsEveryTokenUpToTheEnd() throws {
        let script: [Int32] = [0xE2, 0x82, 0xAC, TinyBPE.e, 33, TinyBPE.imEnd, 65]
        let (r, events) = try run(script)
        XCTAssertNil(r.mode)
        XCTAssertNil(r.pThink)
        XCTAssertEqual(r.tokens, Array(script.prefix(6)))
        XCTAssertEqual(r.answer, "€é!")
        XCTAssertEqual(r.answerTokens, 5)
        XCTAssertEqual(r.reasoningTokens, 0)
        XCTAssertEqual(r.finishReason, .stop)
        XCTAssertEqual(events.map(\.part), [.answer, .answer, .answer, .answer, .answer, .end])
        XCTAssertNotNil(r.firstToken)
    }

    /// `<|endoftext|>` ends a generation too; control tokens other than ends add no text.
    func testEndOfTextEndsAndMarkupAddsNoText() throws {
        let (r, _) = try run([72, TinyBPE.imStart, 105, TinyBPE.endOfText, 65])
        XCTAssertEqual(r.answer, "Hi")
        XCTAssertEqual(r.tokens.last, TinyBPE.endOfText)
    }

    /// A stop string that ends inside a multi-byte token is still found, and cut.
    func testStopStringInsideAToken() throws {
        let (r, _) = try run([97, TinyBPE.bc, 100, TinyBPE.imEnd], stop: ["b"])
        XCTAssertEqual(r.answer, "a")
        XCTAssertEqual(r.finishReason, .stop)
        XCTAssertEqual(r.tokens, [97, TinyBPE.bc])
        // "bcd" was just added: "bc" ends inside it; "a" ended before it (and was checked then).
        XCTAssertEqual(Engine<FixedBackend>.stopEnding(Array("xabcd".utf8), stops: [Array("bc".utf8), Array("a".utf8)], added: 3), 2)
        XCTAssertEqual(Engine<FixedBackend>.stopEnding(Array("xabcd".utf8), stops: [Array("cd".utf8), Array("abc".utf8)], added: 3), 1)
        XCTAssertNil(Engine<FixedBackend>.stopEnding(Array("xabcd".utf8), stops: [Array("xa".utf8)], added: 3))
        XCTAssertNil(Engine<FixedBackend>.stopEnding(Array("ab".utf8), stops: [Array("b".utf8)], added: 0))
    }

    /// Self-routing needs the control tokens; with them a BPE model routes as a byte model does.
    func testRoutingNeedsControlTokens() throws {
        XCTAssertThrowsError(try run([65], plain: false)) {
            XCTAssertTrue("\($0)".contains("no <think>/<short> control tokens"), "\($0)")
        }
        // <short> (263), "4", "2", <|im_end|>.
        let (r, events) = try run([263, 52, 50, TinyBPE.imEnd], controlTokens: true, plain: false)
        XCTAssertEqual(r.mode, .short)
        XCTAssertEqual(r.answer, "42")
        XCTAssertEqual(r.tokens, [263, 52, 50, TinyBPE.imEnd])
        XCTAssertEqual(events.first?.part, .control)
        // <think> "7" </think> "7" <|im_end|>: reasoning and answer split at </think>.
        let (t, _) = try run([261, 55, 262, 55, TinyBPE.imEnd], controlTokens: true, plain: false)
        XCTAssertEqual(t.mode, .think)
        XCTAssertEqual([t.reasoning, t.answer], ["7", "7"])
    }

    /// The byte models' roles are what the engine used before it read them from a tokenizer.
    func testByteRolesMatchTheByteTokenizer() {
        let roles = TokenRoles.bytes
        XCTAssertEqual(roles.control, Tokenizer().controlTokens)
        XCTAssertEqual(roles.textBytes.count, Tokenizer.vocabSize)
        for b in 0..<256 { XCTAssertEqual(roles.text(of: Int32(b)), [UInt8(b)]) }
        for s in 256..<Tokenizer.vocabSize { XCTAssertEqual(roles.text(of: Int32(s)), []) }
    }
}
