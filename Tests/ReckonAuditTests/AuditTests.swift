import XCTest
@testable import ReckonAudit

/// Records built by count: `thought` of the first `served` think, `correct` of them are right.
func records(_ group: String, n: Int, thought: Int, correct: Int = 0, rejected: Int = 0, difficulty: Int? = 1,
             pairs: Bool = false) -> [AuditRecord] {
    (0..<n).map { i in
        let reject = i >= n - rejected
        return AuditRecord(id: "\(group)-\(i)", group: group, difficulty: difficulty, pairID: pairs ? "p\(i)" : nil,
                           thought: !reject && i < thought, correct: !reject && i < correct,
                           tokens: reject ? 0 : (i < thought ? 40 : 5), action: reject ? .reject : nil,
                           latency: reject ? 0 : Double(i % 7) + 1)
    }
}

final class AuditTests: XCTestCase {
    let quick = Audit(reference: "sae", bootstrapResamples: 0)

    func testErrors() {
        XCTAssertThrowsError(try quick.run([])) { XCTAssertEqual($0 as? AuditError, .noRecords) }
        let rs = records("aae", n: 30, thought: 10) + records("words", n: 30, thought: 10)
        XCTAssertThrowsError(try quick.run(rs)) { error in
            XCTAssertEqual(error as? AuditError, .unknownReferenceGroup("sae", known: ["aae", "words"]))
            XCTAssertTrue("\(error)".contains("known groups: aae, words"))
        }
        XCTAssertThrowsError(try quick.run(records("sae", n: 30, thought: 10))) {
            XCTAssertEqual($0 as? AuditError, .nothingToCompare(reference: "sae"))
        }
        var bad = records("sae", n: 3, thought: 1) + records("aae", n: 3, thought: 1)
        bad[1].latency = .nan
        XCTAssertThrowsError(try quick.run(bad)) {
            guard case .invalidRecord(let id, _) = $0 as? AuditError else { return XCTFail("\($0)") }
            XCTAssertEqual(id, "sae-1")
        }
        let twice = records("sae", n: 3, thought: 1, pairs: true) + records("aae", n: 3, thought: 1, pairs: true)
            + records("aae", n: 1, thought: 1, pairs: true)
        XCTAssertThrowsError(try quick.run(twice)) { XCTAssertEqual($0 as? AuditError, .duplicatePairID("p0", group: "aae")) }
        var config = quick
        config.minRatio = 1.5
        XCTAssertThrowsError(try config.run(rs)) {
            guard case .invalidConfiguration = $0 as? AuditError else { return XCTFail("\($0)") }
        }
    }

    func testMetricDenominators() throws {
        // 10 requests: 4 think (3 right), 4 short (1 right), 2 rejected.
        var rs = records("sae", n: 10, thought: 4, correct: 3, rejected: 2)
        rs[5].correct = true
        rs[6].action = .downgrade
        let m = GroupMetrics(rs)
        XCTAssertEqual(m.served, 8)
        XCTAssertEqual(m.thinkRate, 0.5)
        XCTAssertEqual(m.accuracy, 0.4)             // rejected count as wrong
        XCTAssertEqual(m.accuracyThink, 0.75)
        XCTAssertEqual(m.accuracyShort, 0.25)       // rejected left out
        XCTAssertEqual(m.tokensPerQuery, (4 * 40 + 4 * 5) / 10.0)
        XCTAssertEqual(m.rejectRate, 0.2)
        XCTAssertEqual(m.downgradeRate, 0.1)
        XCTAssertEqual(m.latencyP50, Statistics.percentile([1, 2, 3, 4, 5, 6, 7, 1].sorted(), 0.5))

        let frame = MetricFrame(rs + records("aae", n: 10, thought: 2, difficulty: 2))
        XCTAssertEqual(frame.groups, ["aae", "sae"])
        XCTAssertEqual(frame.difficulties, [1, 2])
        XCTAssertEqual(frame.ratio(.thinkRate, to: "sae")["aae"] ?? .nan, 0.4, accuracy: 1e-12)
        XCTAssertEqual(frame.difference(.thinkRate, to: "sae")["aae"] ?? .nan, -0.3, accuracy: 1e-12)
        XCTAssertEqual(frame.overall.n, 20)
    }

