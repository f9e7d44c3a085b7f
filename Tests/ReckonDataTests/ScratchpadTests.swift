import ReckonCore
import XCTest
@testable import ReckonData

final class ScratchpadTests: XCTestCase {
    func testKnownScratchpads() {
        XCTAssertEqual(Scratchpad.steps(for: ArithProblem(level: 2, op: .add, a: 47, b: 85)),
                       "47+85|7+5=12|4+8+1=13|=132")
        XCTAssertEqual(Scratchpad.steps(for: ArithProblem(level: 3, op: .add, a: 4567, b: 896)),
                       "4567+896|7+6=13|6+9+1=16|5+8+1=14|4+0+1=5|=5463")
        XCTAssertEqual(Scratchpad.steps(for: ArithProblem(level: 4, op: .mul, a: 47, b: 6)),
                       "47*6|7*6=42|4*6+4=28|=282")
        XCTAssertEqual(Scratchpad.steps(for: ArithProblem(level: 5, op: .mul, a: 47, b: 85)),
                       "47*85|47*5|7*5=35|4*5+3=23|=235|47*80|7*8=56|4*8+5=37|=3760|235+3760|5+0=5|3+6=9|2+7=9|0+3=3|=3995")
        XCTAssertEqual(Scratchpad.steps(for: ArithProblem(level: 5, op: .mul, a: 47, b: 80)),
                       "47*80|47*0|7*0=0|4*0=0|=0|47*80|7*8=56|4*8+5=37|=3760|0+3760|0+0=0|0+6=6|0+7=7|0+3=3|=3760")
    }

    /// Every problem of the small levels, a large sample of the others: the steps
    /// recompute the answer and the final step equals the short answer.
    func testEveryLongAnswerRecomputesTheAnswer() throws {
        var problems: [ArithProblem] = []
        for a in 1...9 { for b in 1...9 { problems.append(ArithProblem(level: 1, op: .add, a: a, b: b)) } }
        for a in 10...99 { for b in 10...99 { problems.append(ArithProblem(level: 2, op: .add, a: a, b: b)) } }
        for a in 10...99 { for b in 2...9 { problems.append(ArithProblem(level: 4, op: .mul, a: a, b: b)) } }
        for a in 10...99 { for b in 10...99 { problems.append(ArithProblem(level: 5, op: .mul, a: a, b: b)) } }
        var rng = RNG(seed: 7)
        for _ in 0..<3000 { problems.append(ArithLevel.sample(level: 3, rng: &rng)) }
        problems += [ArithProblem(level: 3, op: .add, a: 9999, b: 9999), ArithProblem(level: 3, op: .add, a: 100, b: 9900)]
        for p in problems {
            let steps = Scratchpad.steps(for: p)
            XCTAssertEqual(try Scratchpad.check(steps, answer: String(p.answer)), p.answer, steps)
            XCTAssertTrue(steps.hasSuffix("|=\(p.answer)"), steps)
        }
    }

    func testGeneratedExamplesAreConsistent() throws {
        let examples = try Generator.generate(n: 500, dialects: [.sae: 1, .aae: 1, .words: 1], seed: 3)
        for e in examples {
            let long = try XCTUnwrap(e.long), short = try XCTUnwrap(e.short)
            XCTAssertNoThrow(try Scratchpad.check(long, answer: e.answer), long)
            XCTAssertTrue(Verifier.matches(short, gold: e.answer))
            XCTAssertEqual(Verifier.canonical(short), e.answer)
            // What the model side trains on answers correctly.
            XCTAssertTrue(Verifier.isCorrect(generated: "<think>\(long)</think>\(short)<eos>", gold: e.answer))
            XCTAssertTrue(Verifier.isCorrect(generated: "<short>\(short)<eos>", gold: e.answer))
        }
    }

