import Foundation
import XCTest
@testable import ReckonTrain

/// docs/cli.md's recipe key table is `Recipe.keyTable`, made from the help text beside each
/// key in `Recipe.schema`. This fails when the two drift apart;
/// `RECKON_UPDATE_DOCS=1 swift test --filter RecipeDocTests` rewrites the table.
final class RecipeDocTests: XCTestCase {
    static let begin = "<!-- recipe keys: generated from Recipe.schema; RECKON_UPDATE_DOCS=1 swift test --filter RecipeDocTests rewrites it -->"
    static let end = "<!-- end of recipe keys -->"

    func testCLIDocKeyTableIsTheSchemas() throws {
        let doc = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/cli.md")
        let text = try String(contentsOf: doc, encoding: .utf8)
        let start = try XCTUnwrap(text.range(of: Self.begin), "docs/cli.md has no generated key table")
        let stop = try XCTUnwrap(text.range(of: Self.end, range: start.upperBound..<text.endIndex))
        let current = text[start.upperBound..<stop.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
        let generated = Recipe.keyTable
        if current != generated, ProcessInfo.processInfo.environment["RECKON_UPDATE_DOCS"] == "1" {
            try (text[..<start.upperBound] + "\n" + generated + "\n" + text[stop.lowerBound...]).write(to: doc, atomically: true, encoding: .utf8)
            return
        }
        XCTAssertEqual(current, generated,
                       "docs/cli.md's recipe key table is stale; rewrite it with: RECKON_UPDATE_DOCS=1 swift test --filter RecipeDocTests")
    }

    /// Every key has help, and the table has one row per key.
    func testEveryKeyHasHelp() {
        for key in Recipe.schema { XCTAssertFalse(key.help.isEmpty, key.label) }
        XCTAssertEqual(Recipe.keyTable.split(separator: "\n").count, Recipe.schema.count + 2)
    }
}
