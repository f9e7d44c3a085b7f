// One request's token events into text deltas: whole UTF-8 characters only, stop strings held back.

import ReckonModel
import ReckonRuntime

/// Turns one request's token events into text deltas for streaming.
///
/// A token is a byte (the small models) or a BPE piece that may end inside a character, so a
/// character may span several events: only complete UTF-8 sequences are sent. Answer text that could still turn into a stop string is held back
/// until it cannot, so a stream never shows text that the final answer cuts away.
struct StreamText {
    private let stops: [[UInt8]]
    private let roles: TokenRoles
    private var reasoning: [UInt8] = []
    private var reasoningSent = 0
    private var answer: [UInt8] = []
    private var answerSent = 0

    /// `roles` give each token's text bytes (the model's tokenizer; bytes by default).
    init(stops: [String], roles: TokenRoles = .bytes) {
        self.stops = stops.filter { !$0.isEmpty }.map { Array($0.utf8) }
        self.roles = roles
    }

    struct Delta: Equatable {
        var reasoning = ""
        var content = ""
        var isEmpty: Bool { reasoning.isEmpty && content.isEmpty }
    }

    /// The text an event makes sendable now.
    mutating func accept(_ e: TokenEvent) -> Delta {
        let bytes = roles.text(of: e.token)
        guard !bytes.isEmpty else { return Delta() }
        var d = Delta()
        switch e.part {
        case .reasoning:
            reasoning += bytes
            let end = Self.completeEnd(reasoning, from: reasoningSent, to: reasoning.count)
            d.reasoning = String(decoding: reasoning[reasoningSent..<end], as: UTF8.self)
            reasoningSent = end
        case .answer:
            answer += bytes
            let safe = answer.count - heldForStops()
            let end = Self.completeEnd(answer, from: answerSent, to: safe)
            if end > answerSent {
                d.content = String(decoding: answer[answerSent..<end], as: UTF8.self)
                answerSent = end
            }
        case .control, .endThink, .end:
            break
        }
        return d
    }

    /// Everything not yet sent, at the end: answer text up to the first stop string.
    mutating func finish() -> Delta {
        var d = Delta()
        if reasoningSent < reasoning.count {
            d.reasoning = String(decoding: reasoning[reasoningSent...], as: UTF8.self)
            reasoningSent = reasoning.count
        }
        let cut = Self.firstStop(in: answer, stops: stops) ?? answer.count
        if answerSent < cut {
            d.content = String(decoding: answer[answerSent..<cut], as: UTF8.self)
            answerSent = cut
        }
        return d
    }

    /// Bytes at the end of the answer that begin some stop string (and so may be cut).
    private func heldForStops() -> Int {
        var held = 0
        for s in stops {
            var k = min(s.count, answer.count - answerSent)
            while k > held {
                if answer[(answer.count - k)...].elementsEqual(s[..<k]) { held = k; break }
                k -= 1
            }
        }
        return held
    }

    /// The end of the longest run of complete UTF-8 sequences in bytes[from..<to]; an
    /// unfinished sequence at the end waits for its remaining bytes.
    static func completeEnd(_ bytes: [UInt8], from: Int, to: Int) -> Int {
        guard to > from else { return from }
        var i = to - 1
        // Walk back over continuation bytes to the last lead byte (at most 3 of them).
        while i > from, i > to - 4, bytes[i] & 0xC0 == 0x80 { i -= 1 }
        let lead = bytes[i]
        let need: Int
        switch lead {
        case 0xC0...0xDF: need = 2
        case 0xE0...0xEF: need = 3
        case 0xF0...0xF7: need = 4
        default: need = 1  // ASCII, or a byte that can never start a sequence: send it (it is repaired)
        }
        return i + need > to ? i : to
    }

    /// Byte offset of the first occurrence of any stop string.
    static func firstStop(in bytes: [UInt8], stops: [[UInt8]]) -> Int? {
        var best: Int?
        for s in stops where s.count <= bytes.count {
            for i in 0...(bytes.count - s.count) where bytes[i..<(i + s.count)].elementsEqual(s) {
                best = min(best ?? i, i)
                break
            }
        }
        return best
    }
}
