import Foundation
import XCTest
import ReckonCheckpoint
import ReckonCore
import ReckonData
import ReckonEval
import ReckonModel

/// `eval`, `eval --methods`, `audit --held-out`, `calibrate` and `generate` on a LoRA adapter
/// over a tiny BPE base with control tokens and a ChatML template: prompts are its chat turns,
/// answers are read with its vocabulary, FLOPs come from its config.
final class BPEAdapterCLITests: XCTestCase {
    let cli = CLI()

    /// 256 byte tokens, ChatML's markers, two pads, then `<think>` 261, `</think>` 262 and
    /// `<short>` 263 appended as an import does (the byte models' `<think>` is 259). With
    /// `routed: false` the last three are plain pads: a base that cannot route itself.
    static func spec(routed: Bool) -> TokenizerSpec {
        var tokens = (0..<256).map { String(ByteLevel.unicode[$0]) }
        tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad0|>", "<|pad1|>"]
        tokens += routed ? ["<think>", "</think>", "<short>"] : ["<|pad2|>", "<|pad3|>", "<|pad4|>"]
        let types = [Int32](repeating: TokenizerSpec.normal, count: 256) + [Int32](repeating: TokenizerSpec.control, count: 5)
            + [Int32](repeating: routed ? TokenizerSpec.userDefined : TokenizerSpec.control, count: 3)
        let chatml = #"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"#
        return TokenizerSpec(pre: "gpt2", tokens: tokens, merges: [], tokenTypes: types, bos: 256, eos: 256, chatTemplate: chatml)
    }

    static let config = ModelConfig(dim: 16, nLayers: 1, nHeads: 2, nKVHeads: 2, hiddenDim: 32, vocabSize: 264, maxSeqLen: 128)

