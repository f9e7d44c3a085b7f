// `reckon data gen` and `reckon data check`: flags, output and the consistency checks of a data set;
// generation and parsing are ReckonData's.

import ArgumentParser
import Foundation
import ReckonData

extension ArithTask: ExpressibleByArgument {}

/// `reckon data gen` and `reckon data check`: make and validate JSONL data sets.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Generate and check JSONL data sets.",
        subcommands: [Gen.self, Check.self])
}

extension DataCommand {
    struct Gen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gen",
            abstract: "Generate a task's examples with short and long expert answers.",
            discussion: """
            Tasks and their levels:
            \(ArithTask.allCases.map { task in "  \(task.rawValue): " + task.levels.map { "\($0) = \(task.summary($0))" }.joined(separator: "; ") + "." }.joined(separator: "\n"))
              arith's long answers are the scratchpad; overthink's work the problem, then check it as b op a.
            Dialects: \(Dialect.allCases.map(\.rawValue).joined(separator: ", ")).
            Example: reckon data gen --task arith --n 5000 --dialects sae=0.9,aae=0.1 --seed 1 --out train.jsonl
            """)

        @Option(help: "The task to generate: arith or overthink.")
        var task: ArithTask = .arith

        @Option(name: [.customLong("n"), .customShort("n")], help: "Number of problems (with --paired, each is written in every dialect).")
        var count: Int

        @Option(help: "Dialects, with optional mix weights: sae,aae or sae=0.9,aae=0.1.")
        var dialects: String = "sae"

        @Option(help: "Levels, with optional weights: 1,2,3 or 1=1,5=3. Unweighted levels are drawn uniformly.")
        var levels: String = ArithLevel.all.map(String.init).joined(separator: ",")

        @Flag(help: "Write every problem in every listed dialect under a shared pair_id (weights ignored).")
        var paired = false

        @Option(help: "Phrasings: all, train (the held-out template of each list left out) or held-out (only it); see docs/data.md.")
        var phrasings: Phrasings = .all

        @Option(help: "Random seed; the same seed gives the same file.")
        var seed: UInt64 = 0

        @Option(help: "Output JSONL file; standard output if omitted or '-'.")
        var out: String?

        func validate() throws {
            guard (0...Generator.maxProblems).contains(count) else {
                throw ValidationError("--n must be in 0...\(Generator.maxProblems) (got \(count))")
            }
            _ = try dialectMix()
            _ = try levelMix()
        }

        private func dialectMix() throws -> Mix<Dialect> {
            do {
                return try Mix<Dialect>.parse(dialects) { Dialect(rawValue: $0) }
            } catch {
                let known = Dialect.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("--dialects: \(error) (known dialects: \(known))")
            }
        }

        private func levelMix() throws -> Mix<Int> {
            let mix: Mix<Int>
            do {
                mix = try Mix<Int>.parse(levels) { Int($0) }
            } catch {
                throw ValidationError("--levels: \(error) (levels are integers \(ArithLevel.all.map(String.init).joined(separator: ",")))")
            }
            if let bad = mix.keys.first(where: { !ArithLevel.all.contains($0) }) {
                throw ValidationError("--levels: level \(bad) does not exist (valid: \(ArithLevel.all.map(String.init).joined(separator: ",")))")
            }
            return mix
        }

        func run() throws {
            let dialectMix = try dialectMix(), levelMix = try levelMix()
            let examples: [Example]
            do {
                examples = try Generator.generate(n: count, task: task, levels: levelMix, dialects: dialectMix, seed: seed, paired: paired,
                                                  phrasings: phrasings)
            } catch {
                throw DataCommand.fail("\(error)")
            }
            let text = JSONL.encode(examples)
            if let out, out != "-" {
                do {
                    try JSONL.write(examples, to: out)
                } catch {
                    throw DataCommand.fail("\(error)")
                }
                let mode = paired ? "paired across \(dialectMix.keys.count) dialects" : "dialect mix \(dialects)"
                DataCommand.note("wrote \(examples.count) examples (\(count) problems, \(mode), levels \(levels), seed \(seed)) to \(out)")
            } else {
                FileHandle.standardOutput.write(Data(text.utf8))
            }
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate a JSONL data file and print counts by group and difficulty.",
            discussion: "Exits with status 1 if a line is malformed (unless --skip-bad), or if a short or long answer disagrees with the gold answer.")

        @Argument(help: "The JSONL file to check.")
        var file: String

        @Flag(help: "Skip malformed lines instead of stopping at the first; reports how many were skipped.")
        var skipBad = false

        func run() throws {
            let contents: JSONLContents
            do {
                contents = try JSONL.read(path: file, skipBad: skipBad)
            } catch {
                throw DataCommand.fail("\(error)")
            }
            for error in contents.skipped.prefix(10) { DataCommand.note("skipped \(error)") }
            if contents.skippedCount > 10 { DataCommand.note("... and \(contents.skippedCount - 10) more bad lines") }

            let examples = contents.examples
            var report = "\(file): \(examples.count) examples"
            if skipBad { report += ", \(contents.skippedCount) bad lines skipped" }
            print(report)
            printCounts("group", examples.map { $0.group ?? "(none)" }, total: examples.count)
            printCounts("difficulty", examples.map { $0.difficulty.map(String.init) ?? "(none)" }, total: examples.count)

            let audit = Audit(contents, file: file)
            print("pairs: \(audit.pairs) pair_ids, \(audit.pairAnswerConflicts) with conflicting answers")
            print("ids: \(audit.duplicateIDs) duplicated")
            print("short answers: \(audit.shortChecked) present, \(audit.shortWrong) disagree with answer")
            print("arithmetic scratchpads: \(audit.scratchpads) recognised, \(audit.scratchpadsWrong) wrong")
            if audit.shortWrong > 0 || audit.scratchpadsWrong > 0 || audit.pairAnswerConflicts > 0 {
                for line in audit.firstProblems { DataCommand.note(line) }
                throw ExitCode.failure
            }
        }

        private func printCounts(_ title: String, _ labels: [String], total: Int) {
            print("by \(title):")
            let counts = Dictionary(labels.map { ($0, 1) }, uniquingKeysWith: +)
            // Numeric labels sort as numbers, so 10 follows 9.
            let keys = counts.keys.sorted { (Int($0) ?? Int.max, $0) < (Int($1) ?? Int.max, $1) }
            let width = max(keys.map(\.count).max() ?? 0, 5)
            for key in keys {
                let n = counts[key] ?? 0
                let share = total > 0 ? 100 * Double(n) / Double(total) : 0
                print("  " + key.padding(toLength: width, withPad: " ", startingAt: 0)
                      + String(format: " %8d  %5.1f%%", n, share))
            }
        }
    }

    /// Consistency checks on the parsed examples.
    struct Audit {
        var pairs = 0, pairAnswerConflicts = 0, duplicateIDs = 0
        var shortChecked = 0, shortWrong = 0
        var scratchpads = 0, scratchpadsWrong = 0
        var firstProblems: [String] = []

        init(_ contents: JSONLContents, file: String) {
            var answersByPair: [String: Set<String>] = [:]
            var seenIDs: Set<String> = []
            for (e, line) in zip(contents.examples, contents.lineNumbers) {
                let name = "\(file):\(line)"
                if let pair = e.pairID { answersByPair[pair, default: []].insert(Verifier.canonical(e.answer)) }
                if let id = e.id, !seenIDs.insert(id).inserted { duplicateIDs += 1 }
                if let short = e.short {
                    shortChecked += 1
                    if !Verifier.matches(short, gold: e.answer) {
                        shortWrong += 1
                        report("\(name): short \"\(short)\" disagrees with answer \"\(e.answer)\"")
                    }
                }
                // A long answer whose first item is an `a+b` or `a*b` header is one of ours;
                // other long answers (users' own) are free text and not checked.
                if let long = e.long, let header = long.split(separator: Scratchpad.separator).first,
                   header.contains(where: { $0 == "+" || $0 == "*" }),
                   header.allSatisfy({ $0.isNumber || $0 == "+" || $0 == "*" }) {
                    scratchpads += 1
                    do {
                        try Scratchpad.check(long, answer: e.answer)
                    } catch {
                        scratchpadsWrong += 1
                        report("\(name): \(error)")
                    }
                }
            }
            pairs = answersByPair.count
            for (pair, answers) in answersByPair.sorted(by: { $0.key < $1.key }) where answers.count > 1 {
                pairAnswerConflicts += 1
                report("pair \(pair): answers \(answers.sorted())")
            }
        }

        private mutating func report(_ line: String) {
            if firstProblems.count < 10 { firstProblems.append(line) }
        }
    }

    static func note(_ message: String) {
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Prints `message` as an error and yields the failure exit code to throw.
    static func fail(_ message: String) -> ExitCode {
        note("error: " + message)
        return ExitCode.failure
    }
}
