import Foundation
import ReckonCore
import XCTest
@testable import ReckonData

final class DialectTests: XCTestCase {
    /// The numbers a prompt states, in order: digit runs, or number-word runs for `words`.
    static func numbers(in prompt: String, spelled: Bool) -> [Int]? {
        guard spelled else {
            return prompt.split { !$0.isNumber }.compactMap { Int($0) }
        }
        var result: [Int] = []
        var run: [String] = []
        func flush() -> Bool {
            defer { run = [] }
            guard !run.isEmpty else { return true }
            guard let n = NumberWords.parse(run.joined(separator: " ")) else { return false }
            result.append(n)
            return true
        }
        for token in prompt.lowercased().split(whereSeparator: { !$0.isLetter && $0 != "-" && $0 != "'" }) {
            let parts = token.split(separator: "-").map(String.init)
            if !parts.isEmpty, parts.allSatisfy(NumberWords.isNumberWord) {
                run += parts
            } else if !flush() {
                return nil
            }
        }
        return flush() ? result : nil
    }

    static func sampleProblems() -> [ArithProblem] {
        var rng = RNG(seed: 5)
        var problems: [ArithProblem] = []
        for level in ArithLevel.all { for _ in 0..<60 { problems.append(ArithLevel.sample(level: level, rng: &rng)) } }
        return problems
    }

    func testEveryTemplateKeepsTheNumbersInOrder() {
        var rng = RNG(seed: 9)
        for dialect in Dialect.allCases {
            for problem in Self.sampleProblems() {
                let scene = Scene.random(using: &rng)
                for template in Templates.list(for: dialect, op: problem.op) {
                    let prompt = template(Slots(problem: problem, scene: scene, spelled: dialect == .words))
                    XCTAssertEqual(Self.numbers(in: prompt, spelled: dialect == .words), [problem.a, problem.b],
                                   "\(dialect): \(prompt)")
                    if dialect == .words { XCTAssertFalse(prompt.contains { $0.isNumber }, prompt) }
                    XCTAssertTrue(prompt.allSatisfy(\.isASCII), prompt)
                }
            }
        }
    }

    func testRenderingIsDeterministicPerSeed() {
        let problem = ArithProblem(level: 2, op: .add, a: 47, b: 85)
        for dialect in Dialect.allCases {
            var r1 = RNG(seed: 42), r2 = RNG(seed: 42)
            var s1 = RNG(seed: 1), s2 = RNG(seed: 1)
            XCTAssertEqual(dialect.render(problem, scene: .random(using: &s1), rng: &r1),
                           dialect.render(problem, scene: .random(using: &s2), rng: &r2))
        }
    }

    func testDialectsUseSeveralTemplates() throws {
        let examples = try Generator.generate(n: 200, dialects: Dictionary(uniqueKeysWithValues: Dialect.allCases.map { ($0, 1.0) }),
                                              seed: 1, paired: true)
        for dialect in Dialect.allCases {
            let prompts = Set(examples.filter { $0.group == dialect.rawValue }.map { $0.prompt.filter { !$0.isNumber } })
            XCTAssertGreaterThanOrEqual(prompts.count, 3, "\(dialect)")
        }
    }

    /// eWAVE features, each detected in the text rather than taken from the renderer.
    static let aaeFeatures: [String: String] = [
        "habitual be": #"\bbe \w+ing\b"#,
        "copula deletion": #"\b[A-Z][a-z]+ real \w+|[Hh]ow many \w+ in \d+"#,
        "negative concord": #"\bain't (\w+ )?(no|none|nothing|nobody)\b"#,
        "ain't": #"\bain't\b"#,
        "y'all": #"\b[Yy]'all\b"#,
        "completive done": #"\bdone (got|found|sold|packed|\w+ed)\b"#,
        "zero plural": #"\b([2-9]|\d{2,}) (apple|pencil|book|marble|sticker|card|cookie|stamp|shell|coin|box|bag|jar|crate|pack|basket)\b"#,
    ]

    static func features(in prompt: String) -> Set<String> {
        Set(aaeFeatures.filter { prompt.range(of: $0.value, options: .regularExpression) != nil }.keys)
    }

