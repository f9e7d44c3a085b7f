// The serving engine: continuous batching, routing at token 0, the thinking budget's grants and metering,
// stops and cancellation, stepped on the caller's clock; not the clock, HTTP, or the budget's storage.

import Foundation
import ReckonCore
import ReckonModel

/// Settings of the serving engine.
public struct EngineConfig: Sendable, Equatable {
    /// Requests that hold a KV slot at once (running, or prefilled and waiting for budget).
    public var slots: Int
    /// Requests waiting for a slot; one more is rejected with `queue_full`.
    public var maxPending: Int
    /// The global thinking budget; nil means thinking is free.
    public var budget: BudgetConfig?
    public var order: GrantOrder
    /// Raise the think threshold under load (applies to `model` and `threshold:T` routing).
    public var loadLinked: LoadLinkedConfig?
    /// Tokens kept free for the answer when thinking has to stop early.
    public var answerRoom: Int

    public init(slots: Int = 16, maxPending: Int = 4096, budget: BudgetConfig? = nil, order: GrantOrder = .fifo,
                loadLinked: LoadLinkedConfig? = nil, answerRoom: Int = 16) throws(RuntimeError) {
        guard slots > 0 else { throw .invalidConfig("slots must be ≥ 1") }
        guard maxPending >= 0 else { throw .invalidConfig("the pending queue size must be ≥ 0") }
        guard answerRoom >= 1 else { throw .invalidConfig("answer room must be ≥ 1 token") }
        self.slots = slots; self.maxPending = maxPending; self.budget = budget; self.order = order
        self.loadLinked = loadLinked; self.answerRoom = answerRoom
    }
}

/// One generated token, for streaming.
public struct TokenEvent: Sendable, Equatable {
    public enum Part: String, Sendable { case control, reasoning, endThink, answer, end }
    public var id: String
    public var token: Int32
    public var part: Part
}

/// What one engine step did.
public struct StepReport: Sendable {
    public var finished: [RequestResult] = []
    public var events: [TokenEvent] = []
    /// Rows the model ran (prefill and decode) and their FLOPs.
    public var rows = 0
    public var flops = 0.0
}

/// Continuous batching with routing at token 0 and a global thinking budget.
///
/// Requests wait for a slot, are prefilled as soon as they get one, and decode one token
/// per step alongside everything else in the batch: they join and leave between steps.
/// Each has its own sampler and RNG, so its tokens do not depend on its neighbours.
/// The clock is the caller's: `step(now:)` takes the time, real or simulated.
public struct Engine<Backend: DecodeBackend> {
    public private(set) var backend: Backend
    public let config: EngineConfig
    /// Which ids end a generation, open a mode or are never sampled, and each id's text.
    public let roles: TokenRoles
    /// The budget's bucket and VTC counters; nil when thinking is free.
    public private(set) var store: (any BudgetStore)?
    /// The in-process bucket (nil without a budget, or when it lives in a shared store).
    public var bucket: TokenBucket? { store?.localBucket }
    public var counters: VirtualTokenCounters { store?.counters ?? VirtualTokenCounters() }
    /// Thinking units metered per group (the service VTC equalises).
    public private(set) var service: [String: Double] = [:]
    private var load: LoadController?
    private var pending: [Pending] = []
    private var active: [Active?]
    private var sequence = 0
    /// Slots that emitted token 0 in the current step, and the step's start time.
    private var stamped: [Int] = []
    private var stepStart = 0.0
    /// Running mean of reasoning tokens per think, for reservations.
    private var meanThinkTokens: Double

    private struct Pending { var request: Request; var arrival: Double; var sequence: Int }

    private enum Phase { case prefill, waitingGrant, thinking, answering }

    private struct Active {
        var request: Request
        var arrival: Double
        var sequence: Int
        var rng: RNG
        var phase: Phase = .prefill
        var pThink: Double?
        var tokens: [Int32] = []
        var reasoning: [UInt8] = []
        var answer: [UInt8] = []
        /// Reasoning tokens sampled (what the caps count), and forced closing-text tokens.
        var reasoningTokens = 0
        var closingTokens = 0
        /// What is still to be forced after a cut: the rest of the closing text, then `</think>`.
        var forced: [Int32] = []
        var answerTokens = 0
        /// Budget units reserved and not yet metered.
        var reservation = 0.0
        var thinkUnits = 0.0
        var action: BudgetAction?
        var thinkTruncated = false
        var loadThreshold: Double?
        var firstToken: Double?
        var waitStart = 0.0
        var flops = 0.0
        /// Generated tokens allowed: maxTokens, capped by the context.
        var limit: Int
        /// The stop strings' bytes, made once per request rather than once per token.
        var stops: [[UInt8]]
        /// The mode of token 0; nil before it and for a plain request.
        var mode: ReasoningMode?
    }

