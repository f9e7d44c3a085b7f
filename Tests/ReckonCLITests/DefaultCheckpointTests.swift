import Foundation
import XCTest

/// `generate`, `serve`, `eval` and `audit` fall back to the shipped default checkpoint, and
/// route with the rule stored in it unless `--routing` says otherwise.
extension PhaseTests {
    func testEvalWithoutCheckpointUsesTheShippedDefault() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-default-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let gen = try run(["data", "gen", "--task", "arith", "--n", "1", "--levels", "1", "--dialects", "symbolic",
                               "--seed", "1", "--out", "one.jsonl"], in: dir)
        XCTAssertEqual(gen.status, 0, gen.output)

        let eval = try run(["eval", "--data", "one.jsonl", "--routing", "short", "--max-tokens", "4", "--threads", "1"], in: dir)
        XCTAssertEqual(eval.status, 0, eval.output)
        XCTAssertTrue(eval.output.contains("checkpoints/overthink-router.h5"), eval.output)
        XCTAssertTrue(eval.output.contains("routing short: 1 example"), eval.output)

        let missing = try run(["eval", "--checkpoint", "no-such.h5", "--data", "one.jsonl"], in: dir)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("no-such.h5"), missing.output)
        XCTAssertFalse(missing.output.contains("Fatal error"), missing.output)
    }

    /// With no flags, `generate` on the default model routes: on a file balanced between the
    /// easiest and the hardest overthink level, it thinks on few level-1 prompts and most
    /// level-5 ones, by the threshold stored in the checkpoint. `--routing` overrides it.
    func testGenerateWithNoFlagsRoutesByLevel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-routes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var lines = ""
        for level in ["1", "5"] {
            let gen = try run(["data", "gen", "--task", "overthink", "--n", "4", "--levels", level, "--dialects", "sae,symbolic",
                               "--paired", "--seed", "30\(level)", "--out", "l\(level).jsonl"], in: dir)
            XCTAssertEqual(gen.status, 0, gen.output)
            lines += try String(contentsOf: dir.appendingPathComponent("l\(level).jsonl"), encoding: .utf8)
        }
        try lines.write(to: dir.appendingPathComponent("balanced.jsonl"), atomically: true, encoding: .utf8)

        let routed = try run(["generate", "--input", "balanced.jsonl", "--output", "out.jsonl", "--threads", "1"], in: dir)
        XCTAssertEqual(routed.status, 0, routed.output)
        XCTAssertTrue(routed.output.contains("stored in the checkpoint"), routed.output)
        let rates = try Self.thinkRateByLevel(routed.output)
        XCTAssertEqual(Set(rates.keys), [1, 5], routed.output)
        let easy = try XCTUnwrap(rates[1]), hard = try XCTUnwrap(rates[5])
        XCTAssertLessThanOrEqual(easy, 25, routed.output)
        XCTAssertGreaterThanOrEqual(hard - easy, 40, routed.output)

        let forced = try run(["generate", "--input", "balanced.jsonl", "--output", "out.jsonl", "--routing", "think",
                              "--max-tokens", "2", "--threads", "1"], in: dir)
        XCTAssertEqual(forced.status, 0, forced.output)
        XCTAssertEqual(try Self.thinkRateByLevel(forced.output), [1: 100, 5: 100], forced.output)
    }

    /// "think rate by level 1: 12.5% 5: 87.5%" from generate's summary line.
    static func thinkRateByLevel(_ output: String) throws -> [Int: Double] {
        let line = try XCTUnwrap(output.split(separator: "\n").last { $0.contains("think rate by level ") })
        let tail = try XCTUnwrap(line.components(separatedBy: "think rate by level ").last).split(separator: ",")[0]
        var rates: [Int: Double] = [:]
        let parts = tail.split(separator: " ")
        for i in stride(from: 0, to: parts.count - 1, by: 2) {
            guard let level = Int(parts[i].dropLast()), let rate = Double(parts[i + 1].dropLast()) else { continue }
            rates[level] = rate
        }
        return rates
    }
}
