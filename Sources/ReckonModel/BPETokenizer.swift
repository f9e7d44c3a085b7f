// Byte-level BPE encoding and decoding from a `TokenizerSpec`; the split before merging is PreTokenizer.swift's,
// reading a model's files into the spec HuggingFaceTokenizer.swift's and ReckonImport's.

import Foundation

/// GPT-2-style byte-level BPE built from a `TokenizerSpec`: added tokens are cut out of the
/// text first, the rest is split by the pre-tokenizer, each piece's UTF-8 bytes become one
/// symbol each, and adjacent symbols merge by rank until no ranked pair is left.
public struct BPETokenizer: TextTokenizer {
    public let spec: TokenizerSpec
    public let preTokenizer: PreTokenizer
    /// Token id of each byte's one-character token, -1 when the vocabulary lacks it.   [256]
    private let byteToken: [Int32]
    /// Bytes with no token. Encoding drops them, as HF `tokenizers` does, so
    /// `decode(encode(s)) == s` holds exactly for text without them (`represents`).
    public let missingBytes: [UInt8]
    /// (left id << 32 | right id) -> (rank, merged id).
    private let merges: [UInt64: Merge]
    /// Bytes of each token.   [vocab]
    private let tokenBytes: [[UInt8]]
    /// Normal tokens by their bytes, for pre-tokenizers that look a whole piece up first.
    private let wholePiece: [[UInt8]: Int32]
    /// Control and user-defined tokens, longest first, by their first byte.
    private let addedByFirstByte: [UInt8: [AddedToken]]
    private let cache: PieceCache

    struct Merge { var rank: Int32; var id: Int32 }
    struct AddedToken { var bytes: [UInt8]; var id: Int32; var isControl: Bool }

    public var vocabSize: Int { spec.tokens.count }
    public var bos: Int32? { spec.bos }
    public var eos: Int32? { spec.eos }
    public let controlTokens: ControlTokens?

    /// Refuses a GGUF tokenizer model other than byte-level BPE (`tokenizer.ggml.model`).
    public static func checkGGUFModel(_ model: String) throws(TokenizerError) {
        switch model {
        case "gpt2": return
        case "llama": throw .unsupportedModel("SentencePiece (tokenizer.ggml.model = llama) is not supported; only byte-level BPE (gpt2) is")
        default: throw .unsupportedModel("tokenizer.ggml.model = \(model); only byte-level BPE (gpt2) is supported")
        }
    }