    /// `store` keeps the budget elsewhere (a shared store); by default a budget lives in a
    /// `LocalBudgetStore` whose bucket starts full at `start`. `roles` come from the model's
    /// tokenizer (`ModelText.roles`); the byte models' by default.
    public init(backend: Backend, config: EngineConfig, start: Double = 0, store: (any BudgetStore)? = nil,
                roles: TokenRoles = .bytes) throws(RuntimeError) {
        guard backend.slots >= config.slots else {
            throw .invalidConfig("the model backend has \(backend.slots) slots, fewer than the \(config.slots) asked for")
        }
        guard roles.textBytes.count == backend.vocabSize else {
            throw .invalidConfig("the tokenizer has \(roles.textBytes.count) tokens, the model \(backend.vocabSize)")
        }
        self.backend = backend
        self.config = config
        self.roles = roles
        if let b = config.budget {
            if var store {
                store.abandonReservations()
                self.store = store
            } else {
                self.store = LocalBudgetStore(bucket: try TokenBucket(capacity: b.capacity, refillPerSecond: b.refillPerSecond, start: start))
            }
            meanThinkTokens = b.initialReservation
        } else {
            meanThinkTokens = 64
        }
        if let l = config.loadLinked { load = LoadController(config: l, initialThinkUnits: meanThinkTokens) }
        active = Array(repeating: nil, count: config.slots)
    }

    /// The budget and fairness state at `now`, for invariant checks and metrics.
    public struct Snapshot: Sendable {
        public var now: Double
        public var bucket: TokenBucket?
        /// The whole budget and this process's part (shared figures with a shared store).
        public var budget: BudgetFigures?
        public var service: [String: Double]
        public var counters: VirtualTokenCounters
        /// Groups with a request that chose to think and waits for budget.
        public var backlogged: Set<String>
    }

    public func snapshot(now: Double) -> Snapshot {
        Snapshot(now: now, bucket: bucket, budget: store?.figures(at: now), service: service, counters: counters,
                 backlogged: Set(active.compactMap { $0?.phase == .waitingGrant ? $0?.request.group : nil }))
    }

    /// Requests waiting for a slot, and requests waiting for budget.
    public var waitingForSlot: Int { pending.count }
    public var waitingForBudget: Int { active.filter { $0?.phase == .waitingGrant }.count }
    public var running: Int { active.filter { $0 != nil }.count }
    public var isIdle: Bool { pending.isEmpty && running == 0 }

    /// Checks a request and queues it. Returns a rejected result at once when the pending
    /// queue is full; throws for a request that can never be served.
    public mutating func submit(_ request: Request, now: Double) throws(RuntimeError) -> RequestResult? {
        guard !request.prompt.isEmpty else { throw .invalidRequest("the prompt is empty") }
        for t in request.prompt where t < 0 || Int(t) >= backend.vocabSize {
            throw .invalidRequest("prompt token \(t) is outside the vocabulary 0..<\(backend.vocabSize)")
        }
        guard request.prompt.count < backend.contextLength else {
            throw .invalidRequest("the prompt has \(request.prompt.count) tokens; the context holds \(backend.contextLength) with room for ≥ 1 generated token")
        }
        guard request.maxTokens >= 1 else { throw .invalidRequest("max_tokens must be ≥ 1, got \(request.maxTokens)") }
        guard request.plain || roles.control != nil else {
            throw .invalidRequest("the model has no <think>/<short> control tokens, so it cannot route itself; ask for a plain generation (routing \"none\")")
        }
        if let b = request.thinkingTokenBudget, b < 0 { throw .invalidRequest("thinking_token_budget must be ≥ 0, got \(b)") }
        for t in request.thinkClose where t < 0 || Int(t) >= backend.vocabSize || t == roles.control?.endThink || roles.isEnd(t) {
            throw .invalidRequest("closing-text token \(t) is not a text token of the vocabulary 0..<\(backend.vocabSize)")
        }
        // Each generated token adds at most one byte to the answer, so a longer stop can never match.
        if let long = request.stop.first(where: { $0.utf8.count > backend.contextLength }) {
            throw .invalidRequest("a stop string of \(long.utf8.count) bytes is longer than the \(backend.contextLength)-token context")
        }
        do { try request.sampling.validate() } catch { throw .invalidRequest("\(error)") }
        guard pending.count < config.maxPending else {
            return rejected(request, arrival: now, at: now, reason: .queueFull, pThink: nil)
        }
        let groups = activeGroups
        if !groups.contains(request.group) { store?.activate(request.group, active: groups) }
        load?.observeArrival(at: now)
        pending.append(Pending(request: request, arrival: now, sequence: sequence))
        sequence += 1
        return nil
    }

