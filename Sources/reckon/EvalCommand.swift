// `reckon eval`: its flags, one eval per routing or the `--methods` comparison, tables and JSON output;
// the eval itself is ReckonEval's.

import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonCore
import ReckonData
import ReckonEval
import ReckonModel
import ReckonRuntime

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

    @Option(help: "Checkpoint (HDF5); the shipped default when omitted.") var checkpoint: String?
    @Option(help: "A LoRA adapter's base checkpoint, instead of the path the adapter stores.") var base: String?
    @Option(help: "Override an imported model's chat template for its routed prompts: chatml, llama3 or none.")
    var chatTemplate: ChatTemplateKind?

    @Option(help: "JSONL data set.") var data: String
    @Option(help: "model, think, short or threshold:T; or a comma list of them (default: the rule stored in the checkpoint, else model).")
    var routing: RoutingList?
    @Option(help: "Compute-allocation methods to compare (instead of --routing): short, think, self-route, threshold:T, sample, best-of-N, adaptive-entropy[:MEAN_N], adaptive-nll[:MEAN_N]; 'thresholds' adds threshold:0.1…0.9.")
    var methods: String?
    @Option(help: "Validation split (JSONL) on which adaptive methods fit their rule; never the --data file.") var validation: String?
    @Option(help: "Sampling temperature of sample, best-of-N and adaptive methods.") var sampleTemperature: Float = 0.7
    @Option(help: "Poisson arrivals per second for the simulated latencies of --methods; all at once when omitted.") var arrivalRate: Double?
    @Option(help: "Simulated model speed in FLOP/s for the latencies of --methods.") var simFlops = 10e9
    @Option(help: "Requests decoded together (KV slots) for --methods.") var slots = 32
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
        for m in methodSpecs {
            do { _ = try ComputeMethod(parsing: m) } catch { throw ValidationError("--methods: \(error)") }
        }
        if let arrivalRate, !(arrivalRate > 0 && arrivalRate.isFinite) { throw ValidationError("--arrival-rate must be > 0") }
        guard slots >= 1, simFlops > 0, sampleTemperature >= 0 else { throw ValidationError("--slots, --sim-flops must be > 0 and --sample-temperature ≥ 0") }
        if validation != nil && validation == data { throw ValidationError("--validation must be a different file from --data") }
    }

    var methodSpecs: [String] {
        (methods ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { m -> [String] in
            m == "thresholds" ? stride(from: 0.1, through: 0.91, by: 0.1).map { String(format: "threshold:%.1f", $0) } : [m]
        }
    }

    func run() throws {
        BLAS.setThreads(threads)
        let (model, path, stored, text) = try DefaultCheckpoint.loadModel(checkpoint, base: base, templateOverride: chatTemplate)
        if checkpoint == nil { note("eval: no --checkpoint given; using the shipped default \(path)") }
        let format = try Self.routedFormat(text, path: path, templateOverride: chatTemplate)
        if routing == nil && methods == nil {
            note("eval: no --routing given; " + (stored.map { "using the rule stored in the checkpoint, \($0.summary)" } ?? "the checkpoint stores no rule, so model"))
        }
        let all = try readExamples(data, skipBad: skipBad)
        let examples = limit.map { Array(all.prefix($0)) } ?? all
        guard !examples.isEmpty else { throw CLIError("\(data): no examples to evaluate") }
        if methods != nil { return try runMethods(model: model, format: format, examples: examples) }

        var reports: [EvalReport] = []
        for policy in routing?.policies ?? [stored?.policy ?? .model] {
            let report = try Self.evaluate(model: model, examples: examples, dataName: data,
                                           options: EvalOptions(routing: policy, maxNewTokens: maxTokens, batchSize: batch, seed: seed),
                                           format: format, keepRecords: records)
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
            } catch { throw CLIError("\(json): cannot write the JSON report: \(error.localizedDescription)") }
            note("wrote \(json)")
        }
    }

    /// `--methods`: every method on the same examples, one row each, on the simulated clock.
    func runMethods(model: Transformer, format: RoutedFormat, examples: [Example]) throws {
        let parsed = try methodSpecs.map { spec -> ComputeMethod in
            try ComputeMethod(parsing: spec)
        }
        var validationExamples: [Example]?
        if let validation {
            validationExamples = try JSONL.read(path: validation, skipBad: skipBad).examples
        }
        let config = try EngineConfig(slots: slots)
        let eval = ComputeEval(model: model, format: format, engineConfig: config, cost: try StepCostModel(flopsPerSecond: simFlops),
                               arrivals: arrivalRate.map { .poisson(rate: $0, seed: seed) } ?? .batch,
                               maxTokens: maxTokens, temperature: sampleTemperature, seed: seed)
        var rows: [ComputeRow] = []
        for m in parsed {
            let bar = ProgressBar(total: 1000, label: "eval \(m) (per mille of requests)")
            let start = Date()
            let row = try eval.run(m, test: examples, validation: validationExamples,
                                   progress: { done, total in bar.update(done * 1000 / max(1, total)) })
            bar.finish()
            note(String(format: "%@: accuracy %.1f%%, %.3f GFLOP/query (%.0f s)", m.description, 100 * row.all.accuracy,
                        row.all.flopsPerQuery / 1e9, Date().timeIntervalSince(start)))
            rows.append(row)
        }
        print(ComputeTable.render(rows))
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            do { try (encoder.encode(rows) + Data("\n".utf8)).write(to: URL(fileURLWithPath: json)) } catch {
                throw CLIError("\(json): cannot write the JSON report: \(error.localizedDescription)")
            }
            note("wrote \(json)")
        }
    }

    /// The checkpoint's self-routing format (its chat turn on an imported model), or a one-line
    /// error saying why the model cannot route itself (a plain base: no control tokens), or
    /// that `--chat-template` was given for a byte model, whose routed prompt has no template.
    static func routedFormat(_ text: ModelText, path: String, templateOverride: ChatTemplateKind? = nil) throws(ExitCode) -> RoutedFormat {
        if text.isByteLevel, let kind = templateOverride {
            throw fail("\(path): --chat-template \(kind.rawValue) applies to an imported (BPE) model; a byte model's routed prompt is <bos>prompt\\n, with no template")
        }
        do { return try text.routedFormat() } catch { throw fail("\(path): \(error)") }
    }

    /// Runs one routing over `examples` with a progress bar and returns its report.
    static func evaluate(model: Transformer, examples: [Example], dataName: String, options: EvalOptions,
                         format: RoutedFormat = .bytes, keepRecords: Bool) throws -> EvalReport {
        let bar = ProgressBar(total: examples.count, label: "eval \(options.routing)")
        let start = Date()
        let records = try Evaluator.run(model: model, examples: examples, options: options, format: format) { done, total in
            bar.update(done, "")
        }
        bar.finish()
        return EvalReport(routing: options.routing.description, data: dataName, records: records,
                          seconds: Date().timeIntervalSince(start), keepRecords: keepRecords)
    }
}
