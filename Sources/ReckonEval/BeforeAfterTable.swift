// The before/after-training table of one routing, as `reckon train` prints it.

import Foundation

extension EvalTable {
    /// One routing on the same examples before and after training: think rate, accuracy and
    /// tokens per answer, for all examples and each difficulty level.
    public static func beforeAfter(before: EvalReport, after: EvalReport) -> String {
        var lines = ["routing \(after.routing), before → after training (\(after.n) examples)",
                     "               n    think rate          accuracy            tokens",
                     "                    before    after     before    after     before   after"]
        func line(_ name: String, _ b: EvalStats?, _ a: EvalStats?) {
            func tokens(_ s: EvalStats?) -> String { s?.meanGeneratedTokens.map { String(format: "%.1f", $0) } ?? "-" }
            lines.append(name.padding(toLength: 10, withPad: " ", startingAt: 0) + pad(a.map { String($0.n) } ?? "-", 6)
                + pad(percent(b?.thinkRate), 10) + pad(percent(a?.thinkRate), 9)
                + pad(percent(b?.accuracy), 11) + pad(percent(a?.accuracy), 9)
                + pad(tokens(b), 10) + pad(tokens(a), 8))
        }
        line("all", before.overall, after.overall)
        for key in sortedKeys(Set(before.byDifficulty.keys).union(after.byDifficulty.keys)) {
            line("level \(key)", before.byDifficulty[key], after.byDifficulty[key])
        }
        return lines.joined(separator: "\n")
    }
}
