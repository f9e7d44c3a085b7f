import Foundation
import ReckonData
import ReckonRuntime
import XCTest

/// `generate` reads its lines with GenerationInput, `eval` and `audit` with JSONL: a line
/// that is JSON but not an object gets the same words from both.
final class InputReadersTests: XCTestCase {
    func testScalarLinesAreNotAnObjectInBothReaders() {
        for line in ["3", "\"text\"", "true", "null", "[1, 2]"] {
            var generate = "", eval = ""
            XCTAssertThrowsError(try GenerationInput.parse(Data(line.utf8), file: "in.jsonl"), line) { generate = "\($0)" }
            XCTAssertThrowsError(try JSONL.parse(Data(line.utf8), file: "in.jsonl"), line) { eval = "\($0)" }
            XCTAssertEqual(generate, "in.jsonl:1: expected a JSON object {...}", line)
            XCTAssertEqual(eval, generate, line)
        }
    }
}
