// Seeded generation of arithmetic examples over a dialect and level mix; not the files they go to (JSONL.swift).

import ReckonCore

/// Generates arithmetic examples in one or more dialects.
///
/// Every problem `i` draws from its own generator derived from `(seed, i)`, with separate
/// streams for the level, the numbers, the scene, the dialect and each dialect's template.
/// So the same seed gives the same bytes, and changing the dialect mix changes only which
/// dialect a problem is written in, not the problem itself.
public enum Generator {
    /// Prompt plus long answer stays within this many bytes in every dialect, leaving room
    /// in the 256-token byte context for the control tokens and the short answer.
    public static let maxPromptAndLongBytes = 220
    /// An upper bound on `n` that keeps sizes far from overflow and files far from filling a disk.
    public static let maxProblems = 50_000_000

    public enum GenerationError: Error, Equatable, CustomStringConvertible {
        case badCount(Int)
        case unknownLevel(Int)
        case badMix(String, MixError)

        public var description: String {
            switch self {
            case let .badCount(n): "the number of problems must be in 0...\(Generator.maxProblems) (got \(n))"
            case let .unknownLevel(level): "level \(level) does not exist (valid: \(ArithLevel.all.map(String.init).joined(separator: ",")))"
            case let .badMix(what, error): "\(what): \(error)"
            }
        }
    }

    /// `n` problems. With `paired`, each problem is written in every dialect of the mix
    /// (weights ignored) under a shared `pair_id`, giving `n × dialects` examples; otherwise
    /// each problem is written once, in a dialect drawn from the mix weights.
    /// Levels are drawn from `levels` (weights need not sum to 1).
    public static func generate(n: Int, task: ArithTask = .arith, levels: [Int: Double], dialects: [Dialect: Double],
                                seed: UInt64, paired: Bool = false, phrasings: Phrasings = .all) throws(GenerationError) -> [Example] {
        let levelMix: Mix<Int>, dialectMix: Mix<Dialect>
        do { levelMix = try Mix(levels) } catch { throw .badMix("levels", error) }
        do { dialectMix = try Mix(dialects) } catch { throw .badMix("dialects", error) }
        return try generate(n: n, task: task, levels: levelMix, dialects: dialectMix, seed: seed, paired: paired, phrasings: phrasings)
    }

    /// Levels drawn uniformly from `levels`.
    public static func generate(n: Int, task: ArithTask = .arith, levels: [Int] = ArithLevel.all, dialects: [Dialect: Double],
                                seed: UInt64, paired: Bool = false, phrasings: Phrasings = .all) throws(GenerationError) -> [Example] {
        try generate(n: n, task: task, levels: Dictionary(levels.map { ($0, 1.0) }, uniquingKeysWith: { a, _ in a }),
                     dialects: dialects, seed: seed, paired: paired, phrasings: phrasings)
    }

    /// `n` problems of `task`, levels drawn from the `levels` mix, in the `phrasings` allowed.
    public static func generate(n: Int, task: ArithTask = .arith, levels: Mix<Int>, dialects: Mix<Dialect>,
                                seed: UInt64, paired: Bool = false, phrasings: Phrasings = .all) throws(GenerationError) -> [Example] {
        guard (0...maxProblems).contains(n) else { throw .badCount(n) }
        if let bad = levels.keys.first(where: { !task.levels.contains($0) }) { throw .unknownLevel(bad) }

        let root = RNG(seed: seed)
        var examples: [Example] = []
        examples.reserveCapacity(paired ? n * dialects.keys.count : n)
        for i in 0..<n {
            let base = root.derived(UInt64(i))
            var levelRNG = base.derived(1), problemRNG = base.derived(2)
            var sceneRNG = base.derived(3), dialectRNG = base.derived(4)
            let problem = task.sample(level: levels.draw(&levelRNG), rng: &problemRNG)
            let scene = Scene.random(using: &sceneRNG)
            let pairID = "\(task.rawValue)-s\(seed)-\(i)"
            let targets = paired ? dialects.keys : [dialects.draw(&dialectRNG)]
            for dialect in targets {
                var templateRNG = base.derived(100 + UInt64(Dialect.allCases.firstIndex(of: dialect) ?? 0))
                examples.append(example(problem, task: task, prompt: dialect.render(problem, scene: scene, rng: &templateRNG, phrasings: phrasings),
                                        id: "\(pairID)-\(dialect.rawValue)", pairID: pairID, group: dialect.rawValue))
            }
        }
        return examples
    }

    /// The example for `problem` with its expert answers.
    public static func example(_ problem: ArithProblem, task: ArithTask = .arith, prompt: String, id: String? = nil,
                               pairID: String? = nil, group: String? = nil) -> Example {
        let answer = String(problem.answer)
        return Example(id: id, pairID: pairID, group: group, difficulty: problem.level, prompt: prompt,
                       short: answer, long: task.longAnswer(for: problem), answer: answer)
    }
}
