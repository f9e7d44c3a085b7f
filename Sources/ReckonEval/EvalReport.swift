// What an eval reports per routing: the figures of its records, by difficulty and group, and its JSON;
// the text tables are EvalTable.swift's.

import Foundation
import ReckonModel

/// Accuracy of the responses in one mode.
public struct ModeStats: Sendable, Equatable, Codable {
    public var n: Int
    public var correct: Int
    /// correct / n, nil when n = 0.
    public var accuracy: Double?
}

/// The figures of a set of records (all, one difficulty, or one group).
public struct EvalStats: Sendable, Equatable, Codable {
    public var n: Int
    public var correct: Int
    public var accuracy: Double?
    /// Share of responses whose token 0 was <think>.
    public var thinkRate: Double?
    public var meanGeneratedTokens: Double?
    /// Mean of the model's own p(think) at token 0, whatever the policy chose.
    public var meanPThink: Double?
    /// Responses that were cut off or did not start with a control token.
    public var malformed: Int
    public var think: ModeStats
    public var short: ModeStats

    enum CodingKeys: String, CodingKey {
        case n, correct, accuracy, malformed, think, short
        case thinkRate = "think_rate", meanGeneratedTokens = "mean_generated_tokens", meanPThink = "mean_p_think"
    }

    /// The figures of `records`; skipped records are left out.
    public init(_ records: [EvalRecord]) {
        let used = records.filter { !$0.skipped }
        func ratio(_ a: Int, _ b: Int) -> Double? { b > 0 ? Double(a) / Double(b) : nil }
        func mode(_ m: ReasoningMode) -> ModeStats {
            let r = used.filter { $0.mode == m }
            let c = r.filter(\.correct).count
            return ModeStats(n: r.count, correct: c, accuracy: ratio(c, r.count))
        }
        n = used.count
        correct = used.filter(\.correct).count
        accuracy = ratio(correct, n)
        thinkRate = ratio(used.filter { $0.mode == .think }.count, n)
        meanGeneratedTokens = n > 0 ? Double(used.reduce(0) { $0 + $1.generatedTokens }) / Double(n) : nil
        let ps = used.map(\.pThink).filter(\.isFinite)
        meanPThink = ps.isEmpty ? nil : ps.reduce(0, +) / Double(ps.count)
        malformed = used.filter { !$0.wellFormed }.count
        think = mode(.think)
        short = mode(.short)
    }
}

/// Everything `reckon eval` reports for one routing policy; `--json` writes this.
public struct EvalReport: Sendable, Equatable, Codable {
    public var routing: String
    public var data: String?
    /// Examples evaluated and examples skipped because the prompt filled the context.
    public var n: Int
    public var skipped: Int
    public var overall: EvalStats
    /// Keyed by difficulty level ("1", "2", ...; "none" when absent).
    public var byDifficulty: [String: EvalStats]
    /// Keyed by group ("none" when absent).
    public var byGroup: [String: EvalStats]
    public var seconds: Double?
    public var records: [EvalRecord]?

    enum CodingKeys: String, CodingKey {
        case routing, data, n, skipped, overall, seconds, records
        case byDifficulty = "by_difficulty", byGroup = "by_group"
    }

    public init(routing: String, data: String? = nil, records: [EvalRecord], seconds: Double? = nil, keepRecords: Bool = false) {
        self.routing = routing
        self.data = data
        n = records.filter { !$0.skipped }.count
        skipped = records.count - n
        overall = EvalStats(records)
        byDifficulty = Dictionary(grouping: records) { $0.difficulty.map(String.init) ?? "none" }.mapValues(EvalStats.init)
        byGroup = Dictionary(grouping: records) { $0.group ?? "none" }.mapValues(EvalStats.init)
        self.seconds = seconds
        self.records = keepRecords ? records : nil
    }

    /// The report as pretty JSON with sorted keys; nil figures are written as null.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }
}
