import XCTest
import ReckonData
import ReckonModel
@testable import ReckonTrain

final class SFTTests: XCTestCase {
    let config = ModelConfig(dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 32, maxSeqLen: 64)

    func examples(_ n: Int = 12) throws -> [Example] {
        try Generator.generate(n: n, levels: [1], dialects: [.symbolic: 1], seed: 3)
    }

    func trainer(steps: Int, batch: Int = 4, lr: Float = 1e-2, seed: UInt64 = 5) throws -> SFTTrainer {
        let data = SFTData(examples: try examples(), context: config.maxSeqLen, overflow: .reject)
        let schedule = try LRSchedule(maxLR: lr, minLR: lr / 10, warmupSteps: min(2, steps), totalSteps: steps)
        return try SFTTrainer(config: SFTConfig(batch: batch, steps: steps, schedule: schedule,
                                                adamw: AdamWConfig(weightDecay: 0), seed: seed),
                              data: data, model: try Transformer(config: config, seed: 7))
    }

    /// A one-step trainer from a recipe's [sft] (batch 3, sequence mean, no decay) after `edit`.
    func oneStepTrainer(_ edit: (inout Recipe.SFT) -> Void) throws -> SFTTrainer {
        var recipe = Recipe.SFT()
        recipe.steps = 1; recipe.batch = 3; recipe.lossNorm = .sequence; recipe.weightDecay = 0; recipe.warmup = 0
        edit(&recipe)
        let data = SFTData(examples: try examples(), context: config.maxSeqLen, overflow: .reject)
        return try SFTTrainer(config: SFTConfig(recipe: recipe, prompts: data.count), data: data,
                               model: try Transformer(config: config, seed: 7))
    }

    /// The loss and gradients of one step built by hand: each sequence alone, its row i
    /// (predicting targets[i]) weighted `weight(sequence, i)`, summed.
    func handBuiltStep(_ seqs: [TrainingSequence], weight: (TrainingSequence, Int) -> Float) throws -> (loss: Double, grads: [Float]) {
        var reference = try Transformer(config: config, seed: 7)
        var loss = 0.0
        for s in seqs {
            var acts = try Activations(config: config, batch: 1, seqLen: s.rowCount)
            let r = s.rows(length: s.rowCount)
            try acts.setBatch(tokens: r.inputs, targets: r.targets)
            let w = r.targets.indices.map { r.targets[$0] >= 0 ? weight(s, $0) : 0 }
            reference.forward(&acts)
            loss += Double(Transformer.loss(acts, weights: w))
            try reference.backward(&acts, weights: w)
        }
        return (loss, Array(reference.grads))
    }

    /// Asserts that `t`'s next step has the hand-built loss and gradients.
    func assertStepEquals(_ t: inout SFTTrainer, _ expected: (loss: Double, grads: [Float]),
                          file: StaticString = #filePath, line: UInt = #line) throws {
        let stats = try t.trainStep()
        XCTAssertEqual(Double(stats.loss), expected.loss, accuracy: 1e-5, file: file, line: line)
        var maxDiff: Float = 0
        for i in 0..<expected.grads.count { maxDiff = max(maxDiff, abs(expected.grads[i] - t.model.grads[i])) }
        XCTAssertLessThan(maxDiff, 1e-5, file: file, line: line)
    }

    func testOverlongExamplesAreRejectedOrTruncatedAndCounted() throws {
        let ex = try examples(10)
        let longest = ex.map { PromptFormat.prompt($0.prompt).count + PromptFormat.longAnswer(steps: $0.long ?? "", short: $0.shortAnswer).count }
        let context = longest.sorted()[4]  // about half of them fit
        let rejected = SFTData(examples: ex, context: context, overflow: .reject)
        XCTAssertEqual(rejected.rejected, longest.filter { $0 > context }.count)
        XCTAssertEqual(rejected.count + rejected.rejected, 10)
        let truncated = SFTData(examples: ex, context: context, overflow: .truncate)
        XCTAssertEqual(truncated.truncated, rejected.rejected)
        XCTAssertEqual(truncated.count, 10)
        XCTAssertTrue(truncated.pairs.allSatisfy { $0.long.tokens.count <= context })
        var noLong = ex[0]
        noLong.long = nil
        XCTAssertEqual(SFTData(examples: [noLong], context: 64, overflow: .reject).missingLong, 1)
    }

    func testEveryEpochVisitsEachPromptOnceAndResumedRunsDrawTheSameBatches() throws {
        var t = try trainer(steps: 10, batch: 4)  // 12 prompts: 3 steps per epoch
        let epoch0 = (0..<3).flatMap { t.batchIndices(step: $0) }
        let epoch1 = (3..<6).flatMap { t.batchIndices(step: $0) }
        XCTAssertEqual(epoch0.sorted(), Array(0..<12))
        XCTAssertEqual(epoch1.sorted(), Array(0..<12))
        XCTAssertNotEqual(epoch0, epoch1, "each epoch is shuffled anew")
        var fresh = try trainer(steps: 10, batch: 4)
        XCTAssertEqual(fresh.batchIndices(step: 4), t.batchIndices(step: 4), "batches depend only on seed and step")
    }