    func testCheckerRejectsWrongSteps() {
        XCTAssertTrue(Scratchpad.isValid("47+85|7+5=12|4+8+1=13|=132", answer: "132"))
        let bad: [(text: String, answer: String)] = [
            ("47+85|7+5=12|4+8+1=13|=133", "133"),      // result does not follow from the columns
            ("47+85|7+5=12|4+8=12|=122", "122"),        // dropped carry
            ("47+85|7+5=13|4+8+1=13|=132", "132"),      // wrong column sum
            ("47+85|7+5=12|4+8+1=13", "132"),           // no result
            ("47+85|7+5=12|4+8+1=13|=132|=132", "132"), // trailing item
            ("47+85|7+5=12|4+9+1=14|=142", "142"),      // wrong digit read
            ("47+86|7+6=13|4+8+1=13|=133", "132"),      // right steps, but not the gold answer
            ("47*85|47*5|7*5=35|4*5+3=23|=235|47*80|7*8=56|4*8+5=37|=3760|235+3760|5+0=5|3+6=9|2+7=9|0+3=3|=3996", "3996"),
            ("47*85|47*5|7*5=35|4*5+3=23|=235|47*8|7*8=56|4*8+5=37|=376|235+376|5+6=11|3+7+1=11|2+0+1=3|=611", "611"),
            ("41+82|1+2=3|4+8+0=12|=123", "123"),       // a zero carry is never written
            ("47*6|7*6=42|4*6+4=28|=282 ", "282"),      // stray space
            ("", "0"),
        ]
        for (text, answer) in bad {
            XCTAssertFalse(Scratchpad.isValid(text, answer: answer), text)
        }
        // Operands too large to check are refused, not overflowed.
        XCTAssertFalse(Scratchpad.isValid("999999999999999999*999999999999999999|=1", answer: "1"))
        XCTAssertFalse(Scratchpad.isValid("99999999999*9|9*9=81|=1", answer: "1"))
        XCTAssertThrowsError(try Scratchpad.check("47+85|7+5=12|4+8=12|=122", answer: "122")) { error in
            XCTAssertTrue(String(describing: error).contains("carry"), String(describing: error))
        }
    }

    /// Changing any single digit of a correct scratchpad must break the check.
    func testEverySingleDigitCorruptionIsCaught() {
        var rng = RNG(seed: 11)
        for level in ArithLevel.all {
            for _ in 0..<20 {
                let p = ArithLevel.sample(level: level, rng: &rng)
                let steps = Array(Scratchpad.steps(for: p))
                for i in steps.indices where steps[i].isNumber {
                    var corrupted = steps
                    corrupted[i] = steps[i] == "1" ? "2" : "1"
                    XCTAssertFalse(Scratchpad.isValid(String(corrupted), answer: String(p.answer)), String(corrupted))
                }
            }
        }
    }

    // MARK: The overthink task's checked scratchpads

    func testCheckedScratchpadsWorkTheProblemTwice() {
        XCTAssertEqual(Scratchpad.checkedSteps(for: ArithProblem(level: 3, op: .add, a: 47, b: 8)),
                       "47+8|7+8=15|4+0+1=5|=55|check|8+47|8+7=15|0+4+1=5|=55")
        XCTAssertEqual(Scratchpad.checkedSteps(for: ArithProblem(level: 2, op: .mul, a: 7, b: 8)),
                       "7*8|7*8=56|=56|check|8*7|8*7=56|=56")
        // A one-digit number times a two-digit one goes by partial products.
        XCTAssertEqual(Scratchpad.checkedSteps(for: ArithProblem(level: 5, op: .mul, a: 47, b: 6)),
                       "47*6|7*6=42|4*6+4=28|=282|check|6*47|6*7|6*7=42|=42|6*40|6*4=24|=240|42+240|2+0=2|4+4=8|0+2=2|=282")
    }

    /// Every problem of every overthink level: the checked steps pass the checker and end
    /// with the answer.
    func testEveryOverthinkLongAnswerChecks() throws {
        var problems: [ArithProblem] = []
        for a in 1...9 { for b in 1...9 { problems.append(ArithProblem(level: 1, op: .add, a: a, b: b)) } }
        for a in 2...9 { for b in 2...9 { problems.append(ArithProblem(level: 2, op: .mul, a: a, b: b)) } }
        for a in 10...99 { for b in 1...9 { problems.append(ArithProblem(level: 3, op: .add, a: a, b: b)) } }
        for a in 10...99 { for b in 10...99 { problems.append(ArithProblem(level: 4, op: .add, a: a, b: b)) } }
        for a in 10...99 { for b in 2...9 { problems.append(ArithProblem(level: 5, op: .mul, a: a, b: b)) } }
        for p in problems {
            let long = ArithTask.overthink.longAnswer(for: p)
            XCTAssertEqual(try Scratchpad.check(long, answer: String(p.answer)), p.answer, long)
            XCTAssertTrue(long.hasSuffix("|=\(p.answer)"), long)
        }
    }

