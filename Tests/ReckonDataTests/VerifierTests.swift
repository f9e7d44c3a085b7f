import XCTest
import ReckonData

final class VerifierTests: XCTestCase {
    func testNumberNormalisation() {
        let cases: [(String, String?)] = [
            ("132", "132"), (" 132 ", "132"), ("1,234", "1234"), ("1 234", "1234"), ("0132", "132"),
            ("132.", "132"), ("+7", "7"), ("-0", "0"), ("-05", "-5"), ("000", "0"), ("2.50", "2.5"),
            ("2.0", "2"), (".5", "0.5"), ("", nil), (".", nil), ("-", nil), ("abc", nil), ("12a", nil),
            ("1.2.3", nil), ("seven", nil),
        ]
        for (input, expected) in cases {
            XCTAssertEqual(Verifier.normalizeNumber(input), expected, "'\(input)'")
        }
    }

    func testMatching() {
        XCTAssertTrue(Verifier.matches("1,234.", gold: "1234"))
        XCTAssertTrue(Verifier.matches("  0042", gold: "42"))
        XCTAssertFalse(Verifier.matches("43", gold: "42"))
        XCTAssertFalse(Verifier.matches("", gold: "0"))
        // Non-numeric answers: exact after trimming.
        XCTAssertTrue(Verifier.matches(" Paris ", gold: "Paris"))
        XCTAssertFalse(Verifier.matches("paris", gold: "Paris"))
    }

    func testAnswerExtractionFromGenerations() {
        XCTAssertEqual(Verifier.answerText(fromGenerated: "<think>47+85|7+5=12|4+8+1=13|=132</think>132<eos>junk"), "132")
        XCTAssertEqual(Verifier.answerText(fromGenerated: "<short>132<eos>"), "132")
        XCTAssertEqual(Verifier.answerText(fromGenerated: "<short> 1,32 "), "1,32")
        XCTAssertTrue(Verifier.isCorrect(generated: "<think>x</think>0132.<eos>", gold: "132"))
        XCTAssertFalse(Verifier.isCorrect(generated: "<think>=132</think>131<eos>", gold: "132"))
    }
}
