import Foundation
import ReckonCheckpoint
import ReckonModel
import XCTest

/// Bad input at the command line: exit codes and one clear line, before any work.
final class HardeningCLITests: XCTestCase {
    let cli = CLI()
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-hard-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// A tiny model with a 32-token context; `tamper` edits its parameters before saving.
    func tinyCheckpoint(_ path: URL, maxSeqLen: Int = 32, tamper: (inout Checkpoint) -> Void = { _ in }) throws {
        let config = ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 24, maxSeqLen: maxSeqLen)
        var c = Checkpoint(model: try Transformer(config: config, seed: 1))
        tamper(&c)
        try c.save(to: path.path)
    }

    /// Runs `reckon` and kills it after `timeout` seconds (a server that should have refused to start).
    func run(_ args: [String], in dir: URL, timeout: Double = 120) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = cli.reckon
        p.arguments = args
        p.currentDirectoryURL = dir
        let out = dir.appendingPathComponent("out-\(UUID().uuidString).txt")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if p.isRunning { p.terminate(); p.waitUntilExit(); XCTFail("reckon \(args.joined(separator: " ")) still ran after \(timeout) s") }
        p.waitUntilExit()
        try handle.close()
        return (p.terminationStatus, String(decoding: try Data(contentsOf: out), as: UTF8.self))
    }

    // MARK: audit

    func line(_ id: String, _ prompt: String, group: String = "sae") -> String {
        #"{"id": "\#(id)", "prompt": "\#(prompt)", "answer": "2", "group": "\#(group)", "difficulty": 1}"#
    }

    func testAuditInputErrorsExit2() throws {
        let dir = try scratch()
        let ckpt = dir.appendingPathComponent("tiny.h5")
        try tinyCheckpoint(ckpt)
        try "this is not a checkpoint\n".write(to: dir.appendingPathComponent("garbage.h5"), atomically: true, encoding: .utf8)
        let good = (0..<4).map { line("q\($0)", "1+1=", group: $0 % 2 == 0 ? "sae" : "aave") }
        let cases: [(String, [String], String)] = [
            ("duplicate ids", good + [line("q1", "2+0=")], "duplicate id \"q1\""),
            ("prompt longer than the context", good + [line("long", String(repeating: "7", count: 40))], "the model's context is 32"),
            ("garbage checkpoint", good, "not an HDF5 file"),
        ]
        for (name, lines, message) in cases {
            let data = dir.appendingPathComponent("\(name.replacingOccurrences(of: " ", with: "-")).jsonl")
            try (lines.joined(separator: "\n") + "\n").write(to: data, atomically: true, encoding: .utf8)
            let checkpoint = name == "garbage checkpoint" ? "garbage.h5" : "tiny.h5"
            let r = try run(["audit", "--data", data.path, "--reference", "sae", "--checkpoint", checkpoint, "--max-tokens", "4",
                             "--threads", "1", "--bootstrap", "0"], in: dir)
            XCTAssertEqual(r.status, 2, "\(name): \(r.output)")
            XCTAssertTrue(r.output.contains(message), "\(name): \(r.output)")
            XCTAssertFalse(r.output.contains("Fatal error"), r.output)
        }
    }

    // MARK: non-finite weights

    func testNaNCheckpointIsRefusedByGenerateAndInspect() throws {
        let dir = try scratch()
        let ckpt = dir.appendingPathComponent("nan.h5")
        try tinyCheckpoint(ckpt) { c in
            let norm = c.layout.tensors.first { $0.name == "norm" }!
            for i in norm.range { c.params[i] = .nan }
        }
        let generate = try run(["generate", "1+1=", "--checkpoint", ckpt.path, "--max-tokens", "4"], in: dir)
        XCTAssertEqual(generate.status, 1, generate.output)
        XCTAssertTrue(generate.output.contains("dataset /model/norm holds a non-finite value (nan at element 0)"), generate.output)
        XCTAssertFalse(generate.output.contains("{}"), generate.output)

        let verify = try run(["inspect", "--verify", ckpt.path], in: dir)
        XCTAssertEqual(verify.status, 1, verify.output)
        XCTAssertTrue(verify.output.contains("/model/norm"), verify.output)
        XCTAssertFalse(verify.output.contains("verified"), verify.output)

        let fine = dir.appendingPathComponent("fine.h5")
        try tinyCheckpoint(fine)
        let ok = try run(["inspect", "--verify", fine.path], in: dir)
        XCTAssertEqual(ok.status, 0, ok.output)
        XCTAssertTrue(ok.output.contains("every value finite; no optimizer stored"), ok.output)
        let tensors = ParameterLayout(ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 24, maxSeqLen: 32)).tensors.count
        XCTAssertTrue(ok.output.contains("checksums   all \(tensors) tensors matched their Fletcher-32 checksum"), ok.output)
    }

    /// max_seq_len at the schema's limit: the KV cache is refused with its figure before
    /// anything is allocated or bound.
    func testServeRefusesAKVCacheThatDoesNotFit() throws {
        let dir = try scratch()
        let ckpt = dir.appendingPathComponent("long.h5")
        try tinyCheckpoint(ckpt, maxSeqLen: 65_536)
        let r = try run(["serve", "--checkpoint", ckpt.path, "--port", "0", "--slots", "1000000"], in: dir, timeout: 60)
        XCTAssertEqual(r.status, 1, r.output)
        // 2 · 2 layers · 65,536 · kv dim 8 · 4 bytes = 8,388,608 per slot.
        XCTAssertTrue(r.output.contains("the KV cache needs 8.4 MB per slot at max_seq_len 65536"), r.output)
        XCTAssertTrue(r.output.contains("8388.6 GB for 1000000 slots"), r.output)
        XCTAssertFalse(r.output.contains("listening"), r.output)
    }

    // MARK: train preflight

    func testTrainPreflightRefusesBeforeAnyWork() throws {
        let dir = try scratch()
        // An SFT recipe with the small model's context of 256 (the quickstart is a DeGRPO recipe).
        let recipe = Self.repository.appendingPathComponent("Recipes/warmup-small.toml").path
        try "a file".write(to: dir.appendingPathComponent("afile"), atomically: true, encoding: .utf8)
        let cases: [([String], String, String)] = [
            (["--set", "sft.batch=100000", "--set", "output.dir=big"], "big", "for SFT activations at batch 100000 × context 256"),
            (["--set", "model.dim=100", "--set", "model.heads=3", "--set", "output.dir=geo"], "geo", "[model]: invalid geometry"),
            (["--set", "model.context=100000", "--set", "output.dir=ctx"], "ctx", "[model]: invalid geometry: invalid model config: maxSeqLen 100000"),
            (["--set", "output.dir=afile/run"], "afile/run", "output.dir afile/run cannot be created: "),
            (["--set", "output.dir=afile"], "afile", "output.dir afile is a file, not a folder"),
        ]
        for (args, out, message) in cases {
            let begin = Date()
            let r = try run(["train", recipe] + args, in: dir, timeout: 60)
            XCTAssertEqual(r.status, 1, "\(args): \(r.output)")
            XCTAssertTrue(r.output.contains(message), "\(args): \(r.output)")
            XCTAssertEqual(r.output.split(separator: "\n").count, 1, "one line: \(r.output)")
            XCTAssertFalse(r.output.contains("NSCocoaErrorDomain") || r.output.contains("Fatal error"), r.output)
            if out != "afile" {
                XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent(out).path), "\(out) was created")
            }
            XCTAssertLessThan(Date().timeIntervalSince(begin), 30, "refused up front, not after the data stage")
        }
        let big = try run(["train", recipe, "--set", "sft.batch=100000", "--set", "output.dir=big"], in: dir, timeout: 60)
        XCTAssertTrue(big.output.contains("available"), big.output)
    }
}
