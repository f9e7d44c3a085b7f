// The long answer's step format: writing a problem's steps and checking a scratchpad's arithmetic;
// not the problems (ArithTask.swift) or grading a final answer (Verifier.swift).

/// The long (thinking) answer: digit-level steps, written and checked here.
///
/// The text is a list of items separated by `|`. There are three kinds of item:
/// - a header `x+y` or `x*m` that opens an operation;
/// - a column step `p+q=s`, `p+q+c=s`, `p*d=s` or `p*d+c=s`, one per digit of `x`,
///   least significant first, where `c` is the carry in (written only when non-zero)
///   and the carry out is `s / 10`;
/// - a result `=r` that closes the operation.
///
/// A sum or a product by one digit is one operation. A product by a multi-digit
/// number is one partial product per digit of the multiplier (`47*5`, then `47*80`,
/// computed by the digit and shifted), then the partial products added in turn.
/// The last result is the answer. Examples:
///
///     47+85|7+5=12|4+8+1=13|=132
///     47*6|7*6=42|4*6+4=28|=282
///     47*85|47*5|7*5=35|4*5+3=23|=235|47*80|7*8=56|4*8+5=37|=3760|235+3760|5+0=5|3+6=9|2+7=9|0+3=3|=3995
///
/// A checked scratchpad (the `overthink` task) works the problem, then the item `check`,
/// then works it again with the operands swapped; both must reach the same result:
///
///     47+8|7+8=15|4+0+1=5|=55|check|8+47|8+7=15|0+4+1=5|=55
///
/// The format is terse and regular on purpose: the model is byte-level with a 256-token
/// context, and each step depends only on two digits and the carry just written.
public enum Scratchpad {
    public static let separator: Character = "|"
    /// Largest operand (exclusive) the checker accepts, so that user files cannot overflow it.
    public static let maxOperand = 1_000_000_000

    /// The item between a worked problem and its re-check.
    public static let checkMarker = "check"

    // MARK: Writing

    /// The steps for `problem`, then `check`, then the steps for `b op a`.
    public static func checkedSteps(for problem: ArithProblem) -> String {
        let swapped = ArithProblem(level: problem.level, op: problem.op, a: problem.b, b: problem.a)
        return [steps(for: problem), checkMarker, steps(for: swapped)].joined(separator: String(separator))
    }

    /// The steps for `problem`, ending with `=answer`. No control tokens.
    public static func steps(for problem: ArithProblem) -> String {
        var items = [problem.expression]
        switch problem.op {
        case .add:
            items += addition(problem.a, problem.b)
        case .mul where problem.b < 10:
            items += multiplication(problem.a, digit: problem.b, shift: 0)
        case .mul:
            var partials: [Int] = []
            for (k, d) in digitsLSB(problem.b).enumerated() {
                let multiplier = d * power10(k)
                items.append("\(problem.a)*\(multiplier)")
                items += multiplication(problem.a, digit: d, shift: k)
                partials.append(problem.a * multiplier)
            }
            var total = partials[0]
            for partial in partials.dropFirst() {
                items.append("\(total)+\(partial)")
                items += addition(total, partial)
                total += partial
            }
        }
        return items.joined(separator: String(separator))
    }

    /// Column steps and the result of `x + y`.
    private static func addition(_ x: Int, _ y: Int) -> [String] {
        let dx = digitsLSB(x), dy = digitsLSB(y)
        var items: [String] = []
        var carry = 0
        for i in 0..<max(dx.count, dy.count) {
            let p = i < dx.count ? dx[i] : 0, q = i < dy.count ? dy[i] : 0
            let s = p + q + carry
            items.append("\(p)+\(q)" + (carry > 0 ? "+\(carry)" : "") + "=\(s)")
            carry = s / 10
        }
        items.append("=\(x + y)")
        return items
    }

    /// Column steps and the result of `x * (digit · 10^shift)`.
    private static func multiplication(_ x: Int, digit d: Int, shift: Int) -> [String] {
        var items: [String] = []
        var carry = 0
        for p in digitsLSB(x) {
            let s = p * d + carry
            items.append("\(p)*\(d)" + (carry > 0 ? "+\(carry)" : "") + "=\(s)")
            carry = s / 10
        }
        items.append("=\(x * d * power10(shift))")
        return items
    }

    // MARK: Checking

