import XCTest
import ReckonCore
import ReckonModel
@testable import ReckonRuntime

/// Thousands of seeded random schedules through the engine with the scripted model:
/// random budgets, policies, orders, caps, groups and Poisson arrivals.
final class BudgetPropertyTests: XCTestCase {
    struct Schedule {
        var requests: [Request]
        var arrivals: [Double]
        var config: EngineConfig
        /// The script's p(think) and thinking length per request id.
        var script: [String: (p: Int, length: Int)]
    }

    static func schedule(seed: UInt64, policy: BudgetPolicy? = nil, order: GrantOrder? = nil) throws -> Schedule {
        var rng = RNG(seed: seed)
        func pick<T>(_ xs: [T]) -> T { xs[rng.int(below: xs.count)] }
        let slots = 1 + rng.int(below: 6)
        var budget = try BudgetConfig(capacity: Double(rng.int(below: 200)), refillPerSecond: Double(rng.int(below: 300)),
                                      unit: rng.int(below: 4) == 0 ? .flops : .tokens,
                                      policy: policy ?? pick(BudgetPolicy.allCases), queueDeadline: 0.05 + rng.uniformDouble())
        if budget.unit == .flops { budget = try BudgetConfig(capacity: budget.capacity * 1100, refillPerSecond: budget.refillPerSecond * 1100,
                                                             unit: .flops, policy: budget.policy, queueDeadline: budget.queueDeadline) }
        let config = try EngineConfig(slots: slots, maxPending: 5 + rng.int(below: 60), budget: budget,
                                      order: order ?? pick(GrantOrder.allCases),
                                      loadLinked: rng.int(below: 4) == 0 ? try LoadLinkedConfig(queueTarget: 2, window: 16) : nil)
        let n = 5 + rng.int(below: 40)
        let groups = ["a", "b", "c"].prefix(1 + rng.int(below: 3))
        var requests: [Request] = [], script: [String: (Int, Int)] = [:]
        for i in 0..<n {
            let p = pick([0, 100, 100, 50, rng.int(below: 101)]), length = rng.int(below: 60)
            let routing: RoutingPolicy = pick([.model, .think, .short, .threshold(0.5)])
            let id = "r\(i)"
            script[id] = (p, length)
            requests.append(Request(id: id, prompt: ScriptedBackend.prompt(pThink: p, thinkLength: length),
                                    group: groups[rng.int(below: groups.count)], routing: routing,
                                    sampling: .greedy, seed: UInt64(i), maxTokens: 20 + rng.int(below: 80),
                                    thinkingTokenBudget: rng.int(below: 3) == 0 ? rng.int(below: 40) : nil))
        }
        let arrivals = try ArrivalProcess.poisson(rate: 20 + 400 * rng.uniformDouble(), seed: seed &+ 1).times(count: n)
        return Schedule(requests: requests, arrivals: arrivals, config: config, script: script.mapValues { (p: $0.0, length: $0.1) })
    }

    static let cost = try! StepCostModel(overheadSeconds: 0.001, flopsPerSecond: 2e6)

    func testBudgetInvariantAndMarkedActionsOverRandomSchedules() throws {
        var actions: [BudgetAction: Int] = [:]
        for seed in UInt64(0)..<2000 {
            let s = try Self.schedule(seed: seed)
            var engine = try Engine(backend: ScriptedBackend(slots: s.config.slots), config: s.config)
            var worst = -Double.infinity
            let results = try Replay.run(s.requests, arrivals: s.arrivals, engine: &engine, clock: .simulated(Self.cost), onStep: { snap in
                guard let b = snap.bucket else { return }
                worst = max(worst, b.spent - b.allowance(at: snap.now))
                XCTAssertGreaterThanOrEqual(b.level, -1e-6)
            })
            XCTAssertLessThanOrEqual(worst, 1e-6, "seed \(seed): spent exceeded C + R·t by \(worst)")
            XCTAssertEqual(engine.bucket?.reserved ?? 0, 0, accuracy: 1e-6, "seed \(seed): reservations left after the run")
            for (r, req) in zip(results, s.requests) {
                try check(r, req, script: s.script[req.id]!, config: s.config, seed: seed)
                if let a = r.budgetAction { actions[a, default: 0] += 1 }
            }
        }
        // The schedules must exercise every action, or the checks above prove little.
        for a in BudgetAction.allCases { XCTAssertGreaterThan(actions[a, default: 0], 20, "action \(a) seen \(actions[a, default: 0]) times") }
    }

