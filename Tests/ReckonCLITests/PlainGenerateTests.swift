import Foundation
import XCTest

/// `reckon generate --raw` / `--chat` on an imported BPE checkpoint: the tiny random Llama
/// (Tests/ReckonImportTests/Fixtures/tiny-llama), whose greedy continuations transformers
/// committed (tiny-llama_reference.json), 32 tokens each.
final class PlainGenerateTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ReckonImportTests/Fixtures")

    func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-plain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func lines(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func testRawGreedyEqualsTransformersAndChatNeedsATemplate() throws {
        let dir = try tempDir()
        var r = try CLI().run(["import", Self.fixtures.appendingPathComponent("tiny-llama").path, "tiny.h5"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)

        let refData = try Data(contentsOf: Self.fixtures.appendingPathComponent("tiny-llama_reference.json"))
        let ref = try XCTUnwrap(try JSONSerialization.jsonObject(with: refData) as? [String: Any])
        let prompts = try XCTUnwrap(ref["prompts"] as? [[String: Any]])
        let steps = try XCTUnwrap(ref["greedy_steps"] as? Int)
        let input = try prompts.enumerated().map { i, p in
            String(decoding: try JSONSerialization.data(withJSONObject: ["id": "\(i)", "prompt": try XCTUnwrap(p["text"] as? String)]), as: UTF8.self)
        }.joined(separator: "\n")
        try input.write(to: dir.appendingPathComponent("in.jsonl"), atomically: true, encoding: .utf8)
        r = try CLI().run(["generate", "--checkpoint", "tiny.h5", "--raw", "--max-tokens", "\(steps)", "--input", "in.jsonl"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertTrue(r.output.contains("raw continuation"), r.output)
        let results = try lines(r.output)
        XCTAssertEqual(results.count, prompts.count)
        for (p, result) in zip(prompts, results) {
            // The reference never emits <|endoftext|> (0) or <|im_end|> (2), the tokens that would end ours.
            let greedy = try XCTUnwrap(p["greedy"] as? [Int])
            XCTAssertFalse(greedy.contains(0) || greedy.contains(2))
            XCTAssertEqual(result["tokens"] as? [Int], greedy, "\(p["text"] ?? "")")
            XCTAssert(result["mode"] is NSNull, "no control token")
            XCTAssertEqual(result["reasoning_tokens"] as? Int, 0)
            XCTAssertEqual(result["finish_reason"] as? String, "length")
        }

        // The tiny model has no chat template: --chat says how to choose one, and then works.
        r = try CLI().run(["generate", "--checkpoint", "tiny.h5", "--chat", "--max-tokens", "4", "hello"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.output.contains("no chat template; pass --chat-template"), r.output)
        r = try CLI().run(["generate", "--checkpoint", "tiny.h5", "--chat", "--chat-template", "chatml", "--max-tokens", "4", "hello"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        XCTAssertEqual(try lines(r.output).first?["tokens"] as? [Int] != nil, true)
        // Self-routing works on the import, which carries the control tokens: token 0 is one of
        // them. Its routed prompt is the chat template's too, so it also needs one.
        r = try CLI().run(["generate", "--checkpoint", "tiny.h5", "--max-tokens", "4", "hello"], in: dir)
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.output.contains("no chat template; pass --chat-template"), r.output)
        r = try CLI().run(["generate", "--checkpoint", "tiny.h5", "--chat-template", "chatml", "--max-tokens", "4", "hello"], in: dir)
        XCTAssertEqual(r.status, 0, r.output)
        let routed = try XCTUnwrap(try lines(r.output).first)
        XCTAssertNotNil(routed["mode"] as? String)
        XCTAssertTrue([320, 322].contains((routed["tokens"] as? [Int])?.first ?? -1), "\(routed)")
        r = try CLI().run(["generate", "--checkpoint", "tiny.h5", "--raw", "--chat", "hello"], in: dir)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.output.contains("--raw or --chat, not both"), r.output)
    }
}
