// `reckon generate`: its flags, the replay of JSONL inputs through the engine, result lines and the summary;
// routing and budget options are RuntimeOptions.swift's.

import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonCore
import ReckonData
import ReckonEval
import ReckonModel
import ReckonRuntime

/// `reckon generate`: answer prompts with the self-routing model under the runtime's
/// routing and budget, or use a model plainly (`--raw`, `--chat`), one JSONL result per
/// input line, in input order.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate answers under a routing policy and a global thinking budget.",
        discussion: """
        Input: a prompt argument, or JSONL lines {"prompt": ..., "group"?: ..., "id"?: ..., "answer"?: ...}
        from --input FILE or standard input. Output: one JSON object per input line on standard
        output (or --output), in input order; a summary on standard error. When a line has an
        "answer", its result says whether the generated answer was correct.
        Prompts: by default the self-routing format (the byte models' <bos>prompt\n, an imported
        model's chat template), then <think> or <short>. --raw continues the text as it is (BOS
        if the model wants one) and --chat renders it as one user message with the model's chat
        template (or --chat-template); neither emits a control token, so they work on a plain
        imported base.
        Example: reckon generate --input eval.jsonl --budget 2000:400 --budget-policy downgrade --order fair --arrival-rate 20
        Example: reckon generate --checkpoint checkpoints/smollm2.h5 --raw --max-tokens 32 "The capital of France is"
        """)

    @Argument(help: "A prompt to answer (instead of --input).") var prompt: String?
    @Option(help: "JSONL input file; '-' or no prompt reads standard input.") var input: String?
    @Option(help: "Write the JSONL results here instead of standard output.") var output: String?
    @Option(help: "Checkpoint (HDF5); the shipped default when omitted.") var checkpoint: String?
    @Option(help: "A LoRA adapter's base checkpoint, instead of the path the adapter stores.") var base: String?
    @Option(help: "BLAS and worker threads.") var threads = 2
    @Flag(help: "Plain continuation of the prompt: no chat template, no control token.") var raw = false
    @Flag(help: "The prompt as one user message in the model's chat template, no control token.") var chat = false
    @Option(help: "Override the model's chat template (chatml, llama3 or none), for --chat and an imported model's routed prompts.")
    var chatTemplate: ChatTemplateKind?
    @OptionGroup var runtime: RuntimeOptions

    /// The prompt style the flags ask for.
    var style: PromptStyle { raw ? .raw : chat ? .chat : .routed }

    func validate() throws {
        if prompt != nil && input != nil { throw ValidationError("give a prompt or --input, not both") }
        if raw && chat { throw ValidationError("give --raw or --chat, not both") }
        if chatTemplate != nil && raw { throw ValidationError("--raw uses no chat template; --chat-template applies to --chat and routed prompts") }
        if runtime.routing != nil && (raw || chat) {
            throw ValidationError("--routing chooses between <think> and <short>; --raw and --chat generate without a control token")
        }
        guard threads >= 1 else { throw ValidationError("--threads must be ≥ 1") }
    }

    func run() throws {
        BLAS.setThreads(threads)
        let inputs = try readInputs()
        guard !inputs.isEmpty else { throw fail("no prompts to answer (the input has no lines)") }
        let (model, path, stored, text) = try DefaultCheckpoint.loadModel(checkpoint, base: base, templateOverride: chatTemplate)
        if style.isRouted, text.roles.control == nil { throw fail("\(path): \(PromptError.noControlTokens)") }
        let routing = runtime.routingPolicy(stored: stored)
        let how = style.isRouted ? runtime.routingNote(stored: stored)
            : style == .raw ? "raw continuation" : "chat template \(text.template?.kind.rawValue ?? "?")"
        note("generate: \(inputs.count) prompt\(inputs.count == 1 ? "" : "s") with \(path), \(how)"
             + (runtime.budget.map { ", budget \($0) (\(runtime.budgetPolicy), \(runtime.order)\(runtime.loadLinked ? ", load-linked" : ""))" } ?? ""))

        let results = try Self.replay(inputs: inputs, model: model, text: text, style: style, options: runtime, routing: routing,
                                      label: "generate")
        let sink: FileHandle
        if let output {
            guard FileManager.default.createFile(atPath: output, contents: nil), let h = FileHandle(forWritingAtPath: output) else {
                throw fail("\(output): cannot write the results")
            }
            sink = h
        } else {
            sink = FileHandle.standardOutput
        }
        for (i, (input, result)) in zip(inputs, results).enumerated() {
            do { sink.write(try Self.jsonLine(result, input: input, roles: text.roles)) } catch {
                throw fail("result \(i + 1) (id \(result.id)) cannot be written as JSON: \(error)")
            }
        }
        note(Self.summary(results, inputs: inputs, roles: text.roles))
    }

    private func readInputs() throws -> [GenerationInput] {
        if let prompt { return [GenerationInput(prompt: prompt)] }
        let name = input ?? "-"
        let data: Data
        if name == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            do { data = try Data(contentsOf: URL(fileURLWithPath: name)) } catch {
                throw fail("\(name): cannot read the file: \((error as NSError).localizedDescription)")
            }
        }
        return try GenerationInput.parse(data, file: name == "-" ? "<stdin>" : name)
    }

    /// Runs every input through the engine on the configured clock, with a progress bar.
    /// Prompts are made by `text` in `style`; a plain style generates without a control token.
    static func replay(inputs: [GenerationInput], model: Transformer, text: ModelText, style: PromptStyle, options: RuntimeOptions,
                       routing: RoutingPolicy, label: String) throws -> [RequestResult] {
        var requests: [Request] = []
        for (i, input) in inputs.enumerated() {
            let tokens: [Int32]
            do { tokens = try text.prompt(input.prompt, style: style) } catch { throw fail("input \(i + 1): \(error)") }
            guard tokens.count < model.config.maxSeqLen else {
                throw fail("input \(i + 1): the prompt has \(tokens.count) tokens; the model's context is \(model.config.maxSeqLen)")
            }
            requests.append(options.request(id: input.id ?? "\(i + 1)", prompt: tokens, group: input.group, index: i, routing: routing,
                                            plain: !style.isRouted))
        }
        let config = try options.engineConfig()
        var engine = try Engine(backend: TransformerBackend(model: model, slots: config.slots), config: config, roles: text.roles)
        let arrivals = try options.arrivalProcess().times(count: requests.count)
        let bar = ProgressBar(total: requests.count, label: label)
        let results = try Replay.run(requests, arrivals: arrivals, engine: &engine, clock: try options.replayClock(),
                                     progress: { bar.update($0) })
        bar.finish()
        return results
    }

    /// Whether `r` answers the input's gold answer (nil without one); `roles` are the model's.
    static func isCorrect(_ r: RequestResult, _ input: GenerationInput, roles: TokenRoles) -> Bool? {
        input.answer.map { ComputeEval.isCorrect(r, gold: $0, roles: roles) }
    }

    /// One JSONL line; throws for a result JSON cannot hold (a non-finite number), never
    /// writing a placeholder in its place.
    static func jsonLine(_ r: RequestResult, input: GenerationInput, roles: TokenRoles) throws -> Data {
        var o: [String: Any] = [
            "id": r.id, "group": r.group, "answer": r.answer, "reasoning": r.reasoning,
            "reasoning_tokens": r.reasoningTokens, "answer_tokens": r.answerTokens,
            "finish_reason": r.finishReason.rawValue, "think_truncated": r.thinkTruncated,
            "latency": r.latency, "flops": r.flops, "tokens": r.tokens,
        ]
        o["mode"] = r.mode?.rawValue ?? NSNull()
        o["p_think"] = r.pThink ?? NSNull()
        o["budget_action"] = r.budgetAction?.rawValue ?? NSNull()
        if let reason = r.rejectReason { o["reject_reason"] = reason.rawValue }
        if let t = r.loadThreshold { o["load_threshold"] = t }
        if let t = r.timeToFirstToken { o["ttft"] = t }
        if let correct = isCorrect(r, input, roles: roles) { o["correct"] = correct }
        if let d = input.difficulty { o["difficulty"] = d }
        for (key, value) in o {
            if let d = value as? Double, !d.isFinite { throw GenerateError.nonFinite(field: key, value: d) }
        }
        return try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys]) + Data("\n".utf8)
    }

    static func summary(_ results: [RequestResult], inputs: [GenerationInput], roles: TokenRoles) -> String {
        let n = results.count
        let served = results.filter { $0.finishReason != .rejected }
        let thinks = served.filter { $0.mode == .think }.count
        var parts = ["\(n) results", String(format: "think rate %.1f%%", 100 * Double(thinks) / Double(max(1, served.count)))]
        let graded = zip(results, inputs).compactMap { isCorrect($0, $1, roles: roles) }
        if !graded.isEmpty { parts.append(String(format: "accuracy %.1f%%", 100 * Double(graded.filter { $0 }.count) / Double(graded.count))) }
        let tokens = served.reduce(0) { $0 + $1.tokens.count }
        parts.append(String(format: "%.1f tokens/query", Double(tokens) / Double(max(1, served.count))))
        for a in BudgetAction.allCases {
            let k = results.filter { $0.budgetAction == a }.count
            if k > 0 { parts.append("\(a.rawValue) \(k)") }
        }
        // Think rate by difficulty, when the input says each line's level: where routing shows.
        let byLevel = Dictionary(grouping: zip(results, inputs).filter { $0.0.finishReason != .rejected }, by: { $0.1.difficulty })
        let levels = byLevel.keys.compactMap { $0 }.sorted()
        if !levels.isEmpty {
            parts.append("think rate by level " + levels.map { level in
                let rows = byLevel[level] ?? []
                return String(format: "%d: %.1f%%", level, 100 * Double(rows.filter { $0.0.mode == .think }.count) / Double(max(1, rows.count)))
            }.joined(separator: " "))
        }
        let latencies = served.map(\.latency).sorted()
        if !latencies.isEmpty {
            func q(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(p * Double(latencies.count)))] }
            parts.append(String(format: "latency p50 %.3fs p95 %.3fs", q(0.5), q(0.95)))
        }
        return parts.joined(separator: ", ")
    }
}

enum GenerateError: Error, CustomStringConvertible {
    case nonFinite(field: String, value: Double)

    var description: String {
        switch self {
        case .nonFinite(let field, let value): "field \"\(field)\" is \(value), which JSON cannot represent"
        }
    }
}
