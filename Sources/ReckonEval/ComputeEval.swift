// Compute-matched comparison of methods (forced, routed, sampled, best-of-N, adaptive) on the runtime engine's
// simulated clock, and its table; the single-routing eval is Evaluator.swift's.

import Foundation
import ReckonCore
import ReckonData
import ReckonModel
import ReckonRuntime

/// One way of spending compute on a query.
public enum ComputeMethod: Sendable, Equatable, CustomStringConvertible {
    /// Greedy with the mode forced, or routed by the model (`selfRoute`) or a threshold.
    case routed(RoutingPolicy)
    /// The model's own routing with temperature sampling, N samples, majority vote (N = 1: `sample`).
    case bestOf(Int)
    /// N from a difficulty estimate, mean N at most `meanN` on the validation split.
    case adaptive(DifficultyEstimator, meanN: Double, nMax: Int)

    /// Parses short, think, self-route, threshold:T, sample, best-of-N, adaptive-entropy:M, adaptive-nll:M.
    public init(parsing text: String) throws(EvalError) {
        switch text {
        case "short": self = .routed(.short)
        case "think": self = .routed(.think)
        case "self-route": self = .routed(.model)
        case "sample": self = .bestOf(1)
        default:
            if text.hasPrefix("threshold:"), let r = try? RoutingPolicy(parsing: text) { self = .routed(r); return }
            if text.hasPrefix("best-of-"), let n = Int(text.dropFirst("best-of-".count)), (1...64).contains(n) { self = .bestOf(n); return }
            for e in DifficultyEstimator.allCases where text.hasPrefix("adaptive-\(e.rawValue)") {
                let rest = text.dropFirst("adaptive-\(e.rawValue)".count)
                let meanN = rest.isEmpty ? 4 : Double(rest.dropFirst())
                guard rest.isEmpty || rest.first == ":", let meanN, meanN >= 1, meanN <= 64 else { break }
                self = .adaptive(e, meanN: meanN, nMax: min(64, Int((2 * meanN).rounded(.up)) + 1)); return
            }
            throw .badMethod(text)
        }
    }

    public var description: String {
        switch self {
        case .routed(.model): "self-route"
        case .routed(let r): r.description
        case .bestOf(1): "sample"
        case .bestOf(let n): "best-of-\(n)"
        case .adaptive(let e, let m, _): "adaptive-\(e.rawValue):\(m.formatted())"
        }
    }

    var needsValidation: Bool { if case .adaptive = self { true } else { false } }
}

private extension Double {
    func formatted() -> String { self == rounded() ? String(Int(self)) : String(self) }
}

/// One query's outcome under a method.
public struct ComputeRecord: Sendable, Equatable, Codable {
    public var id: String
    public var group: String
    public var difficulty: Int?
    public var correct: Bool
    public var samples: Int
    /// Samples that thought.
    public var thinks: Int
    public var tokens: Int
    public var flops: Double
    public var latency: Double
}

/// Accuracy, think rate, tokens, FLOPs and latency of one method, overall and per level and group.
public struct ComputeRow: Sendable, Equatable, Codable {
    public struct Slice: Sendable, Equatable, Codable {
        public var n: Int
        public var accuracy: Double
        public var thinkRate: Double
        public var tokensPerQuery: Double
        public var flopsPerQuery: Double

        init(_ records: [ComputeRecord]) {
            n = records.count
            let d = Double(max(1, records.count))
            accuracy = Double(records.filter(\.correct).count) / d
            thinkRate = Double(records.reduce(0) { $0 + $1.thinks }) / Double(max(1, records.reduce(0) { $0 + $1.samples }))
            tokensPerQuery = Double(records.reduce(0) { $0 + $1.tokens }) / d
            flopsPerQuery = records.reduce(0) { $0 + $1.flops } / d
        }
    }
    public var method: String
    public var all: Slice
    public var byDifficulty: [String: Slice]
    public var byGroup: [String: Slice]
    public var latencyP50: Double
    public var latencyP95: Double
    public var meanSamples: Double
    /// The fitted adaptive-N rule, for adaptive methods.
    public var adaptive: AdaptiveN?

    init(method: String, records: [ComputeRecord], adaptive: AdaptiveN? = nil) {
        self.method = method
        all = Slice(records)
        byDifficulty = Dictionary(grouping: records) { $0.difficulty.map(String.init) ?? "none" }.mapValues(Slice.init)
        byGroup = Dictionary(grouping: records, by: \.group).mapValues(Slice.init)
        let lat = records.map(\.latency).sorted()
        func q(_ p: Double) -> Double { lat.isEmpty ? 0 : lat[min(lat.count - 1, Int(p * Double(lat.count)))] }
        latencyP50 = q(0.5); latencyP95 = q(0.95)
        meanSamples = Double(records.reduce(0) { $0 + $1.samples }) / Double(max(1, records.count))
        self.adaptive = adaptive
    }
}

