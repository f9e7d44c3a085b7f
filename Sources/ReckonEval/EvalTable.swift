// Plain-text tables of eval reports, one routing or several side by side; the before/after table is
// BeforeAfterTable.swift's.

import Foundation

/// Plain-text tables of eval reports, as `reckon eval` and `reckon train` print them.
public enum EvalTable {
    /// One report: a row for all examples, one per difficulty, one per group.
    public static func render(_ report: EvalReport) -> String {
        var lines = ["routing \(report.routing): \(report.n) examples" + (report.skipped > 0 ? ", \(report.skipped) skipped (prompt fills the context)" : "")]
        lines.append(header)
        lines.append(row("all", report.overall))
        for key in sortedKeys(report.byDifficulty.keys) { if let s = report.byDifficulty[key] { lines.append(row("level \(key)", s)) } }
        for key in sortedKeys(report.byGroup.keys) { if let s = report.byGroup[key] { lines.append(row(key, s)) } }
        return lines.joined(separator: "\n")
    }

    /// Several routings side by side, accuracy only, one row per difficulty and group.
    public static func compare(_ reports: [EvalReport]) -> String {
        let label = 12
        var lines = ["accuracy".padding(toLength: label, withPad: " ", startingAt: 0)
            + reports.map { pad($0.routing, 14) }.joined()]
        func line(_ name: String, _ stats: (EvalReport) -> EvalStats?) {
            lines.append(name.padding(toLength: label, withPad: " ", startingAt: 0)
                + reports.map { pad(percent(stats($0)?.accuracy), 14) }.joined())
        }
        line("all") { $0.overall }
        let levels = Set(reports.flatMap { $0.byDifficulty.keys }), groups = Set(reports.flatMap { $0.byGroup.keys })
        for key in sortedKeys(levels) { line("level \(key)") { $0.byDifficulty[key] } }
        for key in sortedKeys(groups) { line(key) { $0.byGroup[key] } }
        return lines.joined(separator: "\n")
    }

    static let header = "               n   accuracy  think rate  tokens  p(think)  acc|think  acc|short  malformed"

    static func row(_ name: String, _ s: EvalStats) -> String {
        name.padding(toLength: 10, withPad: " ", startingAt: 0)
            + pad(String(s.n), 6) + pad(percent(s.accuracy), 11) + pad(percent(s.thinkRate), 12)
            + pad(s.meanGeneratedTokens.map { String(format: "%.1f", $0) } ?? "-", 8)
            + pad(s.meanPThink.map { String(format: "%.3f", $0) } ?? "-", 10)
            + pad(percent(s.think.accuracy), 11) + pad(percent(s.short.accuracy), 11) + pad(String(s.malformed), 11)
    }

    static func percent(_ x: Double?) -> String { x.map { String(format: "%.1f%%", 100 * $0) } ?? "-" }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s
    }

    /// Numeric keys in numeric order, then the rest alphabetically.
    static func sortedKeys<S: Sequence>(_ keys: S) -> [String] where S.Element == String {
        keys.sorted { a, b in
            switch (Int(a), Int(b)) {
            case let (x?, y?): x < y
            case (_?, nil): true
            case (nil, _?): false
            default: a < b
            }
        }
    }
}
