// One served request as the audit's input; records are built from a replay in reckon/AuditCommand.swift.

/// One served request as the audit sees it: who asked, how hard it was, what the router
/// and the budget did, and whether the answer was right. The runtime's replay produces
/// these; the audit never looks at the model.
public struct AuditRecord: Sendable, Equatable, Codable {
    /// What the budget did to the request, if anything.
    public enum Action: String, Sendable, Equatable, Codable, CaseIterable {
        case truncate, downgrade, queue, reject
    }

    public var id: String
    /// The group label (dialect) of the prompt.
    public var group: String
    /// The difficulty level, when the data has one.
    public var difficulty: Int?
    /// Renderings of one problem share a pair id.
    public var pairID: String?
    /// The request was answered in `<think>` mode.
    public var thought: Bool
    public var correct: Bool
    /// Generated tokens (reasoning + answer).
    public var tokens: Int
    public var action: Action?
    /// Arrival to last token, in (simulated) seconds.
    public var latency: Double

    public init(id: String, group: String, difficulty: Int?, pairID: String?, thought: Bool, correct: Bool,
                tokens: Int, action: Action?, latency: Double) {
        self.id = id; self.group = group; self.difficulty = difficulty; self.pairID = pairID
        self.thought = thought; self.correct = correct; self.tokens = tokens; self.action = action; self.latency = latency
    }
}
