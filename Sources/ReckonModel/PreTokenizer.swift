// The regex split before BPE merging, as hand-written scanners that match HF `tokenizers` and llama.cpp.

/// The regex split that runs before BPE, implemented as a hand-written scanner over Unicode
/// scalars. Each `scan*` function follows one regex alternative by alternative, leftmost
/// alternative first as a backtracking engine would, so pieces equal Hugging Face `tokenizers`
/// and llama.cpp (docs/tokenizer.md lists the regexes and the corpus that checks them).
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Every `\p{N}` alone (HF `Digits(individual_digits)`), then gpt2 on the rest.
    case smollm
    /// Llama 3: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case llama3 = "llama-bpe"
    /// Qwen2: Llama 3's regex with `\p{N}` one digit at a time.
    case qwen2

    /// GGUF's `tokenizer.ggml.pre` name, or a clear error naming the supported ones.
    public init(ggufName: String) throws(TokenizerError) {
        guard let p = PreTokenizer(rawValue: ggufName) else {
            throw .unsupportedPreTokenizer(ggufName)
        }
        self = p
    }

    /// llama.cpp and Llama 3's tokenizer.json (`ignore_merges`) look a whole piece up in the
    /// vocabulary before merging.
    var ignoresMerges: Bool { self == .llama3 }

    /// The pieces of `s`, as ranges of scalar indices that tile `0..<s.count`.
    public func split(_ s: [Unicode.Scalar]) -> [Range<Int>] {
        let cls = s.map(CharClass.init)
        var out: [Range<Int>] = []
        out.reserveCapacity(s.count / 3 + 1)
        switch self {
        case .gpt2:
            Self.scanAll(s, cls, 0, s.count, into: &out, Self.gpt2Piece)
        case .smollm:
            var start = 0
            for i in 0..<s.count where cls[i].contains(.number) {
                if start < i { Self.scanAll(s, cls, start, i, into: &out, Self.gpt2Piece) }
                out.append(i..<(i + 1))
                start = i + 1
            }
            if start < s.count { Self.scanAll(s, cls, start, s.count, into: &out, Self.gpt2Piece) }
        case .llama3:
            Self.scanAll(s, cls, 0, s.count, into: &out) { s, c, i, end in Self.llama3Piece(s, c, i, end, maxDigits: 3) }
        case .qwen2:
            Self.scanAll(s, cls, 0, s.count, into: &out) { s, c, i, end in Self.llama3Piece(s, c, i, end, maxDigits: 1) }
        }
        return out
    }

    private typealias Scanner = ([Unicode.Scalar], [CharClass], Int, Int) -> Int

    /// Applies `piece` from `start` until `end`; every call consumes at least one scalar.
    private static func scanAll(_ s: [Unicode.Scalar], _ c: [CharClass], _ start: Int, _ end: Int,
                                into out: inout [Range<Int>], _ piece: Scanner) {
        var i = start
        while i < end {
            let n = max(1, piece(s, c, i, end))
            out.append(i..<(i + n))
            i += n
        }
    }

    /// Length of the run from `i` whose scalars all satisfy `p`.
    @inline(__always)
    private static func run(_ c: [CharClass], _ i: Int, _ end: Int, _ p: (CharClass) -> Bool) -> Int {
        var j = i
        while j < end, p(c[j]) { j += 1 }
        return j - i
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d`, optionally case-insensitive (Llama 3's `(?i:…)`).
    private static func contraction(_ s: [Unicode.Scalar], _ i: Int, _ end: Int, caseless: Bool) -> Int {
        guard s[i] == "'", i + 1 < end else { return 0 }
        func lower(_ u: Unicode.Scalar) -> Unicode.Scalar {
            guard caseless else { return u }
            if u == "\u{17F}" { return "s" }   // ſ folds to s under Unicode simple case folding
            return u.value >= 65 && u.value <= 90 ? Unicode.Scalar(UInt8(u.value + 32)) : u
        }
        let a = lower(s[i + 1])
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        if i + 2 < end {
            let b = lower(s[i + 2])
            if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        }
        return 0
    }

    /// `\s+(?!\S)|\s+` at a whitespace scalar: the run, less its last scalar when a
    /// non-space follows (that scalar then leads the next piece).
    private static func whitespace(_ c: [CharClass], _ i: Int, _ end: Int) -> Int {
        let r = run(c, i, end) { $0.contains(.space) }
        if i + r == end { return r }
        return r > 1 ? r - 1 : 1
    }

    private static func gpt2Piece(_ s: [Unicode.Scalar], _ c: [CharClass], _ i: Int, _ end: Int) -> Int {
        let k = contraction(s, i, end, caseless: false)
        if k > 0 { return k }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional U+0020, then one class's run.
        let lead = s[i] == " " && i + 1 < end ? 1 : 0
        for kind in [CharClass.letter, .number] {
            if lead == 1, c[i + 1].contains(kind) { return 1 + run(c, i + 1, end) { $0.contains(kind) } }
            if c[i].contains(kind) { return run(c, i, end) { $0.contains(kind) } }
        }
        if lead == 1, c[i + 1].isOther { return 1 + run(c, i + 1, end) { $0.isOther } }
        if c[i].isOther { return run(c, i, end) { $0.isOther } }
        return whitespace(c, i, end)
    }

    private static func llama3Piece(_ s: [Unicode.Scalar], _ c: [CharClass], _ i: Int, _ end: Int, maxDigits: Int) -> Int {
        let k = contraction(s, i, end, caseless: true)
        if k > 0 { return k }
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if !c[i].contains(.newline), !c[i].contains(.letter), !c[i].contains(.number),
           i + 1 < end, c[i + 1].contains(.letter) {
            return 1 + run(c, i + 1, end) { $0.contains(.letter) }
        }
        if c[i].contains(.letter) { return run(c, i, end) { $0.contains(.letter) } }
        // `\p{N}{1,maxDigits}`
        if c[i].contains(.number) { return min(maxDigits, run(c, i, end) { $0.contains(.number) }) }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        var j = -1
        if s[i] == " ", i + 1 < end, c[i + 1].isOther { j = i + 1 } else if c[i].isOther { j = i }
        if j >= 0 {
            j += run(c, j, end) { $0.isOther }
            j += run(c, j, end) { $0.contains(.newline) }
            return j - i
        }
        // `\s*[\r\n]+`: the whitespace run up to and including its last CR/LF.
        let r = run(c, i, end) { $0.contains(.space) }
        var last = -1
        for q in i..<(i + r) where c[q].contains(.newline) { last = q }
        if last >= 0 { return last + 1 - i }
        return whitespace(c, i, end)
    }
}

/// The character classes the regexes use: `\p{L}`, `\p{N}`, `\s` (Unicode White_Space), `[\r\n]`.
struct CharClass: OptionSet {
    let rawValue: UInt8
    static let letter = CharClass(rawValue: 1)
    static let number = CharClass(rawValue: 2)
    static let space = CharClass(rawValue: 4)
    static let newline = CharClass(rawValue: 8)

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(_ u: Unicode.Scalar) {
        if u.value < 128 { self = Self.ascii[Int(u.value)]; return }
        let p = u.properties
        if p.isWhitespace { self = .space; return }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: self = .letter
        case .decimalNumber, .letterNumber, .otherNumber: self = .number
        default: self = []
        }
    }

    /// `[^\s\p{L}\p{N}]`
    var isOther: Bool { rawValue == 0 }

    private static let ascii: [CharClass] = (0..<128).map { v in
        let u = UInt8(v)
        switch u {
        case 0x0A, 0x0D: return [.space, .newline]
        case 0x09, 0x0B, 0x0C, 0x20: return .space
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): return .letter
        default: return []
        }
    }
}
