import Foundation
import XCTest
import ReckonCheckpoint
import ReckonCore
import ReckonImport
import ReckonModel
import ReckonRuntime

/// SmolLM2-135M-Instruct used plainly through the serving engine, as `reckon generate --raw`
/// (plain prompts) and `--chat` (chat prompts) run it: prompts made by the checkpoint's own
/// tokenizer and template (`Checkpoint.text`), no control token, greedy. The tokens equal
/// transformers' greedy continuations (smollm2_reference.json) up to the first token that ends
/// a generation, where ours stop and the reference's free-running argmax goes on.
final class PlainGenerationParityTests: XCTestCase {
    func testSmolLM2RawAndChatGenerationEqualTransformersGreedy() throws {
        let path = try ParityTests.fetchedBase()
        // The context is capped so 80 KV slots fit: the longest prompt plus 64 tokens is 105.
        let ckpt = try Importer.load(path, options: .init(maxContext: 128))
        let text = try ckpt.text(path: path)
        let model = try ckpt.model()
        let data = try XCTUnwrap(FileManager.default.contents(atPath: Fixtures.path("smollm2_reference.json")))
        let ref = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let raw = try XCTUnwrap(ref["prompts"] as? [[String: Any]])
        let steps = try XCTUnwrap(ref["greedy_steps"] as? Int)

        var requests: [Request] = []
        var expected: [[Int32]] = []
        for (i, entry) in raw.enumerated() {
            let p = ParityTests.Prompt(text: entry["text"] as? String ?? "", ids: try XCTUnwrap(entry["ids"] as? [Int]).map(Int32.init),
                                       greedy: try XCTUnwrap(entry["greedy"] as? [Int]).map(Int32.init))
            let style: PromptStyle = entry["kind"] as? String == "chat" ? .chat : .raw
            let ids = try text.prompt(p.text, style: style)
            XCTAssertEqual(ids, p.ids, "\(style) prompt of \"\(p.text)\"")
            let end = p.greedy.firstIndex(where: text.roles.isEnd).map { $0 + 1 } ?? p.greedy.count
            expected.append(Array(p.greedy.prefix(end)))
            // Copies of each prompt keep a decode step above `Matmul.smallRowLimit` rows, so the
            // products run in OpenBLAS rather than the unoptimised debug-build C kernel.
            for c in 0..<4 { requests.append(Request(id: "\(i)/\(c)", prompt: ids, maxTokens: steps, plain: true)) }
        }
        var engine = try Engine(backend: TransformerBackend(model: model, slots: requests.count),
                                config: EngineConfig(slots: requests.count), roles: text.roles)
        let results = try Replay.run(requests, arrivals: requests.map { _ in 0 }, engine: &engine, clock: .simulated(try StepCostModel(flopsPerSecond: 1e12)))
        var identical = 0
        for (k, r) in results.enumerated() {
            let i = Int(r.id.split(separator: "/")[0]) ?? -1
            XCTAssertEqual(r.tokens, expected[i], "request \(r.id): \"\(raw[i]["text"] ?? "")\"")
            XCTAssertNil(r.mode)
            if k % 4 == 0, r.tokens == expected[i] { identical += 1 }
        }
        print("PlainGenerationParityTests: \(identical)/\(raw.count) prompts generate transformers' greedy tokens (\(expected.filter { $0.count == steps }.count) of them all \(steps))")
    }
}
