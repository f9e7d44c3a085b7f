import XCTest
import ReckonData
import ReckonModel
@testable import ReckonEval

final class EvaluatorTests: XCTestCase {
    func bytes(_ s: String) -> [Int32] { s.utf8.map { Int32($0) } }

    /// Five hand-built responses checked by the verifier, and every figure of the report.
    func testAccountingOnHandBuiltGenerations() {
        let ex = [
            Example(id: "a", group: "sae", difficulty: 1, prompt: "3+4=", answer: "7"),
            Example(id: "b", group: "sae", difficulty: 2, prompt: "47+85=", answer: "132"),
            Example(id: "c", group: "aae", difficulty: 2, prompt: "47+85 be?", answer: "132"),
            Example(id: "d", group: "aae", difficulty: 1, prompt: "3+4", answer: "7"),
            Example(id: "e", group: "aae", difficulty: 1, prompt: "3+4?", answer: "7"),
        ]
        let gens = [
            // a: short, correct (the verifier normalises " 07.").
            GenerationResult(tokens: [Tokenizer.short] + bytes(" 07.") + [Tokenizer.eos], pThink: 0.2),
            // b: think, correct.
            GenerationResult(tokens: PromptFormat.longAnswer(steps: "47+85|7+5=12|4+8+1=13|=132", short: "132"), pThink: 0.9),
            // c: think, cut off before </think>: wrong even though the steps hold 132.
            GenerationResult(tokens: [Tokenizer.think] + bytes("47+85|=132"), pThink: 0.7),
            // d: short, wrong.
            GenerationResult(tokens: PromptFormat.shortAnswer("8"), pThink: 0.1),
            // e: no control token: wrong and malformed, mode unknown.
            GenerationResult(tokens: bytes("7") + [Tokenizer.eos], pThink: 0.6),
        ]
        let records = zip(ex.indices, zip(ex, gens)).map { i, pair in Evaluator.score(pair.0, index: i, generation: pair.1) }
        XCTAssertEqual(records.map(\.correct), [true, true, false, false, false])
        XCTAssertEqual(records.map(\.mode), [.short, .think, .think, .short, nil])
        XCTAssertEqual(records.map(\.wellFormed), [true, true, false, true, false])
        XCTAssertEqual(records.map(\.generatedTokens), [6, 32, 11, 3, 2])

        let report = EvalReport(routing: "model", records: records)
        XCTAssertEqual(report.n, 5)
        XCTAssertEqual(report.skipped, 0)
        let o = report.overall
        XCTAssertEqual(o.correct, 2)
        XCTAssertEqual(o.accuracy!, 0.4, accuracy: 1e-12)
        XCTAssertEqual(o.thinkRate!, 0.4, accuracy: 1e-12)
        XCTAssertEqual(o.meanGeneratedTokens!, 54.0 / 5, accuracy: 1e-12)
        XCTAssertEqual(o.meanPThink!, 2.5 / 5, accuracy: 1e-12)
        XCTAssertEqual(o.malformed, 2)
        XCTAssertEqual(o.think, ModeStats(n: 2, correct: 1, accuracy: 0.5))
        XCTAssertEqual(o.short, ModeStats(n: 2, correct: 1, accuracy: 0.5))

        XCTAssertEqual(Set(report.byDifficulty.keys), ["1", "2"])
        XCTAssertEqual(report.byDifficulty["1"]!.n, 3)
        XCTAssertEqual(report.byDifficulty["1"]!.accuracy!, 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(report.byDifficulty["2"]!.thinkRate, 1)
        XCTAssertEqual(report.byDifficulty["2"]!.think, ModeStats(n: 2, correct: 1, accuracy: 0.5))
        XCTAssertEqual(report.byDifficulty["2"]!.short, ModeStats(n: 0, correct: 0, accuracy: nil))
        XCTAssertEqual(report.byGroup["sae"]!.accuracy, 1)
        XCTAssertEqual(report.byGroup["aae"]!.accuracy, 0)
        XCTAssertEqual(report.byGroup["aae"]!.meanPThink!, 1.4 / 3, accuracy: 1e-12)

        // A skipped example (prompt filled the context) is counted apart.
        var withSkip = records
        withSkip.append(Evaluator.score(ex[0], index: 5, generation: GenerationResult(tokens: [], pThink: .nan)))
        let r2 = EvalReport(routing: "model", records: withSkip)
        XCTAssertEqual(r2.skipped, 1)
        XCTAssertEqual(r2.overall, o)
    }

    func testReportJSONHasTheDocumentedKeys() throws {
        let rec = Evaluator.score(Example(difficulty: 3, prompt: "p", answer: "1"), index: 0,
                                  generation: GenerationResult(tokens: PromptFormat.shortAnswer("1"), pThink: 0.25))
        let json = try JSONSerialization.jsonObject(with: EvalReport(routing: "short", data: "x.jsonl", records: [rec]).json()) as! [String: Any]
        XCTAssertEqual(Set(json.keys), ["routing", "data", "n", "skipped", "overall", "by_difficulty", "by_group"])
        let overall = json["overall"] as! [String: Any]
        XCTAssertEqual(Set(overall.keys), ["n", "correct", "accuracy", "think_rate", "mean_generated_tokens", "mean_p_think",
                                           "malformed", "think", "short"])
        XCTAssertEqual(overall["mean_p_think"] as? Double, 0.25)
        XCTAssertNotNil((json["by_group"] as! [String: Any])["none"])
    }

    func testRoutingPolicies() throws {
        XCTAssertEqual(try RoutingPolicy(parsing: "threshold:0.3"), .threshold(0.3))
        XCTAssertThrowsError(try RoutingPolicy(parsing: "threshold:2"))
        XCTAssertThrowsError(try RoutingPolicy(parsing: "sometimes"))
        XCTAssertEqual(RoutingPolicy.threshold(0.3).choose(pThink: 0.3, u: 0.99), .think, "think iff p ≥ T")
        XCTAssertEqual(RoutingPolicy.threshold(0.3).choose(pThink: 0.29, u: 0), .short)
        XCTAssertEqual(RoutingPolicy.model.choose(pThink: 0.4, u: 0.39), .think)
        XCTAssertEqual(RoutingPolicy.model.choose(pThink: 0.4, u: 0.4), .short)
        XCTAssertEqual(RoutingPolicy.short.choose(pThink: 1, u: 0), .short)
    }

    /// On a tiny random model: token 0 follows the policy, p(think) does not depend on it,
    /// decoding is greedy (so repeatable) and stays within the token limit and the context.
    func testRoutedGenerationOnATinyModel() throws {
        let config = ModelConfig(dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 32, maxSeqLen: 24)
        let model = try Transformer(config: config, seed: 3)
        let prompts = [PromptFormat.prompt("1+2="), PromptFormat.prompt("12+34="), PromptFormat.prompt(String(repeating: "x", count: 30))]
        let u = [0.0, 0.999, 0.5]
        let think = try model.generate(prompts: prompts, maxNewTokens: 8, first: .routed(.think, uniforms: u))
        let short = try model.generate(prompts: prompts, maxNewTokens: 8, first: .routed(.short, uniforms: u))
        let again = try model.generate(prompts: prompts, maxNewTokens: 8, first: .routed(.think, uniforms: u))
        XCTAssertEqual(think.map(\.tokens), again.map(\.tokens))
        XCTAssertEqual(think[0].pThink, again[0].pThink)
        XCTAssertEqual(think[0].tokens.first, Tokenizer.think)
        XCTAssertEqual(short[1].tokens.first, Tokenizer.short)
        XCTAssertEqual(think[0].pThink, short[0].pThink)
        XCTAssertTrue(think[0].pThink > 0 && think[0].pThink < 1)
        XCTAssertLessThanOrEqual(think[0].tokens.count, 8)
        XCTAssertLessThanOrEqual(think[1].tokens.count, 24 - prompts[1].count, "capped by the context")
        XCTAssertEqual(think[2].tokens, [], "a prompt longer than the context is skipped")
        XCTAssertTrue(think[2].pThink.isNaN)
        let model0 = try model.generate(prompts: Array(prompts.prefix(2)), maxNewTokens: 4, first: .routed(.model, uniforms: [0, 0.999]))
        XCTAssertEqual(model0.map { $0.tokens.first }, [Tokenizer.think, Tokenizer.short], "u below p(think) thinks")

        let examples = [Example(difficulty: 1, prompt: "1+2=", answer: "3"), Example(difficulty: 2, prompt: "12+34=", answer: "46")]
        let records = try Evaluator.run(model: model, examples: examples, options: EvalOptions(routing: .short, maxNewTokens: 4, batchSize: 1))
        XCTAssertEqual(records.map(\.index), [0, 1])
        XCTAssertEqual(records.map(\.mode), [.short, .short])
    }

    /// After token 0 the mode tokens are outside the answer grammar: a model whose `<think>`
    /// row dominates every position still answers exactly as the model without that row's change.
    func testModeTokensNeverFollowTokenZero() throws {
        let config = ModelConfig(dim: 16, nLayers: 1, nHeads: 2, hiddenDim: 32, maxSeqLen: 24)
        let plain = try Transformer(config: config, seed: 3)
        var loud = plain
        let row = loud.layout.wcls + Int(Tokenizer.think) * config.dim
        for i in row..<(row + config.dim) { loud.params[i] *= 1000 }
        let prompts = [PromptFormat.prompt("1+2="), PromptFormat.prompt("12+34=")]
        // Unconstrained, the loud model does emit <think> inside the continuation.
        let free = try loud.generate(prompts: prompts, maxNewTokens: 10, params: .greedy, seed: 1)
        XCTAssertTrue(free.contains { $0.tokens.dropFirst().contains(Tokenizer.think) })
        for routing in [RoutingPolicy.think, .short] {
            let a = try plain.generate(prompts: prompts, maxNewTokens: 10, first: .routed(routing, uniforms: [0, 0]))
            let b = try loud.generate(prompts: prompts, maxNewTokens: 10, first: .routed(routing, uniforms: [0, 0]))
            XCTAssertEqual(a.map(\.tokens), b.map(\.tokens))
            for g in b { XCTAssertTrue(g.tokens.dropFirst().allSatisfy { !Tokenizer.outsideAnswers.contains($0) }) }
        }
    }
}
