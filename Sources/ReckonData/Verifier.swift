// Grading: the answer part of a generation and whether it matches the gold answer; not the scratchpad's steps.

import Foundation

/// Decides whether a model's answer matches the gold answer.
///
/// Numbers are compared after normalisation, so `1,234.`, ` 01234 ` and `1234` all match
/// `1234`. Anything that is not a number falls back to an exact comparison of the trimmed
/// strings, which is what user data sets with non-numeric answers need.
public enum Verifier {
    /// The control tokens the model side wraps answers in.
    public static let controlTokens = ["<think>", "</think>", "<short>", "<eos>"]

    /// The answer part of a generated text: whatever follows the last `</think>`,
    /// cut at the first `<eos>`, with any remaining control token removed.
    public static func answerText(fromGenerated text: String) -> String {
        var answer = Substring(text)
        if let close = answer.range(of: "</think>", options: .backwards) { answer = answer[close.upperBound...] }
        if let eos = answer.range(of: "<eos>") { answer = answer[..<eos.lowerBound] }
        var result = String(answer)
        for token in controlTokens { result = result.replacingOccurrences(of: token, with: "") }
        return result.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The canonical form of a number, or nil if `text` is not one.
    ///
    /// Removes spaces, thousands commas, a trailing period, a leading `+`, leading zeros
    /// and trailing fractional zeros; `-0` becomes `0`.
    public static func normalizeNumber(_ text: String) -> String? {
        var s = text.filter { !$0.isWhitespace && $0 != "," }
        if s.hasSuffix(".") { s.removeLast() }
        var negative = false
        if let sign = s.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            s.removeFirst()
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let intPart = parts.first,
              !intPart.isEmpty || parts.count == 2,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } })
        else { return nil }
        var whole = String(intPart.drop { $0 == "0" })
        if whole.isEmpty { whole = "0" }
        var fraction = parts.count == 2 ? String(parts[1]) : ""
        while fraction.hasSuffix("0") { fraction.removeLast() }
        if intPart.isEmpty && fraction.isEmpty { return nil }  // a lone "." is not a number
        let magnitude = fraction.isEmpty ? whole : whole + "." + fraction
        return negative && magnitude != "0" ? "-" + magnitude : magnitude
    }

    /// The form in which an answer is compared: a normalised number, or the trimmed text.
    public static func canonical(_ text: String) -> String {
        normalizeNumber(text) ?? text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Whether `prediction` (an answer text, not the whole generation) matches `gold`.
    public static func matches(_ prediction: String, gold: String) -> Bool {
        canonical(prediction) == canonical(gold)
    }

    /// Whether a whole generated text (with control tokens) answers `gold` correctly.
    public static func isCorrect(generated: String, gold: String) -> Bool {
        matches(answerText(fromGenerated: generated), gold: gold)
    }
}