    private var activeGroups: Set<String> {
        Set(pending.map(\.request.group)).union(active.compactMap { $0?.request.group })
    }

    /// One step at time `now`: budget refill, deadlines, admission, one model call over
    /// every prefill and decode row, routing, budget grants, sampling.
    public mutating func step(now: Double) throws -> StepReport {
        var report = StepReport()
        stamped = []
        stepStart = now
        store?.refill(to: now)
        expireWaiting(now: now, into: &report)
        admit(now: now)

        // One model call: the prompts of newly admitted requests and the last token of the rest.
        var rows: [DecodeRow] = []
        var lastRow: [Int: Int] = [:]  // slot → its row whose logits we read
        for slot in active.indices {
            guard let a = active[slot] else { continue }
            switch a.phase {
            case .prefill:
                rows += a.request.prompt.map { DecodeRow(slot: slot, token: $0) }
            case .thinking, .answering:
                guard let last = a.tokens.last else { continue }
                rows.append(DecodeRow(slot: slot, token: last))
            case .waitingGrant:
                continue
            }
            lastRow[slot] = rows.count - 1
        }
        if !rows.isEmpty {
            let logits = try backend.step(rows)
            report.rows = rows.count
            let V = backend.vocabSize
            for slot in active.indices {
                guard var a = active[slot], let r = lastRow[slot] else { continue }
                let context = a.request.prompt.count + a.tokens.count
                let newRows = a.phase == .prefill ? a.request.prompt.count : 1
                for k in 0..<newRows {
                    let f = backend.flopsPerToken(context: context - newRows + k + 1)
                    a.flops += f; report.flops += f
                }
                let row = logits[(r * V)..<((r + 1) * V)]
                if a.phase == .prefill && !a.request.plain {
                    active[slot] = a
                    try route(slot: slot, logits: row, now: now, into: &report)
                } else {
                    if a.phase == .prefill {
                        // A plain request: token 0 is an answer token, stamped as the first token.
                        a.phase = .answering
                        a.firstToken = now
                        stamped.append(slot)
                    }
                    let excluded = a.request.plain ? roles.excludedPlain : roles.excludedRouted
                    let t = try a.forced.first ?? Sampler.sample(row, params: a.request.sampling, excluding: excluded, rng: &a.rng)
                    active[slot] = a
                    accept(t, slot: slot, now: now, into: &report)
                }
            }
        }
        grant(now: now, into: &report)
        return report
    }

    // MARK: admission and routing

    private mutating func admit(now: Double) {
        while !pending.isEmpty, let slot = active.firstIndex(where: { $0 == nil }) {
            let i = nextPendingIndex()
            let p = pending.remove(at: i)
            let limit = min(p.request.maxTokens, backend.contextLength - p.request.prompt.count)
            active[slot] = Active(request: p.request, arrival: p.arrival, sequence: p.sequence,
                                  rng: RNG(seed: p.request.seed), limit: limit,
                                  stops: p.request.stop.filter { !$0.isEmpty }.map { Array($0.utf8) })
        }
    }

    /// Stamps what the step produced with the time its tokens were ready (the clock after
    /// the model call): first tokens, and the finish times in `report`.
    public mutating func endStep(_ report: inout StepReport, at time: Double) {
        for slot in stamped where active[slot]?.firstToken == stepStart { active[slot]?.firstToken = time }
        for i in report.finished.indices {
            if report.finished[i].firstToken == stepStart { report.finished[i].firstToken = time }
            report.finished[i].finished = max(report.finished[i].finished, time)
        }
        stamped = []
    }

    private func nextPendingIndex() -> Int {
        var best = 0
        for i in pending.indices.dropFirst() where pendingBefore(pending[i], pending[best]) { best = i }
        return best
    }

