// The options `generate`, `eval` and `audit` share (routing, budget, arrivals, sampling) and the shipped
// default checkpoint; `serve`'s own flags are ServeCommand.swift's.

import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonModel
import ReckonRuntime

/// The shipped default model, used when no --checkpoint is given: looked up relative to the
/// working directory, then to the repository the executable was built in. It is the shipped
/// model that routes best, and it stores the routing rule it is used with (README, "Shipped checkpoints").
enum DefaultCheckpoint {
    static let relativePath = "checkpoints/overthink-router.h5"

    static func resolve(_ given: String?) throws -> String {
        if let given { return given }
        let (found, candidates) = locate(relativePath)
        if let found { return found }
        throw fail("no --checkpoint given and the default \(relativePath) was not found (looked in \(candidates.joined(separator: ", ")))")
    }

    /// A repository-relative file, looked up in the working directory, then in the
    /// repository the executable was built in; also the places looked in.
    static func locate(_ relative: String) -> (found: String?, candidates: [String]) {
        var candidates = [relative]
        // .build/<config>/reckon → the repository root is three levels up.
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        candidates.append(exe.deletingLastPathComponent().appendingPathComponent("../../../\(relative)").standardized.path)
        return (candidates.first(where: { FileManager.default.fileExists(atPath: $0) }), candidates)
    }

    /// The model, the path it was loaded from, the routing rule stored with it, and its
    /// tokenizer and chat template (`templateOverride`: `--chat-template`). An adapter file is
    /// resolved against its base (`base` overrides the stored path) and merged.
    static func loadModel(_ given: String?, base: String? = nil, templateOverride: ChatTemplateKind? = nil) throws
        -> (model: Transformer, path: String, routing: StoredRouting?, text: ModelText) {
        let path = try resolve(given)
        let checkpoint = try ModelFile.load(path, base: base)
        return (try checkpoint.model(), path, checkpoint.routing, try checkpoint.text(templateOverride: templateOverride, path: path))
    }
}

/// Routing, budget, arrivals and sampling, shared by `generate`, `eval` and `audit`.
struct RuntimeOptions: ParsableArguments {
    @Option(help: "model, think, short or threshold:T (default: the rule stored in the checkpoint, else model).") var routing: RoutingPolicy?
    @Option(help: "Global thinking budget C or C:R (capacity, refill per second); none by default.") var budget: BudgetSpec?
    @Option(help: "When the budget cannot pay: truncate, downgrade, queue or reject.") var budgetPolicy: BudgetPolicy = .truncate
    @Option(help: "Budget unit: tokens or flops.") var budgetUnit: BudgetUnit = .tokens
    @Option(help: "Seconds a request may wait for budget under --budget-policy queue.") var queueDeadline = 5.0
    @Option(help: "Who gets scarce budget first: fifo, value or fair.") var order: GrantOrder = .fifo
    @Flag(help: "Raise the think threshold as demand outruns the budget's refill (see docs/runtime.md).") var loadLinked = false
    @Option(help: "Poisson arrivals per second; all at once when omitted.") var arrivalRate: Double?
    @Option(help: "Seed of the arrival times.") var arrivalSeed: UInt64 = 1
    @Option(help: "Clock: simulated (reproducible) or real.") var clock = "simulated"
    @Option(help: "Simulated model speed in FLOP/s (the step cost model).") var simFlops = 10e9
    @Option(help: "Requests decoded together (KV slots).") var slots = 32
    @Option(help: "Generated tokens per request at most (capped by the context).") var maxTokens = 200
    @Option(help: "Per-request cap on reasoning tokens.") var thinkingTokenBudget: Int?
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0
    @Option(help: "Top-k (0: off).") var topK = 0
    @Option(help: "Top-p (1: off).") var topP: Float = 1
    @Option(help: "Seed of sampling and of model routing's draws.") var seed: UInt64 = 1

    func validate() throws {
        _ = try engineConfig()
        _ = try replayClock()
        _ = try arrivalProcess()
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be ≥ 1, got \(maxTokens)") }
        if let t = thinkingTokenBudget, t < 0 { throw ValidationError("--thinking-token-budget must be ≥ 0, got \(t)") }
        do { try sampling.validate() } catch { throw ValidationError("\(error)") }
    }

    /// --routing, else the checkpoint's stored rule, else the model's own sampled choice.
    func routingPolicy(stored: StoredRouting?) -> RoutingPolicy { routing ?? stored?.policy ?? .model }

    /// The routing in use and where it came from, for progress output.
    func routingNote(stored: StoredRouting?) -> String {
        if let routing { return "routing \(routing)" }
        guard let stored else { return "routing model (no rule stored in the checkpoint)" }
        return "routing \(stored.policy) (stored in the checkpoint, chosen on \(stored.split))"
    }

    var sampling: SamplingParams { SamplingParams(temperature: temperature, topK: topK, topP: topP) }

    func engineConfig() throws -> EngineConfig {
        do {
            let b = try budget.map {
                try BudgetConfig(capacity: $0.capacity, refillPerSecond: $0.refillPerSecond, unit: budgetUnit, policy: budgetPolicy,
                                 queueDeadline: queueDeadline)
            }
            if loadLinked && b == nil { throw ValidationError("--load-linked needs a --budget to link to") }
            return try EngineConfig(slots: slots, budget: b, order: order, loadLinked: loadLinked ? LoadLinkedConfig() : nil)
        } catch let e as RuntimeError { throw ValidationError("\(e)") }
    }

    func replayClock() throws -> ReplayClock {
        switch clock {
        case "simulated":
            do { return .simulated(try StepCostModel(flopsPerSecond: simFlops)) } catch { throw ValidationError("--sim-flops: \(error)") }
        case "real": return .real
        default: throw ValidationError("--clock must be simulated or real, got \"\(clock)\"")
        }
    }

    func arrivalProcess() throws -> ArrivalProcess {
        guard let arrivalRate else { return .batch }
        guard arrivalRate > 0, arrivalRate.isFinite else { throw ValidationError("--arrival-rate must be > 0 per second, got \(arrivalRate)") }
        return .poisson(rate: arrivalRate, seed: arrivalSeed)
    }

    /// A request for input line `index + 1`, routed by `routing` (or `plain`: no control token).
    func request(id: String, prompt: [Int32], group: String?, index: Int, routing: RoutingPolicy, plain: Bool = false) -> Request {
        Request(id: id, prompt: prompt, group: group ?? "default", routing: routing, sampling: sampling,
                seed: Request.seed(base: seed, number: UInt64(index) + 1), maxTokens: maxTokens, thinkingTokenBudget: thinkingTokenBudget,
                plain: plain)
    }
}
