import XCTest
import Foundation

/// `reckon tokenize` on the committed SmolLM2 tokenizer (tools/tokenizer_reference.py).
final class TokenizeCommandTests: XCTestCase {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../ReckonModelTests/Fixtures").standardized

    func testTextChatAndErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tokenize-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tok = fixtures.appendingPathComponent("smollm2-tokenizer.json").path
        let config = fixtures.appendingPathComponent("smollm2-tokenizer_config.json").path

        // HF tokenizers' ids for this text (the first row of the corpus check in tools/).
        var r = try CLI().run(["tokenize", "--tokenizer", tok, "--text", "Hello world 12345 <|im_start|> héllo 你好 🎉", "--parse-specials"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output, "19556 905 216 33 34 35 36 37 216 1 294 2756 31394 216 18645 250 48392 138 15107 232 227\n")

        // The model's ChatML with its default system prompt, then the llama3 override's markers are plain text.
        let conv = dir.appendingPathComponent("conv.json")
        try Data(#"[{"role": "user", "content": "Hi"}]"#.utf8).write(to: conv)
        r = try CLI().run(["tokenize", "--tokenizer", tok, "--config", config, "--messages", conv.path], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.hasPrefix("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"), r.output)
        // Ids from HF tokenizers on transformers' rendering of the same conversation.
        XCTAssertTrue(r.output.hasSuffix("<|im_start|>assistant\n1 9690 198 2683 359 253 5356 5646 11173 3365 3511 308 34519 28 7018 411 407 19712 8182 2 198 1 4093 198 26843 2 198 1 520 9531 198\n"),
                      r.output)
        r = try CLI().run(["tokenize", "--tokenizer", tok, "--messages", conv.path], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.output.contains("the model has no chat template; pass --chat-template chatml|llama3|none"), r.output)
        r = try CLI().run(["tokenize", "--tokenizer", tok, "--messages", conv.path, "--chat-template", "none"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(r.output, "Hi26843\n", "rendering \"Hi\" on stderr, then its ids")
        r = try CLI().run(["tokenize", "--tokenizer", tok, "--messages", conv.path, "--chat-template", "jinja"], in: dir)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("chatml"), r.output)

        let bad = dir.appendingPathComponent("bad.json")
        try Data(#"{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"pre_tokenizer":{"type":"Metaspace"}}"#.utf8).write(to: bad)
        r = try CLI().run(["tokenize", "--tokenizer", bad.path, "--text", "a"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.output.split(separator: "\n").first.map(String.init),
                       "error: \(bad.path): unsupported pre-tokenizer \"Metaspace\"; supported: gpt2, smollm, llama-bpe, qwen2")
    }
}