    /// The two padded passes give the gradient of one batch holding both modes, with
    /// weights = mask / (answer tokens in the batch), computed here by hand.
    func testStepGradientEqualsOneBatchOverBothModes() throws {
        var t = try trainer(steps: 1, batch: 3)
        let indices = t.batchIndices(step: 0)
        let seqs = indices.flatMap { [t.data.pairs[$0].short, t.data.pairs[$0].long] }
        var reference = try Transformer(config: config, seed: 7)
        let length = seqs.map(\.rowCount).max()!
        var tokens: [Int32] = [], targets: [Int32] = []
        for s in seqs {
            let r = s.rows(length: length)
            tokens += r.inputs
            targets += r.targets
        }
        let scored = targets.filter { $0 >= 0 }.count
        XCTAssertEqual(scored, seqs.reduce(0) { $0 + $1.answerTokenCount })
        let weights = targets.map { $0 >= 0 ? 1 / Float(scored) : 0 }
        var acts = try Activations(config: config, batch: seqs.count, seqLen: length)
        try acts.setBatch(tokens: tokens, targets: targets)
        reference.forward(&acts)
        let loss = Transformer.loss(acts, weights: weights)
        try reference.backward(&acts, weights: weights)

        let stats = try t.trainStep()
        XCTAssertEqual(stats.answerTokens, scored)
        XCTAssertEqual(stats.loss, loss, accuracy: 1e-5)
        XCTAssertEqual(stats.loss, Float(log(262.0)), accuracy: 0.3, "an untrained model is near uniform")
        var maxDiff: Float = 0
        for i in 0..<reference.grads.count { maxDiff = max(maxDiff, abs(reference.grads[i] - t.model.grads[i])) }
        XCTAssertLessThan(maxDiff, 1e-5)
        XCTAssertEqual(stats.gradNorm, AdamW.gradNorm(reference.grads), accuracy: 1e-4)
    }

    /// `micro_batch` splits each mode's pass into forward/backward calls of that many sequences;
    /// the weights stay batch-wide, so the summed gradients are the whole batch's (up to the
    /// order of float additions inside the weight-gradient products).
    func testMicroBatchedGradientsEqualTheWholeBatch() throws {
        var whole = try trainer(steps: 1, batch: 3)
        let reference = try whole.trainStep()
        let scale = whole.model.grads.map { abs($0) }.max()!
        XCTAssertGreaterThan(scale, 0)
        for micro in [1, 2] {
            var t = try trainer(steps: 1, batch: 3)
            var config = t.config
            config.microBatch = micro
            t = try SFTTrainer(config: config, data: t.data, model: t.model)
            let stats = try t.trainStep()
            XCTAssertEqual(stats.loss, reference.loss, accuracy: 1e-6)
            XCTAssertEqual(stats.tokens, reference.tokens)
            var maxDiff: Float = 0
            for i in 0..<whole.model.grads.count { maxDiff = max(maxDiff, abs(whole.model.grads[i] - t.model.grads[i])) }
            XCTAssertLessThan(maxDiff, 1e-6 * scale, "micro_batch \(micro)")
            XCTAssertTrue(t.model.grads.allSatisfy(\.isFinite))
        }
    }

    func testTrainingReducesTheLossAndIsDeterministic() throws {
        var a = try trainer(steps: 40)
        var losses: [Float] = []
        for _ in 0..<40 { losses.append(try a.trainStep().loss) }
        let first = losses.prefix(3).reduce(0, +) / 3, last = losses.suffix(5).reduce(0, +) / 5
        XCTAssertGreaterThan(first, 5)
        XCTAssertLessThan(last, first * 0.6, "losses \(losses)")

        var b = try trainer(steps: 40)
        for _ in 0..<40 { _ = try b.trainStep() }
        XCTAssertEqual(a.model.params, b.model.params, "the same seed gives the same weights, bit for bit")

        // Stopping after 25 steps and continuing from the state gives the same weights.
        var c = try trainer(steps: 40)
        for _ in 0..<25 { _ = try c.trainStep() }
        var resumed = try SFTTrainer(config: c.config, data: c.data, model: c.model, optimizer: c.optimizer, step: c.step)
        for _ in 25..<40 { _ = try resumed.trainStep() }
        XCTAssertEqual(resumed.model.params, a.model.params)
    }

