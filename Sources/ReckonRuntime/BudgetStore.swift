// Where the budget lives: the protocol the engine reserves, meters and settles through, and the in-process
// store; the shared Redis store is RedisBudgetStore.swift's.

/// Where the engine's thinking budget lives: the token bucket and the fair-share (VTC) counters.
///
/// The engine reserves, meters and settles through this protocol and never touches the
/// bucket directly. `LocalBudgetStore` keeps both in the process (the default, and all that
/// `generate`, `eval` and `audit` use); `RedisBudgetStore` keeps them in Redis so several
/// `reckon serve` replicas spend from one bucket (docs/deployment.md).
///
/// VTC charges ride on the budget operations: a grant charges its group, a settlement
/// takes back what was reserved but not used.
public protocol BudgetStore {
    var capacity: Double { get }
    var refillPerSecond: Double { get }
    /// The fair-share counters as this process last saw them.
    var counters: VirtualTokenCounters { get }
    /// The in-process bucket, when the budget lives in this process.
    var localBucket: TokenBucket? { get }

    /// Adds R·Δt up to the capacity; `t` is the engine clock.
    mutating func refill(to t: Double)
    /// Moves `amount` from the bucket to a reservation if the bucket holds that much, and charges `group`.
    mutating func reserve(_ amount: Double, group: String) -> Bool
    /// Reserves whatever the bucket holds (possibly 0), charges `group`, and returns it.
    mutating func reserveRemaining(group: String) -> Double
    /// Meters `amount` out of units this process holds in reservations.
    mutating func spendReserved(_ amount: Double)
    /// Meters `amount` straight from the bucket, if it holds that much, and charges `group`.
    mutating func spendUnreserved(_ amount: Double, group: String) -> Bool
    /// Returns the unused `amount` of a reservation and takes it back from `group`'s counter.
    mutating func release(_ amount: Double, group: String)
    /// `group` gets work while it had none; `active` are the groups with work here.
    mutating func activate(_ group: String, active: Set<String>)
    /// Reservations of requests that ended without settling (the engine was rebuilt after a
    /// model error): counted as spent, since some of their tokens may have been delivered.
    mutating func abandonReservations()
    /// The budget figures at engine time `now`, for `/metrics` and invariant checks.
    func figures(at now: Double) -> BudgetFigures
}

/// The budget as one process sees it: the whole bucket, and this process's part of it.
public struct BudgetFigures: Sendable, Equatable {
    /// "local" or "redis".
    public var store: String
    public var capacity: Double
    public var refillPerSecond: Double
    /// Units in the bucket, over every replica (negative while a replica's spending during
    /// a store outage is being paid back).
    public var level: Double
    public var reserved: Double
    public var spent: Double
    /// Reservations of replicas whose lease ran out, counted as spent.
    public var expired = 0.0
    /// C + R·elapsed when these figures were read.
    public var allowance: Double
    /// Replicas holding a live lease (1 for the local store).
    public var replicas = 1
    /// This process's metered and reserved units (the same as the whole for the local store).
    public var ownSpent: Double
    public var ownReserved: Double
    /// Whether the shared store answered the last call.
    public var reachable = true
    /// Whether this process is serving under its fallback policy.
    public var fallbackActive = false
}

/// The in-process budget: one token bucket and the VTC counters, as plain values.
public struct LocalBudgetStore: BudgetStore, Sendable, Equatable {
    public private(set) var bucket: TokenBucket
    public private(set) var counters = VirtualTokenCounters()

    public init(bucket: TokenBucket) { self.bucket = bucket }

    public var capacity: Double { bucket.capacity }
    public var refillPerSecond: Double { bucket.refillPerSecond }
    public var localBucket: TokenBucket? { bucket }

    public mutating func refill(to t: Double) { bucket.refill(to: t) }

    public mutating func reserve(_ amount: Double, group: String) -> Bool {
        guard bucket.reserve(amount) else { return false }
        counters.charge(group, amount)
        return true
    }

    public mutating func reserveRemaining(group: String) -> Double {
        let all = bucket.level
        _ = bucket.reserve(all)
        counters.charge(group, all)
        return all
    }

    public mutating func spendReserved(_ amount: Double) { bucket.spendReserved(amount) }

    public mutating func spendUnreserved(_ amount: Double, group: String) -> Bool {
        guard bucket.spendUnreserved(amount) else { return false }
        counters.charge(group, amount)
        return true
    }

    public mutating func release(_ amount: Double, group: String) {
        bucket.release(amount)
        counters.charge(group, -amount)
    }

    public mutating func activate(_ group: String, active: Set<String>) { counters.activate(group, active: active) }

    public mutating func abandonReservations() { bucket.spendReserved(bucket.reserved) }

    public func figures(at now: Double) -> BudgetFigures {
        BudgetFigures(store: "local", capacity: bucket.capacity, refillPerSecond: bucket.refillPerSecond, level: bucket.level,
                      reserved: bucket.reserved, spent: bucket.spent, allowance: bucket.allowance(at: now),
                      ownSpent: bucket.spent, ownReserved: bucket.reserved)
    }
}