    private func pendingBefore(_ x: Pending, _ y: Pending) -> Bool {
        config.order.grants(GrantKey(priority: x.request.priority, pThink: nil, groupCounter: counters.counter(x.request.group), sequence: x.sequence),
                            before: GrantKey(priority: y.request.priority, pThink: nil, groupCounter: counters.counter(y.request.group), sequence: y.sequence))
    }

    /// Token 0: the model's p(think), the routing policy, the load-linked threshold.
    private mutating func route(slot: Int, logits: ArraySlice<Float>, now: Double, into report: inout StepReport) throws {
        guard var a = active[slot] else { return }
        // `submit` lets only plain requests through without control tokens.
        guard let control = roles.control else { throw RuntimeError.invalidRequest("the model has no control tokens to route with") }
        let p = Double(try Sampler.probabilities(logits, over: control.firstToken)[0])
        // NaN weights or an overflow: no routing decision (and no metric) may come from it.
        guard p.isFinite else { throw RuntimeError.backend("the model produced non-finite logits at token 0 (p(think) = \(p))") }
        a.pThink = p
        var mode = a.request.routing.choose(pThink: p, u: a.rng.uniformDouble())
        if var controller = load, let base = a.request.routing.loadLinkedBase, let store {
            controller.observeRoute(pThink: p, wouldThink: mode == .think)
            let tau = controller.threshold(base: base, refillPerSecond: store.refillPerSecond, waiting: waitingForBudget)
            load = controller
            a.loadThreshold = tau
            if mode == .think && p < tau { mode = .short; a.action = .downgrade }
        }
        active[slot] = a
        if mode == .short || store == nil {
            emitControl(mode, slot: slot, now: now, into: &report)
        } else {
            active[slot]?.phase = .waitingGrant
            active[slot]?.waitStart = now
        }
    }

    private mutating func emitControl(_ mode: ReasoningMode, slot: Int, now: Double, into report: inout StepReport) {
        guard var a = active[slot], let token = roles.control?.token(for: mode) else { return }
        a.tokens.append(token)
        a.mode = mode
        a.firstToken = now
        stamped.append(slot)
        a.phase = mode == .think ? .thinking : .answering
        report.events.append(TokenEvent(id: a.request.id, token: token, part: .control))
        active[slot] = a
        if a.tokens.count >= a.limit { finish(slot: slot, now: now, reason: .length, into: &report) }
    }

    // MARK: the budget

    /// Reasoning tokens a request may sample: its own cap, and room for `</think>` and the
    /// answer, and for the closing text when it fits.
    private func thinkCap(_ a: Active) -> Int {
        let room = max(0, a.limit - 2 - config.answerRoom)
        let sampled = closeFits(a) ? room - a.request.thinkClose.count : room
        return min(a.request.thinkingTokenBudget ?? Int.max, sampled)
    }

    /// Whether `max_tokens` leaves room for the closing text; if not, a cut forces `</think>` alone.
    private func closeFits(_ a: Active) -> Bool {
        a.limit - 2 - config.answerRoom >= a.request.thinkClose.count
    }

    /// Cuts a think: the closing text (when it fits) and `</think>` are forced from here on;
    /// returns the first of them, which replaces the token just sampled.
    private func startClose(_ a: inout Active) -> Int32 {
        a.thinkTruncated = true
        a.forced = (closeFits(a) ? a.request.thinkClose : []) + [roles.control?.endThink ?? Tokenizer.endThink]
        return a.forced[0]
    }

    private func unitCost(_ a: Active, position: Int) -> Double {
        config.budget?.unit == .flops ? backend.flopsPerToken(context: position + 1) : 1
    }

