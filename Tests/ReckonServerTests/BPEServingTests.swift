import Foundation
@testable import ReckonModel
@testable import ReckonRuntime
import XCTest
@testable import ReckonServer

/// Serving a BPE checkpoint: prompts made by its tokenizer and chat template, plain
/// generation on a base without control tokens, and streamed text that never splits a character.
final class BPEServingTests: XCTestCase {
    /// The 256 byte tokens, "é" (C3 A9) as a merge, ChatML's markers and `<|endoftext|>`, and
    /// padding up to the byte models' 262 rows that a `ModelConfig` needs at least. No router tokens.
    static let spec: TokenizerSpec = {
        var tokens = (0..<256).map { String(ByteLevel.unicode[$0]) }
        tokens += ["\u{C3}\u{A9}", "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad0|>", "<|pad1|>"]
        let types = [Int32](repeating: TokenizerSpec.normal, count: 257) + [Int32](repeating: TokenizerSpec.control, count: 5)
        return TokenizerSpec(pre: "gpt2", tokens: tokens, merges: ["\u{C3} \u{A9}"], tokenTypes: types, bos: 257, eos: 259,
                             chatTemplate: ChatTemplate.chatmlSource)
    }()

    static func text() throws -> ModelText { try ModelText(bpe: spec) }

    func testPromptsComeFromTheModelsTokenizerAndTemplate() throws {
        let text = try Self.text()
        XCTAssertEqual(text.template?.kind, .chatml)
        let builder = RequestBuilder(config: ServerConfig(), contextLength: 128, text: text)
        let chat = try WireRequest.parse(Array(#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "café?"}]}"#.utf8))
        let prepared = try builder.build(chat, endpoint: .chat)
        // <|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\ncaf é ?<|im_end|>\n<|im_start|>assistant\n
        let expected: [Int32] = [258] + Array("system\nBe brief.".utf8).map(Int32.init) + [259, 10, 258] + Array("user\ncaf".utf8).map(Int32.init)
            + [256, 63, 259, 10, 258] + Array("assistant\n".utf8).map(Int32.init)
        XCTAssertEqual(prepared.request.prompt, expected)
        XCTAssertTrue(prepared.request.plain, "a base without control tokens generates plainly")
        let completion = try builder.build(try WireRequest.parse(Array(#"{"prompt": "<|im_start|>é"}"#.utf8)), endpoint: .completions)
        XCTAssertEqual(completion.request.prompt, Array("<|im_start|>".utf8).map(Int32.init) + [256], "raw text: markers stay text")
        XCTAssertTrue(completion.request.plain)
        XCTAssertThrowsError(try builder.build(try WireRequest.parse(Array(#"{"prompt": "x", "routing": "think"}"#.utf8)), endpoint: .completions)) {
            let e = $0 as? APIError
            XCTAssertEqual(e?.param, "routing")
            XCTAssertTrue(e?.message.contains("no <think>/<short> control tokens") == true, "\($0)")
        }
    }

    /// Bytes of one character arriving in separate BPE tokens go out together, once complete.
    func testSplitCharactersWaitForTheirLastByte() throws {
        var s = StreamText(stops: [], roles: try Self.text().roles)
        var deltas: [String] = []
        for t: Int32 in [0xE2, 0x82, 0xAC, 256, 33, 0xF0, 0x9F, 0x99, 0x82, 258] {
            deltas.append(s.accept(TokenEvent(id: "x", token: t, part: .answer)).content)
        }
        XCTAssertEqual(deltas, ["", "", "€", "é", "!", "", "", "", "🙂", ""])
        XCTAssertEqual(s.finish(), StreamText.Delta())
    }

    /// A live server on a tiny random model with the BPE vocabulary: chat completions use the
    /// template (the prompt's token count says so), and for several sampled answers the
    /// streamed deltas add up to the whole answer with no character broken between them.
    func testChatCompletionOnABPECheckpointStreamsWholeCharacters() async throws {
        let text = try Self.text()
        let config = ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 24, vocabSize: Self.spec.tokens.count, maxSeqLen: 128)
        let server = try await TestServer.start(model: try Transformer(config: config, seed: 3), text: text)
        let messages = #"[{"role": "user", "content": "Say café."}]"#
        let promptTokens = try text.chatPrompt([ChatMessage(role: "user", content: "Say café.")]).count
        var sawNonASCII = false
        for seed in 1...6 {
            let request = #"{"messages": \#(messages), "max_tokens": 40, "temperature": 1.0, "seed": \#(seed)"#
            let whole = try await server.post("/v1/chat/completions", request + "}").json()
            XCTAssertEqual((whole["usage"] as? [String: Any])?["prompt_tokens"] as? Int, promptTokens)
            XCTAssert(whole["mode"] is NSNull, "no control token on a plain base")
            let message = try XCTUnwrap(((whole["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])?["content"] as? String)
            let streamed = try await server.post("/v1/chat/completions", request + #", "stream": true}"#)
            XCTAssertEqual(streamed.status, 200)
            var deltas: [String] = []
            for frame in streamed.text.components(separatedBy: "\n\n") where frame.hasPrefix("data: {") {
                let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(frame.dropFirst(6).utf8)) as? [String: Any])
                if let c = ((o["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"] as? String { deltas.append(c) }
            }
            XCTAssertEqual(deltas.joined(), message, "seed \(seed)")
            // A character split between deltas would show as replacement characters the whole answer lacks.
            let broken = { (s: String) in s.unicodeScalars.filter { $0 == "\u{FFFD}" }.count }
            XCTAssertEqual(deltas.map(broken).reduce(0, +), broken(message), "seed \(seed)")
            sawNonASCII = sawNonASCII || message.unicodeScalars.contains { $0.value > 127 && $0 != "\u{FFFD}" }
        }
        XCTAssertTrue(sawNonASCII, "some answer holds a multi-byte character, so the check above had one to split")
        try await server.stop()
    }
}
