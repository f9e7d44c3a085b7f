// Reckon's `/metrics`: every metric by name, what moves it, and the engine gauges; the registry is Prometheus.swift's.

import Foundation
import ReckonRuntime

/// The engine state `/metrics` reports, published by the engine loop after every step.
struct EngineGauges: Sendable {
    /// Engine clock (seconds since the server started) of the snapshot.
    var now = 0.0
    var budget: BudgetFigures?
    var running = 0
    var waitingForSlot = 0
    var waitingForBudget = 0
    var steps = 0
    var service: [String: Double] = [:]
    var counters: [String: Double] = [:]
}

/// Reckon's metrics, by name, and what moves them.
final class ServerMetrics: @unchecked Sendable {
    let registry = PrometheusRegistry()
    private let maxGroups: Int
    private let lock = NSLock()
    private var groups: Set<String> = []
    private var gauges = EngineGauges()
    private let hasBudget: Bool
    /// The server's connection cap, for the connection gauges (set once, before serving).
    var connections: ConnectionCap?

    static let latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    static let thinkingBuckets: [Double] = [0, 8, 16, 32, 64, 128, 256, 512, 1024]
    static let pThinkBuckets = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]

    init(maxGroups: Int, hasBudget: Bool) {
        self.maxGroups = maxGroups
        self.hasBudget = hasBudget
        let r = registry
        r.declare("reckon_requests_total", .counter, help: "Generation requests the engine finished (served or rejected by it), per group.")
        r.declare("reckon_route_total", .counter, help: "Served requests by the mode used (after budget actions), per group.")
        r.declare("reckon_think_truncated_total", .counter, help: "Requests whose thinking was cut by a forced </think>, per group.")
        r.declare("reckon_budget_actions_total", .counter, help: "Budget actions taken (truncate, downgrade, queue, reject), per group.")
        r.declare("reckon_requests_rejected_total", .counter, help: "Requests not served, by reason (engine rejects and HTTP-level refusals).")
        r.declare("reckon_graded_total", .counter, help: "Served requests that carried expected_answer, per group.")
        r.declare("reckon_correct_total", .counter, help: "Graded requests whose answer matched expected_answer, per group.")
        r.declare("reckon_prompt_tokens_total", .counter, help: "Prompt tokens of served requests.")
        r.declare("reckon_completion_tokens_total", .counter, help: "Generated tokens of served requests (control tokens included).")
        r.declare("reckon_reasoning_tokens_total", .counter, help: "Reasoning tokens of served requests, per group.")
        r.declare("reckon_http_responses_total", .counter, help: "HTTP responses by status code.")
        r.declare("reckon_requests_cancelled_total", .counter, help: "Requests whose client went away before they finished (decoding stopped), per group.")
        r.declare("reckon_cancelled_tokens_total", .counter, help: "Tokens cancelled requests had generated when they were stopped.")
        r.declare("reckon_time_to_first_token_seconds", .histogram, help: "Arrival to token 0 (the mode token), seconds.",
                  buckets: Self.latencyBuckets)
        r.declare("reckon_request_latency_seconds", .histogram, help: "Arrival to last token, seconds, by mode.", buckets: Self.latencyBuckets)
        r.declare("reckon_thinking_tokens", .histogram, help: "Reasoning tokens per request that thought.", buckets: Self.thinkingBuckets)
        r.declare("reckon_p_think", .histogram, help: "The model's p(think) at token 0, per group.", buckets: Self.pThinkBuckets)
        r.declare("reckon_http_connections_open", .gauge, help: "HTTP connections open now (at most --max-connections).")
        r.declare("reckon_http_connections_refused_total", .counter, help: "Connections closed at once because --max-connections were open.")
        r.declare("reckon_engine_running", .gauge, help: "Requests holding a batch slot.")
        r.declare("reckon_engine_waiting_for_slot", .gauge, help: "Requests queued for a batch slot.")
        r.declare("reckon_engine_waiting_for_budget", .gauge, help: "Requests that chose to think and wait for budget.")
        r.declare("reckon_engine_steps_total", .counter, help: "Engine steps (one model call each).")
        r.declare("reckon_engine_clock_seconds", .gauge, help: "Engine clock at the snapshot these gauges come from.")
        if hasBudget {
            r.declare("reckon_budget_capacity", .gauge, help: "Budget capacity C, in budget units (tokens or FLOPs).")
            r.declare("reckon_budget_refill_per_second", .gauge, help: "Budget refill R per second, in budget units.")
            r.declare("reckon_budget_tokens_available", .gauge, help: "Budget units in the bucket now (not reserved).")
            r.declare("reckon_budget_tokens_reserved", .gauge, help: "Budget units held by reservations of running thinkers.")
            r.declare("reckon_budget_tokens_spent_total", .counter, help: "Budget units metered to thinking tokens since start.")
            r.declare("reckon_budget_allowance", .gauge,
                      help: "C + R * elapsed at the snapshot: the most that may have been spent. Invariant: spent_total <= allowance.")
            r.declare("reckon_budget_tokens_expired_total", .counter,
                      help: "Budget units of replicas whose lease ran out, counted as spent (shared store only; 0 in process).")
            r.declare("reckon_budget_own_tokens_spent_total", .counter, help: "Budget units this replica metered to thinking tokens.")
            r.declare("reckon_budget_own_tokens_reserved", .gauge, help: "Budget units held by this replica's running thinkers.")
            r.declare("reckon_budget_replicas", .gauge, help: "Replicas holding a live lease on the budget (1 in process).")
            r.declare("reckon_budget_store_reachable", .gauge, help: "1 while the budget store answers (always 1 in process).")
            r.declare("reckon_budget_fallback_active", .gauge, help: "1 while this replica serves under --budget-store-fallback.")
            r.declare("reckon_vtc_counter", .gauge, help: "Virtual token counter of each group (thinking service granted, VTC).")
            r.declare("reckon_thinking_service_total", .counter, help: "Budget units metered to each group's thinking.")
            r.declare("reckon_budget_released_on_cancel_total", .counter,
                      help: "Budget units cancelled requests had reserved and not spent, returned to the bucket uncharged.")
        }
    }

    /// The label for `group`: the first `maxGroups` distinct groups keep their name.
    func groupLabel(_ group: String) -> String {
        lock.lock()
        defer { lock.unlock() }
        if groups.contains(group) { return group }
        guard groups.count < maxGroups else { return "_other" }
        groups.insert(group)
        return group
    }

    func recordResult(_ r: RequestResult, promptTokens: Int, correct: Bool?) {
        let g = groupLabel(r.group)
        let reg = registry
        if r.finishReason == .cancelled {
            reg.increment("reckon_requests_cancelled_total", [("group", g)])
            reg.increment("reckon_cancelled_tokens_total", by: Double(r.tokens.count))
            if hasBudget { reg.increment("reckon_budget_released_on_cancel_total", by: r.releasedUnits) }
            return
        }
        reg.increment("reckon_requests_total", [("group", g)])
        if let action = r.budgetAction { reg.increment("reckon_budget_actions_total", [("action", action.rawValue), ("group", g)]) }
        if r.finishReason == .rejected {
            reg.increment("reckon_requests_rejected_total", [("reason", r.rejectReason?.rawValue ?? "rejected")])
            return
        }
        let mode = r.mode?.rawValue ?? "none"
        reg.increment("reckon_route_total", [("mode", mode), ("group", g)])
        if r.thinkTruncated { reg.increment("reckon_think_truncated_total", [("group", g)]) }
        if let correct {
            reg.increment("reckon_graded_total", [("group", g)])
            if correct { reg.increment("reckon_correct_total", [("group", g)]) } else { reg.increment("reckon_correct_total", [("group", g)], by: 0) }
        }
        reg.increment("reckon_prompt_tokens_total", by: Double(promptTokens))
        reg.increment("reckon_completion_tokens_total", by: Double(r.tokens.count))
        reg.increment("reckon_reasoning_tokens_total", [("group", g)], by: Double(r.reasoningTokens))
        if let t = r.timeToFirstToken { reg.observe("reckon_time_to_first_token_seconds", t) }
        reg.observe("reckon_request_latency_seconds", [("mode", mode)], r.latency)
        if r.mode == .think { reg.observe("reckon_thinking_tokens", Double(r.reasoningTokens)) }
        if let p = r.pThink { reg.observe("reckon_p_think", [("group", g)], p) }
    }

    func recordRefusal(reason: String) {
        registry.increment("reckon_requests_rejected_total", [("reason", reason)])
    }

    func recordStatus(_ code: Int) {
        registry.increment("reckon_http_responses_total", [("code", String(code))])
    }

    /// Called by the engine loop after each step.
    func publish(_ g: EngineGauges) {
        lock.lock()
        gauges = g
        lock.unlock()
    }

    var engineGauges: EngineGauges {
        lock.lock()
        defer { lock.unlock() }
        return gauges
    }

    /// The exposition, with the engine gauges of the latest snapshot.
    func exposition() -> String {
        let g = engineGauges
        let r = registry
        if let c = connections?.counts {
            r.set("reckon_http_connections_open", Double(c.open))
            r.set("reckon_http_connections_refused_total", Double(c.refused))
        }
        r.set("reckon_engine_running", Double(g.running))
        r.set("reckon_engine_waiting_for_slot", Double(g.waitingForSlot))
        r.set("reckon_engine_waiting_for_budget", Double(g.waitingForBudget))
        r.set("reckon_engine_steps_total", Double(g.steps))
        r.set("reckon_engine_clock_seconds", g.now)
        if hasBudget, let b = g.budget {
            // The whole bucket (every replica's, with a shared store) and this replica's part.
            r.set("reckon_budget_capacity", b.capacity)
            r.set("reckon_budget_refill_per_second", b.refillPerSecond)
            r.set("reckon_budget_tokens_available", b.level)
            r.set("reckon_budget_tokens_reserved", b.reserved)
            r.set("reckon_budget_tokens_spent_total", b.spent)
            r.set("reckon_budget_allowance", b.allowance)
            r.set("reckon_budget_tokens_expired_total", b.expired)
            r.set("reckon_budget_own_tokens_spent_total", b.ownSpent)
            r.set("reckon_budget_own_tokens_reserved", b.ownReserved)
            r.set("reckon_budget_replicas", Double(b.replicas))
            r.set("reckon_budget_store_reachable", b.reachable ? 1 : 0)
            r.set("reckon_budget_fallback_active", b.fallbackActive ? 1 : 0)
            r.replace("reckon_vtc_counter", g.counters.map { ([("group", groupLabel($0.key))], $0.value) })
            r.replace("reckon_thinking_service_total", g.service.map { ([("group", groupLabel($0.key))], $0.value) })
        }
        return r.exposition()
    }
}
