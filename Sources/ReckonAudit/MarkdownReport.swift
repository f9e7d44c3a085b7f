// An audit report as Markdown (docs/audit.md explains its columns).

import Foundation

extension AuditReport {
    /// A human-readable report: the verdict, the per-group metrics, think rate by difficulty,
    /// and one table per check. docs/audit.md explains every column.
    public func markdown() -> String {
        var out: [String] = ["# Fairness audit", ""]
        let failed = failures
        let insufficient = comparisons.count(where: { $0.verdict == .insufficientData && !$0.isHeldOut })
        if failed.isEmpty {
            out.append("**Verdict: PASSED** — no check failed.")
        } else {
            let list = failed.map { "\($0.check.title) for `\($0.group)`" }.joined(separator: ", ")
            out.append("**Verdict: FAILED** — \(failed.count) check\(failed.count == 1 ? "" : "s") failed: \(list).")
        }
        let held = audit.heldOut.filter { groups.contains($0) }
        if !held.isEmpty {
            let names = held.map { "`\($0)`" }.joined(separator: ", ")
            let heldFailed = heldOutFailures
            out.append("")
            out.append("Held out of the verdict (never seen in training, reported apart): \(names); "
                       + (heldFailed.isEmpty ? "no check of theirs would fail."
                          : "\(heldFailed.count) check\(heldFailed.count == 1 ? "" : "s") would fail if counted: "
                            + heldFailed.map { "\($0.check.title) for `\($0.group)`" }.joined(separator: ", ") + "."))
        }
        if insufficient > 0 {
            out.append("")
            out.append("\(insufficient) check\(insufficient == 1 ? " was" : "s were") not tested for lack of data (insufficient data).")
        }
        let gap = audit.maxAccuracyGap.map { fmt($0) } ?? "none (min ratio applies)"
        out += ["", "- Records: \(records) in \(groups.count) groups; reference group `\(audit.reference)`.",
                "- Min ratio \(fmt(audit.minRatio)) (0.8 is the four-fifths rule); max accuracy gap \(gap).",
                "- Alpha \(fmt(audit.alpha)), Holm-adjusted across groups per check; at least \(audit.minGroupSize) per side to test.",
                "- Bootstrap: \(audit.bootstrapResamples) resamples, seed \(audit.seed), 95% percentile intervals.",
                "- Difficulty mix: " + difficultyMix(),
                ""]

        out += ["## Metrics by group", "",
                "| group | n | served | think rate | accuracy | acc. think | acc. short | tokens/query | downgrade | truncate | reject | queue | latency p50 | latency p95 |",
                "|---|" + String(repeating: "---:|", count: 13)]
        for g in groups {
            guard let m = metrics.byGroup[g] else { continue }
            out.append(row([label(g), "\(m.n)", "\(m.served)"]
                           + [m.thinkRate, m.accuracy, m.accuracyThink, m.accuracyShort, m.tokensPerQuery,
                              m.downgradeRate, m.truncationRate, m.rejectRate, m.queueRate,
                              m.latencyP50, m.latencyP95].map(cell)))
        }

        let levels = metrics.difficulties
        if !levels.isEmpty {
            out += ["", "## Think rate by difficulty", "", "Think rate (served requests at that level).", "",
                    row(["group"] + levels.map { "level \($0)" }), "|---|" + String(repeating: "---:|", count: levels.count)]
            for g in groups {
                let cells = levels.map { l -> String in
                    guard let m = metrics.byGroupAndDifficulty[g]?[l] else { return "–" }
                    return "\(cell(m.thinkRate)) (\(m.served))"
                }
                out.append(row([label(g)] + cells))
            }
        }

        out += ["", "## Checks against `\(audit.reference)`"]
        for check in AuditCheck.allCases {
            let rows = comparisons.filter { $0.check == check }
            guard !rows.isEmpty else { continue }
            let paired = check == .pairedRouting
            out += ["", "### \(check.title)", ""]
            var header = ["group", "reference", "value", "ratio [95% CI]", "difference [95% CI]", "test", "p", "Holm p"]
            if paired { header += ["pairs", "to short", "to think", "flip rate"] }
            header += ["verdict", "why"]
            out += [row(header), "|" + String(repeating: "---|", count: header.count)]
            for c in rows {
                var cells = [label(c.group), cell(c.referenceValue), cell(c.groupValue),
                             withCI(c.ratio, c.ratioCI), withCI(c.difference, c.differenceCI),
                             c.test?.method.rawValue ?? "–", cell(c.test?.pValue), cell(c.adjustedPValue)]
                if paired, let f = c.flips {
                    cells += ["\(f.pairs)", "\(f.toShort)", "\(f.toThink)", cell(f.flipRate)]
                }
                let verdict = c.verdict.map(verdictLabel) ?? "info"
                cells += [c.isHeldOut && c.verdict != nil ? "\(verdict) (held-out, not counted)" : verdict, c.reason]
                out.append(row(cells))
            }
        }
        out += ["", "Definitions, tests and verdict rules: docs/audit.md.", ""]
        return out.joined(separator: "\n")
    }

    /// Whether every group has the reference's share of each difficulty level, so that the
    /// marginal think rate and accuracy are compared at equal difficulty (docs/audit.md).
    func difficultyMix() -> String {
        let levels = metrics.difficulties
        guard !levels.isEmpty else { return "no difficulty levels in the records." }
        func count(_ g: String, _ l: Int) -> Int { metrics.byGroupAndDifficulty[g]?[l]?.n ?? 0 }
        func total(_ g: String) -> Int { levels.reduce(0) { $0 + count(g, $1) } }
        let ref = audit.reference
        let differing = groups.filter { g in g != ref && levels.contains { l in count(g, l) * total(ref) != count(ref, l) * total(g) } }
        if differing.isEmpty { return "the same share of each level in every group, so the checks compare groups at equal difficulty." }
        return "differs from the reference's in \(differing.map { "`\($0)`" }.joined(separator: ", ")); read think rate by difficulty below."
    }

    /// A group's name as the tables show it: the reference and held-out groups say so.
    func label(_ g: String) -> String {
        g == audit.reference ? "\(g) (ref)" : audit.heldOut.contains(g) ? "\(g) (held-out)" : g
    }
}

private func row(_ cells: [String]) -> String {
    "| " + cells.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |"
}

private func cell(_ x: Double?) -> String { x.map(fmt) ?? "–" }

private func withCI(_ x: Double?, _ ci: Statistics.Interval?) -> String {
    guard let x else { return "–" }
    guard let ci else { return fmt(x) }
    return "\(fmt(x)) [\(fmt(ci.lower)), \(fmt(ci.upper))]"
}

private func verdictLabel(_ v: Verdict) -> String {
    switch v {
    case .pass: "pass"
    case .fail: "**FAIL**"
    case .insufficientData: "insufficient data"
    }
}
