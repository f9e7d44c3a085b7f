import XCTest
import ReckonData

final class GeneratorTests: XCTestCase {
    let allDialects = Dictionary(uniqueKeysWithValues: Dialect.allCases.map { ($0, 1.0) })

    func testSameSeedGivesIdenticalBytes() throws {
        let a = JSONL.encode(try Generator.generate(n: 300, dialects: [.sae: 0.7, .aae: 0.1, .words: 0.2], seed: 42))
        let b = JSONL.encode(try Generator.generate(n: 300, dialects: [.words: 0.2, .aae: 0.1, .sae: 0.7], seed: 42))
        let c = JSONL.encode(try Generator.generate(n: 300, dialects: [.sae: 0.7, .aae: 0.1, .words: 0.2], seed: 43))
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        let p1 = JSONL.encode(try Generator.generate(n: 50, dialects: allDialects, seed: 7, paired: true))
        let p2 = JSONL.encode(try Generator.generate(n: 50, dialects: allDialects, seed: 7, paired: true))
        XCTAssertEqual(p1, p2)
    }

    func testPairedRenderingsShareAnswerAndDifficulty() throws {
        let examples = try Generator.generate(n: 200, dialects: allDialects, seed: 3, paired: true)
        XCTAssertEqual(examples.count, 200 * Dialect.allCases.count)
        let pairs = Dictionary(grouping: examples) { $0.pairID ?? "" }
        XCTAssertEqual(pairs.count, 200)
        for (pairID, renderings) in pairs {
            XCTAssertEqual(Set(renderings.compactMap(\.group)), Set(Dialect.allCases.map(\.rawValue)), pairID)
            XCTAssertEqual(Set(renderings.map(\.answer)).count, 1, pairID)
            XCTAssertEqual(Set(renderings.map(\.difficulty)).count, 1, pairID)
            XCTAssertEqual(Set(renderings.map(\.long)).count, 1, pairID)
            XCTAssertEqual(Set(renderings.map(\.prompt)).count, renderings.count, pairID)
        }
        XCTAssertEqual(Set(examples.compactMap(\.id)).count, examples.count)
    }

    func testMixWeightsControlTheImbalance() throws {
        let examples = try Generator.generate(n: 4000, dialects: [.sae: 0.8, .aae: 0.2], seed: 5)
        let aae = Double(examples.filter { $0.group == "aae" }.count) / Double(examples.count)
        XCTAssertEqual(aae, 0.2, accuracy: 0.03)
        let levels = Dictionary(grouping: examples) { $0.difficulty ?? 0 }.mapValues(\.count)
        XCTAssertEqual(Set(levels.keys), Set(ArithLevel.all))
        for count in levels.values { XCTAssertEqual(Double(count) / 4000, 0.2, accuracy: 0.03) }

        let weighted = try Generator.generate(n: 2000, levels: [1: 1, 5: 3], dialects: [.sae: 1], seed: 5)
        let five = Double(weighted.filter { $0.difficulty == 5 }.count) / 2000
        XCTAssertEqual(five, 0.75, accuracy: 0.04)
        XCTAssertEqual(Set(weighted.compactMap(\.difficulty)), [1, 5])
    }

    /// The dialect mix changes how problems are written, never which problems they are.
    func testProblemsDoNotDependOnTheDialectMix() throws {
        let a = try Generator.generate(n: 200, dialects: [.sae: 1], seed: 8)
        let b = try Generator.generate(n: 200, dialects: [.aae: 0.5, .scots: 0.5], seed: 8)
        XCTAssertEqual(a.map(\.long), b.map(\.long))
        XCTAssertEqual(a.map(\.pairID), b.map(\.pairID))
    }

    func testLevelsMatchTheirDescriptions() throws {
        for e in try Generator.generate(n: 1000, dialects: [.symbolic: 1], seed: 4) {
            let long = e.long ?? ""
            let header = long.prefix { $0 != "|" }
            let operands = header.split { $0 == "+" || $0 == "*" }.compactMap { Int($0) }
            XCTAssertEqual(operands.count, 2, long)
            let (a, b) = (operands[0], operands[1])
            switch e.difficulty {
            case 1: XCTAssertTrue(header.contains("+") && (1...9).contains(a) && (1...9).contains(b), long)
            case 2: XCTAssertTrue(header.contains("+") && (10...99).contains(a) && (10...99).contains(b) && a % 10 + b % 10 >= 10, long)
            case 3: XCTAssertTrue(header.contains("+") && (100...9999).contains(a) && (100...9999).contains(b), long)
            case 4: XCTAssertTrue(header.contains("*") && (10...99).contains(a) && (2...9).contains(b), long)
            case 5: XCTAssertTrue(header.contains("*") && (10...99).contains(a) && (10...99).contains(b), long)
            default: XCTFail("difficulty \(String(describing: e.difficulty))")
            }
        }
    }

    func testBadArguments() {
        XCTAssertThrowsError(try Generator.generate(n: -1, dialects: [.sae: 1], seed: 1))
        XCTAssertThrowsError(try Generator.generate(n: Int.max, dialects: [.sae: 1, .aae: 1], seed: 1, paired: true))
        XCTAssertThrowsError(try Generator.generate(n: 1, levels: [6], dialects: [.sae: 1], seed: 1)) { error in
            XCTAssertTrue(String(describing: error).contains("level 6"), String(describing: error))
        }
        XCTAssertThrowsError(try Generator.generate(n: 1, dialects: [:], seed: 1))
        XCTAssertThrowsError(try Generator.generate(n: 1, dialects: [.sae: -1], seed: 1))
        XCTAssertThrowsError(try Generator.generate(n: 1, dialects: [.sae: .nan], seed: 1))
        XCTAssertEqual(try Generator.generate(n: 0, dialects: [.sae: 1], seed: 1), [])
    }

    func testMixParsing() throws {
        let mix = try Mix<Dialect>.parse("sae=0.7, aae=0.1,words") { Dialect(rawValue: $0) }
        XCTAssertEqual(mix.keys, [.sae, .aae, .words])
        XCTAssertEqual(mix.fractions[.sae] ?? 0, 0.7 / 1.8, accuracy: 1e-12)
        XCTAssertThrowsError(try Mix<Dialect>.parse("sae,klingon") { Dialect(rawValue: $0) }) { error in
            XCTAssertEqual(error as? MixError, .unknownKey("klingon"))
        }
        XCTAssertThrowsError(try Mix<Dialect>.parse("sae=lots") { Dialect(rawValue: $0) })
        XCTAssertThrowsError(try Mix<Dialect>.parse("sae,sae") { Dialect(rawValue: $0) })
        XCTAssertThrowsError(try Mix<Dialect>.parse("") { Dialect(rawValue: $0) })
        XCTAssertThrowsError(try Mix<Dialect>.parse("sae=0") { Dialect(rawValue: $0) })
        XCTAssertEqual(try Mix<Int>.parse("1,3=2") { Int($0) }.keys, [1, 3])
    }
}