/// Runs methods over a data set at equal footing: same model, same engine and simulated clock,
/// FLOPs counted per request from the model's per-token cost (prefill and attention included).
/// Prompts are made and answers read by `format`, the model's (`ModelText.routedFormat`).
public struct ComputeEval {
    public var model: Transformer
    public var format: RoutedFormat
    public var engineConfig: EngineConfig
    public var cost: StepCostModel
    public var arrivals: ArrivalProcess
    public var maxTokens: Int
    /// Temperature of `sample`, best-of-N and adaptive samples.
    public var temperature: Float
    public var seed: UInt64

    public init(model: Transformer, format: RoutedFormat = .bytes, engineConfig: EngineConfig, cost: StepCostModel, arrivals: ArrivalProcess,
                maxTokens: Int, temperature: Float, seed: UInt64) {
        self.model = model; self.format = format; self.engineConfig = engineConfig; self.cost = cost; self.arrivals = arrivals
        self.maxTokens = maxTokens; self.temperature = temperature; self.seed = seed
    }

    /// Generates `samples[i]` responses for example i (routing and sampling per `method`) on the
    /// simulated clock; returns per-example lists of results. All samples of a query arrive together.
    func generate(_ examples: [Example], samples: [Int], routing: RoutingPolicy, sampled: Bool,
                  progress: ((Int, Int) -> Void)?) throws -> [[RequestResult]] {
        let times = try arrivals.times(count: examples.count)
        var requests: [Request] = [], arrival: [Double] = [], owner: [Int] = []
        for (i, e) in examples.enumerated() {
            let prompt = format.prompt(e.prompt)
            for k in 0..<samples[i] {
                requests.append(Request(id: "\(i)/\(k)", prompt: prompt, group: e.group ?? "default", routing: routing,
                                        sampling: sampled ? SamplingParams(temperature: temperature) : .greedy,
                                        seed: seed &+ UInt64(i) &* 1_000_003 &+ UInt64(k), maxTokens: maxTokens))
                arrival.append(times[i]); owner.append(i)
            }
        }
        var engine = try Engine(backend: TransformerBackend(model: model, slots: engineConfig.slots), config: engineConfig, roles: format.roles)
        let total = requests.count
        let results = try Replay.run(requests, arrivals: arrival, engine: &engine, clock: .simulated(cost),
                                     progress: { progress?($0, total) })
        var grouped = [[RequestResult]](repeating: [], count: examples.count)
        for (r, i) in zip(results, owner) { grouped[i].append(r) }
        return grouped
    }

    /// Whether a result answers `gold`: well formed and the verifier's match. `roles` are the
    /// model's (`ModelText.roles`), whose `</think>` id closes thinking.
    public static func isCorrect(_ r: RequestResult, gold: String, roles: TokenRoles = .bytes) -> Bool {
        answerOf(r, roles: roles).map { Verifier.matches($0, gold: gold) } ?? false
    }

    /// The answer a result gives, if it is well formed (mode known, thinking closed by the
    /// model's `</think>`).
    public static func answerOf(_ r: RequestResult, roles: TokenRoles = .bytes) -> String? {
        guard r.finishReason != .rejected, let mode = r.mode else { return nil }
        if mode == .think && !(roles.control.map { r.tokens.contains($0.endThink) } ?? false) { return nil }
        return r.answer
    }

    func record(_ e: Example, index: Int, results: [RequestResult], extraFlops: Double = 0) -> ComputeRecord {
        let answer = { (r: RequestResult) in Self.answerOf(r, roles: format.roles) }
        let vote = results.count == 1 ? results.first.flatMap(answer) : Vote.majority(results.compactMap(answer))
        let start = results.map(\.arrival).min() ?? 0
        return ComputeRecord(id: e.id ?? "\(index)", group: e.group ?? "default", difficulty: e.difficulty,
                             correct: vote.map { Verifier.matches($0, gold: e.answer) } ?? false,
                             samples: results.count, thinks: results.filter { $0.mode == .think }.count,
                             tokens: results.reduce(0) { $0 + $1.tokens.count },
                             flops: results.reduce(extraFlops) { $0 + $1.flops },
                             latency: (results.map(\.finished).max() ?? start) - start)
    }

