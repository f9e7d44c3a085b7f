import Foundation
import ReckonCheckpoint
import ReckonModel
import ReckonRuntime
import XCTest

/// `reckon generate` seeds input line n with `Request.seed(base: --seed, number: n)`, the
/// derivation `reckon serve` gives its n-th request (ReckonServerTests.SeedTests), so the same
/// request samples the same tokens in both.
final class GenerateSeedTests: XCTestCase {
    func testGenerateSeedsLineNWithTheSharedDerivation() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-seed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let cli = CLI()
        XCTAssertEqual(try cli.run(["init-checkpoint", "tiny.h5", "--dim", "16", "--hidden", "32", "--context", "48"], in: dir).status, 0)
        try String(repeating: "{\"prompt\": \"12+30=\"}\n", count: 3).write(to: dir.appendingPathComponent("in.jsonl"), atomically: true, encoding: .utf8)
        let run = try cli.run(["generate", "--input", "in.jsonl", "--output", "out.jsonl", "--checkpoint", "tiny.h5",
                               "--temperature", "1", "--seed", "3", "--max-tokens", "12", "--threads", "1"], in: dir)
        XCTAssertEqual(run.status, 0, run.output)
        let lines = try String(contentsOf: dir.appendingPathComponent("out.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3)

        let model = try Checkpoint.load(from: dir.appendingPathComponent("tiny.h5").path).model()
        for (i, line) in lines.enumerated() {
            let got = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let request = Request(id: "\(i + 1)", prompt: PromptFormat.prompt("12+30="), routing: .model, sampling: SamplingParams(temperature: 1),
                                  seed: Request.seed(base: 3, number: UInt64(i + 1)), maxTokens: 12)
            var engine = try Engine(backend: TransformerBackend(model: model, slots: 1), config: EngineConfig(slots: 1))
            let want = try XCTUnwrap(Replay.run([request], arrivals: [0], engine: &engine, clock: .real).first)
            XCTAssertEqual(got["answer"] as? String, want.answer, "line \(i + 1)")
            XCTAssertEqual(got["reasoning"] as? String, want.reasoning, "line \(i + 1)")
            XCTAssertEqual(got["mode"] as? String, want.mode?.rawValue, "line \(i + 1)")
        }
    }
}

/// Errors a command throws while running are one `error:` line and status 1; help and usage
/// stay ArgumentParser's.
final class CLIErrorTests: XCTestCase {
    func testRunErrorsAreOneLineAndHelpStillWorks() throws {
        let dir = FileManager.default.temporaryDirectory
        let help = try CLI().run(["help", "train"], in: dir)
        XCTAssertEqual(help.status, 0, help.output)
        XCTAssertTrue(help.output.contains("--resume"), help.output)
        let missing = try CLI().run(["train", "no-such-recipe.toml"], in: dir)
        XCTAssertEqual(missing.status, 1)
        XCTAssertEqual(missing.output.split(separator: "\n").count, 1, missing.output)
        XCTAssertTrue(missing.output.hasPrefix("error: no-such-recipe.toml: cannot read the recipe"), missing.output)
    }
}
