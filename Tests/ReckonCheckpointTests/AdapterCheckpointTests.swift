import Foundation
import XCTest
import ReckonCore
import ReckonData
import ReckonModel
@testable import ReckonTrain
@testable import ReckonCheckpoint

/// Adapter files on a tiny model: round trip, base resolution and its errors, the merged full
/// checkpoint, and bit-exact resume of LoRA warm-up SFT.
final class AdapterCheckpointTests: XCTestCase {
    let config = ModelConfig(dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 32, maxSeqLen: 64)
    let lora = LoRAConfig(rank: 4, alpha: 8, targets: [.q, .v, .o, .down])

    /// A base checkpoint saved under `dir/base/`, with a GGUF source for the fetch hint.
    func savedBase(_ dir: String) throws -> (Checkpoint, String) {
        try FileManager.default.createDirectory(atPath: "\(dir)/base", withIntermediateDirectories: true)
        var base = Checkpoint(model: try Transformer(config: config, seed: 7))
        base.source = ImportSource(format: "gguf", file: "Tiny.Q4_1.gguf", sha256: String(repeating: "ab", count: 32), metadata: "{}")
        let path = "\(dir)/base/tiny.h5"
        try base.save(to: path)
        return (base, path)
    }

    func sft(_ model: Transformer, steps: Int) throws -> SFTTrainer {
        let examples = try Generator.generate(n: 12, levels: [1], dialects: [.symbolic: 1], seed: 3)
        let data = SFTData(examples: examples, context: config.maxSeqLen, overflow: .reject)
        let schedule = try LRSchedule(maxLR: 1e-2, minLR: 1e-3, warmupSteps: 2, totalSteps: steps)
        return try SFTTrainer(config: SFTConfig(batch: 4, steps: steps, schedule: schedule, adamw: AdamWConfig(weightDecay: 0.01), seed: 5),
                              data: data, model: model)
    }

    func adapted(_ base: Checkpoint) throws -> Transformer {
        var model = try base.model()
        try model.attach(LoRA(config: lora, base: model, controlTokens: base.controlTokenIDs, seed: 2))
        return model
    }

    func logits(_ m: Transformer) throws -> [Float] {
        var a = try Activations(config: config, batch: 1, seqLen: 6)
        try a.setBatch(tokens: [257, 40, 41, 259, 42, 261], targets: [40, 41, 259, 42, 261, 43])
        m.forward(&a)
        return (0..<6).flatMap { Array(a.logits(row: $0)) }
    }

    func testRoundTripResolvesTheBaseAndMergesToTheSameOutputs() throws {
        let dir = try Fixture.directory(self)
        let (base, basePath) = try savedBase(dir)
        var trainer = try sft(try adapted(base), steps: 3)
        for _ in 0..<3 { _ = try trainer.trainStep() }
        let model = trainer.model
        XCTAssertNotEqual(model.lora?.params, try adapted(base).lora?.params, "training moved the adapters")
        try FileManager.default.createDirectory(atPath: "\(dir)/runs", withIntermediateDirectories: true)
        let path = "\(dir)/runs/adapter.h5"
        let ref = BaseReference.to(base: base, at: basePath, from: path)
        XCTAssertEqual(ref.path, "../base/tiny.h5")
        try AdapterCheckpoint(lora: try XCTUnwrap(model.lora), base: ref,
                              train: TrainingState(stage: "sft", step: 3, recipe: "[lora]\nrank = 4\n", rngState: 1)).save(to: path)
        XCTAssertTrue(AdapterCheckpoint.isAdapter(path))
        XCTAssertFalse(AdapterCheckpoint.isAdapter(basePath))

        let loaded = try AdapterCheckpoint.load(from: path)
        XCTAssertEqual(loaded.lora, lora)
        XCTAssertEqual(loaded.params, model.lora?.params)
        XCTAssertEqual(loaded.base, BaseReference(name: "tiny.h5", path: "../base/tiny.h5", sha256: AdapterCheckpoint.weightsSHA256(base.params),
                                                  source: ImportSource(format: "gguf", file: "Tiny.Q4_1.gguf", sha256: String(repeating: "ab", count: 32), metadata: "")))
        XCTAssertEqual(loaded.train?.recipe, "[lora]\nrank = 4\n")
        let (back, _) = try loaded.model(adapterPath: path, base: nil)
        XCTAssertEqual(try logits(back), try logits(model), "the unmerged reload is the trained model, exactly")

        // Serving loads it merged: a full checkpoint with the base's tokenizer and source.
        let merged = try ModelFile.load(path)
        XCTAssertEqual(merged.source, base.source)
        for (x, y) in zip(try logits(try merged.model()), try logits(model)) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        // The export writes it as an ordinary checkpoint.
        try merged.save(to: "\(dir)/merged.h5")
        XCTAssertEqual(try Checkpoint.load(from: "\(dir)/merged.h5").params, merged.params)
    }

