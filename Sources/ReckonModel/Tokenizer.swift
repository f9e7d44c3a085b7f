// The byte tokenizer of the small models: bytes plus six specials; llama2.c's BOS id is the exporter's
// concern (ReckonCheckpoint/Llama2cExport.swift).

/// Byte-level tokenizer: ids 0–255 are raw bytes, then six specials.
/// Byte level keeps every dialect and spelling representable with a tiny vocabulary.
/// llama2.c's BOS = 1 convention is handled by the exporter's id remapping, not here.
public struct Tokenizer: Sendable {
    public static let pad: Int32 = 256
    public static let bos: Int32 = 257
    public static let eos: Int32 = 258
    public static let think: Int32 = 259
    public static let endThink: Int32 = 260
    public static let short: Int32 = 261
    public static let vocabSize = 262
    /// Tokens that are never valid after token 0 of a response: the mode tokens belong to
    /// token 0 alone, and `<pad>`/`<bos>` to inputs. Decoding excludes them there, so the
    /// answer a mode leads to does not depend on the mode tokens' classifier rows.
    public static let outsideAnswers: [Int32] = [pad, bos, think, short]

    public static let specialNames: [String] = ["<pad>", "<bos>", "<eos>", "<think>", "</think>", "<short>"]

    public init() {}

    /// UTF-8 bytes of `text`. Special-token spellings in the text stay plain bytes unless
    /// `parseSpecials`, so user text can never inject a control token by accident.
    public func encode(_ text: String, parseSpecials: Bool = false) -> [Int32] {
        guard parseSpecials else { return text.utf8.map { Int32($0) } }
        var out: [Int32] = []
        var rest = Substring(text)
        outer: while !rest.isEmpty {
            if rest.first == "<" {
                for (i, name) in Self.specialNames.enumerated() where rest.hasPrefix(name) {
                    out.append(256 + Int32(i))
                    rest = rest.dropFirst(name.count)
                    continue outer
                }
            }
            let ch = rest.removeFirst()
            out.append(contentsOf: String(ch).utf8.map { Int32($0) })
        }
        return out
    }

    /// Text of `ids`; specials render as their names. Invalid UTF-8 is repaired, never fatal.
    public func decode(_ ids: [Int32]) throws(ModelError) -> String {
        var bytes: [UInt8] = []
        var text = ""
        func flush() {
            text += String(decoding: bytes, as: UTF8.self)
            bytes.removeAll(keepingCapacity: true)
        }
        for id in ids {
            switch id {
            case 0..<256: bytes.append(UInt8(id))
            case 256..<Int32(Self.vocabSize):
                flush()
                text += Self.specialNames[Int(id) - 256]
            default: throw .tokenOutOfRange(id: Int(id), vocabSize: Self.vocabSize)
            }
        }
        flush()
        return text
    }

    /// Name of one token, for inspection.
    public func name(of id: Int32) throws(ModelError) -> String {
        guard id >= 0, id < Int32(Self.vocabSize) else { throw .tokenOutOfRange(id: Int(id), vocabSize: Self.vocabSize) }
        if id >= 256 { return Self.specialNames[Int(id) - 256] }
        return id >= 32 && id < 127 ? String(UnicodeScalar(UInt8(id))) : "<0x\(String(id, radix: 16, uppercase: true))>"
    }

    /// Checks ids before they index an embedding table.
    public static func validate(_ ids: [Int32], vocabSize: Int = vocabSize) throws(ModelError) {
        for id in ids where id < 0 || Int(id) >= vocabSize {
            throw .tokenOutOfRange(id: Int(id), vocabSize: vocabSize)
        }
    }
}
