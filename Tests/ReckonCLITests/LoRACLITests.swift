import Foundation
import XCTest
import ReckonCheckpoint

/// `reckon train` with a `[lora]` section on a tiny base, then the adapter through resume,
/// generate, export --merge and a missing base.
final class LoRACLITests: XCTestCase {
    let cli = CLI()

    func recipe(out: String, sft: [String], lora: [String]) -> String {
        (["stages = \"data,sft\"", "[model]", "dim = 16", "layers = 1", "heads = 2", "hidden = 32", "context = 96",
          "[data]", "train_n = 24", "dialects = \"symbolic\"", "levels = \"1\"", "eval_n = 4",
          "[sft]", "batch = 2", "warmup = 1", "eval_every = 0", "lr = 1e-2"] + sft
         + (lora.isEmpty ? [] : ["[lora]"] + lora) + ["[output]", "dir = \"\(out)\""]).joined(separator: "\n") + "\n"
    }

    func testAdapterTrainResumeGenerateAndMerge() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-lora-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func run(_ args: [String]) throws -> String {
            let r = try cli.run(args + (args[0] == "export" ? [] : ["--threads", "1"]), in: dir)
            XCTAssertEqual(r.status, 0, "\(args): \(r.output)")
            return r.output
        }
        let lora = ["rank = 2", "alpha = 4", "targets = \"q,v,down\"", "base = \"base/model.h5\""]
        try recipe(out: "base", sft: ["steps = 2", "save_every = 0"], lora: []).write(to: dir.appendingPathComponent("base.toml"), atomically: true, encoding: .utf8)
        try recipe(out: "a", sft: ["steps = 4", "save_every = 2"], lora: lora).write(to: dir.appendingPathComponent("a.toml"), atomically: true, encoding: .utf8)
        try recipe(out: "b", sft: ["steps = 4", "save_every = 2"], lora: lora).write(to: dir.appendingPathComponent("b.toml"), atomically: true, encoding: .utf8)
        _ = try run(["train", "base.toml"])
        let trained = try run(["train", "a.toml"])
        XCTAssertTrue(trained.contains("lora: rank 2"), trained)
        let adapterPath = dir.appendingPathComponent("a/model.h5").path
        XCTAssertTrue(AdapterCheckpoint.isAdapter(adapterPath))
        let adapter = try AdapterCheckpoint.load(from: adapterPath)
        XCTAssertEqual(adapter.base.path, "../base/model.h5")
        XCTAssertEqual(adapter.train?.step, 4)

        // Resumed from a's step-2 adapter, b ends with a's adapters exactly.
        _ = try run(["train", "b.toml", "--resume", "a/checkpoints/step-000002.h5"])
        XCTAssertEqual(try AdapterCheckpoint.load(from: dir.appendingPathComponent("b/model.h5").path).params, adapter.params)

        let withAdapter = try run(["generate", "2+3=", "--checkpoint", "a/model.h5", "--max-tokens", "8"])
        _ = try run(["export", "--merge", "--format", "hdf5", "a/model.h5", "merged.h5"])
        let merged = try Checkpoint.load(from: dir.appendingPathComponent("merged.h5").path)
        XCTAssertEqual(merged.params.count, try Checkpoint.load(from: dir.appendingPathComponent("base/model.h5").path).params.count)
        let withMerged = try run(["generate", "2+3=", "--checkpoint", "merged.h5", "--max-tokens", "8"])
        func answers(_ output: String) -> [Substring] { output.split(separator: "\n").filter { $0.hasPrefix("{") } }
        XCTAssertFalse(answers(withAdapter).isEmpty, withAdapter)
        XCTAssertEqual(answers(withAdapter), answers(withMerged))

        // A copy in another folder finds the same base and generates the same tokens.
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("shipped/deeper"), withIntermediateDirectories: true)
        _ = try run(["export", "--format", "adapter", "a/model.h5", "shipped/deeper/copy.h5"])
        let copied = try AdapterCheckpoint.load(from: dir.appendingPathComponent("shipped/deeper/copy.h5").path)
        XCTAssertEqual(copied.base.path, "../../base/model.h5")
        XCTAssertEqual(copied.params, adapter.params)
        XCTAssertEqual(answers(try run(["generate", "2+3=", "--checkpoint", "shipped/deeper/copy.h5", "--max-tokens", "8"])), answers(withAdapter))

        let plain = try cli.run(["export", "--format", "hdf5", "a/model.h5", "x.h5"], in: dir)
        XCTAssertEqual(plain.status, 64, plain.output)
        XCTAssertTrue(plain.output.contains("pass --merge"), plain.output)

        // DeGRPO from the LoRA warm-up goes on training its adapters on the same base.
        let degrpo = recipe(out: "a", sft: ["steps = 4"], lora: lora).replacingOccurrences(of: "stages = \"data,sft\"", with: "stages = \"data,degrpo\"")
            + "[degrpo]\ninit = \"a/model.h5\"\nsteps = 2\nprompts_per_step = 2\ngroup_size = 2\nmax_response_tokens = 8\nlr = 1e-3\nweight_decay = 0.1\neval_every = 0\nsave_every = 0\n"
        try degrpo.replacingOccurrences(of: "dir = \"a\"", with: "dir = \"c\"").write(to: dir.appendingPathComponent("c.toml"), atomically: true, encoding: .utf8)
        _ = try run(["train", "c.toml"])
        let rl = try AdapterCheckpoint.load(from: dir.appendingPathComponent("c/model.h5").path)
        XCTAssertEqual(rl.train?.stage, "degrpo")
        XCTAssertEqual(rl.base.sha256, adapter.base.sha256, "the same frozen base")
        // An untrained tiny model may earn no reward contrast; the decay still steps the adapters.
        XCTAssertTrue(rl.params != adapter.params, "degrpo stepped the adapters")

        try FileManager.default.moveItem(at: dir.appendingPathComponent("base"), to: dir.appendingPathComponent("moved"))
        let missing = try cli.run(["generate", "2+3=", "--checkpoint", "a/model.h5"], in: dir)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.output.contains("base checkpoint") && missing.output.contains(adapter.base.sha256) && missing.output.contains("--base"),
                      missing.output)
        XCTAssertFalse(missing.output.contains("Fatal"), missing.output)
        _ = try run(["generate", "2+3=", "--checkpoint", "a/model.h5", "--base", "moved/model.h5", "--max-tokens", "4"])
    }
}
