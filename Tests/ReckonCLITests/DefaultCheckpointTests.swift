import Foundation
import XCTest

/// `generate`, `serve`, `eval` and `audit` fall back to the shipped default checkpoint.
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
        XCTAssertTrue(eval.output.contains("checkpoints/selfroute-small.h5"), eval.output)
        XCTAssertTrue(eval.output.contains("routing short: 1 example"), eval.output)

        let missing = try run(["eval", "--checkpoint", "no-such.h5", "--data", "one.jsonl"], in: dir)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("no-such.h5"), missing.output)
        XCTAssertFalse(missing.output.contains("Fatal error"), missing.output)
    }
}