    /// base/tiny.h5 (routed), base/plain.h5 (no control tokens), runs/adapter.h5 (LoRA on q and
    /// v with non-zero adapters and control rows, pointing at ../base/tiny.h5), and the data.
    func fixture() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-bpe-adapter-\(UUID().uuidString)")
        for sub in ["base", "runs", "out"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        var model = try Transformer(config: Self.config, seed: 3)
        let base = Checkpoint(config: Self.config, params: model.params, tokenizer: Self.spec(routed: true))
        try base.save(to: dir.appendingPathComponent("base/tiny.h5").path)
        try Checkpoint(config: Self.config, params: model.params, tokenizer: Self.spec(routed: false)).save(to: dir.appendingPathComponent("base/plain.h5").path)
        var lora = try LoRA(config: LoRAConfig(rank: 2, alpha: 4, targets: [.q, .v]), base: model, controlTokens: [261, 262, 263], seed: 1)
        var rng = RNG(seed: 9)
        lora.params = lora.params.map { $0 + 0.2 * rng.normal() }
        try model.attach(lora)
        let adapterPath = dir.appendingPathComponent("runs/adapter.h5").path
        try AdapterCheckpoint(lora: lora, base: BaseReference.to(base: base, at: dir.appendingPathComponent("base/tiny.h5").path, from: adapterPath))
            .save(to: adapterPath)

        // 12 problems in each of sae, aae and pidgin; pidgin's prompts are long, so the
        // context (128) leaves its answers ≤ 9 tokens where the others have 40.
        var lines: [String] = []
        for i in 0..<12 {
            let a = i % 5, b = (i * 3) % 7
            for (group, prompt) in [("sae", "\(a)+\(b)"), ("aae", "what \(a) plus \(b)"),
                                    ("pidgin", "how much e be if you put \(a) join \(b), my broda, abeg tell me quick quick now now o, na the sum")] {
                let e = Example(id: "\(group)-\(i)", pairID: "p\(i)", group: group, difficulty: 1 + i % 2, prompt: prompt, short: "\(a + b)", answer: "\(a + b)")
                lines.append(String(decoding: try JSONEncoder().encode(e), as: UTF8.self))
            }
        }
        try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("test.jsonl"), atomically: true, encoding: .utf8)
        try (lines.prefix(6).joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("val.jsonl"), atomically: true, encoding: .utf8)
        return dir
    }

    func run(_ args: [String], in dir: URL, status: Int32 = 0) throws -> String {
        let r = try cli.run(args + ["--threads", "1"], in: dir)
        XCTAssertEqual(r.status, status, "\(args): \(r.output)")
        return r.output
    }

    func json(_ url: URL) throws -> Any { try JSONSerialization.jsonObject(with: try Data(contentsOf: url)) }

    /// A forced-think eval of the adapter: every record opens with the BPE `<think>` (261), and
    /// the records are exactly the library's eval of the merged model in the chat format.
    func testEvalOfAnAdapterReadsAnswersThroughTheChatFormat() throws {
        let dir = try fixture()
        _ = try run(["eval", "--checkpoint", "runs/adapter.h5", "--data", "test.jsonl", "--routing", "think", "--limit", "6",
                     "--max-tokens", "8", "--records", "--json", "out/think.json"], in: dir)
        let report = try XCTUnwrap(try json(dir.appendingPathComponent("out/think.json")) as? [String: Any])
        let records = try XCTUnwrap(report["records"] as? [[String: Any]])
        XCTAssertEqual(records.count, 6)
        XCTAssertEqual(records.map { $0["mode"] as? String }, Array(repeating: "think", count: 6))
        XCTAssertEqual(records.map { ($0["tokens"] as? [Int])?.first }, Array(repeating: 261, count: 6))

        let checkpoint = try ModelFile.load(dir.appendingPathComponent("runs/adapter.h5").path)
        let format = try checkpoint.text().routedFormat()
        let examples = try JSONL.read(path: dir.appendingPathComponent("test.jsonl").path).examples.prefix(6)
        let expected = try Evaluator.run(model: try checkpoint.model(), examples: Array(examples),
                                         options: EvalOptions(routing: .think, maxNewTokens: 8), format: format)
        XCTAssertEqual(records.map { $0["tokens"] as? [Int] }, expected.map { $0.tokens.map(Int.init) })
        XCTAssertEqual(records.map { $0["answer"] as? String }, expected.map(\.answer))
        // p(think) to the last digit JSON keeps.
        for (r, e) in zip(records, expected) { XCTAssertEqual(r["p_think"] as? Double ?? .nan, e.pThink, accuracy: 1e-12) }
    }

    /// `--methods think,short` on the adapter, one example: FLOPs per query from the BPE config,
    /// N_mm = 1·(256 + 512 + 256 + 1536) + 264·16 = 6784, over the chat prompt's P tokens and the G
    /// generated: n·13568 + 32·n·(n + 1), n = P + G − 1.
    func testMethodsRowsReportFLOPsFromTheBPEConfig() throws {
        let dir = try fixture()
        _ = try run(["eval", "--checkpoint", "runs/adapter.h5", "--data", "test.jsonl", "--methods", "think,short", "--limit", "1",
                     "--max-tokens", "8", "--json", "out/methods.json"], in: dir)
        let rows = try XCTUnwrap(try json(dir.appendingPathComponent("out/methods.json")) as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["method"] as? String }, ["think", "short"])
        // <|im_start|>user\n0+0<|im_end|>\n<|im_start|>assistant\n
        let format = try ModelText(bpe: Self.spec(routed: true)).routedFormat()
        let user: [Int32] = "user\n0+0".utf8.map(Int32.init)
        let assistant: [Int32] = "assistant\n".utf8.map(Int32.init)
        let chat: [Int32] = [257] + user + [258, 10, 257] + assistant
        XCTAssertEqual(format.prompt("0+0"), chat)
        for (row, rate) in zip(rows, [1.0, 0.0]) {
            let all = try XCTUnwrap(row["all"] as? [String: Any])
            XCTAssertEqual(all["thinkRate"] as? Double, rate)
            let g = try XCTUnwrap(all["tokensPerQuery"] as? Double)
            XCTAssertTrue((1...8).contains(g), "\(g)")
            let n: Double = 22 + g - 1
            let expected: Double = n * 13568 + 32 * n * (n + 1)
            XCTAssertEqual(all["flopsPerQuery"] as? Double, expected)
        }
    }

    /// pidgin's answers are cut by the context, so its tokens per query fail the four-fifths
    /// rule: counted, the audit fails (exit 1); held out, it is reported and the audit passes.
    func testAuditWithAHeldOutDialectLeavesItOutOfTheVerdict() throws {
        let dir = try fixture()
        let args = ["audit", "--checkpoint", "runs/adapter.h5", "--data", "test.jsonl", "--reference", "sae", "--routing", "think",
                    "--max-tokens", "40", "--min-group-size", "10", "--bootstrap", "0"]
        let counted = try run(args + ["--json", "out/counted.json"], in: dir, status: 1)
        XCTAssertTrue(counted.contains("tokens per query (pidgin)"), counted)
        let held = try run(args + ["--held-out", "pidgin", "--json", "out/held.json", "--report", "out/held.md"], in: dir)
        XCTAssertTrue(held.contains("audit: held out of the verdict: pidgin; would fail if counted: tokens per query (pidgin)"), held)
        XCTAssertTrue(held.contains("audit: every check passed"), held)

        let report = try XCTUnwrap(try json(dir.appendingPathComponent("out/held.json")) as? [String: Any])
        XCTAssertEqual(report["passed"] as? Bool, true)
        XCTAssertEqual((report["audit"] as? [String: Any])?["held_out"] as? [String], ["pidgin"])
        let comparisons = try XCTUnwrap(report["comparisons"] as? [[String: Any]])
        let pidgin = comparisons.filter { $0["group"] as? String == "pidgin" }
        XCTAssertFalse(pidgin.isEmpty)
        XCTAssertTrue(pidgin.allSatisfy { $0["held_out"] as? Bool == true })
        let tokens = try XCTUnwrap(pidgin.first { $0["check"] as? String == "tokens_per_query" })
        XCTAssertEqual(tokens["verdict"] as? String, "fail")
        XCTAssertLessThan(try XCTUnwrap(tokens["ratio"] as? Double), 0.8)
        // Every request thought (forced), in every group: ratio 1.
        XCTAssertEqual(comparisons.filter { $0["check"] as? String == "think_rate" }.map { $0["ratio"] as? Double }, [1, 1])
        // The seen group's figures are the same with or without pidgin held out.
        let countedReport = try XCTUnwrap(try json(dir.appendingPathComponent("out/counted.json")) as? [String: Any])
        let aae = { (r: [String: Any]) in ((r["comparisons"] as? [[String: Any]]) ?? []).filter { $0["group"] as? String == "aae" }.map { "\($0["ratio"] ?? "-") \($0["verdict"] ?? "-")" } }
        XCTAssertEqual(aae(report), aae(countedReport))
        let markdown = try String(contentsOf: dir.appendingPathComponent("out/held.md"), encoding: .utf8)
        XCTAssertTrue(markdown.contains("| pidgin (held-out) |"), markdown)

        let unknown = try run(args + ["--held-out", "creole"], in: dir, status: 2)
        XCTAssertTrue(unknown.contains("held-out group \"creole\" is not in test.jsonl; its groups: aae, pidgin, sae"), unknown)
    }

    /// `calibrate` on an adapter writes an adapter (on the same base) that stores the rule;
    /// eval then uses it. `generate` takes the adapter too, in the chat format.
    func testCalibrateAndGenerateTakeTheAdapter() throws {
        let dir = try fixture()
        _ = try run(["calibrate", "--checkpoint", "runs/adapter.h5", "--validation", "val.jsonl", "--out", "out/calibrated.h5",
                     "--max-tokens", "6"], in: dir)
        let calibrated = dir.appendingPathComponent("out/calibrated.h5").path
        XCTAssertTrue(AdapterCheckpoint.isAdapter(calibrated))
        let adapter = try AdapterCheckpoint.load(from: calibrated)
        XCTAssertEqual(adapter.base.path, "../base/tiny.h5")
        XCTAssertEqual(adapter.params, try AdapterCheckpoint.load(from: dir.appendingPathComponent("runs/adapter.h5").path).params)
        let rule = try XCTUnwrap(adapter.routing)
        XCTAssertEqual(rule.split, "val.jsonl")
        XCTAssertEqual(rule.splitExamples, 6)
        let eval = try run(["eval", "--checkpoint", "out/calibrated.h5", "--data", "test.jsonl", "--limit", "3", "--max-tokens", "4"], in: dir)
        XCTAssertTrue(eval.contains("using the rule stored in the checkpoint, \(rule.policy)"), eval)

        let generated = try run(["generate", "--checkpoint", "runs/adapter.h5", "--routing", "think", "--max-tokens", "6", "2+3"], in: dir)
        let line = try XCTUnwrap(generated.split(separator: "\n").first { $0.hasPrefix("{") })
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(result["mode"] as? String, "think")
        XCTAssertEqual((result["tokens"] as? [Int])?.first, 261)
    }

    /// `serve` takes the adapter: a chat completion's prompt is the template's rendering of
    /// the conversation (22 tokens for "2+3", as `RoutedFormat.prompt` makes it) and the
    /// answer is routed with the BPE control tokens, the same tokens `generate` gives.
    func testServeTakesTheAdapterAndRendersChatsWithItsTemplate() throws {
        let dir = try fixture()
        let log = dir.appendingPathComponent("out/serve.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let server = Process()
        server.executableURL = cli.reckon
        server.arguments = ["serve", "--checkpoint", "runs/adapter.h5", "--port", "0", "--threads", "1", "--slots", "2"]
        server.currentDirectoryURL = dir
        let handle = try FileHandle(forWritingTo: log)
        server.standardOutput = handle
        server.standardError = handle
        try server.run()
        defer { if server.isRunning { server.terminate() }; server.waitUntilExit() }
        var port: Int?
        let deadline = Date().addingTimeInterval(60)
        while port == nil, Date() < deadline, server.isRunning {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let r = text.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(text[r].split(separator: ":").last ?? "")
            } else {
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let p = try XCTUnwrap(port, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        XCTAssertTrue(((try? String(contentsOf: log, encoding: .utf8)) ?? "").contains("BPE tokenizer, chat template chatml"))
        let body = #"{"messages": [{"role": "user", "content": "2+3"}], "max_tokens": 6, "routing": "think"}"#
        let (status, text) = try XCTUnwrap(SharedBudgetTests.http(p, "/v1/chat/completions", body: body))
        XCTAssertEqual(status, 200, text)
        let reply = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        XCTAssertEqual(reply["mode"] as? String, "think", text)
        let usage = try XCTUnwrap(reply["usage"] as? [String: Any])
        XCTAssertEqual(usage["prompt_tokens"] as? Int, 22)

        let generated = try run(["generate", "--checkpoint", "runs/adapter.h5", "--routing", "think", "--max-tokens", "6", "2+3"], in: dir)
        let line = try XCTUnwrap(generated.split(separator: "\n").first { $0.hasPrefix("{") })
        let result = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(usage["completion_tokens"] as? Int, (result["tokens"] as? [Any])?.count)
    }

    /// Bad inputs are one-line errors: a base that cannot route itself, a missing base, and
    /// --base on a full checkpoint.
    func testBadInputsAreOneLineErrors() throws {
        let dir = try fixture()
        for (args, status) in [(["eval", "--checkpoint", "base/plain.h5", "--data", "test.jsonl", "--limit", "1"], Int32(1)),
                               (["eval", "--checkpoint", "base/plain.h5", "--data", "test.jsonl", "--limit", "1", "--methods", "think"], 1),
                               (["audit", "--checkpoint", "base/plain.h5", "--data", "test.jsonl", "--reference", "sae"], 2),
                               (["calibrate", "--checkpoint", "base/plain.h5", "--validation", "val.jsonl", "--out", "out/x.h5"], 1)] {
            let out = try run(args, in: dir, status: status)
            XCTAssertTrue(out.contains("base/plain.h5: the model has no <think>/<short> control tokens"), out)
            XCTAssertEqual(out.split(separator: "\n").filter { $0.contains("error") }.count, 1, out)
        }
        try FileManager.default.moveItem(at: dir.appendingPathComponent("base"), to: dir.appendingPathComponent("moved"))
        for command in [["eval", "--data", "test.jsonl"], ["audit", "--data", "test.jsonl", "--reference", "sae"],
                        ["calibrate", "--validation", "val.jsonl", "--out", "out/x.h5"]] {
            let r = try cli.run(command + ["--checkpoint", "runs/adapter.h5", "--threads", "1"], in: dir)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.output.contains("base checkpoint") && r.output.contains("--base"), r.output)
            XCTAssertFalse(r.output.contains("Fatal"), r.output)
        }
        _ = try run(["eval", "--checkpoint", "runs/adapter.h5", "--base", "moved/tiny.h5", "--data", "test.jsonl", "--limit", "1",
                     "--routing", "short", "--max-tokens", "2"], in: dir)
        let full = try run(["calibrate", "--checkpoint", "moved/tiny.h5", "--base", "moved/tiny.h5", "--validation", "val.jsonl",
                            "--out", "out/x.h5"], in: dir, status: 1)
        XCTAssertTrue(full.contains("--base applies to a LoRA adapter"), full)

        // --chat-template is an imported model's; a byte model's routed prompt has no template.
        let made = try cli.run(["init-checkpoint", "bytes.h5", "--dim", "16", "--layers", "1", "--heads", "2", "--hidden", "32", "--context", "64"], in: dir)
        XCTAssertEqual(made.status, 0, made.output)
        for (args, status) in [(["eval", "--data", "test.jsonl", "--limit", "1"], Int32(1)), (["audit", "--data", "test.jsonl", "--reference", "sae"], 2),
                               (["calibrate", "--validation", "val.jsonl", "--out", "out/x.h5"], 1)] {
            let out = try run(args + ["--checkpoint", "bytes.h5", "--chat-template", "chatml"], in: dir, status: status)
            XCTAssertTrue(out.contains("bytes.h5: --chat-template chatml applies to an imported (BPE) model"), out)
        }
    }
}
