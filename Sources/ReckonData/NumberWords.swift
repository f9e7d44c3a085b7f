// English number words, both ways: writing 0 ..< 1,000,000 out and parsing words back.

/// English number words (American style, no "and"): `4567` is
/// "four thousand five hundred sixty-seven". Covers 0 ..< 1,000,000, more than the suite needs.
public enum NumberWords {
    static let ones = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
                       "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen",
                       "seventeen", "eighteen", "nineteen"]
    static let tens = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

    public static let range = 0..<1_000_000

    /// The words for `n`, or nil outside `range`.
    public static func words(_ n: Int) -> String? {
        guard range.contains(n) else { return nil }
        if n == 0 { return "zero" }
        var parts: [String] = []
        if n >= 1000 {
            parts.append(belowThousand(n / 1000) + " thousand")
        }
        if n % 1000 > 0 { parts.append(belowThousand(n % 1000)) }
        return parts.joined(separator: " ")
    }

    /// 1 ... 999.
    private static func belowThousand(_ n: Int) -> String {
        var parts: [String] = []
        if n >= 100 { parts.append(ones[n / 100] + " hundred") }
        let rest = n % 100
        if rest >= 20 {
            parts.append(rest % 10 == 0 ? tens[rest / 10] : tens[rest / 10] + "-" + ones[rest % 10])
        } else if rest > 0 {
            parts.append(ones[rest])
        }
        return parts.joined(separator: " ")
    }

    /// Whether `word` (lowercased, no hyphen) is one of the number words.
    public static func isNumberWord(_ word: String) -> Bool {
        value(of: word) != nil || word == "hundred" || word == "thousand"
    }

    private static func value(of word: String) -> Int? {
        if let i = ones.firstIndex(of: word) { return i }
        if let i = tens.firstIndex(of: word), i >= 2 { return i * 10 }
        return nil
    }

    /// Parses words such as "forty-seven" or "one thousand two hundred five" (any case,
    /// hyphens or spaces between tens and units). Nil if any word is not a number word
    /// or the sequence is malformed.
    public static func parse(_ text: String) -> Int? {
        let tokens = text.lowercased().split { $0 == " " || $0 == "-" }.map(String.init)
        guard !tokens.isEmpty else { return nil }
        var total = 0, group = 0
        var sawThousand = false
        for token in tokens {
            switch token {
            case "hundred":
                guard (1...9).contains(group) else { return nil }  // also rules out overflow
                group *= 100
            case "thousand":
                guard group > 0, !sawThousand else { return nil }
                total += group * 1000
                group = 0
                sawThousand = true
            default:
                guard let v = value(of: token) else { return nil }
                group += v
            }
        }
        let n = total + group
        // The loop accepts sloppy sequences ("four seven"); only the canonical spelling counts.
        return words(n).map { $0.replacingOccurrences(of: "-", with: " ") } == tokens.joined(separator: " ") ? n : nil
    }
}
