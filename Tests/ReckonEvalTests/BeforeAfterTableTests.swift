import XCTest
import ReckonModel
@testable import ReckonEval

final class BeforeAfterTableTests: XCTestCase {
    func record(_ i: Int, level: Int, _ mode: ReasoningMode, correct: Bool, tokens: Int) -> EvalRecord {
        EvalRecord(index: i, id: nil, group: nil, difficulty: level, mode: mode, pThink: 0.5, generatedTokens: tokens,
                   answer: "", wellFormed: true, correct: correct, skipped: false)
    }

    /// Two examples per level; before, each level thinks once; after, level 1 never and level 5
    /// always. Every figure of the table by hand.
    func testRowsByHand() {
        let before = EvalReport(routing: "model", records: [
            record(0, level: 1, .think, correct: true, tokens: 40), record(1, level: 1, .short, correct: true, tokens: 4),
            record(2, level: 5, .think, correct: true, tokens: 100), record(3, level: 5, .short, correct: false, tokens: 5),
        ])
        let after = EvalReport(routing: "model", records: [
            record(0, level: 1, .short, correct: true, tokens: 4), record(1, level: 1, .short, correct: true, tokens: 4),
            record(2, level: 5, .think, correct: true, tokens: 100), record(3, level: 5, .think, correct: true, tokens: 98),
        ])
        let lines = EvalTable.beforeAfter(before: before, after: after).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[0], "routing model, before → after training (4 examples)")
        func cells(_ name: String) -> [String] {
            (lines.first { $0.hasPrefix(name) } ?? "").dropFirst(10).split(separator: " ").map(String.init)
        }
        XCTAssertEqual(cells("all"), ["4", "50.0%", "50.0%", "75.0%", "100.0%", "37.2", "51.5"])
        XCTAssertEqual(cells("level 1"), ["2", "50.0%", "0.0%", "100.0%", "100.0%", "22.0", "4.0"])
        XCTAssertEqual(cells("level 5"), ["2", "50.0%", "100.0%", "50.0%", "100.0%", "52.5", "99.0"])
    }
}