    /// Checks that `text` is a well-formed scratchpad whose every step is arithmetically
    /// right, whose columns use the right digits and carries, and whose final result is
    /// the true value of its header and equals `answer` (after `Verifier` normalisation).
    /// A checked scratchpad's second half must work `b op a` to the same result.
    /// Returns the final result.
    @discardableResult
    public static func check(_ text: String, answer: String) throws(ScratchpadError) -> Int {
        let items = text.split(separator: separator, omittingEmptySubsequences: false).map(String.init)
        let marker = items.firstIndex(of: checkMarker)
        let first = try checkOperation(items, from: 0, to: marker ?? items.count)
        if let marker {
            let again = try checkOperation(items, from: marker + 1, to: items.count)
            guard again.a == first.b, again.op == first.op, again.b == first.a else {
                // checkOperation has read a header at marker + 1, so the item exists.
                throw ScratchpadError(item: marker + 1, text: items[marker + 1],
                                      reason: "the check should work \(first.b)\(first.op.rawValue)\(first.a)")
            }
        }
        guard Verifier.matches(String(first.result), gold: answer) else {
            throw ScratchpadError(item: items.count - 1, text: "=\(first.result)",
                                  reason: "final result does not match the answer \(answer)")
        }
        return first.result
    }

    /// Checks the one worked problem in `items[from..<to]` and returns its header and result,
    /// which is the true value of the header.
    private static func checkOperation(_ items: [String], from start: Int, to end: Int)
        throws(ScratchpadError) -> (a: Int, op: ArithOp, b: Int, result: Int) {
        var reader = ItemReader(items: items, position: start, end: end)
        let header = try reader.next()
        let (a, op, b) = try parseHeader(header, index: start)
        let result: Int
        switch op {
        case .add:
            result = try reader.checkAddition(a, b)
        case .mul where b < 10:
            result = try reader.checkMultiplication(a, digit: b, shift: 0)
        case .mul:
            var partials: [Int] = []
            for (k, d) in digitsLSB(b).enumerated() {
                let index = reader.position
                let (x, subOp, m) = try parseHeader(try reader.next(), index: index)
                guard subOp == .mul, x == a, m == d * power10(k) else {
                    throw ScratchpadError(item: index, text: reader.items[index],
                                          reason: "expected partial product \(a)*\(d * power10(k))")
                }
                partials.append(try reader.checkMultiplication(a, digit: d, shift: k))
            }
            var total = partials[0]
            for partial in partials.dropFirst() {
                let index = reader.position
                let (x, subOp, y) = try parseHeader(try reader.next(), index: index)
                guard subOp == .add, x == total, y == partial else {
                    throw ScratchpadError(item: index, text: reader.items[index],
                                          reason: "expected the sum \(total)+\(partial)")
                }
                total = try reader.checkAddition(total, partial)
            }
            result = total
        }
        guard reader.atEnd else {
            throw ScratchpadError(item: reader.position, text: reader.items[reader.position],
                                  reason: end < items.count ? "expected the check after the result" : "unexpected item after the final result")
        }
        let truth = op == .add ? a + b : a * b
        guard result == truth else {
            throw ScratchpadError(item: end - 1, text: header, reason: "final result \(result) is not \(truth)")
        }
        return (a, op, b, result)
    }

    /// True when `check` passes.
    public static func isValid(_ text: String, answer: String) -> Bool {
        (try? check(text, answer: answer)) != nil
    }

    private static func parseHeader(_ item: String, index: Int) throws(ScratchpadError) -> (Int, ArithOp, Int) {
        for op in ArithOp.allCases {
            let parts = item.split(separator: Character(op.rawValue), omittingEmptySubsequences: false)
            // Operands below 10^9 keep every product and shifted partial inside Int.
            if parts.count == 2, let x = canonicalInt(parts[0]), let y = canonicalInt(parts[1]),
               x < maxOperand, y < maxOperand {
                return (x, op, y)
            }
        }
        throw ScratchpadError(item: index, text: item, reason: "expected a header like 47+85 or 47*6, operands below \(maxOperand)")
    }
}

/// Why a scratchpad failed its check: the 0-based item index, the item, and the reason.
public struct ScratchpadError: Error, Equatable, CustomStringConvertible {
    public let item: Int
    public let text: String
    public let reason: String

    public var description: String { "scratchpad item \(item) '\(text)': \(reason)" }
}

/// Walks the `|`-separated items, checking one operation at a time.
private struct ItemReader {
    let items: [String]
    var position: Int
    /// One past the last item of this operation.
    let end: Int

    var atEnd: Bool { position == end }

