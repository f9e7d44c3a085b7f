import Foundation
import XCTest
import ReckonCore
import ReckonData
@testable import ReckonModel
import ReckonEval
import ReckonTrain

/// The routed training format on SmolLM2's real vocabulary: an arithmetic example becomes a
/// chat turn whose tokens are exactly the chat template's rendering of the conversation
/// (user prompt, assistant answer opening with its control token), and reads back.
final class RoutedFormatTests: XCTestCase {
    func format() throws -> RoutedFormat { try ModelText(bpe: TokenizerFixtures.smollm2.get()).routedFormat() }

    func testSFTSequencesAreTheTemplatesRenderingInEveryDialect() throws {
        let f = try format()
        XCTAssertEqual(f.end, 2, "<|im_end|> closes the assistant's turn")
        XCTAssertEqual(f.control, ControlTokens(think: 49_152, endThink: 49_153, short: 49_154))
        let template = try XCTUnwrap(f.template)
        let examples = try Generator.generate(n: 2, levels: [1, 3], dialects: Dictionary(uniqueKeysWithValues: Dialect.allCases.map { ($0, 1.0) }),
                                              seed: 5, paired: true)
        XCTAssertEqual(examples.count, 2 * Dialect.allCases.count)
        let data = SFTData(examples: examples, context: 512, overflow: .reject, format: f)
        XCTAssertEqual(data.count, examples.count)
        for (e, pair) in zip(examples, data.pairs) {
            for (mode, seq) in [(ReasoningMode.short, pair.short), (.think, pair.long)] {
                let messages = try XCTUnwrap(f.conversation(prompt: e.prompt, mode: mode, short: e.shortAnswer, steps: e.long))
                XCTAssertEqual(messages.map(\.role), ["user", "assistant"])
                // The rendering ends "<|im_end|>\n"; the sequence stops at <|im_end|>.
                let rendered = template.encode(messages, with: f.text.tokenizer, addGenerationPrompt: false)
                XCTAssertEqual(seq.tokens + [198], rendered, "\(e.id ?? "") \(mode)")
                XCTAssertEqual(Array(seq.tokens.prefix(seq.promptLength)), f.prompt(e.prompt))
                XCTAssertEqual(seq.tokens[seq.promptLength], f.control.token(for: mode))
                let parsed = f.parse(Array(seq.tokens[seq.promptLength...]))
                XCTAssertTrue(parsed.isWellFormed)
                XCTAssertEqual(parsed.mode, mode)
                XCTAssertEqual(parsed.answer, e.shortAnswer)
                XCTAssertEqual(parsed.reasoning, mode == .think ? e.long ?? "" : "")
            }
        }
        // The answer's text is never parsed: a short answer that spells <short> stays text.
        let spelled = try XCTUnwrap(f.answer(mode: .short, short: "<short>", steps: nil))
        XCTAssertEqual(spelled.filter { $0 == f.control.short }.count, 1, "only the leading control token")
    }

    func testParseOfCutAndMalformedGenerations() throws {
        let f = try format()
        let c = f.control
        let seven = f.text.tokenizer.encode("7", parseSpecials: false)
        XCTAssertNil(f.parse([]).mode)
        XCTAssertNil(f.parse(seven).mode, "no control token first")
        let cut = f.parse([c.think] + seven)
        XCTAssertEqual(cut.mode, .think)
        XCTAssertFalse(cut.closedThinking)
        XCTAssertFalse(cut.finished)
        let endedInside = f.parse([c.think] + seven + [0])
        XCTAssertTrue(endedInside.finished)
        XCTAssertFalse(endedInside.isWellFormed)
        XCTAssertEqual(f.parse([c.short] + seven + [f.end]).answer, "7")
        // The byte models keep PromptFormat.
        let bytes = RoutedFormat.bytes
        XCTAssertEqual(bytes.prompt("1+1"), PromptFormat.prompt("1+1"))
        XCTAssertEqual(bytes.answer(mode: .think, short: "2", steps: "1+1=2"), PromptFormat.longAnswer(steps: "1+1=2", short: "2"))
    }

    /// A base without control tokens has no routed format; one without a template neither.
    func testRoutedFormatNeedsControlTokensAndATemplate() throws {
        var spec = try TokenizerFixtures.smollm2.get()
        spec.chatTemplate = nil
        XCTAssertThrowsError(try ModelText(bpe: spec).routedFormat()) { XCTAssertEqual($0 as? PromptError, .template(.noChatTemplate)) }
        XCTAssertEqual(try ModelText(bpe: spec, templateOverride: .llama3).routedFormat().template?.kind, .llama3)
        spec.tokens.removeLast(3)
        spec.tokenTypes.removeLast(3)
        XCTAssertThrowsError(try ModelText(bpe: spec, templateOverride: .chatml).routedFormat()) { XCTAssertEqual($0 as? PromptError, .noControlTokens) }
    }

    /// Rollouts and eval through the one generation loop on a tiny random model with a BPE
    /// vocabulary: token 0 is one of the vocabulary's own control tokens, never a byte id.
    func testRolloutsAndEvalUseTheModelsControlTokens() throws {
        var tokens = (0..<256).map { String(ByteLevel.unicode[$0]) }
        tokens += ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<short>"]
        let types = [Int32](repeating: TokenizerSpec.normal, count: 256) + [3, 3, 3, 4, 4, 4]
        let spec = TokenizerSpec(pre: "gpt2", tokens: tokens, merges: [], tokenTypes: types, bos: 256, eos: 258)
        let f = try ModelText(bpe: spec, templateOverride: .chatml).routedFormat()
        XCTAssertEqual([f.control.think, f.control.short, f.end], [259, 261, 258])
        let model = try Transformer(config: ModelConfig(dim: 16, nLayers: 1, nHeads: 2, nKVHeads: 1, hiddenDim: 24, vocabSize: tokens.count,
                                                        maxSeqLen: 96), seed: 2)
        let examples = [Example(prompt: "2+2", short: "4", long: "2+2=4", answer: "4"), Example(prompt: "3*3", answer: "9")]
        var config = RolloutConfig()
        config.groupSize = 4
        config.maxResponseTokens = 6
        let rollouts = try Rollouts.sample(policy: model, prompts: examples.map { RLPrompt($0, format: f) }, config: config, seed: 3, format: f)
        XCTAssertEqual(rollouts.count, 8)
        for r in rollouts {
            XCTAssertTrue([f.control.think, f.control.short].contains(r.response.first ?? -1), "\(r.response)")
            XCTAssertFalse(r.response.dropFirst().contains(f.control.short), "mode tokens only at token 0")
        }
        let records = try Evaluator.run(model: model, examples: examples, options: EvalOptions(routing: .think, maxNewTokens: 6), format: f)
        XCTAssertEqual(records.map(\.mode), [.think, .think])
        XCTAssertEqual(records.map { $0.tokens.first }, [f.control.think, f.control.think])
        // Routing on a vocabulary without the control tokens is refused, not misread as bytes.
        let plain = TokenizerSpec(pre: "gpt2", tokens: Array(tokens.dropLast(3)) + ["<a>", "<b>", "<c>"], merges: [], tokenTypes: types,
                                  bos: 256, eos: 258)
        let roles = try ModelText(bpe: plain).roles
        XCTAssertThrowsError(try model.generate(prompts: [[1]], maxNewTokens: 2, first: .sampled, roles: roles)) {
            XCTAssertEqual($0 as? ModelError, .noControlTokens)
        }
        XCTAssertNoThrow(try model.generate(prompts: [[1]], maxNewTokens: 2, first: .free, roles: roles))
    }
}
