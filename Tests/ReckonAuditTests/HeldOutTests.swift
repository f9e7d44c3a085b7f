import Foundation
import XCTest
@testable import ReckonAudit

/// A held-out group (a dialect never seen in training) is reported with its ratios and a
/// verdict, labelled held-out, and never decides the report's verdict or moves the seen
/// groups' Holm-adjusted p-values.
final class HeldOutTests: XCTestCase {
    /// sae thinks on 20 of 40 and is right on 30; aae the same (ratios 1); pidgin thinks on 4
    /// of 40 and is right on 12 (ratios 0.2 and 0.4: both would fail the four-fifths rule).
    let seen = records("sae", n: 40, thought: 20, correct: 30) + records("aae", n: 40, thought: 20, correct: 30)
    let pidgin = records("pidgin", n: 40, thought: 4, correct: 12)

    func testHeldOutGroupIsReportedButLeftOutOfTheVerdict() throws {
        let audit = Audit(reference: "sae", bootstrapResamples: 0, heldOut: ["pidgin"])
        let report = try audit.run(seen + pidgin)
        XCTAssertEqual(report.groups, ["sae", "aae", "pidgin"])
        XCTAssertTrue(report.passed)
        XCTAssertEqual(report.failures, [])
        XCTAssertEqual(report.heldOutFailures.map(\.check), [.thinkRate, .accuracy, .tokensPerQuery])
        let think = try XCTUnwrap(report.comparison(.thinkRate, group: "pidgin"))
        XCTAssertTrue(think.isHeldOut)
        XCTAssertEqual(think.ratio, 0.2)
        XCTAssertEqual(think.verdict, .fail)
        XCTAssertEqual(try XCTUnwrap(report.comparison(.accuracy, group: "pidgin")).ratio ?? 0, 0.4, accuracy: 1e-12)
        // Its own Holm family of one: the adjusted p is the raw p.
        XCTAssertEqual(think.adjustedPValue, think.test?.pValue)
        // The seen group's comparisons are exactly those of an audit without pidgin.
        let alone = try Audit(reference: "sae", bootstrapResamples: 0).run(seen)
        for check in AuditCheck.allCases {
            XCTAssertEqual(report.comparison(check, group: "aae"), alone.comparison(check, group: "aae"), "\(check)")
        }
        XCTAssertNil(try XCTUnwrap(report.comparison(.thinkRate, group: "aae")).heldOut)

        // Counted, pidgin fails the audit, with a Holm family of two for each check.
        let counted = try Audit(reference: "sae", bootstrapResamples: 0).run(seen + pidgin)
        XCTAssertFalse(counted.passed)
        XCTAssertEqual(counted.failures.map(\.group), ["pidgin", "pidgin", "pidgin"])

        let markdown = report.markdown()
        XCTAssertTrue(markdown.contains("**Verdict: PASSED**"), markdown)
        XCTAssertTrue(markdown.contains("Held out of the verdict (never seen in training, reported apart): `pidgin`; 3 checks would fail if counted: think rate for `pidgin`, accuracy for `pidgin`, tokens per query for `pidgin`."), markdown)
        XCTAssertTrue(markdown.contains("| pidgin (held-out) | 0.5 | 0.1 | 0.2 |"), markdown)
        XCTAssertTrue(markdown.contains("**FAIL** (held-out, not counted)"), markdown)
        XCTAssertTrue(markdown.contains("- Difficulty mix: the same share of each level in every group"), markdown)
        let mixed = try audit.run(seen + records("pidgin", n: 30, thought: 3) + records("pidgin", n: 10, thought: 1, difficulty: 2).map {
            var r = $0; r.id += "-2"; return r
        })
        XCTAssertTrue(mixed.markdown().contains("- Difficulty mix: differs from the reference's in `pidgin`"), mixed.markdown())
        XCTAssertTrue(report.thinkRateSVG().contains("pidgin (fail) (held-out)"))

        let json = try report.json()
        XCTAssertEqual(try AuditReport.decode(json: json), report)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
        XCTAssertEqual((object["audit"] as? [String: Any])?["held_out"] as? [String], ["pidgin"])
        let rows = try XCTUnwrap(object["comparisons"] as? [[String: Any]])
        XCTAssertEqual(rows.filter { $0["held_out"] as? Bool == true }.count, rows.filter { $0["group"] as? String == "pidgin" }.count)
        XCTAssertTrue(rows.filter { $0["group"] as? String == "aae" }.allSatisfy { $0["held_out"] == nil })
    }

    func testHeldOutErrors() {
        XCTAssertThrowsError(try Audit(reference: "sae", heldOut: ["creole"]).run(seen + pidgin)) {
            XCTAssertEqual("\($0)", "invalid audit configuration: held-out group \"creole\" is not in the records; known groups: aae, pidgin, sae")
        }
        XCTAssertThrowsError(try Audit(reference: "sae", heldOut: ["sae"]).run(seen)) {
            XCTAssertEqual("\($0)", "invalid audit configuration: the reference group \"sae\" cannot be held out")
        }
        // Held-out groups alone leave nothing to judge.
        XCTAssertThrowsError(try Audit(reference: "sae", heldOut: ["pidgin"]).run(records("sae", n: 40, thought: 20) + pidgin)) {
            XCTAssertEqual($0 as? AuditError, .nothingToCompare(reference: "sae"))
        }
    }

    /// A report written before held-out groups existed reads back with none.
    func testOlderReportsDecodeWithoutHeldOutGroups() throws {
        let report = try Audit(reference: "sae", bootstrapResamples: 0).run(seen)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: try report.json()) as? [String: Any])
        var audit = try XCTUnwrap(object["audit"] as? [String: Any])
        audit.removeValue(forKey: "held_out")
        object["audit"] = audit
        let old = try JSONSerialization.data(withJSONObject: object)
        XCTAssertEqual(try AuditReport.decode(json: old).audit.heldOut, [])
    }
}
