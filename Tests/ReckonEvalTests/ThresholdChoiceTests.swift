import XCTest
import ReckonData
import ReckonModel
@testable import ReckonEval

final class ThresholdChoiceTests: XCTestCase {
    func record(_ i: Int, _ mode: ReasoningMode, p: Double, correct: Bool, tokens: Int, skipped: Bool = false) -> EvalRecord {
        EvalRecord(index: i, id: nil, group: nil, difficulty: nil, mode: mode, pThink: p, generatedTokens: tokens,
                   answer: "", wellFormed: true, correct: correct, skipped: skipped)
    }

    /// Four examples by hand: p(think) 0.1, 0.35, 0.6, 0.9; thinking is right on all, a
    /// direct answer on the first two only; thinking costs 40 tokens, a direct answer 4.
    func testFiguresAndChoiceByHand() throws {
        let p = [0.1, 0.35, 0.6, 0.9]
        let think = p.indices.map { record($0, .think, p: p[$0], correct: true, tokens: 40) }
        let short = p.indices.map { record($0, .short, p: p[$0], correct: $0 < 2, tokens: 4) }
        let results = try ThresholdChoice.evaluate(think: think, short: short, thresholds: [0.05, 0.3, 0.35, 0.5, 0.95])
        XCTAssertEqual(results.map(\.correct), [4, 4, 4, 4, 2])
        XCTAssertEqual(results.map(\.thinks), [4, 3, 3, 2, 0], "p(think) ≥ T thinks: 0.35 ≥ 0.35 does")
        XCTAssertEqual(results.map(\.tokens), [160, 124, 124, 88, 16])
        XCTAssertEqual(results[3].accuracy, 1.0)
        XCTAssertEqual(results[3].thinkRate, 0.5)
        XCTAssertEqual(results[3].meanTokens, 22.0)
        // Four ties on accuracy; 0.5 has the fewest tokens.
        XCTAssertEqual(ThresholdChoice.best(results)?.threshold, 0.5)
        // Equal accuracy and tokens: the higher threshold.
        XCTAssertEqual(ThresholdChoice.best(Array(results[1...2]))?.threshold, 0.35)
    }

    func testSkippedExamplesAreLeftOutAndMismatchesRefused() throws {
        let think = [record(0, .think, p: 0.9, correct: true, tokens: 40), record(1, .think, p: .nan, correct: false, tokens: 0, skipped: true)]
        let short = [record(0, .short, p: 0.9, correct: false, tokens: 4), record(1, .short, p: .nan, correct: false, tokens: 0, skipped: true)]
        let r = try ThresholdChoice.evaluate(think: think, short: short, thresholds: [0.5])
        XCTAssertEqual(r[0].n, 1)
        XCTAssertEqual(r[0].correct, 1)
        XCTAssertThrowsError(try ThresholdChoice.evaluate(think: think, short: Array(short.prefix(1)), thresholds: [0.5]))
        XCTAssertThrowsError(try ThresholdChoice.evaluate(think: Array(think.suffix(1)), short: Array(short.suffix(1)), thresholds: [0.5])) {
            XCTAssertEqual($0 as? EvalError, .emptyDataSet)
        }
    }

    /// The two-eval shortcut equals running `threshold:T` itself, example by example.
    func testMatchesDirectThresholdEvalOnATinyModel() throws {
        let model = try Transformer(config: ModelConfig(dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 32, maxSeqLen: 24), seed: 5)
        let examples = (1...6).map { Example(prompt: "\($0)+\($0 * 3)=", answer: "\($0 * 4)") }
        func run(_ r: RoutingPolicy) throws -> [EvalRecord] {
            try Evaluator.run(model: model, examples: examples, options: EvalOptions(routing: r, maxNewTokens: 6, batchSize: 4))
        }
        let think = try run(.think), short = try run(.short)
        let ps = think.map(\.pThink).sorted()
        // Thresholds between the examples' p(think), so each splits them differently.
        let thresholds = [0.0] + zip(ps, ps.dropFirst()).map { ($0 + $1) / 2 } + [1.0]
        let derived = try ThresholdChoice.evaluate(think: think, short: short, thresholds: thresholds)
        for (t, d) in zip(thresholds, derived) {
            let direct = try run(.threshold(t))
            XCTAssertEqual(d.thinks, direct.filter { $0.mode == .think }.count, "T \(t)")
            XCTAssertEqual(d.tokens, direct.map(\.generatedTokens).reduce(0, +), "T \(t)")
            XCTAssertEqual(d.correct, direct.filter(\.correct).count, "T \(t)")
        }
        XCTAssertEqual(Set(derived.map(\.thinks)).count, thresholds.count, "every threshold routes a different number to think")
    }
}
