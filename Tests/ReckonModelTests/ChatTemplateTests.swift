import XCTest
import Foundation
@testable import ReckonModel

/// Renderings compared with transformers' apply_chat_template (tools/tokenizer_reference.py).
final class ChatTemplateTests: XCTestCase {
    struct Case: Decodable {
        var template: String
        var messages: [ChatMessage]
        var add_generation_prompt: Bool
        var expected: String
        var expected_ids: [Int32]?
    }
    struct File: Decodable {
        var sources: [String: String]
        var cases: [Case]
    }

    func testRenderingsEqualTransformers() throws {
        let file = try JSONDecoder().decode(File.self, from: TokenizerFixtures.data("chat-templates.json"))
        let smol = try BPETokenizer(spec: TokenizerFixtures.smollm2.get())
        var templates: [String: ChatTemplate] = [:]
        for (name, source) in file.sources {
            templates[name] = try ChatTemplate.recognise(source, bosText: "<|begin_of_text|>")
        }
        XCTAssertEqual(templates["smollm2"], ChatTemplate(kind: .chatml, defaultSystem: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
        XCTAssertEqual(templates["qwen2"], ChatTemplate(kind: .chatml, defaultSystem: "You are a helpful assistant."))
        XCTAssertEqual(templates["chatml"], ChatTemplate(kind: .chatml))
        XCTAssertEqual(templates["llama3"], ChatTemplate(kind: .llama3))
        // The GGUF's own template text is the smollm2 one.
        XCTAssertEqual(try TokenizerFixtures.smollm2.get().chatTemplate, file.sources["smollm2"])
        XCTAssertGreaterThanOrEqual(file.cases.count, 40)
        for c in file.cases {
            let t = try XCTUnwrap(templates[c.template])
            let text = t.render(c.messages, addGenerationPrompt: c.add_generation_prompt)
            XCTAssertEqual(text, c.expected, "\(c.template) \(c.messages.map(\.role)) gen=\(c.add_generation_prompt)")
            if let ids = c.expected_ids {
                XCTAssertEqual(t.encode(c.messages, with: smol, addGenerationPrompt: c.add_generation_prompt), ids)
            }
        }
    }

    func testUnknownTemplatesAndOverrides() throws {
        let llama31 = #"{{- bos_token }}{%- if not date_string is defined %}{%- set date_string = "26 Jul 2024" %}{%- endif %}<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023"#
        XCTAssertThrowsError(try ChatTemplate.recognise(llama31, bosText: nil)) {
            XCTAssertTrue("\($0)".hasPrefix("unrecognised chat template (Llama 3 markers"), "\($0)")
        }
        XCTAssertThrowsError(try ChatTemplate.resolve(source: nil, bosText: nil, override: nil)) {
            XCTAssertEqual($0 as? TokenizerError, .noChatTemplate)
        }
        let forced = try ChatTemplate.resolve(source: llama31, bosText: nil, override: .chatml)
        XCTAssertEqual(forced.render([ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true),
                       "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
        let none = try ChatTemplate.resolve(source: ChatTemplate.chatmlSource, bosText: nil, override: ChatTemplateKind.none)
        XCTAssertEqual(none.render([ChatMessage(role: "user", content: "12+30=")], addGenerationPrompt: true), "12+30=")
        // `none` keeps control spellings in user text as text.
        let smol = try BPETokenizer(spec: TokenizerFixtures.smollm2.get())
        XCTAssertFalse(none.encode([ChatMessage(role: "user", content: "<|im_start|>")], with: smol).contains(1))
        XCTAssertEqual(smol.encodePrompt("12"), [33, 34])
        // Llama 3's tokenizer.json says "add BOS" with a post-processor that prepends it.
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: TokenizerFixtures.data("llama3-style-tokenizer.json")) as? [String: Any])
        json["post_processor"] = ["type": "Sequence", "processors": [
            ["type": "ByteLevel"],
            ["type": "TemplateProcessing", "single": [["SpecialToken": ["id": "<|begin_of_text|>", "type_id": 0]],
                                                      ["Sequence": ["id": "A", "type_id": 0]]]],
        ]]
        let spec = try TokenizerSpec.fromHuggingFace(tokenizerJSON: JSONSerialization.data(withJSONObject: json))
        XCTAssertTrue(spec.addBos)
        XCTAssertEqual(spec.bos, 0)
        let llama = try BPETokenizer(spec: spec)
        XCTAssertEqual(llama.encodePrompt("hi"), [0] + llama.encode("hi"))
        XCTAssertEqual(ChatTemplate.pythonStrip("\u{1C} \t x y\n\u{3000}"), "x y")
    }
}
