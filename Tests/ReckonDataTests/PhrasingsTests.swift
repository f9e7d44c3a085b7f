import XCTest
import ReckonCore
@testable import ReckonData

/// Held-out phrasing families: training sets never use the last template of a list, held-out
/// sets use only it, and `all` (the default) leaves every generated file as it was.
final class PhrasingsTests: XCTestCase {
    func testTrainAndHeldOutPhrasingsAreDisjointAndAllIsUnchanged() throws {
        let mix = Dictionary(uniqueKeysWithValues: Dialect.allCases.map { ($0, 1.0) })
        let all = try Generator.generate(n: 60, dialects: mix, seed: 9, paired: true)
        XCTAssertEqual(all, try Generator.generate(n: 60, dialects: mix, seed: 9, paired: true, phrasings: .all))
        let train = try Generator.generate(n: 60, dialects: mix, seed: 9, paired: true, phrasings: .train)
        let held = try Generator.generate(n: 60, dialects: mix, seed: 9, paired: true, phrasings: .heldOut)
        // Same problems (answers, levels, pairs); only the wording differs.
        XCTAssertEqual(train.map(\.answer), all.map(\.answer))
        XCTAssertEqual(held.map(\.pairID), all.map(\.pairID))
        // Every list has a phrasing to hold out and others to train on.
        for dialect in Dialect.allCases {
            for op in [ArithOp.add, .mul] {
                let templates = Templates.list(for: dialect, op: op)
                XCTAssertGreaterThan(templates.count, 1, "\(dialect) \(op) has a phrasing to hold out")
            }
        }
        XCTAssertEqual(Phrasings.train.allowed([1, 2, 3]), [1, 2])
        XCTAssertEqual(Phrasings.heldOut.allowed([1, 2, 3]), [3])
        XCTAssertEqual(Phrasings.all.allowed([1, 2, 3]), [1, 2, 3])
        // The same problems and scenes in disjoint templates: no prompt is in both sets.
        XCTAssertEqual(Set(train.map(\.prompt)).intersection(held.map(\.prompt)), [])
        XCTAssertNotEqual(held.map(\.prompt), all.map(\.prompt))
    }
}
