import XCTest
@testable import ReckonTrain

final class BeforeAfterRecipeTests: XCTestCase {
    func testBeforeAfterKeyIsOffByDefaultAndParsed() throws {
        XCTAssertFalse(try Recipe.parse("", source: "r.toml").eval.beforeAfter)
        XCTAssertTrue(try Recipe.parse("[eval]\nbefore_after = true\n", source: "r.toml").eval.beforeAfter)
        XCTAssertThrowsError(try Recipe.parse("[eval]\nbefore_after = 1\n", source: "r.toml"))
    }
}
