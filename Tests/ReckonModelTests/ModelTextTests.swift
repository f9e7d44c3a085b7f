import Foundation
import XCTest
@testable import ReckonModel

/// A checkpoint's text interface: the prompts of each style equal what transformers made for
/// SmolLM2 (tools/make_parity_reference.py's committed ids), and the token roles the engine
/// and the streamer read per token.
final class ModelTextTests: XCTestCase {
    struct Reference: Decodable {
        struct Prompt: Decodable { var kind: String; var text: String; var ids: [Int32] }
        var prompts: [Prompt]
    }

    func reference() throws -> Reference {
        let url = TokenizerFixtures.dir.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ReckonImportTests/Fixtures/smollm2_reference.json")
        return try JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }

    /// Raw prompts are the text's ids (SmolLM2 adds no BOS); chat prompts are the ChatML
    /// rendering with SmolLM2's default system prompt, as `apply_chat_template` made them.
    func testSmolLM2PromptsEqualTransformers() throws {
        let text = try ModelText(bpe: TokenizerFixtures.smollm2.get())
        XCTAssertEqual(text.template?.kind, .chatml)
        let ref = try reference()
        XCTAssertEqual(ref.prompts.filter { $0.kind == "plain" }.count, 12)
        XCTAssertEqual(ref.prompts.filter { $0.kind == "chat" }.count, 8)
        for p in ref.prompts {
            switch p.kind {
            case "plain": XCTAssertEqual(try text.prompt(p.text, style: .raw), p.ids, p.text)
            default:
                XCTAssertEqual(try text.prompt(p.text, style: .chat), p.ids, p.text)
                // With the control tokens, the routed prompt is the same rendering: the model
                // then answers with <think> or <short> where the plain chat answers directly.
                XCTAssertEqual(try text.prompt(p.text, style: .routed), p.ids, p.text)
            }
        }
    }

    func testSmolLM2TokenRoles() throws {
        let spec = try TokenizerFixtures.smollm2.get()
        let roles = try ModelText(bpe: spec).roles
        let id = { (s: String) in Int32(try XCTUnwrap(spec.tokens.firstIndex(of: s))) }
        let (endOfText, imStart, imEnd) = (try id("<|endoftext|>"), try id("<|im_start|>"), try id("<|im_end|>"))
        XCTAssertEqual(spec.eos, imEnd)
        XCTAssertEqual(Set(roles.ends), [endOfText, imEnd])
        XCTAssertEqual(roles.control, ControlTokens(think: 49_152, endThink: 49_153, short: 49_154))
        XCTAssertEqual(roles.excludedPlain, [49_152, 49_153, 49_154])
        XCTAssertEqual(roles.excludedRouted, [49_152, 49_154])
        // Markup adds no text; a normal token adds its bytes ("Ġcapital" is " capital").
        for special in [imStart, imEnd, endOfText, 49_152, 49_153, 49_154] { XCTAssertEqual(roles.text(of: special), [], "\(special)") }
        XCTAssertEqual(roles.text(of: try id("Ġcapital")), Array(" capital".utf8))
        XCTAssertEqual(roles.textBytes.count, spec.tokens.count)
        XCTAssertEqual(roles.text(of: -1), [])
    }

    /// A plain base has no control tokens: raw and chat work, self-routing is a clear error.
    func testPlainBaseCannotRouteItself() throws {
        var spec = try TokenizerFixtures.smollm2.get()
        spec.tokens.removeLast(3)
        spec.tokenTypes.removeLast(3)
        let text = try ModelText(bpe: spec)
        XCTAssertNil(text.roles.control)
        XCTAssertEqual(text.roles.excludedPlain, [])
        XCTAssertEqual(try text.prompt("Hi", style: .raw), [26_843])
        XCTAssertNoThrow(try text.prompt("Hi", style: .chat))
        XCTAssertThrowsError(try text.prompt("Hi", style: .routed)) {
            XCTAssertEqual($0 as? PromptError, .noControlTokens)
            XCTAssertTrue("\($0)".contains("--raw or --chat"), "\($0)")
        }
        // No recognised template: chat is the error, raw still works.
        spec.chatTemplate = "{{ messages }}"
        let odd = try ModelText(bpe: spec)
        XCTAssertThrowsError(try odd.prompt("Hi", style: .chat)) {
            XCTAssertTrue("\($0)".hasPrefix("unrecognised chat template"), "\($0)")
        }
        XCTAssertEqual(try odd.prompt("Hi", style: .raw), [26_843])
        XCTAssertEqual(try ModelText(bpe: spec, templateOverride: .chatml).prompt("Hi", style: .chat).count,
                       try text.tokenizer.encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", parseSpecials: true).count)
    }

    func testByteModelsKeepTheirFormat() throws {
        let text = ModelText.bytes()
        XCTAssertEqual(try text.prompt("2+3", style: .routed), PromptFormat.prompt("2+3"))
        XCTAssertEqual(try text.prompt("2+3", style: .raw), [Tokenizer.bos, 50, 43, 51])
        XCTAssertThrowsError(try text.prompt("2+3", style: .chat)) { XCTAssertEqual($0 as? PromptError, .template(.noChatTemplate)) }
        XCTAssertEqual(text.roles.ends, [Tokenizer.eos])
        XCTAssertEqual(text.roles.excludedRouted, Tokenizer.outsideAnswers)
        XCTAssertEqual(Set(text.roles.excludedPlain), [Tokenizer.pad, Tokenizer.bos, Tokenizer.think, Tokenizer.endThink, Tokenizer.short])
        XCTAssertEqual(text.roles.text(of: 0xC3), [0xC3])
        XCTAssertEqual(text.roles.text(of: Tokenizer.eos), [])
        XCTAssertEqual(try text.routedChatPrompt([ChatMessage(role: "user", content: "a"), ChatMessage(role: "assistant", content: "b")]),
                       PromptFormat.prompt("a"))
    }
}
