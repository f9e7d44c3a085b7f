import CHDF5
import Foundation
import XCTest
import ReckonCore
import ReckonModel
import ReckonTrain
@testable import ReckonCheckpoint

/// Tiny models and scratch folders shared by the checkpoint tests.
enum Fixture {
    /// Removes one link from a saved file through HDF5's own API (Reckon never deletes), to
    /// build damaged checkpoints.
    static func removeLink(_ link: String, from path: String) throws {
        let id = H5Fopen(path, reckon_H5F_ACC_RDWR(), reckon_H5P_DEFAULT())
        guard id >= 0 else { throw CheckpointError.io(path: path, operation: "open", message: "H5Fopen failed") }
        defer { H5Fclose(id) }
        guard H5Ldelete(id, link, reckon_H5P_DEFAULT()) >= 0 else {
            throw CheckpointError.io(path: path, operation: "delete \(link)", message: "H5Ldelete failed")
        }
    }

    static let config = ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 32, maxSeqLen: 8)

    /// A fresh scratch folder, removed when the test ends.
    static func directory(_ test: XCTestCase) throws -> String {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-ckpt-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url.path
    }

    /// A checkpoint with non-trivial parameters, moments, step and RNG state.
    static func checkpoint(config: ModelConfig = config, seed: UInt64 = 3) throws -> Checkpoint {
        let model = try Transformer(config: config, seed: seed)
        var opt = AdamW(config: AdamWConfig(beta1: 0.85, beta2: 0.99, eps: 1e-7, weightDecay: 0.05, gradClip: 0.5),
                        layout: model.layout)
        var rng = RNG(seed: seed &+ 1)
        opt.moments = (0..<opt.moments.count).map { _ in rng.normal() * 1e-3 }
        opt.step = 17
        let train = TrainingState(stage: "sft", step: 17, recipe: "stage sft\nlr 3e-4\n# ünïcode ✓\n",
                                  rngState: 0xDEAD_BEEF_0123_4567, rngStreams: ["sampler": 42, "data": UInt64.max],
                                  metrics: ["loss": 1.25, "lr": 3e-4])
        return Checkpoint(model: model, optimizer: opt.state, train: train)
    }

    /// Asserts that `body` throws a CheckpointError satisfying `match`, whose one-line message
    /// names the file and contains each of `mentions`.
    static func assertError(_ path: String, _ mentions: [String], file: StaticString = #filePath, line: UInt = #line,
                            _ body: () throws -> Void, match: (CheckpointError) -> Bool) {
        do {
            try body()
            XCTFail("expected an error", file: file, line: line)
        } catch let error as CheckpointError {
            XCTAssertTrue(match(error), "wrong case: \(error)", file: file, line: line)
            let message = error.description
            XCTAssertTrue(message.hasPrefix(path + ":"), "message should start with the file: \(message)", file: file, line: line)
            XCTAssertFalse(message.contains("\n"), "one line: \(message)", file: file, line: line)
            for m in mentions { XCTAssertTrue(message.contains(m), "message should mention \(m): \(message)", file: file, line: line) }
        } catch {
            XCTFail("not a CheckpointError: \(error)", file: file, line: line)
        }
    }
}
