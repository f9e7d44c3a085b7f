import XCTest
import ReckonModel
@testable import ReckonRuntime

/// A cut think is closed with the request's closing text before the forced `</think>`: the
/// text appears exactly when thinking was cut, counts as reasoning, is fed to the model, and
/// is not metered by the global budget.
final class ThinkCloseTests: XCTestCase {
    let close = Tokenizer().encode(" [cut]")
    let x = "x"  // the scripted model's reasoning token (120)

    func run(_ request: Request, budget: BudgetConfig? = nil) throws -> (RequestResult, [TokenEvent], BudgetFigures?) {
        var engine = try Engine(backend: ScriptedBackend(slots: 1), config: EngineConfig(slots: 1, budget: budget))
        XCTAssertNil(try engine.submit(request, now: 0))
        var events: [TokenEvent] = []
        for _ in 0..<300 {
            let report = try engine.step(now: 0)
            events += report.events
            if let r = report.finished.first { return (r, events, engine.snapshot(now: 0).budget) }
        }
        throw RuntimeError.backend("the request did not finish")
    }

    func request(thinkLength: Int, cap: Int? = nil, maxTokens: Int = 100, close: [Int32]? = nil) -> Request {
        Request(id: "r", prompt: ScriptedBackend.prompt(pThink: 50, thinkLength: thinkLength), routing: .think,
                maxTokens: maxTokens, thinkingTokenBudget: cap, thinkClose: close ?? self.close)
    }

    func testNaturalEndHasNoClosingText() throws {
        let (r, events, _) = try run(request(thinkLength: 5, cap: 8))
        XCTAssertFalse(r.thinkTruncated)
        XCTAssertEqual(r.reasoning, String(repeating: x, count: 5))
        XCTAssertEqual(r.reasoningTokens, 5)
        XCTAssertEqual(r.closingTokens, 0)
        XCTAssertEqual(r.tokens, [Tokenizer.think] + Array(repeating: 120, count: 5) + [Tokenizer.endThink, 52, 50, Tokenizer.eos])
        XCTAssertEqual(events.filter { $0.part == .reasoning }.count, 5)
    }

    func testCapClosesWithTheTextThenEndThink() throws {
        let (r, events, _) = try run(request(thinkLength: 10, cap: 3))
        XCTAssertTrue(r.thinkTruncated)
        XCTAssertNil(r.budgetAction)
        XCTAssertEqual(r.reasoning, "xxx [cut]")
        XCTAssertEqual(r.reasoningTokens, 3 + 6)
        XCTAssertEqual(r.closingTokens, 6)
        XCTAssertEqual(r.tokens, [Tokenizer.think] + Array(repeating: 120, count: 3) + close + [Tokenizer.endThink, 52, 50, Tokenizer.eos])
        // Every reasoning token, sampled or forced, is one streamed reasoning event.
        XCTAssertEqual(events.filter { $0.part == .reasoning }.map(\.token), Array(repeating: 120, count: 3) + close)
        XCTAssertEqual(events.filter { $0.part == .endThink }.count, 1)
        XCTAssertEqual(r.answer, "42")
    }

    func testZeroCapIsOnlyTheClosingText() throws {
        let (r, _, _) = try run(request(thinkLength: 10, cap: 0))
        XCTAssertTrue(r.thinkTruncated)
        XCTAssertEqual(r.reasoning, " [cut]")
        XCTAssertEqual(r.reasoningTokens, 6)
    }

    func testEmptyClosingTextForcesEndThinkAlone() throws {
        let (r, _, _) = try run(request(thinkLength: 10, cap: 3, close: []))
        XCTAssertTrue(r.thinkTruncated)
        XCTAssertEqual(r.reasoning, "xxx")
        XCTAssertEqual(r.reasoningTokens, 3)
        XCTAssertEqual(r.closingTokens, 0)
    }

    /// The budget cuts after 4 metered tokens; the closing text is not metered.
    func testBudgetCutIsClosedAndTheTextIsNotMetered() throws {
        let budget = try BudgetConfig(capacity: 4, refillPerSecond: 0, policy: .truncate)
        let (r, _, figures) = try run(request(thinkLength: 10), budget: budget)
        XCTAssertEqual(r.budgetAction, .truncate)
        XCTAssertTrue(r.thinkTruncated)
        XCTAssertEqual(r.reasoning, "xxxx [cut]")
        XCTAssertEqual(r.reasoningTokens, 10)
        XCTAssertEqual(r.closingTokens, 6)
        XCTAssertEqual(figures?.spent, 4)
    }

    /// Room is kept within max_tokens for `</think>`, the answer (16) and the closing text:
    /// with max_tokens 26 two tokens may be sampled; with 23 the text does not fit and
    /// `</think>` is forced alone after the 5 tokens the room allows.
    func testRoomForTheClosingTextWithinMaxTokens() throws {
        let (fits, _, _) = try run(request(thinkLength: 50, maxTokens: 2 + 16 + 6 + 2))
        XCTAssertEqual(fits.reasoning, "xx [cut]")
        XCTAssertEqual(fits.tokens.count, 1 + 2 + 6 + 1 + 3)
        let (tight, _, _) = try run(request(thinkLength: 50, maxTokens: 2 + 16 + 5))
        XCTAssertTrue(tight.thinkTruncated)
        XCTAssertEqual(tight.reasoning, "xxxxx")
        XCTAssertEqual(tight.closingTokens, 0)
    }

    func testClosingTextMustBeText() throws {
        var engine = try Engine(backend: ScriptedBackend(slots: 1), config: EngineConfig(slots: 1))
        for bad: Int32 in [Tokenizer.endThink, Tokenizer.eos, -1, Int32(Tokenizer.vocabSize)] {
            XCTAssertThrowsError(try engine.submit(request(thinkLength: 3, close: [65, bad]), now: 0), "token \(bad)")
        }
    }
}
