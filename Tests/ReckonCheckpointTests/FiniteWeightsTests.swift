import Foundation
import XCTest
import ReckonModel
@testable import ReckonCheckpoint

/// Non-finite weights are refused at load, naming the tensor; `--verify` reports which
/// tensors a checksum covers and which it does not.
final class FiniteWeightsTests: XCTestCase {
    func testFirstNonFiniteFindsNaNAndInfinitiesOnly() {
        XCTAssertNil(FiniteCheck.firstNonFinite([0, -0, 1, -1, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                                                 .leastNonzeroMagnitude, .leastNormalMagnitude]))
        XCTAssertEqual(FiniteCheck.firstNonFinite([1, 2, .nan, .infinity]), 2)
        XCTAssertEqual(FiniteCheck.firstNonFinite([1, -.infinity]), 1)
        XCTAssertEqual(FiniteCheck.firstNonFinite([Float(bitPattern: 0x7FC0_0001)]), 0, "a NaN with a payload")
        XCTAssertEqual(FiniteCheck.firstNonFinite([Float(bitPattern: 0xFF80_0000)]), 0)
        XCTAssertNil(FiniteCheck.firstNonFinite([Float(bitPattern: 0x7F7F_FFFF)]), "the largest finite float")
        XCTAssertNil(FiniteCheck.firstNonFinite([]))
    }

    /// One NaN in one element of one tensor: the load names that tensor and element.
    func testLoadRefusesANaNAndNamesTheTensor() throws {
        let dir = try Fixture.directory(self)
        for (tensor, element, value) in [("norm", 5, Float.nan), ("wq", 17, Float.infinity), ("tok_embeddings", 0, -Float.infinity)] {
            let path = dir + "/\(tensor).h5"
            var c = try Fixture.checkpoint()
            let t = try XCTUnwrap(c.layout.tensors.first { $0.name == tensor })
            c.params[t.offset + element] = value
            try c.save(to: path)
            Fixture.assertError(path, ["/model/\(tensor)", "non-finite", "element \(element)"], { _ = try Checkpoint.load(from: path) }) {
                if case .nonFinite(_, "/model/\(tensor)", element, _) = $0 { true } else { false }
            }
            Fixture.assertError(path, ["/model/\(tensor)"], { _ = try CheckpointVerification.run(path: path) }) {
                if case .nonFinite = $0 { true } else { false }
            }
        }
    }

    func testNaNInOptimizerMomentsIsRefusedOnResume() throws {
        let dir = try Fixture.directory(self)
        let path = dir + "/m.h5"
        var c = try Fixture.checkpoint()
        c.optimizer!.moments[c.layout.count + 3] = .nan  // v of the first tensor, element 3
        try c.save(to: path)
        XCTAssertNoThrow(try Checkpoint.load(from: path), "inference does not read the moments")
        Fixture.assertError(path, ["/optimizer/v/tok_embeddings", "element 3"], { _ = try Checkpoint.load(from: path, includeOptimizer: true) }) {
            if case .nonFinite = $0 { true } else { false }
        }
    }

    /// A tensor rewritten contiguous (as h5py does by default) has no checksum; --verify says so.
    func testVerifyNamesTensorsWithoutAChecksum() throws {
        let dir = try Fixture.directory(self)
        let path = dir + "/contiguous.h5"
        let c = try Fixture.checkpoint()
        try c.save(to: path)
        let full = try CheckpointVerification.run(path: path)
        let perGroup = c.layout.tensors.count
        XCTAssertEqual(full.datasets.count, 3 * perGroup)
        XCTAssertEqual(full.checksummed.count, 3 * perGroup)
        XCTAssertEqual(full.values, 3 * c.layout.count)
        XCTAssertTrue(full.report[1].contains("all \(3 * perGroup) tensors matched their Fletcher-32 checksum"), full.report[1])

        let norm = try XCTUnwrap(c.layout.tensors.first { $0.name == "norm" })
        try Fixture.removeLink("/model/norm", from: path)
        let file = try HDF5File.open(path, writable: true)
        try file.write("/model/norm", Array(c.params[norm.range]), shape: norm.shape, checksummed: false)
        try file.close()
        XCTAssertEqual(try Checkpoint.load(from: path).params, c.params, "the values are intact")
        let partial = try CheckpointVerification.run(path: path)
        XCTAssertEqual(partial.unchecksummed, ["/model/norm"])
        XCTAssertEqual(partial.checksummed.count, 3 * perGroup - 1)
        XCTAssertTrue(partial.report[1].contains("\(3 * perGroup - 1) of \(3 * perGroup) tensors matched"), partial.report[1])
        XCTAssertTrue(partial.report[1].contains("1 stored without one (contiguous), so bit flips in them are not detected: /model/norm"),
                      partial.report[1])
    }
}
