// The thinking budget's values: the token bucket, its unit, policy and grant order (the one comparator),
// the budget settings, and the runtime's errors; where the bucket lives is BudgetStore.swift's.

/// The global compute budget: a token bucket of thinking tokens (or FLOPs).
///
/// Capacity C, refill R per second. Requests that think reserve an estimate when they are
/// granted, every thinking token is metered against the reservation and then the bucket,
/// and the unused part of a reservation goes back at the end. Tokens only ever leave the
/// bucket after they came in, so spent ≤ C + R·elapsed at all times.
public struct TokenBucket: Sendable, Equatable {
    public let capacity: Double
    public let refillPerSecond: Double
    /// Units in the bucket now (not reserved by anyone).
    public private(set) var level: Double
    /// Units metered to thinking tokens so far.
    public private(set) var spent: Double = 0
    /// Units held by reservations of running requests.
    public private(set) var reserved: Double = 0
    /// Time of the last refill; the bucket starts full at `start`.
    public private(set) var time: Double
    public let start: Double

    /// The bucket starts full at `start`, or at `level` when given (0 ≤ level ≤ capacity).
    public init(capacity: Double, refillPerSecond: Double, start: Double = 0, level: Double? = nil) throws(RuntimeError) {
        guard capacity.isFinite, capacity >= 0 else { throw .invalidBudget("capacity must be a finite number ≥ 0, got \(capacity)") }
        guard refillPerSecond.isFinite, refillPerSecond >= 0 else {
            throw .invalidBudget("refill must be a finite number ≥ 0 per second, got \(refillPerSecond)")
        }
        self.capacity = capacity; self.refillPerSecond = refillPerSecond
        self.level = min(capacity, max(0, level ?? capacity)); time = start; self.start = start
    }

    /// The most that may ever have been spent by `t`: C + R·(t − start).
    public func allowance(at t: Double) -> Double { capacity + refillPerSecond * max(0, t - start) }

    /// Adds R·Δt, up to the capacity (reservations count against it: held units are not refilled).
    public mutating func refill(to t: Double) {
        guard t > time else { return }
        level = min(capacity - reserved, level + refillPerSecond * (t - time))
        level = max(level, 0)
        time = t
    }

    /// Moves `amount` from the bucket to a reservation, if the bucket holds that much.
    public mutating func reserve(_ amount: Double) -> Bool {
        guard amount <= level else { return false }
        level -= amount; reserved += amount
        return true
    }

    /// Meters `amount` out of the units held by reservations.
    public mutating func spendReserved(_ amount: Double) {
        reserved -= amount; spent += amount
    }

    /// Meters `amount` straight from the bucket, if it holds that much.
    public mutating func spendUnreserved(_ amount: Double) -> Bool {
        guard amount <= level else { return false }
        level -= amount; spent += amount
        return true
    }

    /// Returns the unused part of a reservation.
    public mutating func release(_ amount: Double) {
        reserved -= amount
        level = min(capacity - reserved, level + amount)
    }
}

/// What the budget is counted in.
public enum BudgetUnit: String, Sendable, Equatable, CaseIterable, Codable {
    /// One unit per thinking token.
    case tokens
    /// The decode FLOPs of each thinking token, from the model's per-token cost at its position.
    case flops
}

/// What happens to a request that chose `<think>` when the bucket cannot pay its reservation.
public enum BudgetPolicy: String, Sendable, Equatable, CaseIterable, Codable {
    /// Think with what is left; when it runs out, `</think>` is forced and the answer follows.
    case truncate
    /// Answer in `<short>` mode instead.
    case downgrade
    /// Wait (holding its batch slot) until the bucket can pay, up to a deadline; then reject.
    case queue
    /// Fail at once with reason `budget_exhausted`.
    case reject
}

/// Who gets scarce budget first, among requests waiting for it.
public enum GrantOrder: String, Sendable, Equatable, CaseIterable, Codable {
    /// Arrival order (higher `priority` first).
    case fifo
    /// Highest p(think) first: the budget goes where the model is surest thinking pays.
    case value
    /// Virtual Token Counters per group (VTC): the group that has received the least
    /// thinking service is served next.
    case fair
}

