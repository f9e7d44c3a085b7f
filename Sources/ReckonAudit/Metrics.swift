// The per-group figures of a set of records, their denominators, and the group-by-difficulty frame;
// no tests or verdicts (Audit.swift).

import Foundation

/// A per-group figure of `GroupMetrics`, for looking values up by name.
public enum Metric: String, Sendable, Codable, CaseIterable {
    case thinkRate = "think_rate"
    case accuracy
    case accuracyThink = "accuracy_think"
    case accuracyShort = "accuracy_short"
    case tokensPerQuery = "tokens_per_query"
    case downgradeRate = "downgrade_rate"
    case truncationRate = "truncation_rate"
    case rejectRate = "reject_rate"
    case queueRate = "queue_rate"
    case latencyP50 = "latency_p50"
    case latencyP95 = "latency_p95"
}

/// The figures of one set of records (a group, a group at one difficulty, or everything).
///
/// Denominators, chosen so that the budget's rejections are counted once, as a harm of their own:
/// - `accuracy` = correct and not rejected / n: a rejected request got no answer, so it is wrong.
/// - `thinkRate`, `accuracyThink`, `accuracyShort` are over the served (not rejected) requests:
///   they describe the answers that were given, and a rejection says nothing about the mode.
/// - `tokensPerQuery` and the action rates are over all n requests (a rejection used 0 tokens).
/// - latency percentiles are over the served requests (a rejection has no last token).
/// Rates are nil when their denominator is 0.
public struct GroupMetrics: Sendable, Equatable, Codable {
    public var n: Int
    /// Requests that were not rejected.
    public var served: Int
    /// Served requests answered in `<think>` mode, and those of them that were correct.
    public var thought: Int
    public var thinkCorrect: Int
    /// Served requests answered in `<short>` mode, and those of them that were correct.
    public var short: Int
    public var shortCorrect: Int
    public var tokens: Int
    public var downgraded: Int
    public var truncated: Int
    public var rejected: Int
    public var queued: Int

    public var thinkRate: Double?
    public var accuracy: Double?
    public var accuracyThink: Double?
    public var accuracyShort: Double?
    public var tokensPerQuery: Double?
    public var downgradeRate: Double?
    public var truncationRate: Double?
    public var rejectRate: Double?
    public var queueRate: Double?
    public var latencyP50: Double?
    public var latencyP95: Double?

    enum CodingKeys: String, CodingKey {
        case n, served, thought, short, tokens, downgraded, truncated, rejected, queued, accuracy
        case thinkCorrect = "think_correct", shortCorrect = "short_correct"
        case thinkRate = "think_rate", accuracyThink = "accuracy_think", accuracyShort = "accuracy_short"
        case tokensPerQuery = "tokens_per_query", downgradeRate = "downgrade_rate"
        case truncationRate = "truncation_rate", rejectRate = "reject_rate", queueRate = "queue_rate"
        case latencyP50 = "latency_p50", latencyP95 = "latency_p95"
    }

    public init(_ records: [AuditRecord]) {
        // One pass over the records: the audit builds a few dozen of these per run.
        n = records.count
        (served, thought, thinkCorrect, short, shortCorrect, tokens) = (0, 0, 0, 0, 0, 0)
        (downgraded, truncated, rejected, queued) = (0, 0, 0, 0)
        var latencies: [Double] = []
        latencies.reserveCapacity(records.count)
        for r in records {
            tokens += r.tokens
            switch r.action {
            case .downgrade: downgraded += 1
            case .truncate: truncated += 1
            case .reject: rejected += 1
            case .queue: queued += 1
            case nil: break
            }
            guard r.action != .reject else { continue }
            served += 1
            latencies.append(r.latency)
            if r.thought {
                thought += 1
                if r.correct { thinkCorrect += 1 }
            } else {
                short += 1
                if r.correct { shortCorrect += 1 }
            }
        }
        func rate(_ a: Int, _ b: Int) -> Double? { b > 0 ? Double(a) / Double(b) : nil }
        thinkRate = rate(thought, served)
        accuracy = rate(thinkCorrect + shortCorrect, n)
        accuracyThink = rate(thinkCorrect, thought)
        accuracyShort = rate(shortCorrect, short)
        tokensPerQuery = rate(tokens, n)
        downgradeRate = rate(downgraded, n)
        truncationRate = rate(truncated, n)
        rejectRate = rate(rejected, n)
        queueRate = rate(queued, n)
        latencies.sort()
        latencyP50 = Statistics.percentile(latencies, 0.5)
        latencyP95 = Statistics.percentile(latencies, 0.95)
    }

    public func value(_ metric: Metric) -> Double? {
        switch metric {
        case .thinkRate: thinkRate
        case .accuracy: accuracy
        case .accuracyThink: accuracyThink
        case .accuracyShort: accuracyShort
        case .tokensPerQuery: tokensPerQuery
        case .downgradeRate: downgradeRate
        case .truncationRate: truncationRate
        case .rejectRate: rejectRate
        case .queueRate: queueRate
        case .latencyP50: latencyP50
        case .latencyP95: latencyP95
        }
    }
}

/// Metrics disaggregated by group, after Fairlearn's `MetricFrame`: `overall`, `byGroup`,
/// `byGroupAndDifficulty`, and the between-group `difference` / `ratio` against a reference.
public struct MetricFrame: Sendable, Equatable, Codable {
    public var overall: GroupMetrics
    public var byGroup: [String: GroupMetrics]
    /// Group → difficulty level → metrics. Records without a difficulty appear only in `byGroup`.
    public var byGroupAndDifficulty: [String: [Int: GroupMetrics]]

    enum CodingKeys: String, CodingKey {
        case overall
        case byGroup = "by_group", byGroupAndDifficulty = "by_group_difficulty"
    }

    public init(_ records: [AuditRecord]) {
        overall = GroupMetrics(records)
        let grouped = Dictionary(grouping: records, by: \.group)
        byGroup = grouped.mapValues { GroupMetrics($0) }
        byGroupAndDifficulty = grouped.mapValues { rs in
            var byLevel: [Int: [AuditRecord]] = [:]
            for r in rs { if let d = r.difficulty { byLevel[d, default: []].append(r) } }
            return byLevel.mapValues { GroupMetrics($0) }
        }
    }

    /// Group names, sorted.
    public var groups: [String] { byGroup.keys.sorted() }

    /// Difficulty levels present in any group, sorted.
    public var difficulties: [Int] { Set(byGroupAndDifficulty.values.flatMap(\.keys)).sorted() }

    /// `metric(group) − metric(reference)` for every group (the reference gives 0); a group is
    /// absent when either value is undefined.
    public func difference(_ metric: Metric, to reference: String) -> [String: Double] {
        between(metric, reference, .difference)
    }

    /// `metric(group) / metric(reference)` for every group; absent when undefined (0/0),
    /// `+infinity` when only the reference is 0.
    public func ratio(_ metric: Metric, to reference: String) -> [String: Double] {
        between(metric, reference, .ratio)
    }

    private func between(_ metric: Metric, _ reference: String, _ effect: Statistics.Effect) -> [String: Double] {
        guard let r = byGroup[reference]?.value(metric) else { return [:] }
        return byGroup.compactMapValues { m in m.value(metric).flatMap { effect.of($0, r) } }
    }
}