    func testAAEPromptsShowTheListedFeatures() throws {
        let examples = try Generator.generate(n: 300, dialects: [.aae: 1], seed: 2)
        var seen: Set<String> = []
        for e in examples {
            let found = Self.features(in: e.prompt)
            XCTAssertGreaterThanOrEqual(found.count, 2, e.prompt)
            seen.formUnion(found)
        }
        XCTAssertEqual(seen, Set(Self.aaeFeatures.keys))
        // The reference dialect shows none of them.
        for e in try Generator.generate(n: 300, dialects: [.sae: 1], seed: 2) {
            XCTAssertEqual(Self.features(in: e.prompt), [], e.prompt)
        }
    }

    /// Nigerian Pidgin features, each detected in the text rather than taken from the renderer.
    static let pidginFeatures: [String: String] = [
        "wetin": #"\b[Ww]etin\b"#,
        "na (focus copula)": #"\bna how (much|many)\b"#,
        "dey": #"\bdey \w+"#,
        "completive don": #"\bdon \w+"#,
        "abeg": #"\b[Aa]beg\b"#,
        "una": #"\b[Uu]na\b"#,
        "e get": #"\b[Ee] get\b"#,
        "sabi": #"\bsabi\b"#,
        "locative for": #"\bfor (inside|market|each|\d+ \w+)\b"#,
        "chop": #"\bchop\b"#,
        "genderless e/am/im": #"\b([Ii]m|am)\b|\b[Ee] (sell|don|get)\b"#,
        "zero plural": #"\b([2-9]|\d{2,}) (apple|pencil|book|marble|sticker|card|cookie|stamp|shell|coin|box|bag|jar|crate|pack|basket)\b"#,
    ]

    static func pidginFeatures(in prompt: String) -> Set<String> {
        Set(pidginFeatures.filter { prompt.range(of: $0.value, options: .regularExpression) != nil }.keys)
    }