    mutating func next() throws(ScratchpadError) -> String {
        guard position < end else {
            throw ScratchpadError(item: position, text: "", reason: "the scratchpad ends too early")
        }
        defer { position += 1 }
        return items[position]
    }

    func fail(_ index: Int, _ reason: String) -> ScratchpadError {
        ScratchpadError(item: index, text: index < items.count ? items[index] : "", reason: reason)
    }

    mutating func checkAddition(_ x: Int, _ y: Int) throws(ScratchpadError) -> Int {
        let dx = digitsLSB(x), dy = digitsLSB(y)
        var carry = 0, written = 0
        let columns = max(dx.count, dy.count)
        for i in 0..<columns {
            let index = position
            let step = try parseStep(try next(), op: "+", index: index)
            let p = i < dx.count ? dx[i] : 0, q = i < dy.count ? dy[i] : 0
            guard step.left == p, step.right == q else { throw fail(index, "column \(i) should add \(p) and \(q)") }
            guard step.carry == carry else { throw fail(index, "carry in should be \(carry)") }
            guard step.sum == p + q + carry else { throw fail(index, "\(p)+\(q)+\(carry) is \(p + q + carry), not \(step.sum)") }
            written += (step.sum % 10) * power10(i)
            carry = step.sum / 10
        }
        return try checkResult(written + carry * power10(columns))
    }

    mutating func checkMultiplication(_ x: Int, digit d: Int, shift: Int) throws(ScratchpadError) -> Int {
        let dx = digitsLSB(x)
        var carry = 0, written = 0
        for (i, p) in dx.enumerated() {
            let index = position
            let step = try parseStep(try next(), op: "*", index: index)
            guard step.left == p, step.right == d else { throw fail(index, "column \(i) should multiply \(p) by \(d)") }
            guard step.carry == carry else { throw fail(index, "carry in should be \(carry)") }
            guard step.sum == p * d + carry else { throw fail(index, "\(p)*\(d)+\(carry) is \(p * d + carry), not \(step.sum)") }
            written += (step.sum % 10) * power10(i)
            carry = step.sum / 10
        }
        return try checkResult((written + carry * power10(dx.count)) * power10(shift))
    }

    /// The `=r` item closing an operation must state what the columns wrote.
    private mutating func checkResult(_ expected: Int) throws(ScratchpadError) -> Int {
        let index = position
        let item = try next()
        guard item.first == "=", let value = canonicalInt(item.dropFirst()) else {
            throw fail(index, "expected a result like =132")
        }
        guard value == expected else { throw fail(index, "the columns give \(expected), not \(value)") }
        return value
    }

    private struct Step { var left: Int, right: Int, carry: Int, sum: Int }

    /// Parses `p+q=s`, `p+q+c=s`, `p*d=s` or `p*d+c=s`; single-digit operands, explicit carry non-zero.
    private func parseStep(_ item: String, op: Character, index: Int) throws(ScratchpadError) -> Step {
        let sides = item.split(separator: "=", omittingEmptySubsequences: false)
        guard sides.count == 2, let sum = canonicalInt(sides[1]) else { throw fail(index, "expected a column step like 7+5=12") }
        // Split `p+q+c` (sum) or `p*d+c` (product) into its integer terms.
        let plus = sides[0].split(separator: "+", omittingEmptySubsequences: false)
        let pieces = op == "+" ? plus : plus[0].split(separator: "*", omittingEmptySubsequences: false) + plus.dropFirst()
        let terms = pieces.compactMap { canonicalInt($0) }
        let factorsOK = op == "+" || plus[0].split(separator: "*", omittingEmptySubsequences: false).count == 2
        guard terms.count == pieces.count, factorsOK, terms.count == 2 || terms.count == 3 else {
            throw fail(index, op == "+" ? "expected p+q or p+q+c before '='" : "expected p*d or p*d+c before '='")
        }
        guard terms[0] < 10, terms[1] < 10 else { throw fail(index, "column operands must be single digits") }
        if terms.count == 3, terms[2] == 0 { throw fail(index, "a zero carry is not written") }
        return Step(left: terms[0], right: terms[1], carry: terms.count == 3 ? terms[2] : 0, sum: sum)
    }
}

/// Parses a non-negative integer written without sign or leading zeros (the scratchpad's only form).
func canonicalInt<S: StringProtocol>(_ s: S) -> Int? {
    guard !s.isEmpty, s.count <= 18, s.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
    if s.count > 1, s.first == "0" { return nil }
    return Int(s)
}

func power10(_ k: Int) -> Int {
    var p = 1
    for _ in 0..<k { p *= 10 }
    return p
}
