// `reckon train`: the stages a recipe lists, in order, their data and output files, the sft phases and the
// eval stage; the loop around a step is StageRunner.swift's and ReckonTrain's, the degrpo stage TrainDeGRPO.swift's.

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
    @Option(help: ArgumentHelp("Cut every SFT batch and DeGRPO group into this many shards, summed in order (default: one per MPI rank).",
                               discussion: "Runs with the same shards match bit for bit on 1 or 2 ranks: `reckon train R --shards 2` equals `mpirun -n 2 reckon train R`."))
    var shards: Int?

    func run() throws {
        let mpi = try MPIReducer.launched()
        guard let mpi else { return try train(ranks: SingleProcess()) }
        guard mpi.rank == launchRank else { throw CLIError("MPI rank \(mpi.rank) differs from the launcher's rank \(launchRank)") }
        note("train: \(mpi.size) ranks (MPI); rank 0 writes the output folder")
        do {
            try train(ranks: mpi)
        } catch let stop as ExitCode {
            mpi.finalize()  // Ctrl-C: every rank agreed to stop at the same step
            throw stop
        } catch {
            // One rank failed; the others would wait for it in the next collective.
            _ = fail(error)
            mpi.abort(code: 1)
        }
        mpi.finalize()
    }

    /// `--shards`, at least one per rank.
    func shardCount(_ ranks: any GradientReducer) throws -> Int {
        guard let shards else { return ranks.size }
        guard shards >= ranks.size else { throw CLIError("--shards \(shards) is fewer than the \(ranks.size) ranks: each rank needs a shard") }
        return shards
    }

    /// The run on `ranks`; rank 0 alone writes files and prints.
    func train(ranks: any GradientReducer) throws {
        let recipe = try Recipe.load(path: self.recipe, overrides: overrides)
        try TrainPreflight.run(recipe)
        BLAS.setThreads(threads)
        let out = recipe.output.dir
        try makeFolder(out)
        let stored = "# reckon train \(([self.recipe] + overrides.map { "--set \($0)" }).joined(separator: " "))\n" + recipe.resolvedTOML
        if ranks.isRoot { try write(stored, to: "\(out)/recipe.toml") }
        let stages = recipe.stages

        let (trainSet, evalSet) = try loadData(recipe, generate: stages.contains(.data))
        let resumeStage = try self.resumeStage()
        var model: TrainableModel? = nil
        if stages.contains(.sft) && resumeStage != "degrpo" {
            model = try runPhases(recipe, recipeText: stored, train: trainSet, eval: evalSet,
                                  generate: stages.contains(.data), resumeStage: resumeStage, ranks: ranks)
        }
        let before = stages.contains(.degrpo) && stages.contains(.eval) && recipe.eval.beforeAfter && ranks.isRoot
            ? try evalBefore(recipe, warmup: model, eval: evalSet) : nil
        if stages.contains(.degrpo) {
            model = try runDeGRPO(recipe, recipeText: stored, train: trainSet, eval: evalSet, warmup: model, resumeStage: resumeStage,
                                  ranks: ranks)
        }
        if stages.contains(.eval) && ranks.isRoot {
            let m = try model ?? loadFinalModel(out)
            let after = try runEval(recipe, model: m, eval: evalSet)
            if let before { printBeforeAfter(before: before, after: after) }
        }
    }

    /// The stage a `--resume` checkpoint was saved by ("" when it has no training state).
    /// A degrpo checkpoint skips the sft stage before it.
    func resumeStage() throws -> String? {
        guard let resume else { return nil }
        if AdapterCheckpoint.isAdapter(resume) { return try AdapterCheckpoint.load(from: resume).train?.stage ?? "" }
        return try Checkpoint.load(from: resume).train?.stage ?? ""
    }

    /// The checkpoint stage of warm-up phase `k`: "sft" for phase 1, "sft-K" after it.
    static func stageName(phase k: Int) -> String { k == 1 ? "sft" : "sft-\(k)" }

    /// Runs `[sft]` and then every `[[phase]]`, each from the weights the one before ended with.
    /// Phase K ≥ 2 writes `train-phaseK.jsonl`, `metrics-phaseK.jsonl` and `phaseK/checkpoints/`.
    func runPhases(_ r: Recipe, recipeText: String, train: [Example], eval: [Example], generate: Bool,
                   resumeStage: String?, ranks: any GradientReducer) throws -> TrainableModel {
        let recipes = try r.phaseRecipes()
        var resumeAt: Int? = nil
        if let resumeStage {
            guard let k = recipes.indices.map({ $0 + 1 }).first(where: { Self.stageName(phase: $0) == resumeStage }) else {
                throw CLIError("\(resume ?? ""): saved by stage \"\(resumeStage)\", not one of this recipe's \(recipes.count) warm-up phases")
            }
            resumeAt = k
        }
        var model: TrainableModel? = nil
        for (i, phaseRecipe) in recipes.enumerated() {
            let k = i + 1
            if let resumeAt, k < resumeAt { continue }
            if recipes.count > 1 { note("sft: phase \(k) of \(recipes.count)") }
            let data = k == 1 ? train : try loadTrain(phaseRecipe, generate: generate, file: "train-phase\(k).jsonl")
            model = try runSFT(phaseRecipe, phase: k, recipeText: recipeText, train: data, eval: eval,
                               startFrom: model, resume: resumeAt == k ? resume : nil, ranks: ranks)
        }
        guard let model else { throw CLIError("the recipe has no warm-up phase to run") }
        return model
    }

    // MARK: Data

    /// Training and eval examples: read from the recipe's files, or generated (and written to
    /// the output folder) when a file is not given.
    func loadData(_ r: Recipe, generate: Bool) throws -> (train: [Example], eval: [Example]) {
        let train = try loadTrain(r, generate: generate, file: "train.jsonl")
        // The generated eval set is paired: each problem in every dialect, so groups compare like for like.
        let evalDialects = r.data.evalDialects.isEmpty
            ? try Mix<Dialect>.parse(r.data.dialects) { Dialect(rawValue: $0) }.keys.map(\.rawValue).joined(separator: ",")
            : r.data.evalDialects
        let evalN = max(1, r.data.evalN / max(1, evalDialects.split(separator: ",").count))
        let eval = r.data.eval.isEmpty
            ? try generateData(r, n: evalN, levels: r.data.evalLevels, dialects: evalDialects, seed: r.data.evalSeed,
                               phrasings: r.data.evalPhrasings, paired: true, generate: generate, file: "eval.jsonl")
            : try readExamples(r.data.eval, skipBad: r.data.skipBad)
        return (train, eval)
    }

    /// The training examples of `r`: its `[data] train` file, or `train_n` generated problems
    /// written to `file` in the output folder.
    func loadTrain(_ r: Recipe, generate: Bool, file: String) throws -> [Example] {
        guard r.data.train.isEmpty else { return try readExamples(r.data.train, skipBad: r.data.skipBad) }
        return try generateData(r, n: r.data.trainN, levels: r.data.levels, dialects: r.data.dialects, seed: r.data.seed,
                                phrasings: r.data.phrasings, paired: false, generate: generate, file: file)
    }

    /// Generated problems, written to `file` in the output folder; an error when the recipe has
    /// no data stage to generate them.
    func generateData(_ r: Recipe, n: Int, levels: String, dialects: String, seed: Int, phrasings: Phrasings, paired: Bool,
                      generate: Bool, file: String) throws -> [Example] {
        guard generate else { throw CLIError("no \(file) to read: the recipe lists no data stage and [data] gives no file") }
        let levelMix = try Mix<Int>.parse(levels) { Int($0) }
        let dialectMix = try Mix<Dialect>.parse(dialects) { Dialect(rawValue: $0) }
        let task = r.data.task
        let examples = try Generator.generate(n: n, task: task, levels: levelMix, dialects: dialectMix, seed: UInt64(seed), paired: paired,
                                               phrasings: phrasings)
        // Every rank generates the same examples; rank 0 writes them.
        if launchRank == 0 { try JSONL.write(examples, to: "\(r.output.dir)/\(file)") }
        note("data: wrote \(examples.count) \(task.rawValue) examples to \(r.output.dir)/\(file) (levels \(levels), dialects \(dialects)\(paired ? ", paired" : ""), phrasings \(phrasings.rawValue), seed \(seed))")
        return examples
    }

    // MARK: SFT

    /// One warm-up phase. Phase 1 starts from `[sft] init` or a new model; a later phase from
    /// `startFrom`, the weights the phase before it ended with.
    func runSFT(_ r: Recipe, phase: Int, recipeText: String, train: [Example], eval: [Example],
                startFrom: TrainableModel?, resume: String?, ranks: any GradientReducer) throws -> TrainableModel {
        let start: TrainableModel
        if let startFrom {
            start = startFrom
        } else if let lc = r.lora.config {
            let basePath = r.lora.base.isEmpty ? r.sft.initFrom : r.lora.base
            if !r.sft.initFrom.isEmpty, AdapterCheckpoint.isAdapter(r.sft.initFrom) {
                start = try loadTrainable(r.sft.initFrom)
            } else {
                guard !basePath.isEmpty else { throw CLIError("[lora] needs a base checkpoint: set [lora] base or [sft] init") }
                start = try startAdapters(r, config: lc, basePath: basePath)
            }
        } else if r.sft.initFrom.isEmpty {
            start = TrainableModel(model: try Transformer(config: r.modelConfig, seed: UInt64(r.model.seed)))
        } else {
            start = try loadTrainable(r.sft.initFrom)
            // An imported model brings its own geometry; a byte model must be the recipe's.
            guard start.tokenizer != nil || start.model.config == r.modelConfig else {
                throw CLIError("\(r.sft.initFrom): its model config differs from the recipe's [model]")
            }
        }
        let initial = start.model
        // With adapters or an imported model, the geometry is the checkpoint's, whatever [model] says.
        let config = initial.config
        let data = SFTData(examples: train, context: config.maxSeqLen, overflow: r.sft.overflow, format: start.format)
        note("sft: \(start.format.summary)")
        let modes = r.sft.modes == .both ? "2 modes" : "\(r.sft.modes.rawValue) answers only"
        note("sft: \(data.count) prompts × \(modes); \(data.rejected) rejected and \(data.truncated) truncated for the context of \(config.maxSeqLen), \(data.missingLong) without a long answer")
        let sftConfig = try SFTConfig(recipe: r.sft, prompts: data.count)
        var trainer = try SFTTrainer(config: sftConfig, data: data, model: initial)
        trainer.reducer = ranks
        trainer.shards = try shardCount(ranks)
        if phase > 1, resume == nil {
            note("sft: phase \(phase) starts from the weights phase \(phase - 1) ended with, with a fresh optimizer")
        } else if !r.sft.initFrom.isEmpty {
            note("sft: starting from the weights of \(r.sft.initFrom)")
        }
        note("sft: model d=\(config.dim) L=\(config.nLayers) H=\(config.nHeads) F=\(config.hiddenDim) T=\(config.maxSeqLen), \(trainer.model.parameterCount) parameters; \(sftConfig.steps) steps of \(sftConfig.batch) prompts, lr \(r.sft.lr) → \(r.sft.minLR), warm-up \(sftConfig.schedule.warmupSteps)")
        let out = r.output.dir, evalSubset = Array(eval.prefix(r.sft.evalN))
        let plan = StagePlan(label: phase == 1 ? "sft" : "sft \(phase)", stage: Self.stageName(phase: phase),
                             checkpointDir: phase == 1 ? "\(out)/checkpoints" : "\(out)/phase\(phase)/checkpoints",
                             metricsPath: phase == 1 ? "\(out)/metrics.jsonl" : "\(out)/metrics-phase\(phase).jsonl",
                             modelPath: "\(out)/model.h5", steps: sftConfig.steps, schedule: sftConfig.schedule,
                             evalEvery: r.sft.evalEvery, saveEvery: r.sft.saveEvery, keepLast: r.sft.keepLast, recipeText: recipeText,
                             base: start.base, tokenizer: start.tokenizer)
        try runStage(&trainer, plan, resume: resume) { model, _ in
            try periodicEval(model, examples: evalSubset, routings: [.think, .short], recipe: r, format: start.format)
        }
        return start.with(trainer.model)
    }

    /// A stage's periodic eval on a small subset: `eval_acc_<routing>` overall and per level for
    /// each routing, the mean p(think), and for the model's own routing its think rate (overall
    /// and per level) and tokens.
    func periodicEval(_ model: Transformer, examples: [Example], routings: [RoutingPolicy], recipe r: Recipe,
                      format: RoutedFormat) throws -> [String: Double] {
        var figures: [String: Double] = [:]
        for routing in routings {
            let records = try Evaluator.run(model: model, examples: examples,
                                            options: EvalOptions(routing: routing, maxNewTokens: r.eval.maxTokens, seed: UInt64(r.eval.seed)),
                                            format: format)
            let report = EvalReport(routing: routing.description, records: records)
            figures["eval_acc_\(routing)"] = report.overall.accuracy ?? .nan
            figures["eval_p_think"] = report.overall.meanPThink ?? .nan
            for (level, s) in report.byDifficulty { figures["eval_acc_\(routing)_level\(level)"] = s.accuracy ?? .nan }
            guard routing == .model else { continue }
            figures["eval_think_rate"] = report.overall.thinkRate ?? .nan
            figures["eval_tokens"] = report.overall.meanGeneratedTokens ?? .nan
            for (level, s) in report.byDifficulty { figures["eval_think_rate_level\(level)"] = s.thinkRate ?? .nan }
        }
        return figures
    }

    func loadFinalModel(_ out: String) throws -> TrainableModel {
        do { return try loadTrainable("\(out)/model.h5") } catch {
            throw CLIError("the eval stage needs a model: run the sft stage or provide \(out)/model.h5 (\(error))")
        }
    }

    // MARK: Eval

    @discardableResult
    func runEval(_ r: Recipe, model: TrainableModel, eval: [Example]) throws -> [EvalReport] {
        let reports = try evalEachRouting(r, model: model, eval: eval, heading: "", file: "eval")
        if reports.count > 1 { print(EvalTable.compare(reports)) }
        return reports
    }

    /// `model` under each of the recipe's eval routings: each table printed after `heading`,
    /// each report written to `OUT/<file>-<routing>.json`.
    func evalEachRouting(_ r: Recipe, model: TrainableModel, eval: [Example], heading: String, file: String) throws -> [EvalReport] {
        let examples = r.eval.n > 0 ? Array(eval.prefix(r.eval.n)) : eval
        var reports: [EvalReport] = []
        for routing in r.eval.routing {
            let report = try EvalCommand.evaluate(model: model.model, examples: examples,
                                                  dataName: r.data.eval.isEmpty ? "\(r.output.dir)/eval.jsonl" : r.data.eval,
                                                  options: EvalOptions(routing: routing, maxNewTokens: r.eval.maxTokens, seed: UInt64(r.eval.seed)),
                                                  format: model.format, keepRecords: false)
            print(heading + EvalTable.render(report))
            print("")
            let name = routing.description.replacingOccurrences(of: ":", with: "-")
            try write(String(decoding: try report.json(), as: UTF8.self) + "\n", to: "\(r.output.dir)/\(file)-\(name).json")
            reports.append(report)
        }
        return reports
    }

    // MARK: Helpers

    func makeFolder(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw CLIError("\(path): cannot create the output folder: \(error.localizedDescription)")
        }
    }

    func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw CLIError("\(path): cannot write: \(error.localizedDescription)")
        }
    }
}

/// The examples of a JSONL file; with `skipBad`, malformed lines are counted and skipped.
func readExamples(_ path: String, skipBad: Bool) throws -> [Example] {
    let contents = try JSONL.read(path: path, skipBad: skipBad)
    if contents.skippedCount > 0 { note("\(path): skipped \(contents.skippedCount) bad lines (first: \(contents.skipped[0]))") }
    return contents.examples
}

/// A one-line error on standard error and exit status 1.
func fail(_ error: Any) -> ExitCode {
    FileHandle.standardError.write(Data("\(launchRank == 0 ? "" : "rank \(launchRank): ")error: \(error)\n".utf8))
    return ExitCode.failure
}
