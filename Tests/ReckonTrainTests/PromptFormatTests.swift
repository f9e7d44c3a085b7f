import XCTest
import ReckonModel

final class PromptFormatTests: XCTestCase {
    let newline = Int32(UInt8(ascii: "\n"))
    func bytes(_ s: String) -> [Int32] { s.utf8.map { Int32($0) } }

    func testSequencesHaveTheDocumentedTokens() {
        XCTAssertEqual(PromptFormat.prompt("3+4="), [Tokenizer.bos] + bytes("3+4=") + [newline])
        XCTAssertEqual(PromptFormat.shortAnswer("7"), [Tokenizer.short, 55, Tokenizer.eos])
        XCTAssertEqual(PromptFormat.longAnswer(steps: "3+4|3+4=7|=7", short: "7"),
                       [Tokenizer.think] + bytes("3+4|3+4=7|=7") + [Tokenizer.endThink, 55, Tokenizer.eos])
        XCTAssertNil(PromptFormat.answer(mode: .think, short: "7", steps: nil))
        XCTAssertEqual(PromptFormat.prompt("<eos>").count, 7, "specials in user text stay bytes")
    }

    func testParseRoundTripsBothModes() {
        let long = PromptFormat.parse(PromptFormat.longAnswer(steps: "47+85|7+5=12|4+8+1=13|=132", short: "132"))
        XCTAssertEqual(long, ParsedGeneration(mode: .think, reasoning: "47+85|7+5=12|4+8+1=13|=132", answer: "132",
                                              closedThinking: true, finished: true, tokenCount: 32))
        XCTAssertTrue(long.isWellFormed)
        let short = PromptFormat.parse(PromptFormat.shortAnswer("132"))
        XCTAssertEqual(short, ParsedGeneration(mode: .short, reasoning: "", answer: "132", closedThinking: true,
                                               finished: true, tokenCount: 5))
    }

    func testParseReadsTokensNotText() {
        // "</think>" spelled in bytes inside the steps does not close the thinking.
        let spelled = [Tokenizer.think] + bytes("a</think>b") + [Tokenizer.endThink] + bytes("9") + [Tokenizer.eos]
        let p = PromptFormat.parse(spelled)
        XCTAssertEqual(p.reasoning, "a</think>b")
        XCTAssertEqual(p.answer, "9")
        // Cut off before </think>: no answer, not closed, not finished.
        let cut = PromptFormat.parse([Tokenizer.think] + bytes("47*85|7*5"))
        XCTAssertEqual(cut.mode, .think)
        XCTAssertFalse(cut.closedThinking)
        XCTAssertFalse(cut.finished)
        XCTAssertEqual(cut.answer, "")
        XCTAssertFalse(cut.isWellFormed)
        // Answer cut before <eos>.
        let open = PromptFormat.parse([Tokenizer.short] + bytes("12"))
        XCTAssertEqual(open.answer, "12")
        XCTAssertFalse(open.finished)
        // Token 0 decides the mode; text that looks like a mode does not.
        XCTAssertNil(PromptFormat.parse(bytes("<think>1") + [Tokenizer.eos]).mode)
        XCTAssertNil(PromptFormat.parse([Tokenizer.eos]).mode)
        XCTAssertNil(PromptFormat.parse([]).mode)
        // A second <think> or <short> after token 0 is dropped from the text.
        XCTAssertEqual(PromptFormat.parse([Tokenizer.short, Tokenizer.short, 49, Tokenizer.eos]).answer, "1")
    }

    func testLossMaskCoversExactlyTheAnswerTokens() {
        let prompt = PromptFormat.prompt("ab")                 // <bos> a b \n
        let answer = PromptFormat.shortAnswer("7")              // <short> 7 <eos>
        let seq = TrainingSequence(prompt: prompt, answer: answer)
        XCTAssertEqual(seq.promptLength, 4)
        XCTAssertEqual(seq.answerTokenCount, 3)
        XCTAssertEqual(seq.rowCount, 6)
        let rows = seq.rows(length: 8)
        XCTAssertEqual(rows.inputs, [Tokenizer.bos, 97, 98, newline, Tokenizer.short, 55, Tokenizer.pad, Tokenizer.pad])
        // Row 3 (the "\n") predicts the control token; the prompt's own next tokens are masked.
        XCTAssertEqual(rows.targets, [-1, -1, -1, Tokenizer.short, 55, Tokenizer.eos, -1, -1])

        let long = TrainingSequence(prompt: prompt, answer: PromptFormat.longAnswer(steps: "s", short: "7"))
        let t = long.rows(length: 8).targets
        XCTAssertEqual(t, [-1, -1, -1, Tokenizer.think, 115, Tokenizer.endThink, 55, Tokenizer.eos])
        XCTAssertEqual(t.filter { $0 >= 0 }.count, long.answerTokenCount)
    }
}
