import Foundation
import XCTest
import ReckonCore
import ReckonModel
import ReckonTrain
@testable import ReckonCheckpoint

final class RoundTripTests: XCTestCase {
    func testSaveLoadIsBitIdentical() throws {
        let dir = try Fixture.directory(self)
        let path = dir + "/full.h5"
        let saved = try Fixture.checkpoint()
        try saved.save(to: path)
        let loaded = try Checkpoint.load(from: path, includeOptimizer: true)

        XCTAssertEqual(loaded.config, saved.config)
        XCTAssertEqual(loaded.params.map(\.bitPattern), saved.params.map(\.bitPattern))
        let opt = try XCTUnwrap(loaded.optimizer), savedOpt = try XCTUnwrap(saved.optimizer)
        XCTAssertEqual(opt.moments.map(\.bitPattern), savedOpt.moments.map(\.bitPattern))
        XCTAssertEqual(opt.step, 17)
        XCTAssertEqual(opt, savedOpt, "hyper-parameters, step and moments")
        XCTAssertEqual(loaded.train, saved.train, "stage, step, recipe, RNG states and metrics")
        XCTAssertEqual(loaded.train?.rngState, 0xDEAD_BEEF_0123_4567)
        XCTAssertEqual(loaded.train?.rngStreams["data"], UInt64.max, "the full uint64 range survives")

        let inference = try Checkpoint.load(from: path)
        XCTAssertNil(inference.optimizer, "inference loading skips the moments")
        XCTAssertEqual(inference.params.map(\.bitPattern), saved.params.map(\.bitPattern))
    }

    func testTiedEmbeddingsHaveNoClassifierDataset() throws {
        let dir = try Fixture.directory(self)
        var config = Fixture.config
        config.tiedEmbeddings = true
        let saved = try Fixture.checkpoint(config: config)
        try saved.save(to: dir + "/tied.h5")
        let summary = try CheckpointSummary.read(from: dir + "/tied.h5")
        XCTAssertFalse(summary.tensors.contains { $0.name == "wcls" })
        XCTAssertEqual(summary.parameterCount, ParameterLayout(config).count)
        XCTAssertEqual(try Checkpoint.load(from: dir + "/tied.h5").params.map(\.bitPattern), saved.params.map(\.bitPattern))
    }

    func testSummaryReadsEverythingButTheValues() throws {
        let dir = try Fixture.directory(self)
        try Fixture.checkpoint().save(to: dir + "/s.h5")
        let s = try CheckpointSummary.read(from: dir + "/s.h5")
        XCTAssertEqual(s.formatVersion, 1)
        XCTAssertEqual(s.config, Fixture.config)
        XCTAssertEqual(s.tensors.map(\.name), ParameterLayout(Fixture.config).tensors.map(\.name))
        XCTAssertEqual(s.tensors.first { $0.name == "wk" }?.shape, [2, 8, 16], "kv_dim = 2 heads × 4")
        XCTAssertTrue(s.hasOptimizer)
        XCTAssertEqual(s.optimizerStep, 17)
        XCTAssertEqual(s.train?.stage, "sft")
    }

    func testModelOnlyCheckpointServesButRefusesToResume() throws {
        let dir = try Fixture.directory(self)
        let path = dir + "/serve.h5"
        let model = try Transformer(config: Fixture.config, seed: 9)
        try Checkpoint(model: model).save(to: path)

        let served = try Checkpoint.load(from: path).model()
        var a = try Activations(config: Fixture.config, batch: 1, seqLen: 4)
        var b = a
        try a.setBatch(tokens: [257, 72, 105, 33], targets: [72, 105, 33, 258])
        try b.setBatch(tokens: [257, 72, 105, 33], targets: [72, 105, 33, 258])
        model.forward(&a)
        served.forward(&b)
        XCTAssertEqual(Array(a.logits(row: 3)).map(\.bitPattern), Array(b.logits(row: 3)).map(\.bitPattern))

        Fixture.assertError(path, ["/optimizer", "model-only"], { _ = try Checkpoint.load(from: path, includeOptimizer: true) }) {
            if case .notResumable = $0 { true } else { false }
        }
        // Optimizer state without /train (stage, step, RNG) cannot resume exactly either.
        let noTrain = dir + "/no-train.h5"
        var c = try Fixture.checkpoint()
        c.train = nil
        try c.save(to: noTrain)
        Fixture.assertError(noTrain, ["/train"], { _ = try Checkpoint.load(from: noTrain, includeOptimizer: true) }) {
            if case .notResumable = $0 { true } else { false }
        }
    }

    func testSaveRefusesInconsistentBuffers() throws {
        let dir = try Fixture.directory(self)
        var c = try Fixture.checkpoint()
        c.params.removeLast()
        Fixture.assertError(dir + "/x.h5", ["parameters"], { try c.save(to: dir + "/x.h5") }) {
            if case .inconsistent = $0 { true } else { false }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.h5"))
        Fixture.assertError(dir + "/missing/x.h5", ["does not exist"], { try Fixture.checkpoint().save(to: dir + "/missing/x.h5") }) {
            if case .io = $0 { true } else { false }
        }
    }
}

final class ResumeTests: XCTestCase {
    struct Run {
        var model: Transformer
        var opt: AdamW
        var rng: RNG
    }

