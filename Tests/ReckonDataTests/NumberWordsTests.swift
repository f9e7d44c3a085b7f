import XCTest
import ReckonData

final class NumberWordsTests: XCTestCase {
    func testSpellings() {
        XCTAssertEqual(NumberWords.words(0), "zero")
        XCTAssertEqual(NumberWords.words(7), "seven")
        XCTAssertEqual(NumberWords.words(40), "forty")
        XCTAssertEqual(NumberWords.words(47), "forty-seven")
        XCTAssertEqual(NumberWords.words(105), "one hundred five")
        XCTAssertEqual(NumberWords.words(4567), "four thousand five hundred sixty-seven")
        XCTAssertEqual(NumberWords.words(9000), "nine thousand")
        XCTAssertEqual(NumberWords.words(12019), "twelve thousand nineteen")
        XCTAssertNil(NumberWords.words(-1))
        XCTAssertNil(NumberWords.words(1_000_000))
    }

    func testRoundTrip() {
        for n in 0...20_000 {
            guard let words = NumberWords.words(n) else { return XCTFail("no words for \(n)") }
            XCTAssertEqual(NumberWords.parse(words), n, words)
        }
        XCTAssertEqual(NumberWords.parse("Forty seven"), 47)
    }

    func testParseRejectsNonCanonical() {
        for text in ["", "four seven", "forty forty", "hundred", "one hundred hundred", "zero zero",
                     "seven thousand thousand", "apple", "twenty-ten",
                     "one hundred hundred hundred hundred hundred hundred hundred hundred hundred hundred"] {
            XCTAssertNil(NumberWords.parse(text), text)
        }
    }
}