    /// An adapter stores the rule `reckon calibrate` chose; merged, it replaces the base's.
    func testAdapterRoutingRoundTripsAndOverridesTheBasesRule() throws {
        let dir = try Fixture.directory(self)
        var (base, basePath) = try savedBase(dir)
        base.routing = StoredRouting(policy: .threshold(0.7), criterion: "base's", split: "a.jsonl", splitExamples: 3,
                                     splitChecksum: 1, accuracy: 0.5, thinkRate: 0.5, meanTokens: 4)
        try base.save(to: basePath)
        let path = "\(dir)/adapter.h5"
        var adapter = AdapterCheckpoint(lora: try XCTUnwrap(try adapted(base).lora), base: BaseReference.to(base: base, at: basePath, from: path))
        try adapter.save(to: path)
        XCTAssertNil(try AdapterCheckpoint.load(from: path).routing)
        XCTAssertEqual(try ModelFile.load(path).routing, base.routing, "without its own rule the base's applies")
        let rule = StoredRouting(policy: .threshold(0.3), criterion: "highest accuracy", split: "val.jsonl", splitExamples: 12,
                                 splitChecksum: 0xABCD, accuracy: 0.75, thinkRate: 0.25, meanTokens: 9.5)
        adapter.routing = rule
        try adapter.save(to: path)
        XCTAssertEqual(try AdapterCheckpoint.load(from: path).routing, rule)
        XCTAssertEqual(try ModelFile.load(path).routing, rule)
    }

    func testMissingOrMismatchedBaseIsAClearError() throws {
        let dir = try Fixture.directory(self)
        let (base, basePath) = try savedBase(dir)
        let model = try adapted(base)
        let path = "\(dir)/adapter.h5"
        try AdapterCheckpoint(lora: try XCTUnwrap(model.lora), base: BaseReference.to(base: base, at: basePath, from: path)).save(to: path)
        let sha = AdapterCheckpoint.weightsSHA256(base.params)

        try FileManager.default.moveItem(atPath: basePath, toPath: "\(dir)/elsewhere.h5")
        Fixture.assertError(path, [sha, "tools/fetch_base.sh", "reckon import", "Tiny.Q4_1.gguf", "--base"], {
            _ = try ModelFile.load(path)
        }) { if case .baseMissing = $0 { true } else { false } }
        // --base finds it where it was moved.
        XCTAssertNoThrow(try ModelFile.load(path, base: "\(dir)/elsewhere.h5"))

        var other = base
        other.params[5] += 1e-3
        try other.save(to: basePath)
        Fixture.assertError(path, [sha, AdapterCheckpoint.weightsSHA256(other.params), basePath], {
            _ = try ModelFile.load(path)
        }) { if case .baseMismatch = $0 { true } else { false } }
    }

    /// Train k steps, save the adapter with its optimizer, reload on the base and go on: the
    /// adapters equal those of one uninterrupted run, bit for bit.
    func testResumeFromAnAdapterIsBitExact() throws {
        let dir = try Fixture.directory(self)
        let (base, basePath) = try savedBase(dir)
        let total = 5, k = 2
        var straight = try sft(try adapted(base), steps: total)
        for _ in 0..<total { _ = try straight.trainStep() }

        var first = try sft(try adapted(base), steps: total)
        for _ in 0..<k { _ = try first.trainStep() }
        let path = "\(dir)/step.h5"
        try AdapterCheckpoint(lora: try XCTUnwrap(first.model.lora), base: BaseReference.to(base: base, at: basePath, from: path),
                              optimizer: first.optimizer.state,
                              train: TrainingState(stage: "sft", step: first.step, recipe: "", rngState: first.rngState)).save(to: path)
        let saved = try AdapterCheckpoint.load(from: path, includeOptimizer: true)
        let (model, _) = try saved.model(adapterPath: path, base: nil)
        var resumed = try sft(model, steps: total)
        try resumed.restore(model: model, optimizer: try AdamW(try XCTUnwrap(saved.optimizer), trainable: model),
                            step: try XCTUnwrap(saved.train).step, rngState: try XCTUnwrap(saved.train).rngState)
        for _ in k..<total { _ = try resumed.trainStep() }
        XCTAssertEqual(resumed.model.lora?.params, straight.model.lora?.params)
        XCTAssertEqual(resumed.optimizer.moments, straight.optimizer.moments)
        XCTAssertEqual(resumed.model.params, straight.model.params, "same base and control rows")
        // Only the adapter's moments exist: 2 × its parameters, not 2 × the model's.
        XCTAssertEqual(straight.optimizer.moments.count, 2 * (straight.model.lora?.parameterCount ?? 0))
        XCTAssertLessThan(straight.optimizer.moments.count, straight.model.parameterCount)
    }
}
