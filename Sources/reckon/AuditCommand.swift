// `reckon audit`: its flags, the replay of a data set through the runtime, and the report files;
// the checks and statistics are ReckonAudit's.

import ArgumentParser
import Foundation
import ReckonAudit
import ReckonCheckpoint
import ReckonCore
import ReckonData
import ReckonModel
import ReckonRuntime

/// `reckon audit`: replays a data set through the runtime and asks, per dialect group and at
/// equal difficulty, whether routing or the budget short-changes a group against a reference.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Per-group fairness audit of routing and the budget, with tests and a verdict.",
        discussion: """
        Exit status: 0 when every check passes, 1 when one fails, 2 when the input is unusable
        (unreadable or malformed data, unknown reference group, nothing to compare), 64 on bad flags.
        Checks with too few examples are reported as insufficient data, never as a verdict.
        --held-out reports groups (a dialect never seen in training) with their ratios and
        verdicts, labelled held-out, and keeps them out of the verdict and the exit status.
        Example: reckon audit --data eval.jsonl --reference sae --budget 3000:600 --order fair --arrival-rate 20 --report audit.md
        Example: reckon audit --checkpoint checkpoints/smollm2-selfroute.h5 --data test.jsonl --reference sae --held-out pidgin
        """)

    static let inputError = ExitCode(2)

    @Option(help: "Checkpoint (HDF5); the shipped default when omitted.") var checkpoint: String?
    @Option(help: "A LoRA adapter's base checkpoint, instead of the path the adapter stores.") var base: String?
    @Option(help: "Override an imported model's chat template for its routed prompts: chatml, llama3 or none.")
    var chatTemplate: ChatTemplateKind?

    @Option(help: "JSONL data set with group and difficulty fields.") var data: String
    @Option(help: "The reference group, e.g. sae.") var reference: String
    @Option(help: "Groups reported apart and kept out of the verdict, a comma list (e.g. pidgin, a dialect never seen in training).")
    var heldOut: String?
    @Option(help: "Smallest tolerated ratio of a group's rate to the reference's (four-fifths rule).") var minRatio = 0.8
    @Option(help: "Largest tolerated accuracy drop against the reference (e.g. 0.05); default: --min-ratio applies.") var maxAccGap: Double?
    @Option(help: "Significance level of the Holm-corrected tests.") var alpha = 0.05
    @Option(help: "Smallest group (per side) a check will test.") var minGroupSize = 20
    @Option(help: "Bootstrap resamples for the confidence intervals.") var bootstrap = 2000
    @Option(help: "Write the report as JSON.") var json: String?
    @Option(help: "Write the report as Markdown.") var report: String?
    @Option(help: "Write the think-rate-by-difficulty plot (SVG).") var plot: String?
    @Flag(help: "Add an adversarial group: the reference prompts with cues that push the wrong mode.") var adversarial = false
    @Option(help: "Evaluate only the first N examples.") var limit: Int?
    @Option(help: "BLAS and worker threads.") var threads = 2
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard minRatio > 0, minRatio <= 1 else { throw ValidationError("--min-ratio must be in (0, 1]") }
        guard alpha > 0, alpha < 1 else { throw ValidationError("--alpha must be in (0, 1)") }
        if let g = maxAccGap, !(g >= 0 && g <= 1) { throw ValidationError("--max-acc-gap must be in [0, 1]") }
        guard minGroupSize >= 2, bootstrap >= 0, threads >= 1 else { throw ValidationError("--min-group-size ≥ 2, --bootstrap ≥ 0, --threads ≥ 1") }
        if let limit, limit < 1 { throw ValidationError("--limit must be ≥ 1") }
        if heldOutGroups.contains(reference) { throw ValidationError("--held-out: the reference group \"\(reference)\" cannot be held out") }
        if heldOut != nil && heldOutGroups.isEmpty { throw ValidationError("--held-out needs at least one group name") }
    }

    /// The --held-out groups.
    var heldOutGroups: [String] {
        (heldOut ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func run() throws {
        // Everything before the verdict is input: a failure there exits 2, never 1 (which
        // means a fairness check failed).
        let result: AuditReport
        do { result = try evaluate() } catch let code as ExitCode {
            throw code == .failure ? Self.inputError : code
        } catch {
            throw inputFail(error)
        }
        try conclude(result)
    }

    /// Reads the data and the checkpoint, replays the examples (prompts in the model's routed
    /// format, answers read with its tokens) and runs the checks.
    func evaluate() throws -> AuditReport {
        BLAS.setThreads(threads)
        var examples: [Example]
        do { examples = try JSONL.read(path: data).examples } catch { throw inputFail(error) }
        if let limit { examples = Array(examples.prefix(limit)) }
        guard !examples.isEmpty else { throw inputFail("\(data): no examples") }
        let groups = Set(examples.compactMap(\.group))
        guard groups.contains(reference) else {
            throw inputFail("reference group \"\(reference)\" is not in \(data); its groups: \(groups.sorted().joined(separator: ", "))")
        }
        for g in heldOutGroups where !groups.contains(g) {
            throw inputFail("held-out group \"\(g)\" is not in \(data); its groups: \(groups.sorted().joined(separator: ", "))")
        }
        if adversarial {
            // Each adversarial rendering follows its source, so both meet the same load.
            var mixed: [Example] = [], k = 0
            for e in examples {
                mixed.append(e)
                if e.group == reference { mixed.append(Adversarial.render(e, index: k)); k += 1 }
            }
            examples = mixed
        }
        var seen: [String: Int] = [:]
        for (i, e) in examples.enumerated() {
            guard let id = e.id else { continue }
            if let first = seen[id] { throw inputFail("\(data): duplicate id \"\(id)\" (examples \(first + 1) and \(i + 1)); ids must be unique") }
            seen[id] = i
        }
        let (model, path, stored, text) = try DefaultCheckpoint.loadModel(checkpoint, base: base, templateOverride: chatTemplate)
        // The audit replays routed prompts: the model's chat turn on an imported model, which must route itself.
        _ = try EvalCommand.routedFormat(text, path: path, templateOverride: chatTemplate)
        let routing = runtime.routingPolicy(stored: stored)
        note("audit: \(examples.count) examples in \(groups.count + (adversarial ? 1 : 0)) groups with \(path), \(runtime.routingNote(stored: stored))"
             + (runtime.budget.map { ", budget \($0) (\(runtime.budgetPolicy), \(runtime.order))" } ?? ", no budget"))
        let inputs = examples.enumerated().map { i, e in
            GenerationInput(id: e.id ?? "\(i + 1)", prompt: e.prompt, group: e.group ?? "none", answer: e.answer, difficulty: e.difficulty)
        }
        let results = try GenerateCommand.replay(inputs: inputs, model: model, text: text, style: .routed, options: runtime, routing: routing, label: "audit")
        let records = zip(examples, zip(inputs, results)).map { e, ir in
            let (input, r) = ir
            return AuditRecord(id: input.id ?? "", group: input.group ?? "none", difficulty: e.difficulty, pairID: e.pairID,
                               thought: r.mode == .think, correct: GenerateCommand.isCorrect(r, input, roles: text.roles) ?? false,
                               tokens: r.tokens.count, action: r.budgetAction.flatMap { AuditRecord.Action(rawValue: $0.rawValue) },
                               latency: r.latency)
        }
        let audit = Audit(reference: reference, minRatio: minRatio, maxAccuracyGap: maxAccGap, alpha: alpha,
                          bootstrapResamples: bootstrap, seed: runtime.seed, minGroupSize: minGroupSize, heldOut: heldOutGroups)
        do { return try audit.run(records) } catch { throw inputFail(error) }
    }

    /// Prints and writes the report; exits 1 when a check failed.
    func conclude(_ result: AuditReport) throws {
        print(result.markdown())
        do {
            if let json { try result.json().write(to: URL(fileURLWithPath: json)); note("wrote \(json)") }
            if let report { try Data(result.markdown().utf8).write(to: URL(fileURLWithPath: report)); note("wrote \(report)") }
            if let plot { try Data(result.thinkRateSVG().utf8).write(to: URL(fileURLWithPath: plot)); note("wrote \(plot)") }
        } catch { throw inputFail("cannot write a report: \(error.localizedDescription)") }
        let failures = result.failures
        let counted = result.comparisons.filter { !$0.isHeldOut }
        let insufficient = counted.filter { $0.verdict == .insufficientData }.count
        let tested = counted.filter { $0.verdict == .pass || $0.verdict == .fail }.count
        guard tested > 0 else {
            throw inputFail("insufficient data: no check had \(minGroupSize) examples per side to test, so there is no verdict")
        }
        if insufficient > 0 { note("audit: \(insufficient) check\(insufficient == 1 ? "" : "s") had insufficient data and were not tested") }
        if !heldOutGroups.isEmpty {
            let would = result.heldOutFailures
            note("audit: held out of the verdict: \(heldOutGroups.joined(separator: ", ")); "
                 + (would.isEmpty ? "no check of theirs would fail" : "would fail if counted: " + would.map { "\($0.check.title) (\($0.group))" }.joined(separator: ", ")))
        }
        note(result.passed ? "audit: every check passed" : "audit: \(failures.count) check\(failures.count == 1 ? "" : "s") failed: "
             + failures.map { "\($0.check.title) (\($0.group))" }.joined(separator: ", "))
        if !result.passed { throw ExitCode.failure }
    }

    private func inputFail(_ error: Any) -> ExitCode {
        note("error: \(error)")
        return Self.inputError
    }
}
