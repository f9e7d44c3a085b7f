// An audit report's think rate by difficulty and group as a standalone SVG plot.

import Foundation

extension AuditReport {
    /// Think rate by difficulty level, one line per group, with 95% Wilson intervals as error
    /// bars, as a standalone SVG document. Without difficulty levels, the per-group rates are
    /// drawn at a single "all" position.
    public func thinkRateSVG(width: Int = 760, height: Int = 440) -> String {
        let levels = metrics.difficulties
        let categories = levels.isEmpty ? ["all"] : levels.map { "\($0)" }
        func cellMetrics(_ group: String, _ i: Int) -> GroupMetrics? {
            levels.isEmpty ? metrics.byGroup[group] : metrics.byGroupAndDifficulty[group]?[levels[i]]
        }

        let left = 64.0, right = 190.0, top = 52.0, bottom = 58.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        let band = plotW / Double(categories.count)
        // Groups are dodged sideways inside a level so their error bars do not overlap.
        let dodge = min(8.0, band * 0.5 / Double(max(groups.count, 1)))
        func x(_ i: Int, _ g: Int) -> Double {
            left + band * (Double(i) + 0.5) + (Double(g) - Double(groups.count - 1) / 2) * dodge
        }
        func y(_ rate: Double) -> Double { top + plotH * (1 - rate) }

        var svg: [String] = [
            #"<?xml version="1.0" encoding="UTF-8"?>"#,
            #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(width)" height="\#(height)" viewBox="0 0 \#(width) \#(height)" font-family="Helvetica, Arial, sans-serif" font-size="12">"#,
            #"<rect width="100%" height="100%" fill="white"/>"#,
            #"<text x="\#(n(left + plotW / 2))" y="24" text-anchor="middle" font-size="15" font-weight="bold">Think rate by difficulty (95% Wilson CI)</text>"#,
            #"<text x="\#(n(left + plotW / 2))" y="40" text-anchor="middle" fill="rgb(85,85,85)">reference: \#(xml(audit.reference)); \#(records) records</text>"#,
        ]

        // Axes, gridlines and ticks.
        for tick in stride(from: 0.0, through: 1.0001, by: 0.2) {
            let ty = n(y(tick))
            svg.append(#"<line x1="\#(n(left))" y1="\#(ty)" x2="\#(n(left + plotW))" y2="\#(ty)" stroke="rgb(227,227,227)"/>"#)
            svg.append(#"<text x="\#(n(left - 8))" y="\#(ty)" text-anchor="end" dominant-baseline="middle">\#(String(format: "%.1f", tick))</text>"#)
        }
        for (i, label) in categories.enumerated() {
            let tx = n(left + band * (Double(i) + 0.5))
            svg.append(#"<line x1="\#(tx)" y1="\#(n(top + plotH))" x2="\#(tx)" y2="\#(n(top + plotH + 5))" stroke="black"/>"#)
            svg.append(#"<text x="\#(tx)" y="\#(n(top + plotH + 19))" text-anchor="middle">\#(xml(label))</text>"#)
        }
        svg.append(#"<line x1="\#(n(left))" y1="\#(n(top))" x2="\#(n(left))" y2="\#(n(top + plotH))" stroke="black"/>"#)
        svg.append(#"<line x1="\#(n(left))" y1="\#(n(top + plotH))" x2="\#(n(left + plotW))" y2="\#(n(top + plotH))" stroke="black"/>"#)
        svg.append(#"<text x="\#(n(left + plotW / 2))" y="\#(n(Double(height) - 14))" text-anchor="middle">difficulty level</text>"#)
        svg.append(#"<text transform="translate(18 \#(n(top + plotH / 2))) rotate(-90)" text-anchor="middle">think rate (served requests)</text>"#)

        // One series per group: a line through the rates (broken where a level is empty),
        // error bars with caps, and a marker.
        for (g, group) in groups.enumerated() {
            let colour = palette[g % palette.count]
            var path = "", pen = false
            var marks: [String] = []
            for i in categories.indices {
                guard let m = cellMetrics(group, i), let rate = m.thinkRate,
                      let ci = Statistics.wilsonCI(successes: m.thought, n: m.served) else { pen = false; continue }
                let px = n(x(i, g)), py = n(y(rate))
                path += "\(pen ? "L" : "M")\(px) \(py) "
                pen = true
                let lo = n(y(ci.lower)), hi = n(y(ci.upper))
                let capL = n(x(i, g) - 3), capR = n(x(i, g) + 3)
                marks.append(#"<path d="M\#(px) \#(lo) L\#(px) \#(hi) M\#(capL) \#(lo) L\#(capR) \#(lo) M\#(capL) \#(hi) L\#(capR) \#(hi)" stroke="\#(colour)" fill="none"/>"#)
                marks.append(#"<circle cx="\#(px)" cy="\#(py)" r="3.5" fill="\#(colour)"><title>\#(xml(group)) level \#(xml(categories[i])): \#(fmt(rate)) [\#(fmt(ci.lower)), \#(fmt(ci.upper))], n = \#(m.served)</title></circle>"#)
            }
            let dash = group == audit.reference ? "" : #" stroke-dasharray="5 3""#
            svg.append(#"<g>"#)
            if !path.isEmpty {
                svg.append(#"<path d="\#(path.trimmingCharacters(in: .whitespaces))" stroke="\#(colour)" stroke-width="2" fill="none"\#(dash)/>"#)
            }
            svg += marks
            svg.append("</g>")

            // Legend entry.
            let ly = top + 10 + Double(g) * 20, lx = left + plotW + 18
            svg.append(#"<line x1="\#(n(lx))" y1="\#(n(ly))" x2="\#(n(lx + 22))" y2="\#(n(ly))" stroke="\#(colour)" stroke-width="2"\#(dash)/>"#)
            svg.append(#"<circle cx="\#(n(lx + 11))" cy="\#(n(ly))" r="3.5" fill="\#(colour)"/>"#)
            let failed = comparison(.thinkRate, group: group)?.verdict == .fail
            let held = audit.heldOut.contains(group) ? " (held-out)" : ""
            let name = group == audit.reference ? "\(group) (reference)" : (failed ? "\(group) (fail)" : group) + held
            svg.append(#"<text x="\#(n(lx + 30))" y="\#(n(ly))" dominant-baseline="middle">\#(xml(name))</text>"#)
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
}

/// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
private let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]

/// Coordinates with one decimal keep the file small and diffs stable.
private func n(_ v: Double) -> String { String(format: "%.1f", v) }

private func xml(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
