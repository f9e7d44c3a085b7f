import XCTest
import ReckonData
import ReckonModel
import ReckonRuntime
@testable import ReckonEval

final class ComputeEvalTests: XCTestCase {
    let config = ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 24, maxSeqLen: 64)

    /// A request with P prompt tokens and G generated tokens runs P + G − 1 rows (the last
    /// token is never fed back); the row at position c attends over c cached positions.
    /// By hand: N_mm = L·(d·d [q] + 2·kv·d [k, v] + d·d [o] + 3·h·d [w1, w2, w3]) + V·d [classifier],
    /// FLOPs = Σ_{c=1}^{P+G−1} (2·N_mm + 4·L·d·c) = (P+G−1)·2·N_mm + 2·L·d·(P+G−1)(P+G).
    func testRequestFLOPsMatchTheHandDerivedFormulaIncludingAttentionOverTheCache() throws {
        let d = 16, L = 2, kv = 8, h = 24, V = 262
        let nmm = Double(L * (d * d + 2 * kv * d + d * d + 3 * h * d) + V * d)
        XCTAssertEqual(nmm, Double(config.matmulParameterCount), "the hand count of matrix parameters")
        let model = try Transformer(config: config, seed: 2)
        var engine = try Engine(backend: TransformerBackend(model: model, slots: 1), config: EngineConfig(slots: 1))
        let prompt: [Int32] = [Tokenizer.bos, 72, 105, 10]
        _ = try engine.submit(Request(id: "f", prompt: prompt, routing: .think, maxTokens: 9), now: 0)
        var result: RequestResult?
        var stepped = 0.0
        while result == nil {
            let report = try engine.step(now: 0)
            stepped += report.flops
            result = report.finished.first
        }
        let r = try XCTUnwrap(result)
        let n = Double(prompt.count + r.tokens.count - 1)
        let expected = n * 2 * nmm + 2 * Double(L * d) * n * (n + 1)
        XCTAssertEqual(r.tokens.count, 9)
        XCTAssertEqual(r.flops, expected, accuracy: expected * 1e-12)
        XCTAssertEqual(stepped, expected, accuracy: expected * 1e-12, "the step reports add up to the same count")
    }

    func testMethodsParseAndBadNamesSayWhatIsAccepted() throws {
        XCTAssertEqual(try ComputeMethod(parsing: "best-of-8"), .bestOf(8))
        XCTAssertEqual(try ComputeMethod(parsing: "self-route"), .routed(.model))
        XCTAssertEqual(try ComputeMethod(parsing: "threshold:0.3"), .routed(.threshold(0.3)))
        XCTAssertEqual(try ComputeMethod(parsing: "adaptive-entropy:3"), .adaptive(.prefixEntropy, meanN: 3, nMax: 7))
        XCTAssertEqual(try ComputeMethod(parsing: "adaptive-nll").description, "adaptive-nll:4")
        for bad in ["best-of-0", "best-of-x", "adaptive-entropy:0", "adaptive-foo", "threshold:2", "fast"] {
            XCTAssertThrowsError(try ComputeMethod(parsing: bad), bad) { XCTAssertTrue("\($0)".contains("unknown method"), "\($0)") }
        }
    }

    func testMajorityVoteUsesCanonicalAnswersAndFirstSeenOnTies() {
        XCTAssertEqual(Vote.majority(["12", "1,2", "7", "012"]), "12")
        XCTAssertEqual(Vote.majority(["7", "12"]), "7")
        XCTAssertEqual(Vote.majority(["", " "]), nil)
    }

    /// The fit sees validation items only; on items where hard problems need more votes, it
    /// gives high scores more samples and respects the mean-N budget.
    func testAdaptiveFitSpendsSamplesOnHardItemsWithinTheBudget() throws {
        var items: [AdaptiveN.ValidationItem] = []
        for i in 0..<40 {
            let hard = i % 2 == 0
            // Easy: the first answer is right. Hard: the first is wrong, the majority of 5 is right.
            let answers = hard ? ["1", "2", "2", "3", "2"] : ["2", "2", "2", "2", "2"]
            items.append(.init(score: hard ? 5 + Double(i % 3) : 1 + Double(i % 3), answers: answers, gold: "2"))
        }
        let rule = try AdaptiveN.fit(validation: items, meanN: 3, nMax: 5)
        let easy = items.filter { $0.score < 4 }.map { rule.n(score: $0.score) }
        let hard = items.filter { $0.score >= 4 }.map { rule.n(score: $0.score) }
        XCTAssertEqual(easy.min(), 1)
        XCTAssertLessThan(easy.reduce(0, +), hard.reduce(0, +), "hard items get more samples")
        XCTAssertGreaterThanOrEqual(hard.min() ?? 0, 3, "a majority of 3 or more is needed on hard items")
        XCTAssertLessThanOrEqual(Double(easy.reduce(0, +) + hard.reduce(0, +)) / Double(items.count), 3)
        XCTAssertThrowsError(try AdaptiveN.fit(validation: [], meanN: 2, nMax: 4))
    }

    /// An adaptive method fits on the validation split before it touches the test split: the
    /// trace shows the order, and the fitted rule does not change when the test split does.
    func testAdaptiveNeverReadsTheTestSplitWhileFitting() throws {
        let model = try Transformer(config: config, seed: 4)
        let eval = ComputeEval(model: model, engineConfig: try EngineConfig(slots: 4), cost: try StepCostModel(),
                               arrivals: .batch, maxTokens: 6, temperature: 1, seed: 3)
        func examples(_ prefix: String, _ n: Int) -> [Example] {
            (0..<n).map { Example(id: "\(prefix)\($0)", group: "g", difficulty: 1 + $0 % 3, prompt: "\(prefix) \($0) + \($0)?", answer: "\(2 * $0)") }
        }
        let validation = examples("v", 6)
        var trace: [String] = []
        let a = try eval.run(.adaptive(.prefixEntropy, meanN: 2, nMax: 3), test: examples("t", 5), validation: validation,
                             trace: { trace.append($0) })
        XCTAssertEqual(trace, ["fit: validation", "fitted", "test"])
        let b = try eval.run(.adaptive(.prefixEntropy, meanN: 2, nMax: 3), test: examples("other test split ", 9), validation: validation)
        XCTAssertEqual(a.adaptive, b.adaptive, "the rule depends on the validation split only")
        XCTAssertEqual(a.all.n, 5); XCTAssertEqual(b.all.n, 9)
        XCTAssertThrowsError(try eval.run(.adaptive(.greedyNLL, meanN: 2, nMax: 3), test: examples("t", 2), validation: nil)) {
            XCTAssertTrue("\($0)".contains("--validation"))
        }
    }
}