    public init(spec: TokenizerSpec) throws(TokenizerError) {
        self.spec = spec
        preTokenizer = try PreTokenizer(ggufName: spec.pre)
        let n = spec.tokens.count
        guard n > 0, n <= Int(Int32.max) else { throw .invalidSpec("vocabulary of \(n) tokens") }
        guard spec.tokenTypes.count == n else {
            throw .invalidSpec("\(spec.tokenTypes.count) token types for \(n) tokens")
        }
        for (name, id) in [("bos", spec.bos), ("eos", spec.eos)] {
            if let id, id < 0 || Int(id) >= n { throw .invalidSpec("\(name) id \(id) is outside the vocabulary 0..<\(n)") }
        }
        var idOf: [String: Int32] = [:]
        idOf.reserveCapacity(n)
        var bytesOf: [[UInt8]] = []
        bytesOf.reserveCapacity(n)
        var whole: [[UInt8]: Int32] = [:]
        var added: [UInt8: [AddedToken]] = [:]
        for (i, text) in spec.tokens.enumerated() {
            let id = Int32(i)
            let type = spec.tokenTypes[i]
            if type == TokenizerSpec.control || type == TokenizerSpec.userDefined {
                let b = Array(text.utf8)
                bytesOf.append(b)
                // The router's tokens are control tokens whatever type the spec records, so user
                // text can never open or close a mode.
                let isControl = type == TokenizerSpec.control || ControlTokens.spellings.contains(text)
                if let first = b.first {
                    added[first, default: []].append(AddedToken(bytes: b, id: id, isControl: isControl))
                }
            } else {
                let b = ByteLevel.bytes(of: text)
                bytesOf.append(b)
                if type == TokenizerSpec.normal, whole[b] == nil { whole[b] = id }
            }
            if idOf[text] == nil { idOf[text] = id }
        }
        // SmolLM2's vocabulary, for one, lacks 21 bytes (six ASCII controls, the lead bytes of
        // planes 4–11, and bytes no valid UTF-8 has); HF `tokenizers` and llama.cpp drop such bytes.
        var byteToken = [Int32](repeating: -1, count: 256)
        for b in 0..<256 { byteToken[b] = idOf[String(ByteLevel.unicode[b])] ?? -1 }
        guard byteToken.filter({ $0 >= 0 }).count >= 128 else {
            throw .invalidSpec("only \(byteToken.filter { $0 >= 0 }.count) of the 256 bytes have a token; not a byte-level vocabulary")
        }
        missingBytes = (0..<256).filter { byteToken[$0] < 0 }.map { UInt8($0) }
        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(spec.merges.count)
        for (rank, rule) in spec.merges.enumerated() {
            let parts = rule.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 2, let l = idOf[String(parts[0])], let r = idOf[String(parts[1])],
                  let m = idOf[String(parts[0]) + String(parts[1])] else {
                throw .invalidSpec("merge \(rank) \"\(rule)\" does not join two tokens into a third")
            }
            let key = UInt64(UInt32(l)) << 32 | UInt64(UInt32(r))
            if merges[key] == nil { merges[key] = Merge(rank: Int32(rank), id: m) }
        }
        self.byteToken = byteToken
        self.merges = merges
        tokenBytes = bytesOf
        wholePiece = whole
        addedByFirstByte = added.mapValues { $0.sorted { $0.bytes.count > $1.bytes.count } }
        cache = PieceCache()
        if let t = idOf[ControlTokens.names.think], let e = idOf[ControlTokens.names.endThink], let s = idOf[ControlTokens.names.short] {
            controlTokens = ControlTokens(think: t, endThink: e, short: s)
        } else {
            controlTokens = nil
        }
    }

    /// Control tokens (GGUF type 3, HF `special`) are matched only with `parseSpecials`;
    /// user-defined ones (type 4) always, as llama.cpp and HF `tokenizers` do.
    public func encode(_ text: String, parseSpecials: Bool = false) -> [Int32] {
        let utf8 = Array(text.utf8)
        var out: [Int32] = []
        out.reserveCapacity(utf8.count / 3 + 1)
        var start = 0, i = 0
        while i < utf8.count {
            if let tok = matchAdded(utf8, at: i, parseSpecials: parseSpecials) {
                if start < i { encodePlain(utf8[start..<i], into: &out) }
                out.append(tok.id)
                i += tok.bytes.count
                start = i
            } else {
                i += 1
            }
        }
        if start < utf8.count { encodePlain(utf8[start..<utf8.count], into: &out) }
        return out
    }

    /// The longest added token at byte `i`; a token's first byte is never a UTF-8
    /// continuation byte, so a match always starts on a character.
    private func matchAdded(_ utf8: [UInt8], at i: Int, parseSpecials: Bool) -> AddedToken? {
        guard let candidates = addedByFirstByte[utf8[i]] else { return nil }
        for c in candidates where (parseSpecials || !c.isControl) && i + c.bytes.count <= utf8.count {
            if utf8[i..<(i + c.bytes.count)].elementsEqual(c.bytes) { return c }
        }
        return nil
    }

    private func encodePlain(_ utf8: ArraySlice<UInt8>, into out: inout [Int32]) {
        // The slice lies between added tokens, which start and end on characters, so it is valid UTF-8.
        let scalars = Array(String(decoding: utf8, as: UTF8.self).unicodeScalars)
        var piece: [UInt8] = []
        for r in preTokenizer.split(scalars) {
            piece.removeAll(keepingCapacity: true)
            for u in scalars[r] { ByteLevel.appendUTF8(u, to: &piece) }
            if let ids = cache.get(piece) { out.append(contentsOf: ids); continue }
            let ids = bpe(piece)
            cache.put(piece, ids)
            out.append(contentsOf: ids)
        }
    }

