import ReckonCore
@testable import ReckonAudit

/// A simulated router and budget, for measuring how often the audit flags fair and unfair routing.
///
/// Every problem is rendered once in every group (shared pair id and difficulty, as in the
/// paired eval set). The router thinks with a probability that depends only on the difficulty;
/// the unfair variant additionally forces `<short>` on `target` with probability `forceShort`.
struct SyntheticRouter {
    var groups = ["g0", "g1", "g2", "g3", "g4"]
    /// P(think) at difficulty levels 1...5.
    var thinkByLevel = [0.1, 0.3, 0.5, 0.7, 0.9]
    /// P(correct) of a `<short>` answer at levels 1...5; `<think>` answers are right 90% of the time.
    var shortAccuracy = [0.95, 0.8, 0.6, 0.4, 0.2]
    var problems = 200
    var target = "g3"
    var forceShort = 0.0
    /// The budget treats every group alike.
    var rejectRate = 0.02
    var queueRate = 0.05

    func records(seed: UInt64) -> [AuditRecord] {
        var rng = RNG(seed: seed)
        var out: [AuditRecord] = []
        out.reserveCapacity(problems * groups.count)
        for i in 0..<problems {
            let level = rng.int(below: thinkByLevel.count)
            for g in groups {
                var thought = rng.uniformDouble() < thinkByLevel[level]
                if g == target && rng.uniformDouble() < forceShort { thought = false }
                let correct = rng.uniformDouble() < (thought ? 0.9 : shortAccuracy[level])
                let tokens = thought ? 30 + 10 * level + rng.int(below: 10) : 4 + rng.int(below: 3)
                let u = rng.uniformDouble()
                let action: AuditRecord.Action? = u < rejectRate ? .reject : (u < rejectRate + queueRate ? .queue : nil)
                out.append(AuditRecord(id: "\(g)-\(i)", group: g, difficulty: level + 1, pairID: "p\(i)",
                                       thought: action == .reject ? false : thought, correct: action == .reject ? false : correct,
                                       tokens: action == .reject ? 0 : tokens, action: action,
                                       latency: action == .reject ? 0 : 0.02 * Double(tokens) + (action == .queue ? 1 : 0)))
            }
        }
        return out
    }

    /// Share of `seeds` whose audit fails `check` for `group` (any group when nil).
    func flagRate(_ check: AuditCheck?, group: String?, seeds: Range<UInt64>, audit: Audit) throws -> Double {
        var flagged = 0
        for s in seeds {
            let report = try audit.run(records(seed: 1000 + s))
            if report.failures.contains(where: { (check == nil || $0.check == check) && (group == nil || $0.group == group) }) {
                flagged += 1
            }
        }
        return Double(flagged) / Double(seeds.count)
    }
}
