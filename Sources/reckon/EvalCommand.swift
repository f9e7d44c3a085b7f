import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonCore
import ReckonData
import ReckonEval
import ReckonModel

/// `reckon eval`: generate an answer for every example under a routing policy, verify it,
/// and report accuracy, think rate, tokens and p(think) overall, by difficulty and by group.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a checkpoint on a JSONL data set under a routing policy.",
        discussion: """
        Routing: model (sample <think>/<short> from the model), think, short (force the mode),
        threshold:T (think iff p(think) ≥ T). A comma list evaluates each in turn.
        Example: reckon eval --checkpoint checkpoints/warmup-small.h5 --data eval.jsonl --routing think,short,model --json eval.json
        """)

    @Option(help: "Checkpoint (HDF5).") var checkpoint: String
    @Option(help: "JSONL data set.") var data: String
    @Option(help: "model, think, short or threshold:T; or a comma list of them.") var routing = "model"
    @Option(help: "Write the figures as JSON (an object for one routing, an array for several).") var json: String?
    @Option(help: "Evaluate only the first N examples.") var limit: Int?
    @Option(help: "Generated tokens per answer at most (capped by the context).") var maxTokens = 200
    @Option(help: "Prompts generated together.") var batch = 64
    @Option(help: "Seed of the model routing's draws.") var seed: UInt64 = 1
    @Option(help: "BLAS and worker threads.") var threads = 2
    @Flag(help: "Skip malformed JSONL lines (and report how many).") var skipBad = false
    @Flag(help: "Include every example's record in the JSON.") var records = false

    func validate() throws {
        guard maxTokens >= 1, batch >= 1, threads >= 1 else { throw ValidationError("--max-tokens, --batch and --threads must be ≥ 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1") }
        for spec in routingSpecs {
            do { _ = try RoutingPolicy(parsing: spec) } catch { throw ValidationError("--routing: \(error)") }
        }
    }

    var routingSpecs: [String] { routing.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func run() throws {
        BLAS.setThreads(threads)
        let model: Transformer
        do { model = try Checkpoint.load(from: checkpoint).model() } catch { throw fail(error) }
        let contents: JSONLContents
        do { contents = try JSONL.read(path: data, skipBad: skipBad) } catch { throw fail(error) }
        if contents.skippedCount > 0 { note("\(data): skipped \(contents.skippedCount) bad lines (first: \(contents.skipped[0]))") }
        let examples = limit.map { Array(contents.examples.prefix($0)) } ?? contents.examples
        guard !examples.isEmpty else { throw fail("\(data): no examples to evaluate") }

        var reports: [EvalReport] = []
        for spec in routingSpecs {
            let policy: RoutingPolicy
            do { policy = try RoutingPolicy(parsing: spec) } catch { throw fail(error) }
            let report = try Self.evaluate(model: model, examples: examples, dataName: data,
                                           options: EvalOptions(routing: policy, maxNewTokens: maxTokens, batchSize: batch, seed: seed),
                                           keepRecords: records)
            print(EvalTable.render(report))
            print("")
            reports.append(report)
        }
        if reports.count > 1 { print(EvalTable.compare(reports)) }
        if let json {
            do {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                let bytes = reports.count == 1 ? try reports[0].json() : try encoder.encode(reports)
                try (bytes + Data("\n".utf8)).write(to: URL(fileURLWithPath: json))
            } catch { throw fail("\(json): cannot write the JSON report: \(error.localizedDescription)") }
            note("wrote \(json)")
        }
    }

    /// Runs one routing over `examples` with a progress bar and returns its report.
    static func evaluate(model: Transformer, examples: [Example], dataName: String, options: EvalOptions,
                         keepRecords: Bool) throws -> EvalReport {
        let bar = ProgressBar(total: examples.count, label: "eval \(options.routing)")
        let start = Date()
        let records = try Evaluator.run(model: model, examples: examples, options: options) { done, total in
            bar.update(done, "")
        }
        bar.finish()
        return EvalReport(routing: options.routing.description, data: dataName, records: records,
                          seconds: Date().timeIntervalSince(start), keepRecords: keepRecords)
    }
}
