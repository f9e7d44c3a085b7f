import Foundation
import XCTest
import ReckonData
import ReckonModel
import ReckonRuntime
@testable import ReckonEval

/// Eval and the compute-matched methods on a tiny BPE model: prompts are the chat template's,
/// answers are read with the BPE vocabulary's control tokens, and FLOPs come from its config.
final class BPEEvalTests: XCTestCase {
    /// 256 byte tokens, ChatML's markers, two pads, then the control tokens appended as an
    /// import does: `<think>` 261, `</think>` 262, `<short>` 263. The byte models' ids differ
    /// (their `<think>` is 259, and 261 is their `<short>`), so reading with the wrong format shows.
    static let spec: TokenizerSpec = {
        var tokens = (0..<256).map { String(ByteLevel.unicode[$0]) }
        tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad0|>", "<|pad1|>", "<think>", "</think>", "<short>"]
        let types = [Int32](repeating: TokenizerSpec.normal, count: 256) + [Int32](repeating: TokenizerSpec.control, count: 5)
            + [Int32](repeating: TokenizerSpec.userDefined, count: 3)
        let chatml = #"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"#
        return TokenizerSpec(pre: "gpt2", tokens: tokens, merges: [], tokenTypes: types, bos: 256, eos: 256, chatTemplate: chatml)
    }()

    let config = ModelConfig(dim: 16, nLayers: 1, nHeads: 2, nKVHeads: 2, hiddenDim: 32, vocabSize: 264, maxSeqLen: 64)

    func format() throws -> RoutedFormat { try ModelText(bpe: Self.spec).routedFormat() }

    func bytes(_ s: String) -> [Int32] { s.utf8.map(Int32.init) }

    func testTheRoutedPromptIsAChatTurnAndAnswersAreReadWithTheBPEIds() throws {
        let f = try format()
        XCTAssertEqual(f.control, ControlTokens(think: 261, endThink: 262, short: 263))
        XCTAssertEqual(f.end, 258, "<|im_end|> closes the answer")
        // <|im_start|>user\n2+3<|im_end|>\n<|im_start|>assistant\n
        XCTAssertEqual(f.prompt("2+3"), [257] + bytes("user\n2+3") + [258, 10, 257] + bytes("assistant\n"))

        let example = Example(id: "e", group: "sae", difficulty: 1, prompt: "3+4", answer: "7")
        let think = GenerationResult(tokens: [261, 55, 262, 55, 258], pThink: 0.25)
        let bpe = Evaluator.score(example, index: 0, generation: think, format: f)
        XCTAssertEqual(bpe.mode, .think)
        XCTAssertEqual(bpe.answer, "7")
        XCTAssertTrue(bpe.wellFormed)
        XCTAssertTrue(bpe.correct)
        XCTAssertEqual(bpe.generatedTokens, 5)
        // The byte models' reading of the same ids: 261 is their <short> and 262 no byte, so "77".
        let asBytes = Evaluator.score(example, index: 0, generation: think)
        XCTAssertEqual(asBytes.mode, .short)
        XCTAssertEqual(asBytes.answer, "77")
        XCTAssertFalse(asBytes.correct)
        let short = Evaluator.score(example, index: 1, generation: GenerationResult(tokens: [263, 55, 258], pThink: 0.5), format: f)
        XCTAssertEqual([short.mode, short.correct ? .short : nil], [.short, .short])
        let cut = Evaluator.score(example, index: 2, generation: GenerationResult(tokens: [261, 55, 55], pThink: 0.5), format: f)
        XCTAssertEqual(cut.mode, .think)
        XCTAssertFalse(cut.wellFormed)
        XCTAssertFalse(cut.correct, "thinking never closed")
    }

