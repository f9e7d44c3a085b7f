import Foundation
import XCTest
import ReckonModel
@testable import ReckonCheckpoint

/// The optional /routing group: the rule a checkpoint is used with and the split it was chosen on.
final class StoredRoutingTests: XCTestCase {
    let rule = StoredRouting(policy: .threshold(0.3), criterion: "highest accuracy, then fewest tokens",
                             split: "val.jsonl", splitExamples: 240, splitChecksum: 0xFEDC_BA98_7654_3210,
                             accuracy: 0.975, thinkRate: 0.2625, meanTokens: 27.3)

    func testRuleRoundTripsAndIsAbsentByDefault() throws {
        let dir = try Fixture.directory(self)
        var c = try Fixture.checkpoint()
        try c.save(to: dir + "/plain.h5")
        XCTAssertNil(try Checkpoint.load(from: dir + "/plain.h5").routing, "a checkpoint without /routing stores no rule")

        c.routing = rule
        try c.save(to: dir + "/routed.h5")
        let loaded = try Checkpoint.load(from: dir + "/routed.h5", includeOptimizer: true)
        XCTAssertEqual(loaded.routing, rule, "every field, the full uint64 checksum included")
        XCTAssertEqual(loaded.routing?.policy, .threshold(0.3))
        XCTAssertEqual(loaded.params.map(\.bitPattern), c.params.map(\.bitPattern))
        XCTAssertEqual(try CheckpointSummary.read(from: dir + "/routed.h5").routing, rule)
    }

    /// FNV-1a 64 of known inputs (the published test vectors for "" and "a").
    func testSplitFingerprintIsFNV1a() {
        XCTAssertEqual(StoredRouting.fnv1a([UInt8]()), 0xcbf2_9ce4_8422_2325)
        XCTAssertEqual(StoredRouting.fnv1a(Array("a".utf8)), 0xaf63_dc4c_8601_ec8c)
    }

    func testAlteredRuleTextFailsTheChecksum() throws {
        let path = try savedWithRuleText("threshold:0.9")
        Fixture.assertError(path, ["/routing", "text_checksum"], { _ = try Checkpoint.load(from: path) }) {
            if case .corrupted = $0 { true } else { false }
        }
    }

    func testUnknownRuleIsRefused() throws {
        let path = try savedWithRuleText("threshold:1.5")
        Fixture.assertError(path, ["/routing", "rule", "threshold:1.5"], { _ = try Checkpoint.load(from: path) }) {
            if case .wrongAttribute = $0 { true } else { false }
        }
    }

    /// A checkpoint saved with `rule`, whose stored rule text is then overwritten with `text`.
    private func savedWithRuleText(_ text: String) throws -> String {
        var c = try Fixture.checkpoint()
        c.routing = rule
        let path = try Fixture.directory(self) + "/altered.h5"
        try c.save(to: path)
        let f = try HDF5File.open(path, writable: true)
        try f.setAttribute("/routing", "rule", .string(text))
        try f.close()
        return path
    }
}