    func testTinyGroupsAreInsufficientNeverFail() throws {
        // A glaring gap, but only 5 examples per group: no check may pass or fail.
        let rs = records("sae", n: 5, thought: 5, correct: 5, pairs: true) + records("aae", n: 5, thought: 0, rejected: 3, pairs: true)
        let report = try quick.run(rs)
        XCTAssertTrue(report.passed)
        let judged = report.comparisons.filter { $0.check != .latency }
        XCTAssertFalse(judged.isEmpty)
        for c in judged {
            XCTAssertEqual(c.verdict, .insufficientData, "\(c.check)")
            XCTAssertNil(c.test)
            XCTAssertNil(c.adjustedPValue)
        }
        XCTAssertNil(report.comparison(.latency, group: "aae")?.verdict)
    }

    func testVerdictRules() throws {
        let rs = records("sae", n: 100, thought: 60, correct: 90, pairs: true)
            + records("aae", n: 100, thought: 20, correct: 80, rejected: 10, pairs: true)  // ratio 0.2/0.9·…
            + records("words", n: 100, thought: 55, correct: 88, pairs: true)              // close to the reference
        let report = try Audit(reference: "sae", bootstrapResamples: 200, seed: 1).run(rs)
        XCTAssertFalse(report.passed)
        XCTAssertEqual(report.groups, ["sae", "aae", "words"])

        let think = try XCTUnwrap(report.comparison(.thinkRate, group: "aae"))
        XCTAssertEqual(think.verdict, .fail)
        XCTAssertEqual(think.groupN, 90)
        XCTAssertEqual(think.ratio ?? .nan, (20.0 / 90) / 0.6, accuracy: 1e-12)
        XCTAssertLessThan(think.adjustedPValue ?? 1, 0.05)
        XCTAssertTrue(try XCTUnwrap(think.ratioCI).contains(try XCTUnwrap(think.ratio)))
        XCTAssertEqual(report.comparison(.thinkRate, group: "words")?.verdict, .pass)

        // Holm across the two groups: the adjusted p is the larger of 2·min and the other raw p.
        let raw = ["aae", "words"].map { report.comparison(.thinkRate, group: $0)?.test?.pValue ?? .nan }
        XCTAssertEqual(report.comparison(.thinkRate, group: "aae")?.adjustedPValue, Statistics.holm(raw)[0])

        // Reference rejects nothing: an infinite ratio, and 10 of 100 is significant.
        let reject = try XCTUnwrap(report.comparison(.rejectRate, group: "aae"))
        XCTAssertEqual(reject.ratio, .infinity)
        XCTAssertEqual(reject.verdict, .fail)

        // Accuracy 0.8 vs 0.9: ratio 0.89 passes the four-fifths rule, but not a 5-point gap rule.
        XCTAssertEqual(report.comparison(.accuracy, group: "aae")?.verdict, .pass)
        var strict = Audit(reference: "sae", maxAccuracyGap: 0.05, bootstrapResamples: 0)
        strict.alpha = 0.2
        let gapReport = try strict.run(rs)
        XCTAssertEqual(gapReport.comparison(.accuracy, group: "aae")?.verdict, .fail)
        XCTAssertEqual(gapReport.comparison(.accuracy, group: "words")?.verdict, .pass)

        // Paired: sae thinks on p0..p59, aae on p0..p19 (and served p0..p89): 40 flips to short, none back.
        let paired = try XCTUnwrap(report.comparison(.pairedRouting, group: "aae"))
        XCTAssertEqual(paired.flips, PairedFlips(pairs: 90, toShort: 40, toThink: 0, flipRate: 40.0 / 90))
        XCTAssertEqual(paired.test?.pValue ?? .nan, 2 * pow(0.5, 40), accuracy: 1e-20)
        XCTAssertEqual(paired.verdict, .fail)
        XCTAssertEqual(Set(report.failures.map(\.group)), ["aae"])
    }
}