    /// Merges the lowest-ranked adjacent pair, leftmost first, until none is ranked.
    func bpe(_ piece: [UInt8]) -> [Int32] {
        if preTokenizer.ignoresMerges, let id = wholePiece[piece] { return [id] }
        let sym = byteSymbols(piece)
        return sym.count <= 16 ? mergeByScan(sym) : mergeByHeap(sym)
    }

    /// One symbol per byte; bytes without a token are dropped before merging, as HF does.
    func byteSymbols(_ piece: [UInt8]) -> [Int32] {
        piece.compactMap { b in byteToken[Int(b)] >= 0 ? byteToken[Int(b)] : nil }
    }

    private func rankedMerge(_ l: Int32, _ r: Int32) -> Merge? {
        merges[UInt64(UInt32(l)) << 32 | UInt64(UInt32(r))]
    }

    /// Short pieces (most of them): rescan all pairs after each merge, O(n²).
    func mergeByScan(_ symbols: [Int32]) -> [Int32] {
        var sym = symbols
        while sym.count > 1 {
            var best = -1
            var bestMerge = Merge(rank: .max, id: -1)
            for j in 0..<(sym.count - 1) {
                if let m = rankedMerge(sym[j], sym[j + 1]), m.rank < bestMerge.rank {
                    best = j
                    bestMerge = m
                }
            }
            if best < 0 { break }
            sym[best] = bestMerge.id
            sym.remove(at: best + 1)
        }
        return sym
    }

    /// Long pieces (a run of CJK or punctuation can be thousands of bytes): the same merge
    /// order from a min-heap of (rank, position) over a linked list, O(n log n).
    func mergeByHeap(_ symbols: [Int32]) -> [Int32] {
        let n = symbols.count
        var id = symbols                                   // [n], merged symbols live at their left end
        var next = (0..<n).map { $0 + 1 }                  // [n], n = none
        var prev = (0..<n).map { $0 - 1 }                  // [n], -1 = none
        var alive = [Bool](repeating: true, count: n)      // [n]
        var heap = PairHeap()
        for i in 0..<(n - 1) {
            if let m = rankedMerge(id[i], id[i + 1]) { heap.push(PairHeap.Entry(rank: m.rank, pos: i, left: id[i], right: id[i + 1])) }
        }
        while let e = heap.pop() {
            let i = e.pos, j = next[i]
            // Entries go stale when a neighbour merged first; the ids tell.
            guard alive[i], j < n, id[i] == e.left, id[j] == e.right, let m = rankedMerge(e.left, e.right) else { continue }
            id[i] = m.id
            alive[j] = false
            next[i] = next[j]
            if next[j] < n { prev[next[j]] = i }
            if prev[i] >= 0, let pm = rankedMerge(id[prev[i]], id[i]) {
                heap.push(PairHeap.Entry(rank: pm.rank, pos: prev[i], left: id[prev[i]], right: id[i]))
            }
            if next[i] < n, let nm = rankedMerge(id[i], id[next[i]]) {
                heap.push(PairHeap.Entry(rank: nm.rank, pos: i, left: id[i], right: id[next[i]]))
            }
        }
        var out: [Int32] = []
        var i = 0
        while i < n { out.append(id[i]); i = next[i] }
        return out
    }

    /// Whether every byte of `text` has a token, so that encoding loses nothing.
    public func represents(_ text: String) -> Bool {
        missingBytes.isEmpty || text.utf8.allSatisfy { byteToken[Int($0)] >= 0 }
    }

    /// Control tokens (GGUF type 3) and the router's tokens.
    public func isSpecial(_ id: Int32) -> Bool {
        guard id >= 0, Int(id) < spec.tokenTypes.count else { return false }
        return spec.tokenTypes[Int(id)] == TokenizerSpec.control || ControlTokens.spellings.contains(spec.tokens[Int(id)])
    }

    /// EOS, and those of `TokenizerSpec.endSpellings` the vocabulary has as control tokens.
    public var endTokens: [Int32] {
        var ends = spec.eos.map { [$0] } ?? []
        for (id, text) in spec.tokens.enumerated() where TokenizerSpec.endSpellings.contains(text) && isSpecial(Int32(id)) {
            if !ends.contains(Int32(id)) { ends.append(Int32(id)) }
        }
        return ends
    }

