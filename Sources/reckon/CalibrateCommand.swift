// `reckon calibrate`: its flags, the two forced evals, and writing the checkpoint copy with the chosen rule;
// the choice is ReckonEval/ThresholdChoice.swift's.

import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonCore
import ReckonData
import ReckonEval
import ReckonModel

/// `reckon calibrate`: chooses a `threshold:T` routing rule on a validation split and writes
/// a copy of the checkpoint that stores it, with the split it was chosen on (an adapter's copy
/// is an adapter on the same base). Prompts and answers are the model's routed format. `generate`,
/// `serve`, `eval` and `audit` then use that rule when no `--routing` is given.
struct CalibrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Choose a think threshold on a validation split and store it in the checkpoint.",
        discussion: """
        Evaluates forced think and forced short once each; every threshold's figures follow
        exactly, since after token 0 decoding is greedy. The rule kept has the highest
        accuracy, then the fewest tokens, then the higher threshold.
        Example: reckon calibrate --checkpoint runs/overthink-degrpo/model.h5 --validation val.jsonl --out router.h5
        """)

    @Option(help: "Checkpoint (HDF5) to calibrate: a full checkpoint or a LoRA adapter.") var checkpoint: String
    @Option(help: "A LoRA adapter's base checkpoint, instead of the path the adapter stores.") var base: String?
    @Option(help: "Override an imported model's chat template for its routed prompts: chatml, llama3 or none.")
    var chatTemplate: ChatTemplateKind?
    @Option(help: "Validation split (JSONL); keep it apart from any test set.") var validation: String
    @Option(help: "Where to write the checkpoint with its stored rule (may be --checkpoint itself).") var out: String
    @Option(help: "Candidate thresholds, a comma list in 0...1.") var thresholds = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9"
    @Option(help: "Generated tokens per answer at most (capped by the context).") var maxTokens = 200
    @Option(help: "Prompts generated together.") var batch = 64
    @Option(help: "BLAS and worker threads.") var threads = 2

    var candidates: [Double] {
        get throws {
            try thresholds.split(separator: ",").map { s in
                guard let t = Double(s.trimmingCharacters(in: .whitespaces)), (0...1).contains(t) else {
                    throw ValidationError("--thresholds: \"\(s)\" is not a number in 0...1")
                }
                return t
            }
        }
    }

    func validate() throws {
        guard try !candidates.isEmpty else { throw ValidationError("--thresholds needs at least one value") }
        guard maxTokens >= 1, batch >= 1, threads >= 1 else { throw ValidationError("--max-tokens, --batch and --threads must be ≥ 1") }
    }

    func run() throws {
        BLAS.setThreads(threads)
        let isAdapter = AdapterCheckpoint.isAdapter(checkpoint)
        if base != nil && !isAdapter { throw fail("\(checkpoint): --base applies to a LoRA adapter, and this is a full checkpoint") }
        // A full checkpoint is copied with the rule; an adapter keeps pointing at its base and carries the rule itself.
        var ckpt: Checkpoint
        do { ckpt = try ModelFile.load(checkpoint, base: base) } catch { throw fail(error) }
        let format: RoutedFormat
        do { format = try EvalCommand.routedFormat(try ckpt.text(templateOverride: chatTemplate, path: checkpoint), path: checkpoint,
                                                   templateOverride: chatTemplate) } catch let e as ExitCode { throw e } catch { throw fail(error) }
        let bytes: Data
        do { bytes = try Data(contentsOf: URL(fileURLWithPath: validation)) } catch {
            throw fail("\(validation): cannot read the file: \((error as NSError).localizedDescription)")
        }
        let examples: [Example]
        do { examples = try JSONL.read(path: validation, skipBad: false).examples } catch { throw fail(error) }
        guard !examples.isEmpty else { throw fail("\(validation): no examples to calibrate on") }
        let model: Transformer
        do { model = try ckpt.model() } catch { throw fail(error) }

        let forced = try [RoutingPolicy.think, .short].map { policy in
            let bar = ProgressBar(total: examples.count, label: "calibrate: forced \(policy)")
            defer { bar.finish() }
            return try Evaluator.run(model: model, examples: examples,
                                     options: EvalOptions(routing: policy, maxNewTokens: maxTokens, batchSize: batch), format: format) { done, _ in
                bar.update(done)
            }
        }
        let results: [ThresholdResult]
        do { results = try ThresholdChoice.evaluate(think: forced[0], short: forced[1], thresholds: try candidates) } catch {
            throw fail("\(validation): \(error)")
        }
        print("threshold       n   accuracy  think rate  tokens")
        for r in results {
            print(String(format: "%9.2f  %6d  %8.1f%%  %9.1f%%  %6.1f", r.threshold, r.n, 100 * r.accuracy, 100 * r.thinkRate, r.meanTokens))
        }
        guard let best = ThresholdChoice.best(results) else { throw fail("no threshold to choose from") }
        let routing = StoredRouting(
            policy: .threshold(best.threshold),
            criterion: "\(ThresholdChoice.criterion), among threshold:\(thresholds)",
            split: URL(fileURLWithPath: validation).lastPathComponent, splitExamples: best.n,
            splitChecksum: StoredRouting.fnv1a(bytes), accuracy: best.accuracy, thinkRate: best.thinkRate, meanTokens: best.meanTokens)
        do {
            if isAdapter {
                var adapter = try AdapterCheckpoint.load(from: checkpoint, includeOptimizer: false)
                // The base path is stored relative to the adapter's folder; re-anchor it at --out's.
                adapter.base.path = adapter.basePath(adapterPath: checkpoint, override: base)
                adapter.base = adapter.base.relative(to: out)
                adapter.routing = routing
                try adapter.save(to: out)
            } else {
                ckpt.routing = routing
                try ckpt.save(to: out)
            }
        } catch { throw fail(error) }
        note("calibrate: stored \(routing.summary) in \(out)")
    }
}