    /// Grants budget to waiting thinkers in the configured order; the policy decides for
    /// those the bucket cannot pay.
    private mutating func grant(now: Double, into report: inout StepReport) {
        guard let budget = config.budget else { return }
        var waiting = active.indices.filter { active[$0]?.phase == .waitingGrant }
        while !waiting.isEmpty {
            let k = nextWaitingIndex(waiting)
            let slot = waiting.remove(at: k)
            guard var a = active[slot], store != nil else { continue }
            let tokens = Double(min(thinkCap(a), Int(meanThinkTokens.rounded(.up))))
            let estimate = tokens * unitCost(a, position: a.request.prompt.count + 1 + Int(tokens / 2))
            if store?.reserve(estimate, group: a.request.group) == true {
                a.reservation = estimate
                if now > a.waitStart { a.action = .queue }
                active[slot] = a
                emitControl(.think, slot: slot, now: now, into: &report)
                continue
            }
            switch budget.policy {
            case .truncate:
                a.reservation = store?.reserveRemaining(group: a.request.group) ?? 0
                active[slot] = a
                emitControl(.think, slot: slot, now: now, into: &report)
            case .downgrade:
                a.action = .downgrade
                active[slot] = a
                emitControl(.short, slot: slot, now: now, into: &report)
            case .queue:
                return  // strict order: nobody behind the head may overtake it
            case .reject:
                active[slot] = a
                finish(slot: slot, now: now, reason: .rejected, reject: .budgetExhausted, into: &report)
            }
        }
    }

    private func nextWaitingIndex(_ waiting: [Int]) -> Int {
        func key(_ a: Active) -> GrantKey {
            GrantKey(priority: a.request.priority, pThink: a.pThink, groupCounter: counters.counter(a.request.group), sequence: a.sequence)
        }
        var best = 0
        for i in waiting.indices.dropFirst() {
            if let x = active[waiting[i]], let y = active[waiting[best]], config.order.grants(key(x), before: key(y)) { best = i }
        }
        return best
    }

    private mutating func expireWaiting(now: Double, into report: inout StepReport) {
        guard let deadline = config.budget?.queueDeadline else { return }
        for slot in active.indices {
            guard let a = active[slot], a.phase == .waitingGrant, now - a.waitStart > deadline else { continue }
            finish(slot: slot, now: now, reason: .rejected, reject: .queueDeadline, into: &report)
        }
    }

    // MARK: tokens

    /// Takes the sampled token `t` of a running request: meters thinking, forces `</think>`
    /// when the request or the budget cannot pay, and finishes on `<eos>`, a stop string or the limit.
    private mutating func accept(_ sampled: Int32, slot: Int, now: Double, into report: inout StepReport) {
        guard var a = active[slot] else { return }
        var t = sampled
        var part = TokenEvent.Part.answer
        var added = 0
        // Thinking happens only after `<think>`, so the control tokens exist there.
        let endThink = roles.control?.endThink ?? -1
        if a.phase == .thinking {
            if a.forced.isEmpty, !roles.isEnd(t), t != endThink {
                if a.reasoningTokens >= thinkCap(a) {
                    t = startClose(&a)
                } else {
                    let cost = unitCost(a, position: a.request.prompt.count + a.tokens.count)
                    if pay(cost, for: &a) {
                        part = .reasoning
                        a.reasoningTokens += 1
                        a.reasoning += roles.text(of: t)
                    } else {
                        a.action = .truncate
                        t = startClose(&a)
                    }
                }
            }
            if !a.forced.isEmpty {
                // Closing a cut think: `t` is the next forced token (not metered).
                t = a.forced.removeFirst()
                if t != endThink {
                    part = .reasoning
                    a.closingTokens += 1
                    a.reasoning += roles.text(of: t)
                }
            }
            if roles.isEnd(t) {
                part = .end
            } else if t == endThink {
                part = .endThink
                a.phase = .answering
            }
        } else if roles.isEnd(t) {
            part = .end
        } else {
            a.answerTokens += 1
            let bytes = roles.text(of: t)
            a.answer += bytes
            added = bytes.count
        }
        a.tokens.append(t)
        report.events.append(TokenEvent(id: a.request.id, token: t, part: part))
        active[slot] = a
        if part == .end {
            finish(slot: slot, now: now, reason: .stop, into: &report)
        } else if part == .answer, let cut = Self.stopEnding(a.answer, stops: a.stops, added: added) {
            active[slot]?.answer = Array(a.answer[..<cut])
            finish(slot: slot, now: now, reason: .stop, into: &report)
        } else if a.tokens.count >= a.limit {
            finish(slot: slot, now: now, reason: .length, into: &report)
        }
    }

    /// Meters one thinking token: out of the reservation, else out of the bucket.
    private mutating func pay(_ cost: Double, for a: inout Active) -> Bool {
        // Optional chaining mutates the store in place (a copy would copy its counters).
        guard store != nil else { return true }
        if a.reservation >= cost {
            a.reservation -= cost
            store?.spendReserved(cost)
        } else if store?.spendUnreserved(cost, group: a.request.group) != true {
            return false
        }
        a.thinkUnits += cost
        service[a.request.group, default: 0] += cost
        return true
    }

