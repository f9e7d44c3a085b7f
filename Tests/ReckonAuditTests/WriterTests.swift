import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest
@testable import ReckonAudit

final class WriterTests: XCTestCase {
    func report() throws -> AuditReport {
        let rs = (1...3).flatMap { level in
            records("sae", n: 30, thought: 10 * level, correct: 25, difficulty: level, pairs: false)
                + records("a&b <aae>", n: 30, thought: 5 * level, correct: 20, rejected: 2, difficulty: level)
                + records("tiny", n: 3, thought: 1, difficulty: level)
        }
        return try Audit(reference: "sae", bootstrapResamples: 100, seed: 9).run(rs)
    }

    func testMarkdown() throws {
        let md = try report().markdown()
        XCTAssertTrue(md.hasPrefix("# Fairness audit"))
        XCTAssertTrue(md.contains("**Verdict: FAILED**"))
        for section in ["## Metrics by group", "## Think rate by difficulty", "### think rate", "insufficient data"] {
            XCTAssertTrue(md.contains(section), section)
        }
        // Every table row has as many cells as its header.
        let lines = md.split(separator: "\n").map(String.init)
        var columns: Int?
        for line in lines {
            guard line.hasPrefix("|") else { columns = nil; continue }
            let cells = line.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count
            if let c = columns { XCTAssertEqual(cells, c, line) } else { columns = cells }
        }
    }

    func testJSONRoundTrip() throws {
        let r = try report()
        let data = try r.json()
        XCTAssertEqual(try AuditReport.decode(json: data), r)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(object["passed"] as? Bool, false)
        XCTAssertNotNil((object["metrics"] as? [String: Any])?["by_group_difficulty"])
        XCTAssertEqual(try r.json(), data)  // stable output
    }

    func testSVGIsWellFormed() throws {
        let r = try report()
        let svg = r.thinkRateSVG()
        XCTAssertTrue(svg.contains("a&amp;b &lt;aae&gt;"))
        let parser = XMLParser(data: Data(svg.utf8))
        let counter = ElementCounter()
        parser.delegate = counter
        XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        XCTAssertEqual(counter.root, "svg")
        // One marker per group and level, plus one per legend entry.
        XCTAssertEqual(counter.counts["circle"], 3 * 3 + 3)
        XCTAssertGreaterThan(counter.counts["text"] ?? 0, 10)
    }
}

final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var root: String?
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root == nil { root = name }
        counts[name, default: 0] += 1
    }
}