    func testLoopEvaluatesSavesAndStopsOnRequest() throws {
        var t = try trainer(steps: 6)
        var saves: [(Int, SaveReason)] = [], evals: [Int] = []
        var hooks = StageHooks<SFTTrainer>()
        hooks.evaluate = { _, step in evals.append(step); return ["eval_x": 1] }
        hooks.save = { trainer, reason in saves.append((trainer.step, reason)) }
        let outcome = try StageLoop.run(&t, steps: 6, schedule: t.config.schedule, evalEvery: 2, saveEvery: 3, log: nil, hooks: hooks)
        XCTAssertEqual(outcome, .finished(steps: 6))
        XCTAssertEqual(evals, [2, 4], "no periodic eval at the last step: the eval stage follows")
        XCTAssertEqual(saves.map(\.0), [3, 6])
        XCTAssertEqual(saves.map(\.1), [.periodic, .final])

        var u = try trainer(steps: 6)
        saves = []
        hooks.evaluate = nil
        hooks.shouldStop = { true }
        XCTAssertEqual(try StageLoop.run(&u, steps: 6, schedule: u.config.schedule, evalEvery: 0, saveEvery: 0, log: nil, hooks: hooks),
                       .interrupted(atStep: 1))
        XCTAssertEqual(saves.map(\.1), [.interrupted])
    }

    func testMetricsLogWritesOneJSONObjectPerLine() throws {
        let path = NSTemporaryDirectory() + "reckon-metrics-\(getpid()).jsonl"
        try? FileManager.default.removeItem(atPath: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let log = try MetricsLog(path: path)
            try log.append(["step": 1, "loss": 2.5, "bad": .nan])
        }
        try MetricsLog(path: path).append(["step": 2])  // reopening appends
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines, ["{\"bad\":null,\"loss\":2.5,\"step\":1}", "{\"step\":2}"])
    }

    /// A write that fails (a full disk: /dev/full) is an error, not a silently shorter log.
    func testMetricsLogWriteFailureIsAnError() throws {
        #if os(Linux)
        let log = try MetricsLog(path: "/dev/full")
        XCTAssertThrowsError(try log.append(["step": 1])) { error in
            guard case .io(let path, _)? = error as? TrainError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, "/dev/full")
        }
        #else
        throw XCTSkip("/dev/full is Linux's")
        #endif
    }
}

extension SFTTests {
    /// With loss_norm = "sequence", the step's loss is the mean over sequences of each one's
    /// mean answer-token loss, and its gradient is that of weights 1/(2B · answer tokens),
    /// built here by hand from per-sequence forward passes.
    func testSequenceLossNormIsTheMeanOfSequenceMeans() throws {
        var t = try oneStepTrainer { _ in }
        XCTAssertEqual(t.config.lossNorm, .sequence)
        let seqs = t.batchIndices(step: 0).flatMap { [t.data.pairs[$0].short, t.data.pairs[$0].long] }
        let expected = try handBuiltStep(seqs) { s, _ in 1 / Float(seqs.count * s.answerTokenCount) }
        try assertStepEquals(&t, expected)
    }

    /// With control_weight = c, the control token of each sequence has weight c/(2B) and the
    /// remaining answer tokens share 1/(2B) per sequence: built by hand per sequence.
    func testControlWeightGivesTheControlTokenItsOwnTerm() throws {
        var t = try oneStepTrainer { $0.controlWeight = 0.3 }
        XCTAssertEqual(t.config.controlWeight, 0.3)
        let seqs = t.batchIndices(step: 0).flatMap { [t.data.pairs[$0].short, t.data.pairs[$0].long] }
        for s in seqs {
            // Row promptLength − 1 predicts the control token.
            let target = s.rows(length: s.rowCount).targets[s.promptLength - 1]
            XCTAssertTrue(target == Tokenizer.think || target == Tokenizer.short)
        }
        let expected = try handBuiltStep(seqs) { s, i in
            i == s.promptLength - 1 ? 0.3 / Float(seqs.count) : 1 / Float(seqs.count * (s.answerTokenCount - 1))
        }
        try assertStepEquals(&t, expected)
    }

    /// modes = short trains only the direct answers, each sequence's mean counting 1/B, and
    /// leaves the control token out of the loss: built by hand per sequence.
    func testShortModeTrainsOnlyDirectAnswersWithoutTheControlToken() throws {
        var t = try oneStepTrainer { $0.modes = .short }
        XCTAssertEqual(t.config.modes, .short)
        let seqs = t.batchIndices(step: 0).map { t.data.pairs[$0].short }
        for s in seqs {
            XCTAssertEqual(s.rows(length: s.rowCount).targets[s.promptLength - 1], Tokenizer.short)
            XCTAssertGreaterThan(s.answerTokenCount, 1)
        }
        let expected = try handBuiltStep(seqs) { s, i in
            i == s.promptLength - 1 ? 0 : 1 / Float(seqs.count * (s.answerTokenCount - 1))
        }
        XCTAssertGreaterThan(expected.grads.map(abs).max() ?? 0, 0)
        try assertStepEquals(&t, expected)
    }
}