/// What the grant order compares: the one comparator behind both of the engine's queues,
/// admission (before token 0, so p(think) is unknown) and the budget wait (after it).
public struct GrantKey: Sendable, Equatable {
    public var priority: Int
    /// Known once token 0's logits are; nil before.
    public var pThink: Double?
    /// The request's group's virtual token counter (`fair`).
    public var groupCounter: Double
    /// Arrival order, the last tie-break.
    public var sequence: Int

    public init(priority: Int, pThink: Double?, groupCounter: Double, sequence: Int) {
        self.priority = priority; self.pThink = pThink; self.groupCounter = groupCounter; self.sequence = sequence
    }
}

extension GrantOrder {
    /// Whether `x` goes before `y`. `fifo`: higher priority, then arrival. `value`: higher
    /// p(think) when both are known, then as `fifo`. `fair`: the smaller group counter, then arrival.
    public func grants(_ x: GrantKey, before y: GrantKey) -> Bool {
        switch self {
        case .fair:
            if x.groupCounter != y.groupCounter { return x.groupCounter < y.groupCounter }
        case .value:
            if let px = x.pThink, let py = y.pThink, px != py { return px > py }
            fallthrough
        case .fifo:
            if x.priority != y.priority { return x.priority > y.priority }
        }
        return x.sequence < y.sequence
    }
}

/// The budget and its policies, as `reckon generate --budget C[:R]` and friends set them.
public struct BudgetConfig: Sendable, Equatable {
    public var capacity: Double
    public var refillPerSecond: Double
    public var unit: BudgetUnit = .tokens
    public var policy: BudgetPolicy = .truncate
    /// How long a request may wait for budget under `queue`, in seconds.
    public var queueDeadline: Double = 5
    /// Thinking tokens reserved at grant time before any have been measured.
    public var initialReservation: Double = 64

    public init(capacity: Double, refillPerSecond: Double, unit: BudgetUnit = .tokens, policy: BudgetPolicy = .truncate,
                queueDeadline: Double = 5) throws(RuntimeError) {
        guard capacity.isFinite, capacity >= 0 else { throw .invalidBudget("capacity must be ≥ 0, got \(capacity)") }
        guard refillPerSecond.isFinite, refillPerSecond >= 0 else { throw .invalidBudget("refill must be ≥ 0 per second, got \(refillPerSecond)") }
        guard queueDeadline.isFinite, queueDeadline >= 0 else { throw .invalidBudget("the queue deadline must be ≥ 0 seconds, got \(queueDeadline)") }
        self.capacity = capacity; self.refillPerSecond = refillPerSecond; self.unit = unit; self.policy = policy
        self.queueDeadline = queueDeadline
    }

    /// Parses "C" or "C:R" (capacity, and refill per second; refill 0 when omitted).
    public init(parsing text: String, unit: BudgetUnit = .tokens, policy: BudgetPolicy = .truncate,
                queueDeadline: Double = 5) throws(RuntimeError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let c = Double(parts[0]) else {
            throw .invalidBudget("\"\(text)\" is not C or C:R (capacity, refill per second), e.g. 2000:400")
        }
        let r = parts.count == 2 ? Double(parts[1]) : 0
        guard let r else { throw .invalidBudget("\"\(text)\": the refill after ':' is not a number") }
        try self.init(capacity: c, refillPerSecond: r, unit: unit, policy: policy, queueDeadline: queueDeadline)
    }
}

public enum RuntimeError: Error, Equatable, CustomStringConvertible {
    case invalidBudget(String)
    case invalidRequest(String)
    case invalidConfig(String)
    case backend(String)
    case badInput(file: String, line: Int, problem: String)

    public var description: String {
        switch self {
        case .invalidBudget(let s): "invalid budget: \(s)"
        case .invalidRequest(let s): "invalid request: \(s)"
        case .invalidConfig(let s): "invalid runtime setting: \(s)"
        case .backend(let s): "model error: \(s)"
        case let .badInput(file, line, problem): "\(file):\(line): \(problem)"
        }
    }
}