    /// A forced-think eval opens every answer with the BPE `<think>` (261, not the byte id 259),
    /// and p(think) is the model's softmax over {261, 263} after the chat prompt.
    func testForcedThinkEvalRecordsOpenWithTheBPEThinkToken() throws {
        let f = try format()
        let model = try Transformer(config: config, seed: 11)
        let examples = [Example(id: "a", group: "sae", difficulty: 1, prompt: "2+3", answer: "5"),
                        Example(id: "b", group: "aae", difficulty: 2, prompt: "what 4 plus 4", answer: "8")]
        let records = try Evaluator.run(model: model, examples: examples, options: EvalOptions(routing: .think, maxNewTokens: 6, batchSize: 2), format: f)
        XCTAssertEqual(records.map(\.mode), [.think, .think])
        XCTAssertEqual(records.map { $0.tokens.first }, [261, 261])
        for (r, e) in zip(records, examples) {
            XCTAssertEqual(r.answer, f.parse(r.tokens).answer)
            XCTAssertTrue(r.tokens.count <= 6 && r.tokens.dropFirst().allSatisfy { $0 != 261 && $0 != 263 }, "mode tokens only at token 0")
            var cache = try KVCache(config: config, slots: 1)
            var scratch = DecodeScratch(config: config, maxRows: 64)
            let prompt = f.prompt(e.prompt)
            let logits = try model.step(prompt.map { DecodeRow(slot: 0, token: $0) }, cache: &cache, scratch: &scratch)
            let last = Array(logits[((prompt.count - 1) * 264)..<(prompt.count * 264)])
            let (zt, zs) = (Double(last[261]), Double(last[263]))
            XCTAssertEqual(r.pThink, 1 / (1 + exp(zs - zt)), accuracy: 1e-6)
        }
    }

    /// `--methods` rows on the BPE model: FLOPs per query from its config (V = 264), over
    /// the chat prompt's P = 22 tokens and the G generated ones:
    /// N_mm = L·(d·d [q] + 2·kv·d [k, v] + d·d [o] + 3·h·d [gate, up, down]) + V·d
    ///      = 1·(256 + 512 + 256 + 1536) + 264·16 = 6784,
    /// FLOPs = Σ_{c=1}^{n} (2·N_mm + 4·L·d·c) = n·13568 + 32·n·(n + 1), n = P + G − 1.
    func testMethodRowsCountFLOPsFromTheBPEConfig() throws {
        XCTAssertEqual(config.matmulParameterCount, 6784)
        let f = try format()
        let model = try Transformer(config: config, seed: 5)
        let eval = ComputeEval(model: model, format: f, engineConfig: try EngineConfig(slots: 2), cost: try StepCostModel(),
                               arrivals: .batch, maxTokens: 5, temperature: 1, seed: 3)
        let test = [Example(id: "a", group: "sae", difficulty: 1, prompt: "2+3", answer: "5")]
        XCTAssertEqual(f.prompt("2+3").count, 22)
        for (method, rate) in [(ComputeMethod.routed(.think), 1.0), (.routed(.short), 0.0)] {
            let row = try eval.run(method, test: test, validation: nil)
            XCTAssertEqual(row.all.thinkRate, rate, "\(method)")
            let g = row.all.tokensPerQuery
            XCTAssertTrue((1...5).contains(g), "\(g)")
            let n: Double = 22 + g - 1
            let expected: Double = n * 13568 + 32 * n * (n + 1)
            XCTAssertEqual(row.all.flopsPerQuery, expected, "\(method)")
        }
        // A byte-format eval of this model is refused, not misread: its vocabulary is not the byte one.
        let bytes = ComputeEval(model: model, engineConfig: try EngineConfig(slots: 2), cost: try StepCostModel(),
                                arrivals: .batch, maxTokens: 5, temperature: 1, seed: 3)
        XCTAssertThrowsError(try bytes.run(.routed(.think), test: test, validation: nil)) {
            XCTAssertTrue("\($0)".contains("the tokenizer has 262 tokens, the model 264"), "\($0)")
        }
    }

    /// The short-answer NLL opens with the BPE `<short>` (263) after the chat prompt: with room
    /// for one answer token it is −log of the top probability after prompt + <short>, and it
    /// pays for P + 1 = 23 rows at the config's cost.
    func testGreedyNLLEstimateOpensWithTheBPEShortToken() throws {
        let f = try format()
        let model = try Transformer(config: config, seed: 5)
        let prompt = f.prompt("2+3")
        let (score, flops) = try DifficultyEstimator.greedyNLL.estimate(model: model, prompt: prompt, maxTokens: 2, format: f)
        var cache = try KVCache(config: config, slots: 1)
        var scratch = DecodeScratch(config: config, maxRows: 64)
        let logits = try model.step((prompt + [263]).map { DecodeRow(slot: 0, token: $0) }, cache: &cache, scratch: &scratch)
        let last = logits[(22 * 264)..<(23 * 264)].map(Double.init)
        let top = last.max() ?? 0
        let expected = -(top - top - log(last.reduce(0) { $0 + exp($1 - top) }))
        XCTAssertEqual(score, expected, accuracy: 1e-9)
        var expectedFlops = 0.0
        for c in 1...23 { expectedFlops += 2 * 6784 + 4 * 16 * Double(c) }
        XCTAssertEqual(flops, expectedFlops)
    }
}