    /// The start of the earliest stop string that ends within the last `added` bytes of
    /// `answer` (the token just taken). Called after every answer token, so an earlier match
    /// would already have been found: only those end positions need checking, with no copies.
    static func stopEnding(_ answer: [UInt8], stops: [[UInt8]], added: Int = 1) -> Int? {
        var best: Int?
        for needle in stops where needle.count <= answer.count {
            let first = max(needle.count, answer.count - added + 1)
            guard first <= answer.count else { continue }
            for end in first...answer.count where answer[(end - needle.count)..<end].elementsEqual(needle) {
                best = min(best ?? end - needle.count, end - needle.count)
                break
            }
        }
        return best
    }

    /// The byte offset of the first stop string in `answer`, if any.
    static func stopCut(_ answer: [UInt8], stops: [String]) -> Int? {
        var best: Int?
        for s in stops where !s.isEmpty {
            let needle = Array(s.utf8)
            guard needle.count <= answer.count else { continue }
            for i in 0...(answer.count - needle.count) where Array(answer[i..<(i + needle.count)]) == needle {
                best = min(best ?? i, i)
                break
            }
        }
        return best
    }

    // MARK: finishing

    /// Ends request `id` because its client went away: it leaves the queue, or its slot is
    /// freed and the budget it reserved but did not spend goes back to the bucket (and off its
    /// group's counter). Thinking tokens already generated stay charged. Nil when the
    /// request is not here (already finished).
    public mutating func cancel(id: String, now: Double) -> RequestResult? {
        if let i = pending.firstIndex(where: { $0.request.id == id }) {
            let p = pending.remove(at: i)
            var r = rejected(p.request, arrival: p.arrival, at: now, reason: .invalidRequest, pThink: nil)
            r.finishReason = .cancelled
            r.rejectReason = nil
            r.budgetAction = nil
            return r
        }
        guard let slot = active.firstIndex(where: { $0?.request.id == id }) else { return nil }
        var report = StepReport()
        finish(slot: slot, now: now, reason: .cancelled, into: &report)
        return report.finished.first
    }

    private mutating func finish(slot: Int, now: Double, reason: FinishReason, reject: RejectReason? = nil,
                                 into report: inout StepReport) {
        guard let a = active[slot] else { return }
        // Every thinker settles, even with nothing left to return: a shared store sends its
        // spending with the settlement.
        let released = a.reservation
        if a.mode == .think {
            store?.release(a.reservation, group: a.request.group)
            meanThinkTokens += (Double(a.reasoningTokens) - meanThinkTokens) / 16
            load?.observeThinking(units: a.thinkUnits)
        }
        var result = RequestResult(
            id: a.request.id, group: a.request.group, mode: a.mode, pThink: a.pThink,
            tokens: a.tokens, reasoning: String(decoding: a.reasoning, as: UTF8.self),
            answer: String(decoding: a.answer, as: UTF8.self), reasoningTokens: a.reasoningTokens + a.closingTokens,
            closingTokens: a.closingTokens, answerTokens: a.answerTokens, budgetAction: a.action, thinkTruncated: a.thinkTruncated,
            finishReason: reason, rejectReason: reject, loadThreshold: a.loadThreshold, arrival: a.arrival,
            firstToken: a.firstToken, finished: now, flops: a.flops)
        result.releasedUnits = released
        if reason == .rejected { result.budgetAction = .reject }
        report.finished.append(result)
        active[slot] = nil
        try? backend.release(slot: slot)
    }

    private func rejected(_ r: Request, arrival: Double, at now: Double, reason: RejectReason, pThink: Double?) -> RequestResult {
        RequestResult(id: r.id, group: r.group, mode: nil, pThink: pThink, tokens: [], reasoning: "", answer: "",
                      reasoningTokens: 0, answerTokens: 0, budgetAction: .reject, thinkTruncated: false,
                      finishReason: .rejected, rejectReason: reason, loadThreshold: nil, arrival: arrival,
                      firstToken: nil, finished: now, flops: 0)
    }
}

extension RoutingPolicy {
    /// The threshold the load-linked law starts from; nil for forced modes, which it leaves alone.
    var loadLinkedBase: Double? {
        switch self {
        case .model: 0
        case .threshold(let t): t
        case .think, .short: nil
        }
    }
}