    public func bytes(of id: Int32) throws(ModelError) -> [UInt8] {
        guard id >= 0, Int(id) < tokenBytes.count else { throw .tokenOutOfRange(id: Int(id), vocabSize: tokenBytes.count) }
        return tokenBytes[Int(id)]
    }

    /// Text of `ids`; bytes are joined before UTF-8 decoding, so a character split across
    /// tokens comes back whole. Invalid UTF-8 is repaired, never fatal.
    public func decode(_ ids: [Int32]) throws(ModelError) -> String {
        var all: [UInt8] = []
        for id in ids { all.append(contentsOf: try bytes(of: id)) }
        return String(decoding: all, as: UTF8.self)
    }
}

/// GPT-2's reversible byte <-> printable-character map: printable Latin-1 bytes stand for
/// themselves, the others (controls, space, 0x7F–0xA0, 0xAD) for U+0100 onwards in byte order.
public enum ByteLevel {
    /// The character of each byte.   [256]
    public static let unicode: [Character] = {
        var map = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                map[b] = Character(Unicode.Scalar(UInt8(b)))
            } else {
                map[b] = Character(Unicode.Scalar(next) ?? " ")
                next += 1
            }
        }
        return map
    }()

    private static let byteOf: [Unicode.Scalar: UInt8] = {
        var m: [Unicode.Scalar: UInt8] = [:]
        for (b, c) in unicode.enumerated() { m[c.unicodeScalars.first ?? " "] = UInt8(b) }
        return m
    }()

    /// The bytes a token spelled in this map stands for; a scalar outside the map (not in a
    /// byte-level vocabulary's normal tokens) keeps its own UTF-8.
    public static func bytes(of token: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for u in token.unicodeScalars {
            if let b = byteOf[u] { out.append(b) } else { appendUTF8(u, to: &out) }
        }
        return out
    }

    @inline(__always)
    static func appendUTF8(_ u: Unicode.Scalar, to out: inout [UInt8]) {
        let v = u.value
        switch v {
        case ..<0x80: out.append(UInt8(v))
        case ..<0x800: out.append(UInt8(0xC0 | v >> 6)); out.append(UInt8(0x80 | v & 0x3F))
        case ..<0x10000:
            out.append(UInt8(0xE0 | v >> 12)); out.append(UInt8(0x80 | v >> 6 & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        default:
            out.append(UInt8(0xF0 | v >> 18)); out.append(UInt8(0x80 | v >> 12 & 0x3F))
            out.append(UInt8(0x80 | v >> 6 & 0x3F)); out.append(UInt8(0x80 | v & 0x3F))
        }
    }

    /// The spelling of `bytes` in this map.
    public static func spelling(of bytes: some Sequence<UInt8>) -> String {
        String(bytes.map { unicode[Int($0)] })
    }
}

/// Pieces already encoded. Pieces repeat heavily in text (words, spaces), so this carries
/// most of the encode speed; it is shared by copies of a tokenizer and bounded in size.
final class PieceCache: @unchecked Sendable {
    private var map: [[UInt8]: [Int32]] = [:]
    private let lock = NSLock()
    private let capacity = 1 << 16

    func get(_ key: [UInt8]) -> [Int32]? {
        lock.lock(); defer { lock.unlock() }
        return map[key]
    }

    func put(_ key: [UInt8], _ ids: [Int32]) {
        lock.lock(); defer { lock.unlock() }
        if map.count >= capacity { map.removeAll(keepingCapacity: true) }
        map[key] = ids
    }
}

/// A binary min-heap of candidate merges ordered by (rank, position).
struct PairHeap {
    struct Entry { var rank: Int32; var pos: Int; var left: Int32; var right: Int32 }
    private var items: [Entry] = []

    private static func less(_ a: Entry, _ b: Entry) -> Bool { a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos) }

    mutating func push(_ e: Entry) {
        items.append(e)
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            guard Self.less(items[c], items[p]) else { break }
            items.swapAt(c, p)
            c = p
        }
    }

    mutating func pop() -> Entry? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < items.count, Self.less(items[l], items[m]) { m = l }
                if r < items.count, Self.less(items[r], items[m]) { m = r }
                if m == p { break }
                items.swapAt(p, m)
                p = m
            }
        }
        return top
    }
}
