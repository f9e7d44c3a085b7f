// The arithmetic problems, their graded levels and the two tasks' long answers; prompts are Dialects.swift's,
// the step format Scratchpad.swift's.

import ReckonCore

/// The two operations of the arithmetic suite.
public enum ArithOp: String, Sendable, Codable, CaseIterable {
    case add = "+"
    case mul = "*"
}

/// One arithmetic problem: `a op b`, at a graded difficulty level.
///
/// Operands keep their order everywhere: every dialect's prompt names `a` before `b`,
/// and the scratchpad restates them as `a op b`, so the model can copy them in order.
public struct ArithProblem: Sendable, Equatable, Hashable {
    public let level: Int
    public let op: ArithOp
    public let a: Int
    public let b: Int

    public init(level: Int, op: ArithOp, a: Int, b: Int) {
        self.level = level
        self.op = op
        self.a = a
        self.b = b
    }

    public var answer: Int {
        switch op {
        case .add: a + b
        case .mul: a * b
        }
    }

    /// The problem in canonical digit form, e.g. `47+85`.
    public var expression: String { "\(a)\(op.rawValue)\(b)" }
}

/// The graded levels. Easy levels should be answerable directly by a tiny model;
/// the hard ones need carries propagated over several digits, which the scratchpad spells out.
public enum ArithLevel {
    public static let all: [Int] = [1, 2, 3, 4, 5]

    public static func summary(_ level: Int) -> String {
        switch level {
        case 1: "single-digit sums (3+4)"
        case 2: "two-digit sums with a carry (47+85)"
        case 3: "3-4 digit sums (4567+896)"
        case 4: "2-digit by 1-digit products (47*6)"
        case 5: "2-digit by 2-digit products (47*85)"
        default: "unknown level"
        }
    }

    /// Draws a problem of the given level. Levels outside 1...5 are a programming error:
    /// user input is validated before it reaches here.
    public static func sample(level: Int, rng: inout RNG) -> ArithProblem {
        func uniform(_ range: ClosedRange<Int>) -> Int {
            range.lowerBound + rng.int(below: range.count)
        }
        switch level {
        case 1:
            return ArithProblem(level: 1, op: .add, a: uniform(1...9), b: uniform(1...9))
        case 2:
            // Force a units carry so that level 2 is genuinely harder than copying digits.
            while true {
                let a = uniform(10...99), b = uniform(10...99)
                if a % 10 + b % 10 >= 10 { return ArithProblem(level: 2, op: .add, a: a, b: b) }
            }
        case 3:
            let a = uniform(uniform(0...1) == 0 ? 100...999 : 1000...9999)
            let b = uniform(uniform(0...1) == 0 ? 100...999 : 1000...9999)
            return ArithProblem(level: 3, op: .add, a: a, b: b)
        case 4:
            return ArithProblem(level: 4, op: .mul, a: uniform(10...99), b: uniform(2...9))
        case 5:
            return ArithProblem(level: 5, op: .mul, a: uniform(10...99), b: uniform(10...99))
        default:
            preconditionFailure("arithmetic level \(level) does not exist (valid: 1...5)")
        }
    }
}

/// A task: a ladder of five graded levels and the long answer it teaches.
public enum ArithTask: String, Sendable, Codable, CaseIterable {
    /// `ArithLevel`'s ladder. The long answer is the scratchpad alone, so it grows with
    /// difficulty: a level-1 trace is 18 tokens and a level-5 one about 100.
    case arith
    /// Four levels a small model can learn to answer directly and one it cannot. The long
    /// answer works the problem, then checks it the other way round (`b op a`), the way
    /// reasoning models verify even easy results. Thinking costs much more than a direct
    /// answer at every level, which is the trade-off self-routing exists for.
    case overthink

    public var levels: [Int] { ArithLevel.all }

    public func summary(_ level: Int) -> String {
        switch self {
        case .arith: ArithLevel.summary(level)
        case .overthink:
            switch level {
            case 1: "single-digit sums (3+4)"
            case 2: "single-digit products (7*8)"
            case 3: "two-digit plus one-digit sums (47+8)"
            case 4: "two-digit sums (47+85)"
            case 5: "2-digit by 1-digit products (47*6)"
            default: "unknown level"
            }
        }
    }

    /// Draws a problem of the given level (1...5; callers validate user input first).
    public func sample(level: Int, rng: inout RNG) -> ArithProblem {
        guard self == .overthink else { return ArithLevel.sample(level: level, rng: &rng) }
        func uniform(_ range: ClosedRange<Int>) -> Int {
            range.lowerBound + rng.int(below: range.count)
        }
        switch level {
        case 1: return ArithProblem(level: 1, op: .add, a: uniform(1...9), b: uniform(1...9))
        case 2: return ArithProblem(level: 2, op: .mul, a: uniform(2...9), b: uniform(2...9))
        case 3: return ArithProblem(level: 3, op: .add, a: uniform(10...99), b: uniform(1...9))
        case 4: return ArithProblem(level: 4, op: .add, a: uniform(10...99), b: uniform(10...99))
        case 5: return ArithProblem(level: 5, op: .mul, a: uniform(10...99), b: uniform(2...9))
        default: preconditionFailure("overthink level \(level) does not exist (valid: 1...5)")
        }
    }

    /// The long (thinking) answer's text, without control tokens.
    public func longAnswer(for problem: ArithProblem) -> String {
        switch self {
        case .arith: Scratchpad.steps(for: problem)
        case .overthink: Scratchpad.checkedSteps(for: problem)
        }
    }
}

/// Decimal digits of a non-negative integer, least significant first.
func digitsLSB(_ n: Int) -> [Int] {
    precondition(n >= 0)
    if n == 0 { return [0] }
    var out: [Int] = []
    var rest = n
    while rest > 0 {
        out.append(rest % 10)
        rest /= 10
    }
    return out
}