    /// Difficulty scores and their FLOPs for every example.
    func scores(_ examples: [Example], estimator: DifficultyEstimator) throws -> [(score: Double, flops: Double)] {
        try examples.map { try estimator.estimate(model: model, prompt: format.prompt($0.prompt), maxTokens: maxTokens, format: format) }
    }

    /// Runs one method on `test`. Adaptive methods fit their rule on `validation` first and read
    /// `test` only after the fit; `trace` records that order.
    public func run(_ method: ComputeMethod, test: [Example], validation: [Example]?,
                    trace: ((String) -> Void)? = nil, progress: ((Int, Int) -> Void)? = nil) throws -> ComputeRow {
        switch method {
        case .routed(let routing):
            let results = try generate(test, samples: test.map { _ in 1 }, routing: routing, sampled: false, progress: progress)
            return ComputeRow(method: method.description, records: zip(test, results).enumerated().map { record($1.0, index: $0, results: $1.1) })
        case .bestOf(let n):
            let results = try generate(test, samples: test.map { _ in n }, routing: .model, sampled: true, progress: progress)
            return ComputeRow(method: method.description, records: zip(test, results).enumerated().map { record($1.0, index: $0, results: $1.1) })
        case .adaptive(let estimator, let meanN, let nMax):
            guard let validation, !validation.isEmpty else { throw EvalError.needsValidation(method.description) }
            trace?("fit: validation")
            let vScores = try scores(validation, estimator: estimator)
            let vResults = try generate(validation, samples: validation.map { _ in nMax }, routing: .model, sampled: true, progress: nil)
            let items = zip(validation, zip(vScores, vResults)).map { e, sr in
                AdaptiveN.ValidationItem(score: sr.0.score, answers: sr.1.map { Self.answerOf($0, roles: format.roles) ?? "" }, gold: e.answer)
            }
            let rule = try AdaptiveN.fit(validation: items, meanN: meanN, nMax: nMax)
            trace?("fitted")
            trace?("test")
            let tScores = try scores(test, estimator: estimator)
            let results = try generate(test, samples: tScores.map { rule.n(score: $0.score) }, routing: .model, sampled: true, progress: progress)
            let records = test.indices.map { record(test[$0], index: $0, results: results[$0], extraFlops: tScores[$0].flops) }
            return ComputeRow(method: method.description, records: records, adaptive: rule)
        }
    }
}

public enum ComputeTable {
    /// One line per method: accuracy, think rate, tokens and FLOPs per query, latency; then
    /// accuracy and FLOPs per query by difficulty and by group.
    public static func render(_ rows: [ComputeRow]) -> String {
        func pct(_ x: Double) -> String { String(format: "%5.1f%%", 100 * x) }
        func gflops(_ x: Double) -> String { String(format: "%8.3f", x / 1e9) }
        let width = max(12, (rows.map(\.method.count).max() ?? 0) + 2)
        func pad(_ s: String) -> String { s.padding(toLength: width, withPad: " ", startingAt: 0) }
        var lines = [pad("method") + "accuracy  think   tokens/q  GFLOP/q   N/q   p50 s   p95 s"]
        for r in rows {
            lines.append(pad(r.method) + "  \(pct(r.all.accuracy))  \(pct(r.all.thinkRate))  "
                         + String(format: "%7.1f", r.all.tokensPerQuery) + "  \(gflops(r.all.flopsPerQuery))"
                         + String(format: "  %4.1f  %6.3f  %6.3f", r.meanSamples, r.latencyP50, r.latencyP95))
        }
        for (title, key) in [("difficulty", \ComputeRow.byDifficulty), ("group", \ComputeRow.byGroup)] {
            let slices = Set(rows.flatMap { $0[keyPath: key].keys }).sorted { (Int($0) ?? 0, $0) < (Int($1) ?? 0, $1) }
            lines.append("")
            lines.append("accuracy and GFLOP per query by \(title)")
            lines.append(pad("method") + slices.map { $0.padding(toLength: 16, withPad: " ", startingAt: 0) }.joined())
            for r in rows {
                lines.append(pad(r.method) + slices.map { s in
                    guard let x = r[keyPath: key][s] else { return "-".padding(toLength: 16, withPad: " ", startingAt: 0) }
                    return (pct(x.accuracy) + String(format: " %.3f", x.flopsPerQuery / 1e9)).padding(toLength: 16, withPad: " ", startingAt: 0)
                }.joined())
            }
        }
        return lines.joined(separator: "\n")
    }
}
