import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonCore
import ReckonData
import ReckonEval
import ReckonModel
import ReckonTrain

/// `reckon train RECIPE`: runs the stages a recipe lists — data, sft, eval — into its
/// output folder: `train.jsonl`, `eval.jsonl`, `recipe.toml` (every key resolved),
/// `metrics.jsonl`, `checkpoints/step-*.h5`, `model.h5` and `eval-<routing>.json`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Run a training recipe: generate data, warm-up SFT, DeGRPO, evaluate.",
        discussion: """
        Example: reckon train Recipes/quickstart.toml --set degrpo.steps=60 --set output.dir=runs/try
        Ctrl-C finishes the current step, saves a checkpoint and exits; continue with --resume.
        """)

    @Argument(help: "The recipe (TOML).") var recipe: String
    @Option(name: .customLong("set"), help: "Override a recipe key: section.key=value (repeatable).")
    var overrides: [String] = []
    @Option(help: "Continue from this checkpoint (saved by a run of the same recipe).") var resume: String?
    @Option(help: "BLAS and worker threads.") var threads = 2

    func run() throws {
        let recipe: Recipe
        do { recipe = try Recipe.load(path: self.recipe, overrides: overrides) } catch { throw fail(error) }
        try TrainPreflight.run(recipe)
        BLAS.setThreads(threads)
        let out = recipe.output.dir
        try makeFolder(out)
        let stored = "# reckon train \(([self.recipe] + overrides.map { "--set \($0)" }).joined(separator: " "))\n" + recipe.resolvedTOML
        try write(stored, to: "\(out)/recipe.toml")
        let stages = recipe.stageList

        let (trainSet, evalSet) = try loadData(recipe, generate: stages.contains("data"))
        let resumeStage = try self.resumeStage()
        var model: Transformer? = nil
        if stages.contains("sft") && resumeStage != "degrpo" {
            model = try runPhases(recipe, recipeText: stored, train: trainSet, eval: evalSet,
                                  generate: stages.contains("data"), resumeStage: resumeStage)
        }
        let before = stages.contains("degrpo") && stages.contains("eval") && recipe.eval.beforeAfter
            ? try evalBefore(recipe, warmup: model, eval: evalSet) : nil
        if stages.contains("degrpo") {
            model = try runDeGRPO(recipe, recipeText: stored, train: trainSet, eval: evalSet, warmup: model, resumeStage: resumeStage)
        }
        if stages.contains("eval") {
            let m = try model ?? loadFinalModel(out)
            let after = try runEval(recipe, model: m, eval: evalSet)
            if let before { printBeforeAfter(before: before, after: after) }
        }
    }

    /// The stage a `--resume` checkpoint was saved by ("" when it has no training state).
    /// A degrpo checkpoint skips the sft stage before it.
    func resumeStage() throws -> String? {
        guard let resume else { return nil }
        do { return try Checkpoint.load(from: resume).train?.stage ?? "" } catch { throw fail(error) }
    }

    /// The checkpoint stage of warm-up phase `k`: "sft" for phase 1, "sft-K" after it.
    static func stageName(phase k: Int) -> String { k == 1 ? "sft" : "sft-\(k)" }

    /// Runs `[sft]` and then every `[[phase]]`, each from the weights the one before ended with.
    /// Phase K ≥ 2 writes `train-phaseK.jsonl`, `metrics-phaseK.jsonl` and `phaseK/checkpoints/`.
    func runPhases(_ r: Recipe, recipeText: String, train: [Example], eval: [Example], generate: Bool,
                   resumeStage: String?) throws -> Transformer {
        let recipes: [Recipe]
        do { recipes = try r.phaseRecipes() } catch { throw fail(error) }
        var resumeAt: Int? = nil
        if let resumeStage {
            guard let k = recipes.indices.map({ $0 + 1 }).first(where: { Self.stageName(phase: $0) == resumeStage }) else {
                throw fail("\(resume ?? ""): saved by stage \"\(resumeStage)\", not one of this recipe's \(recipes.count) warm-up phases")
            }
            resumeAt = k
        }
        var model: Transformer? = nil
        for (i, phaseRecipe) in recipes.enumerated() {
            let k = i + 1
            if let resumeAt, k < resumeAt { continue }
            if recipes.count > 1 { note("sft: phase \(k) of \(recipes.count)") }
            let data = k == 1 ? train : try loadTrain(phaseRecipe, generate: generate, file: "train-phase\(k).jsonl")
            model = try runSFT(phaseRecipe, phase: k, recipeText: recipeText, train: data, eval: eval,
                               startFrom: model, resume: resumeAt == k ? resume : nil)
        }
        guard let model else { throw fail("the recipe has no warm-up phase to run") }
        return model
    }

    // MARK: Data

    /// Training and eval examples: read from the recipe's files, or generated (and written to
    /// the output folder) when a file is not given.
    func loadData(_ r: Recipe, generate: Bool) throws -> (train: [Example], eval: [Example]) {
        let train = try loadTrain(r, generate: generate, file: "train.jsonl")
        // The generated eval set is paired: each problem in every dialect, so groups compare like for like.
        let evalDialects = r.data.evalDialects.isEmpty
            ? (try? Mix<Dialect>.parse(r.data.dialects) { Dialect(rawValue: $0) }).map { $0.keys.map(\.rawValue).joined(separator: ",") } ?? "sae"
            : r.data.evalDialects
        let evalN = max(1, r.data.evalN / max(1, evalDialects.split(separator: ",").count))
        let eval = r.data.eval.isEmpty
            ? try generateData(r, n: evalN, levels: r.data.evalLevels, dialects: evalDialects, seed: r.data.evalSeed,
                               paired: true, generate: generate, file: "eval.jsonl")
            : try readExamples(r.data.eval, skipBad: r.data.skipBad)
        return (train, eval)
    }

    /// The training examples of `r`: its `[data] train` file, or `train_n` generated problems
    /// written to `file` in the output folder.
    func loadTrain(_ r: Recipe, generate: Bool, file: String) throws -> [Example] {
        guard r.data.train.isEmpty else { return try readExamples(r.data.train, skipBad: r.data.skipBad) }
        return try generateData(r, n: r.data.trainN, levels: r.data.levels, dialects: r.data.dialects, seed: r.data.seed,
                                paired: false, generate: generate, file: file)
    }

    /// Generated problems, written to `file` in the output folder; an error when the recipe has
    /// no data stage to generate them.
    func generateData(_ r: Recipe, n: Int, levels: String, dialects: String, seed: Int, paired: Bool,
                      generate: Bool, file: String) throws -> [Example] {
        guard generate else { throw fail("no \(file) to read: the recipe lists no data stage and [data] gives no file") }
        do {
            let levelMix = try Mix<Int>.parse(levels) { Int($0) }
            let dialectMix = try Mix<Dialect>.parse(dialects) { Dialect(rawValue: $0) }
            let task = ArithTask(rawValue: r.data.task) ?? .arith
            let examples = try Generator.generate(n: n, task: task, levels: levelMix, dialects: dialectMix, seed: UInt64(seed), paired: paired)
            try JSONL.write(examples, to: "\(r.output.dir)/\(file)")
            note("data: wrote \(examples.count) \(task.rawValue) examples to \(r.output.dir)/\(file) (levels \(levels), dialects \(dialects)\(paired ? ", paired" : ""), seed \(seed))")
            return examples
        } catch { throw fail(error) }
    }

    func readExamples(_ path: String, skipBad: Bool) throws -> [Example] {
        do {
            let contents = try JSONL.read(path: path, skipBad: skipBad)
            if contents.skippedCount > 0 { note("\(path): skipped \(contents.skippedCount) bad lines (first: \(contents.skipped[0]))") }
            return contents.examples
        } catch { throw fail(error) }
    }

    // MARK: SFT

    /// One warm-up phase. Phase 1 starts from `[sft] init` or a new model; a later phase from
    /// `startFrom`, the weights the phase before it ended with.
    func runSFT(_ r: Recipe, phase: Int, recipeText: String, train: [Example], eval: [Example],
                startFrom: Transformer?, resume: String?) throws -> Transformer {
        let config = r.modelConfig
        let overflow = SFTData.Overflow(rawValue: r.sft.overflow) ?? .reject
        let data = SFTData(examples: train, context: config.maxSeqLen, overflow: overflow)
        note("sft: \(data.count) prompts × 2 modes; \(data.rejected) rejected and \(data.truncated) truncated for the context of \(config.maxSeqLen), \(data.missingLong) without a long answer")
        let sftConfig: SFTConfig
        let initial: Transformer
        do {
            sftConfig = try SFTConfig(recipe: r.sft, prompts: data.count)
            if let startFrom {
                initial = startFrom
            } else if r.sft.initFrom.isEmpty {
                initial = try Transformer(config: config, seed: UInt64(r.model.seed))
            } else {
                initial = try Checkpoint.load(from: r.sft.initFrom).model()
            }
        } catch { throw fail(error) }
        guard initial.config == config else { throw fail("\(r.sft.initFrom): its model config differs from the recipe's [model]") }
        var trainer: SFTTrainer
        do { trainer = try SFTTrainer(config: sftConfig, data: data, model: initial) } catch { throw fail(error) }
        let stage = Self.stageName(phase: phase)
        if let resume { try restore(&trainer, from: resume, stage: stage, recipeText: recipeText) }
        if phase > 1, resume == nil {
            note("sft: phase \(phase) starts from the weights phase \(phase - 1) ended with, with a fresh optimizer")
        } else if !r.sft.initFrom.isEmpty {
            note("sft: starting from the weights of \(r.sft.initFrom)")
        }
        note("sft: model d=\(config.dim) L=\(config.nLayers) H=\(config.nHeads) F=\(config.hiddenDim) T=\(config.maxSeqLen), \(trainer.model.parameterCount) parameters; \(sftConfig.steps) steps of \(sftConfig.batch) prompts, lr \(r.sft.lr) → \(r.sft.minLR), warm-up \(sftConfig.schedule.warmupSteps)")

        let rotation: CheckpointRotation
        let checkpointDir = phase == 1 ? "\(r.output.dir)/checkpoints" : "\(r.output.dir)/phase\(phase)/checkpoints"
        do { rotation = try CheckpointRotation(directory: checkpointDir, keep: r.sft.keepLast) } catch { throw fail(error) }
        let log: MetricsLog
        let metricsPath = phase == 1 ? "\(r.output.dir)/metrics.jsonl" : "\(r.output.dir)/metrics-phase\(phase).jsonl"
        do { log = try MetricsLog(path: metricsPath) } catch { throw fail(error) }
        let interrupt = Interrupt()
        interrupt.install()
        let bar = ProgressBar(total: sftConfig.steps, label: phase == 1 ? "sft" : "sft \(phase)", startDone: trainer.step)
        let evalSubset = Array(eval.prefix(r.sft.evalN))

        var hooks = SFTHooks()
        hooks.shouldStop = { interrupt.isRequested }
        var smoothed: Double? = nil
        hooks.onStep = { s in
            smoothed = smoothed.map { 0.9 * $0 + 0.1 * Double(s.loss) } ?? Double(s.loss)
            bar.update(s.step, String(format: "loss %.4f | %.0f tok/s | lr %.2e", smoothed ?? 0, Double(s.tokens) / s.seconds, s.lr))
        }
        hooks.evaluate = { model, step in
            let figures = try periodicEval(model, examples: evalSubset, recipe: r)
            bar.note("step \(step): " + figures.keys.sorted().filter { !$0.contains("_level") }
                .map { String(format: "%@ %.3f", $0, figures[$0] ?? .nan) }.joined(separator: ", "))
            return figures
        }
        hooks.save = { trainer, reason in
            let state = TrainingState(stage: stage, step: trainer.step, recipe: recipeText, rngState: trainer.rngState,
                                      metrics: smoothed.map { ["loss": $0] } ?? [:])
            let checkpoint = Checkpoint(model: trainer.model, optimizer: trainer.optimizer, train: state)
            let path = try rotation.save(checkpoint, step: trainer.step)
            if reason != .periodic {
                try Checkpoint(model: trainer.model, train: state).save(to: "\(r.output.dir)/model.h5")
            }
            bar.note("saved \(path)" + (reason == .periodic ? "" : " and \(r.output.dir)/model.h5 (model only)"))
        }
        let start = Date()
        let outcome = try SFTLoop.run(&trainer, evalEvery: r.sft.evalEvery, saveEvery: r.sft.saveEvery, log: log, hooks: hooks)
        bar.finish()
        let minutes = Date().timeIntervalSince(start) / 60
        switch outcome {
        case .finished(let steps):
            note(String(format: "sft: finished %d steps in %.1f min; final smoothed loss %.4f", steps, minutes, smoothed ?? .nan))
        case .interrupted(let step):
            note("sft: interrupted at step \(step); continue with: reckon train \(self.recipe) \(overrides.map { "--set \($0) " }.joined())--resume \(rotation.path(forStep: step))")
            throw ExitCode(130)
        }
        return trainer.model
    }

    /// Loads the weights, optimizer and step of `path` into `trainer`, after checking that the
    /// checkpoint belongs to this recipe's SFT stage.
    func restore(_ trainer: inout SFTTrainer, from path: String, stage: String, recipeText: String) throws {
        let checkpoint: Checkpoint
        do { checkpoint = try Checkpoint.load(from: path, includeOptimizer: true) } catch { throw fail(error) }
        guard let state = checkpoint.train, let optimizer = checkpoint.optimizer else {
            throw fail("\(path): no optimizer or training state to resume from")
        }
        guard state.stage == stage else { throw fail("\(path): saved by stage \"\(state.stage)\", not \(stage)") }
        guard checkpoint.config == trainer.model.config else { throw fail("\(path): the model config differs from the recipe's [model]") }
        guard state.rngState == trainer.rngState else { throw fail("\(path): saved with another [sft] seed, so the data order would differ") }
        guard state.step <= trainer.config.steps else { throw fail("\(path): step \(state.step) is past the recipe's \(trainer.config.steps) steps") }
        if Self.keyLines(state.recipe) != Self.keyLines(recipeText) {
            note("warning: \(path) was saved from a recipe with other values; resuming with the current one")
        }
        trainer.model = try checkpoint.model()
        trainer.optimizer = optimizer
        trainer.step = state.step
        note("resumed from \(path) at step \(state.step)")
    }

    /// The recipe's key lines without comments, to compare two resolved recipes.
    static func keyLines(_ text: String) -> [Substring] {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.hasPrefix("dir =") }
    }

    /// Forced-think and forced-short accuracy on a small eval subset, and mean p(think).
    func periodicEval(_ model: Transformer, examples: [Example], recipe r: Recipe) throws -> [String: Double] {
        var figures: [String: Double] = [:]
        for routing in [RoutingPolicy.think, .short] {
            let records = try Evaluator.run(model: model, examples: examples,
                                            options: EvalOptions(routing: routing, maxNewTokens: r.eval.maxTokens, seed: UInt64(r.eval.seed)))
            let report = EvalReport(routing: routing.description, records: records)
            figures["eval_acc_\(routing)"] = report.overall.accuracy ?? .nan
            for (level, stats) in report.byDifficulty { figures["eval_acc_\(routing)_level\(level)"] = stats.accuracy ?? .nan }
            figures["eval_p_think"] = report.overall.meanPThink ?? .nan
        }
        return figures
    }

    func loadFinalModel(_ out: String) throws -> Transformer {
        do { return try Checkpoint.load(from: "\(out)/model.h5").model() } catch {
            throw fail("the eval stage needs a model: run the sft stage or provide \(out)/model.h5 (\(error))")
        }
    }

    // MARK: Eval

    @discardableResult
    func runEval(_ r: Recipe, model: Transformer, eval: [Example]) throws -> [EvalReport] {
        let examples = r.eval.n > 0 ? Array(eval.prefix(r.eval.n)) : eval
        var reports: [EvalReport] = []
        for spec in r.eval.routing.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            let routing: RoutingPolicy
            do { routing = try RoutingPolicy(parsing: spec) } catch { throw fail(error) }
            let report = try EvalCommand.evaluate(model: model, examples: examples,
                                                  dataName: r.data.eval.isEmpty ? "\(r.output.dir)/eval.jsonl" : r.data.eval,
                                                  options: EvalOptions(routing: routing, maxNewTokens: r.eval.maxTokens, seed: UInt64(r.eval.seed)),
                                                  keepRecords: false)
            print(EvalTable.render(report))
            print("")
            try write(String(decoding: try report.json(), as: UTF8.self) + "\n", to: "\(r.output.dir)/eval-\(spec.replacingOccurrences(of: ":", with: "-")).json")
            reports.append(report)
        }
        if reports.count > 1 { print(EvalTable.compare(reports)) }
        return reports
    }

    // MARK: Helpers

    func makeFolder(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw fail("\(path): cannot create the output folder: \(error.localizedDescription)")
        }
    }

    func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw fail("\(path): cannot write: \(error.localizedDescription)")
        }
    }
}

/// A one-line error on standard error and exit status 1.
func fail(_ error: Any) -> ExitCode {
    note("error: \(error)")
    return ExitCode.failure
}
