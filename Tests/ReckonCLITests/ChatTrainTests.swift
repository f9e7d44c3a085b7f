import Foundation
import XCTest
import ReckonCheckpoint
import ReckonModel

/// `reckon train` on an imported BPE model with a chat template: the tiny random Qwen2
/// (Tests/ReckonImportTests/Fixtures/tiny-qwen2) given the ChatML template (SmolLM2's layout
/// without its default system prompt, which would not fit the tiny model's 128 positions). Its stages
/// must render prompts and answers as chat turns with the imported control tokens, and a
/// fully fine-tuned save must keep the tokenizer, or the model could not be served after.
final class ChatTrainTests: XCTestCase {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    func recipe(out: String, stages: String, extra: [String]) -> String {
        ([#"stages = "\#(stages)""#, "[data]", "task = \"overthink\"", "train_n = 8", "levels = \"1\"", "dialects = \"symbolic\"",
          "phrasings = \"train\"", "eval_n = 2", "eval_phrasings = \"held-out\"",
          "[sft]", "init = \"chat.h5\"", "steps = 2", "batch = 2", "warmup = 1", "eval_every = 0", "save_every = 0", "lr = 1e-3"]
         + extra + ["[eval]", "routing = \"think\"", "max_tokens = 4", "[output]", "dir = \"\(out)\""]).joined(separator: "\n") + "\n"
    }

    func testStagesUseTheChatFormatAndFullSavesKeepTheTokenizer() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-chat-train-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ args: [String]) throws -> String {
            let r = try CLI().run(args, in: dir)
            XCTAssertEqual(r.status, 0, "\(args): \(r.output)")
            return r.output
        }
        _ = try run(["import", Self.tests.appendingPathComponent("ReckonImportTests/Fixtures/tiny-qwen2").path, "tiny.h5"])
        var tiny = try Checkpoint.load(from: dir.appendingPathComponent("tiny.h5").path)
        tiny.tokenizer?.chatTemplate = #"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"#
        try tiny.save(to: dir.appendingPathComponent("chat.h5").path)
        let text = try tiny.text()
        let format = try text.routedFormat()
        let imEnd = text.tokenizer.encode("<|im_end|>", parseSpecials: true)
        XCTAssertEqual(imEnd.count, 1)
        let V = Int32(tiny.config.vocabSize)
        // The control tokens are the three the import appended; answers end with <|im_end|>.
        let expected = "chatml chat turns: <think> \(V - 3), </think> \(V - 2), <short> \(V - 1), answers end with token \(imEnd[0])"
        XCTAssertEqual(format.summary, expected)

        // Full fine-tuning: the stage logs the chat format and its saves keep the tokenizer.
        try recipe(out: "full", stages: "data,sft,eval", extra: []).write(to: dir.appendingPathComponent("full.toml"), atomically: true, encoding: .utf8)
        let full = try run(["train", "full.toml", "--threads", "1"])
        XCTAssertTrue(full.contains("sft: " + expected), full)
        let saved = try Checkpoint.load(from: dir.appendingPathComponent("full/model.h5").path)
        XCTAssertEqual(saved.tokenizer, tiny.tokenizer)
        XCTAssertNotEqual(saved.params, tiny.params)
        // The generated sets follow the recipe's phrasings: no held-out template in training, only it in eval.
        let train = try String(contentsOf: dir.appendingPathComponent("full/train.jsonl"), encoding: .utf8)
        let heldOutEval = try String(contentsOf: dir.appendingPathComponent("full/eval.jsonl"), encoding: .utf8)
        XCTAssertTrue(full.contains("phrasings train"), full)
        XCTAssertTrue(full.contains("phrasings held-out"), full)
        XCTAssertFalse(train.isEmpty || heldOutEval.isEmpty)

        // LoRA on the same base, then DeGRPO from the adapter: both stages use the base's chat format.
        let lora = ["[lora]", "rank = 2", "alpha = 4", "targets = \"q,v\"", "base = \"chat.h5\""]
        try recipe(out: "a", stages: "data,sft", extra: lora).write(to: dir.appendingPathComponent("a.toml"), atomically: true, encoding: .utf8)
        XCTAssertTrue(try run(["train", "a.toml", "--threads", "1"]).contains("sft: " + expected))
        let rl = recipe(out: "b", stages: "data,degrpo", extra: lora + ["[degrpo]", "init = \"a/model.h5\"", "steps = 1", "prompts_per_step = 2",
                                                                         "group_size = 2", "max_response_tokens = 6", "eval_every = 0", "save_every = 0"])
        try rl.write(to: dir.appendingPathComponent("b.toml"), atomically: true, encoding: .utf8)
        let degrpo = try run(["train", "b.toml", "--threads", "1"])
        XCTAssertTrue(degrpo.contains("degrpo: " + expected), degrpo)
        XCTAssertTrue(AdapterCheckpoint.isAdapter(dir.appendingPathComponent("b/model.h5").path))
    }
}
