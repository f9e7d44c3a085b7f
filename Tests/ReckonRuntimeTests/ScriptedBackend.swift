import ReckonModel
@testable import ReckonRuntime

/// A model whose every choice is known: the prompt [<bos>, P, L] means p(think) = P/100 and,
/// once thinking, L reasoning tokens ("x") before it closes with `</think>`. Every answer is
/// "42" then `<eos>`. A forced `</think>` is read back like one the script produced.
struct ScriptedBackend: DecodeBackend {
    let vocabSize = Tokenizer.vocabSize
    let contextLength: Int
    let slots: Int
    private var history: [[Int32]]

    init(slots: Int, context: Int = 256) {
        self.slots = slots
        contextLength = context
        history = Array(repeating: [], count: slots)
    }

    static func prompt(pThink: Int, thinkLength: Int) -> [Int32] { [Tokenizer.bos, Int32(pThink), Int32(thinkLength)] }

    mutating func step(_ rows: [DecodeRow]) throws -> [Float] {
        var out: [Float] = []
        for r in rows {
            precondition(history[r.slot].count < contextLength, "slot \(r.slot) overflows the context")
            history[r.slot].append(r.token)
            out += logits(history[r.slot])
        }
        return out
    }

    mutating func release(slot: Int) throws { history[slot] = [] }

    func flopsPerToken(context: Int) -> Double { 1000 + Double(context) }

    private func logits(_ h: [Int32]) -> [Float] {
        var l = [Float](repeating: -30, count: vocabSize)
        guard h.count >= 3 else { l[0] = 0; return l }
        let p = Double(h[1]) / 100, length = Int(h[2])
        let generated = h.dropFirst(3)
        guard let control = generated.first else {
            l[Int(Tokenizer.think)] = Float(log(max(p, 1e-12)))
            l[Int(Tokenizer.short)] = Float(log(max(1 - p, 1e-12)))
            return l
        }
        var answerStart = generated.startIndex + 1
        if control == Tokenizer.think {
            guard let close = generated.firstIndex(of: Tokenizer.endThink) else {
                let steps = generated.count - 1
                l[Int(steps < length ? 120 : Tokenizer.endThink)] = 0
                return l
            }
            answerStart = close + 1
        }
        let answered = generated.count - (answerStart - generated.startIndex)
        let script: [Int32] = [52, 50, Tokenizer.eos]  // "42", <eos>
        l[Int(script[min(answered, 2)])] = 0
        return l
    }
}

import Foundation