    /// Training steps `range`; each batch is drawn from the run's RNG, so a resumed run
    /// only matches if the RNG state came back exactly.
    func train(_ run: inout Run, steps range: Range<Int>) throws {
        let B = 2, T = 8, N = B * T
        var acts = try Activations(config: run.model.config, batch: B, seqLen: T)
        let weights = [Float](repeating: 1 / Float(N), count: N)
        let schedule = try LRSchedule(maxLR: 1e-2, minLR: 1e-3, warmupSteps: 2, totalSteps: 8)
        for step in range {
            let seq = (0...N).map { _ in Int32(97 + run.rng.int(below: 8)) }
            try acts.setBatch(tokens: Array(seq[0..<N]), targets: Array(seq[1...N]))
            run.model.zeroGrad()
            run.model.forward(&acts)
            try run.model.backward(&acts, weights: weights)
            try run.opt.update(params: &run.model.params, grads: run.model.grads, lr: schedule.lr(at: step))
        }
    }

    func fresh() throws -> Run {
        let model = try Transformer(config: Fixture.config, seed: 11)
        return Run(model: model, opt: AdamW(config: AdamWConfig(), layout: model.layout), rng: RNG(seed: 5))
    }

    func resumed(from path: String) throws -> Run {
        let c = try Checkpoint.load(from: path, includeOptimizer: true)
        let state = try XCTUnwrap(c.train)
        var rng = RNG(seed: 0)
        rng.state = state.rngState
        let model = try c.model()
        return Run(model: model, opt: try AdamW(try XCTUnwrap(c.optimizer), layout: model.layout), rng: rng)
    }

    func testHalfwaySaveAndLoadContinuesBitExactly() throws {
        let dir = try Fixture.directory(self)
        let total = 8, half = total / 2

        var straight = try fresh()
        try train(&straight, steps: 0..<total)

        var first = try fresh()
        try train(&first, steps: 0..<half)
        let path = dir + "/half.h5"
        try Checkpoint(model: first.model, optimizer: first.opt.state,
                       train: TrainingState(stage: "pretrain", step: half, recipe: "test", rngState: first.rng.state))
            .save(to: path)

        var second = try resumed(from: path)
        XCTAssertEqual(second.opt.step, half)
        try train(&second, steps: half..<total)
        XCTAssertEqual(second.model.params.map(\.bitPattern), straight.model.params.map(\.bitPattern),
                       "resumed run ends in the same parameters, bit for bit")
        XCTAssertEqual(second.opt.moments.map(\.bitPattern), straight.opt.moments.map(\.bitPattern))
        XCTAssertEqual(second.rng, straight.rng)

        // Control: the test is sensitive to the RNG state (a fresh stream diverges).
        var wrongRNG = try resumed(from: path)
        wrongRNG.rng = RNG(seed: 5)
        try train(&wrongRNG, steps: half..<total)
        XCTAssertNotEqual(wrongRNG.model.params.map(\.bitPattern), straight.model.params.map(\.bitPattern))
    }
}

final class AtomicSaveTests: XCTestCase {
    func testCrashBeforeRenameLeavesPreviousCheckpointIntact() throws {
        let dir = try Fixture.directory(self)
        let path = dir + "/step-000100.h5"
        let first = try Fixture.checkpoint(seed: 3)
        try first.save(to: path)

        // A process killed after writing half of its temporary, before the rename.
        let second = try Fixture.checkpoint(seed: 4)
        let temporary = try second.writeTemporary(beside: path)
        XCTAssertTrue(temporary.hasPrefix(dir + "/.step-000100.h5.tmp-"), temporary)
        let size = (try FileManager.default.attributesOfItem(atPath: temporary)[.size] as? Int) ?? 0
        let h = try XCTUnwrap(FileHandle(forUpdatingAtPath: temporary))
        try h.truncate(atOffset: UInt64(size / 2))
        try h.close()
        let loaded = try Checkpoint.load(from: path, includeOptimizer: true)
        XCTAssertEqual(loaded.params.map(\.bitPattern), first.params.map(\.bitPattern), "the previous checkpoint survives")
        try FileManager.default.removeItem(atPath: temporary)

        // A save whose rename fails (a folder sits where the file goes) leaves no temporary.
        let blocked = dir + "/blocked.h5"
        try FileManager.default.createDirectory(atPath: blocked + "/inside", withIntermediateDirectories: true)
        XCTAssertThrowsError(try second.save(to: blocked)) { XCTAssert("\($0)".contains("rename"), "\($0)") }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }, [],
                       "a failed save cleans up its temporary")

        // A process killed outright leaves its temporary behind: it never shadows the real
        // file, and rotation removes it once its process is gone.
        let stale = dir + "/.step-000200.h5.tmp-2147483646"
        try Data("half a checkpoint".utf8).write(to: URL(fileURLWithPath: stale))
        let rotation = try CheckpointRotation(directory: dir, keep: 3)
        XCTAssertEqual(try rotation.latest(), path)
        XCTAssertEqual(try rotation.prune(), [stale])
        XCTAssertEqual(try Checkpoint.load(from: path).params.map(\.bitPattern), first.params.map(\.bitPattern))
    }

    func testRotationKeepsTheLastK() throws {
        let dir = try Fixture.directory(self) + "/run"
        let rotation = try CheckpointRotation(directory: dir, keep: 2)
        let c = try Fixture.checkpoint()
        for step in [100, 200, 300, 1_000_000] { try rotation.save(c, step: step) }
        try Data().write(to: URL(fileURLWithPath: dir + "/notes.txt"))
        XCTAssertEqual(try rotation.checkpoints().map(\.step), [300, 1_000_000])
        XCTAssertEqual(try rotation.latest(), dir + "/step-1000000.h5")
        XCTAssertEqual(rotation.path(forStep: 42), dir + "/step-000042.h5")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/notes.txt"), "other files are left alone")
        XCTAssertNil(CheckpointRotation.step(ofFile: ".step-000100.h5.tmp-12"))
        XCTAssertThrowsError(try CheckpointRotation(directory: dir, keep: 0)) {
            guard case .invalidRotation = $0 as? CheckpointError else { return XCTFail("\($0)") }
        }
    }
}