    func testOverthinkLevelsDrawTheirRanges() {
        var rng = RNG(seed: 5)
        for _ in 0..<2000 {
            let p1 = ArithTask.overthink.sample(level: 1, rng: &rng)
            XCTAssertTrue(p1.op == .add && (1...9).contains(p1.a) && (1...9).contains(p1.b), "\(p1)")
            let p2 = ArithTask.overthink.sample(level: 2, rng: &rng)
            XCTAssertTrue(p2.op == .mul && (2...9).contains(p2.a) && (2...9).contains(p2.b), "\(p2)")
            let p3 = ArithTask.overthink.sample(level: 3, rng: &rng)
            XCTAssertTrue(p3.op == .add && (10...99).contains(p3.a) && (1...9).contains(p3.b), "\(p3)")
            let p4 = ArithTask.overthink.sample(level: 4, rng: &rng)
            XCTAssertTrue(p4.op == .add && (10...99).contains(p4.a) && (10...99).contains(p4.b), "\(p4)")
            let p5 = ArithTask.overthink.sample(level: 5, rng: &rng)
            XCTAssertTrue(p5.op == .mul && (10...99).contains(p5.a) && (2...9).contains(p5.b), "\(p5)")
            XCTAssertEqual([p1, p2, p3, p4, p5].map(\.level), [1, 2, 3, 4, 5])
        }
    }

    func testCheckerRejectsABadCheck() {
        let good = "47+8|7+8=15|4+0+1=5|=55|check|8+47|8+7=15|0+4+1=5|=55"
        XCTAssertTrue(Scratchpad.isValid(good, answer: "55"))
        let bad = [
            "47+8|7+8=15|4+0+1=5|=55|check|47+8|7+8=15|4+0+1=5|=55",  // not swapped
            "47+8|7+8=15|4+0+1=5|=55|check|8+46|8+6=14|0+4+1=5|=54",  // another problem
            "47+8|7+8=15|4+0+1=5|=55|check|8+47|8+7=15|0+4=4|=45",     // a wrong check
            "47+8|7+8=15|4+0+1=5|=55|check",                          // an empty check
            "47+8|7+8=15|4+0+1=5|check|8+47|8+7=15|0+4+1=5|=55",      // no result before the check
            "47+8|7+8=15|4+0+1=5|=55|check|8+47|8+7=15|0+4+1=5|=55|check|47+8|7+8=15|4+0+1=5|=55",
        ]
        for text in bad { XCTAssertFalse(Scratchpad.isValid(text, answer: "55"), text) }
        XCTAssertThrowsError(try Scratchpad.check(bad[0], answer: "55")) { error in
            XCTAssertTrue("\(error)".contains("the check should work 8+47"), "\(error)")
        }
        XCTAssertThrowsError(try Scratchpad.check(bad[4], answer: "55")) { error in
            XCTAssertTrue("\(error)".contains("item 3"), "\(error)")
        }
    }

    func testOverthinkExamplesAreConsistent() throws {
        let examples = try Generator.generate(n: 300, task: .overthink, dialects: [.sae: 1, .words: 1, .symbolic: 1], seed: 9)
        XCTAssertEqual(Set(examples.compactMap(\.difficulty)), [1, 2, 3, 4, 5])
        for e in examples {
            let long = try XCTUnwrap(e.long), short = try XCTUnwrap(e.short)
            XCTAssertTrue(long.contains("|check|"), long)
            XCTAssertNoThrow(try Scratchpad.check(long, answer: e.answer), long)
            XCTAssertTrue(Verifier.isCorrect(generated: "<think>\(long)</think>\(short)<eos>", gold: e.answer))
            XCTAssertTrue(e.pairID?.hasPrefix("overthink-s9-") ?? false)
        }
        // The arith task's files are unchanged by the task parameter's default.
        let arith = try Generator.generate(n: 20, dialects: [.sae: 1], seed: 9)
        XCTAssertTrue(arith.allSatisfy { $0.pairID?.hasPrefix("arith-s9-") ?? false && !($0.long ?? "").contains("check") })
    }
}