    func testPidginPromptsShowTheListedFeatures() throws {
        let examples = try Generator.generate(n: 300, dialects: [.pidgin: 1], seed: 2)
        var seen: Set<String> = []
        for e in examples {
            let found = Self.pidginFeatures(in: e.prompt)
            XCTAssertGreaterThanOrEqual(found.count, 2, e.prompt)
            // The pronouns do not mark gender, so the scene's she/he never shows.
            XCTAssertNil(e.prompt.range(of: #"\b([Ss]he|[Hh]e|[Hh]er|[Hh]im|[Hh]is)\b"#, options: .regularExpression), e.prompt)
            seen.formUnion(found)
        }
        XCTAssertEqual(seen, Set(Self.pidginFeatures.keys))
        for e in try Generator.generate(n: 300, dialects: [.sae: 1], seed: 2) {
            XCTAssertEqual(Self.pidginFeatures(in: e.prompt), [], e.prompt)
        }
    }

    /// A Pidgin rendering states the same numbers as the reference rendering of its problem
    /// and has the same answer and scratchpad.
    func testPidginKeepsTheProblem() throws {
        let examples = try Generator.generate(n: 500, dialects: [.sae: 1, .pidgin: 1], seed: 11, paired: true)
        let pairs = Dictionary(grouping: examples) { $0.pairID ?? "" }
        XCTAssertEqual(pairs.count, 500)
        for (pairID, renderings) in pairs {
            let sae = try XCTUnwrap(renderings.first { $0.group == "sae" }, pairID)
            let pidgin = try XCTUnwrap(renderings.first { $0.group == "pidgin" }, pairID)
            XCTAssertEqual(Self.numbers(in: pidgin.prompt, spelled: false), Self.numbers(in: sae.prompt, spelled: false), pidgin.prompt)
            XCTAssertEqual(pidgin.answer, sae.answer, pairID)
            XCTAssertEqual(pidgin.long, sae.long, pairID)
            XCTAssertEqual(pidgin.id, pairID + "-pidgin")
        }
        XCTAssertEqual(Dialect(rawValue: "pidgin"), .pidgin)
        XCTAssertEqual(try Mix<Dialect>.parse("sae=0.9,pidgin=0.1") { Dialect(rawValue: $0) }.keys, [.sae, .pidgin])
    }

    func testPidginSampleRenderings() {
        let scene = Scene(person: Person.she("Keisha"), item: Noun("coin"), container: Noun("box", "boxes"))
        let add = Slots(problem: ArithProblem(level: 2, op: .add, a: 97, b: 68), scene: scene, spelled: false)
        let mul = Slots(problem: ArithProblem(level: 4, op: .mul, a: 54, b: 8), scene: scene, spelled: false)
        XCTAssertEqual(Templates.pidginAdd.map { $0(add) }, [
            "Keisha get 97 coin. Im padi don give am 68 more. How many coin e get now?",
            "Keisha dey sell coin for market. E sell 97 Monday and 68 Tuesday. How many coin e don sell?",
            "Abeg, 97 plus 68 na how much?",
            "E get 97 coin for inside di box. Keisha put 68 more. How many coin dey inside now?",
            "Una sabi wetin 97 plus 68 be? Abeg tell me before una go chop.",
        ])
        XCTAssertEqual(Templates.pidginMul.map { $0(mul) }, [
            "Every box get 54 coin for inside. How many coin e get for 8 box?",
            "Abeg, wetin be 54 times 8?",
            "Keisha dey pack 54 coin for each box. E don fill 8 box. How many coin e don pack?",
            "54 times 8, na how much? Una sabi am?",
        ])
    }

    /// The shipped models were trained on the first six dialects: adding a dialect must not
    /// change how they render (a dialect's position in `allCases` seeds its template draws).
    func testEarlierDialectsRenderAsBefore() throws {
        let six: [Dialect: Double] = [.sae: 1, .aae: 1, .symbolic: 1, .words: 1, .indian: 1, .scots: 1]
        let prompts = try Generator.generate(n: 2, dialects: six, seed: 2, paired: true).map(\.prompt)
        XCTAssertEqual(prompts, [
            "What is 53 times 55?",
            "Y'all, each bag hold 53 coin and ain't no bag empty. How many coin in 55 bag?",
            "product 53 55",
            "Multiply fifty-three by fifty-five.",
            "Each bag is having 53 coins. How many coins will be there in 55 bags?",
            "Keisha pits 53 coins in ilka bag and fills 55 bags. How mony coins is that aw thegither?",
            "Find the sum of 434 and 561.",
            "Carlos be selling pencils. He done sold 434 pencil Monday and 561 Tuesday. How many pencil that make?",
            "sum 434 561",
            "What is four hundred thirty-four plus five hundred sixty-one?",
            "Carlos is having 434 pencils. His cousin-brother gave 561 more. How many pencils he is having now?",
            "Whit's 434 and 561 thegither?",
        ])
        // With pidgin in the mix as well, the other renderings are unchanged.
        let seven = try Generator.generate(n: 2, dialects: six.merging([.pidgin: 1]) { a, _ in a }, seed: 2, paired: true)
        XCTAssertEqual(seven.filter { $0.group != "pidgin" }.map(\.prompt), prompts)
    }

    /// Prompt plus long answer fits in every dialect: every template, every scene,
    /// and the problems with the longest scratchpads and the longest number words.
    func testLengthBound() {
        var worst: [ArithProblem] = [
            ArithProblem(level: 1, op: .add, a: 9, b: 9), ArithProblem(level: 1, op: .add, a: 7, b: 7),
            ArithProblem(level: 2, op: .add, a: 99, b: 99), ArithProblem(level: 2, op: .add, a: 77, b: 77),
            ArithProblem(level: 3, op: .add, a: 9999, b: 9999), ArithProblem(level: 3, op: .add, a: 7777, b: 7777),
            ArithProblem(level: 4, op: .mul, a: 77, b: 7),
        ]
        // Products: the longest scratchpads of each level, found exhaustively.
        for (level, bRange) in [(4, 2...9), (5, 10...99)] {
            var longest = ArithProblem(level: level, op: .mul, a: 10, b: bRange.lowerBound)
            for a in 10...99 { for b in bRange {
                let p = ArithProblem(level: level, op: .mul, a: a, b: b)
                if Scratchpad.steps(for: p).utf8.count > Scratchpad.steps(for: longest).utf8.count { longest = p }
            } }
            worst.append(longest)
        }
        worst.append(ArithProblem(level: 5, op: .mul, a: 77, b: 77))
        let scenes = Person.pool.flatMap { person in
            Noun.items.flatMap { item in Noun.containers.map { Scene(person: person, item: item, container: $0) } }
        }
        var maxSeen = 0
        for dialect in Dialect.allCases {
            for problem in worst {
                let long = Scratchpad.steps(for: problem).utf8.count
                for template in Templates.list(for: dialect, op: problem.op) {
                    for scene in scenes {
                        let total = template(Slots(problem: problem, scene: scene, spelled: dialect == .words)).utf8.count + long
                        maxSeen = max(maxSeen, total)
                        if total > Generator.maxPromptAndLongBytes {
                            return XCTFail("\(dialect) \(problem.expression): \(total) bytes")
                        }
                    }
                }
            }
        }
        print("longest prompt + long answer: \(maxSeen) bytes")
    }
}