    /// The marks and shapes every result must have.
    func check(_ r: RequestResult, _ req: Request, script: (p: Int, length: Int), config: EngineConfig, seed: UInt64) throws {
        let where_ = "seed \(seed) request \(req.id)"
        XCTAssertEqual(r.id, req.id)
        if r.finishReason == .rejected {
            XCTAssertEqual(r.budgetAction, .reject, where_)
            XCTAssertNotNil(r.rejectReason, where_)
            return
        }
        XCTAssertNil(r.rejectReason, where_)
        let mode = try XCTUnwrap(r.mode, where_)
        XCTAssertEqual(r.tokens.first, mode.controlToken, where_)
        // What routing alone would choose (the scripted p is 0, 1 or a draw; only check the sure ones).
        let p = Double(script.p) / 100
        var wanted: ReasoningMode? = switch req.routing {
        case .think: .think
        case .short: .short
        case .threshold(let t): p >= t ? .think : .short
        case .model: script.p == 0 ? .short : script.p == 100 ? .think : nil
        }
        if req.maxTokens < 1 { wanted = nil }
        if let wanted, wanted != mode {
            XCTAssertEqual(wanted, .think, where_)
            XCTAssertEqual(r.budgetAction, .downgrade, "\(where_): a think request answered short must be marked downgrade")
        }
        if r.budgetAction == .downgrade { XCTAssertEqual(mode, .short, "\(where_): downgrade must answer in <short> mode") }
        guard mode == .think else { return }
        let cap = min(req.thinkingTokenBudget ?? .max, max(0, min(req.maxTokens, 256 - req.prompt.count) - 2 - config.answerRoom))
        let natural = min(script.length, cap)
        XCTAssertLessThanOrEqual(r.reasoningTokens, natural, where_)
        if r.reasoningTokens < natural {
            XCTAssertEqual(r.budgetAction, .truncate, "\(where_): thinking cut by the budget must be marked truncate")
        }
        if r.budgetAction == .truncate || r.thinkTruncated {
            // </think> then the whole answer.
            let close = try XCTUnwrap(r.tokens.firstIndex(of: Tokenizer.endThink), "\(where_): truncate without </think>")
            XCTAssertEqual(Array(r.tokens[(close + 1)...]), [52, 50, Tokenizer.eos], "\(where_): an answer must follow the forced </think>")
            XCTAssertEqual(r.answer, "42", where_)
        }
    }

    /// Under `fair` with `queue`, groups that wait for budget at the same time receive
    /// thinking service within VTC's bound of each other: 2 × the batch's largest charge.
    func testFairShareServiceGapStaysWithinTheVTCBound() throws {
        var intervals = 0, worstRatio = 0.0
        for seed in UInt64(0)..<1000 {
            let s = try Self.schedule(seed: 10_000 + seed, policy: .queue, order: .fair)
            var engine = try Engine(backend: ScriptedBackend(slots: s.config.slots), config: s.config)
            // U: the most one request can be charged, in budget units.
            let perToken = s.config.budget?.unit == .flops ? 1000.0 + 256 : 1
            let U = Double(s.requests.map(\.maxTokens).max() ?? 0) * perToken
            let bound = 2 * Double(s.config.slots) * U
            var start: [String: [String: Double]] = [:]  // pair key → service at the interval's start
            _ = try Replay.run(s.requests, arrivals: s.arrivals, engine: &engine, clock: .simulated(Self.cost), onStep: { snap in
                let groups = ["a", "b", "c"]
                for (i, x) in groups.enumerated() {
                    for y in groups[(i + 1)...] {
                        let key = x + y
                        guard snap.backlogged.contains(x), snap.backlogged.contains(y) else { start[key] = nil; continue }
                        guard let s0 = start[key] else {
                            start[key] = [x: snap.service[x] ?? 0, y: snap.service[y] ?? 0]; intervals += 1; continue
                        }
                        let gap = abs(((snap.service[x] ?? 0) - (s0[x] ?? 0)) - ((snap.service[y] ?? 0) - (s0[y] ?? 0)))
                        worstRatio = max(worstRatio, gap / bound)
                        XCTAssertLessThanOrEqual(gap, bound, "seed \(seed): service gap \(gap) between \(x) and \(y) exceeds \(bound)")
                    }
                }
            })
        }
        XCTAssertGreaterThan(intervals, 100, "too few backlogged intervals to test fairness")
        print("fair share: \(intervals) backlogged intervals, worst gap = \(worstRatio) of the VTC bound")
    }

    func testBudgetParsingAndErrors() throws {
        let b = try BudgetConfig(parsing: "2000:400")
        XCTAssertEqual(b.capacity, 2000); XCTAssertEqual(b.refillPerSecond, 400)
        XCTAssertEqual(try BudgetConfig(parsing: "50").refillPerSecond, 0)
        for bad in ["-5", "10:-1", "x", "1:2:3", "nan", ""] {
            XCTAssertThrowsError(try BudgetConfig(parsing: bad), bad) { error in
                XCTAssertTrue("\(error)".contains("budget"), "\(error)")
            }
        }
        XCTAssertThrowsError(try TokenBucket(capacity: -1, refillPerSecond: 0))
        XCTAssertThrowsError(try RoutingPolicy(parsing: "sometimes")) { error in
            XCTAssertTrue("\(error)".contains("unknown routing \"sometimes\""))
        }
    }

    func testVTCLiftsAGroupReturningFromIdle() {
        var v = VirtualTokenCounters()
        v.charge("a", 100); v.charge("b", 40)
        v.activate("c", active: ["a", "b"])
        XCTAssertEqual(v.counter("c"), 40, "lifted to the smallest active counter")
        v.charge("d", 500)
        v.activate("d", active: ["a", "b"])
        XCTAssertEqual(v.counter("d"), 500, "never lowered")
    }
}
