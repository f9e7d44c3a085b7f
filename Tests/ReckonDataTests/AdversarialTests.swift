import XCTest
@testable import ReckonData

final class AdversarialTests: XCTestCase {
    func testCuesPushTheWrongModeAndKeepTheProblem() {
        let hard = Example(id: "p1-sae", pairID: "p1", group: "sae", difficulty: 5, prompt: "What is 47 times 38?", answer: "1786")
        let easy = Example(id: "p2-sae", pairID: "p2", group: "sae", difficulty: 1, prompt: "What is 3 plus 4?", answer: "7")
        let h = Adversarial.render(hard, index: 0), e = Adversarial.render(easy, index: 1)
        XCTAssertTrue(h.prompt.hasPrefix(hard.prompt) && h.prompt.contains("fast"))
        XCTAssertTrue(e.prompt.hasPrefix(easy.prompt) && e.prompt.lowercased().contains("step"))
        XCTAssertEqual([h.answer, e.answer], ["1786", "7"])
        XCTAssertEqual([h.group, e.group], ["adversarial", "adversarial"])
        XCTAssertEqual([h.pairID, e.pairID], ["p1", "p2"], "paired with the reference rendering")
        XCTAssertEqual(h.difficulty, 5)
    }
}
