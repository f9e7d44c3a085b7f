// The budget shared by `reckon serve` replicas in Redis: its address, the fallback while Redis is away, and
// the store; the script is RedisBudgetScript.swift's, the wire RedisConnection.swift's.

import Foundation

/// `redis://HOST:PORT/NAME`: where the shared budget lives and its name (its keys are `reckon:{NAME}:*`).
public struct RedisBudgetAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var name: String

    public init(host: String, port: Int, name: String) { self.host = host; self.port = port; self.name = name }

    public init(parsing url: String) throws(RuntimeError) {
        let usage = "\"\(url)\" is not redis://HOST:PORT/NAME (e.g. redis://127.0.0.1:6379/prod)"
        guard url.hasPrefix("redis://") else { throw .invalidConfig("budget store \(usage)") }
        let rest = url.dropFirst("redis://".count)
        guard let slash = rest.firstIndex(of: "/") else { throw .invalidConfig("budget store \(usage): no /NAME") }
        let hostPort = rest[..<slash], name = String(rest[rest.index(after: slash)...])
        guard let colon = hostPort.lastIndex(of: ":"), let port = Int(hostPort[hostPort.index(after: colon)...]),
              (1...65535).contains(port), colon > hostPort.startIndex else {
            throw .invalidConfig("budget store \(usage): HOST:PORT with a port 1...65535")
        }
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
        guard !name.isEmpty, name.allSatisfy(allowed.contains) else {
            throw .invalidConfig("budget store \(usage): NAME must be letters, digits, '_', '.' or '-'")
        }
        self.init(host: String(hostPort[..<colon]), port: port, name: name)
    }

    public var description: String { "redis://\(host):\(port)/\(name)" }

    /// The script's KEYS for `replica`.
    func keys(replica: String) -> [String] {
        let p = "reckon:{\(name)}:"
        return [p + "bucket", p + "vtc", p + "lease", p + "held", p + "epoch", p + "applied:" + replica]
    }
}

/// What a replica does while Redis cannot be reached.
public enum BudgetStoreFallback: String, Sendable, Equatable, CaseIterable {
    /// No new thinking budget: reservations already held run on; the policy acts as on an empty bucket.
    case deny
    /// A private bucket with 1/n of C and R (n: the replicas seen at the last contact),
    /// starting empty; what it spends is paid back to the shared bucket on return.
    case local
}

/// The budget in Redis, shared by every `reckon serve` replica that names it (docs/deployment.md).
///
/// Each operation is one call of `RedisBudgetScript` (EVALSHA; loaded again on NOSCRIPT).
/// Grants and unreserved spends need the answer at once; spends out of a reservation and
/// returns are running totals that ride on the next call (a refill sync every 0.1 s, or the
/// settlement when a request ends). A replica holds its reservations under a lease renewed by
/// every call; when a replica dies, the next call after its lease (10 s) counts what it held as
/// expired, so it leaks exactly its in-flight reservations and nothing more.
///
/// Used by the engine's thread only.
public final class RedisBudgetStore: BudgetStore, @unchecked Sendable {
    public let address: RedisBudgetAddress
    public let fallback: BudgetStoreFallback
    public let capacity: Double
    public let refillPerSecond: Double
    public let unit: BudgetUnit
    /// This process's name in the leases: host, pid and a random suffix.
    public let replica: String
    public let lease: Double
    static let syncInterval = 0.1
    static let retryInterval = 1.0
    static let timeout = 0.5

    private let log: @Sendable (String) -> Void
    private var connection: RedisConnection?
    private var sha: String?
    private var epoch = "0"

    // Running totals since this process started; the script applies what it has not yet seen.
    private var forcedHold = 0.0, forcedSpend = 0.0, spentHeld = 0.0, released = 0.0
    private var charges: [String: Double] = [:]
    /// What Redis held for this replica after the last acknowledged call.
    private var heldAcked = 0.0
    /// Idle-group lifts not yet sent.
    private var lifts: [String: Double] = [:]

    /// Units Redis holds for this replica's open reservations, settlements counted.
    private var outstanding = 0.0
    /// Units of open reservations Redis already counted as expired; their settlements are dropped.
    private var orphaned = 0.0
    private var ownSpent = 0.0, ownReserved = 0.0
    private var shared: BudgetFigures
    private var sharedCounters = VirtualTokenCounters()
    private var contacted = false

    private var clock = 0.0
    private var lastSync = -Double.infinity
    private var lastAttempt = -Double.infinity
    /// When the store became unreachable, and why; nil while it answers.
    private var down: (since: Double, reason: String)?
    private var fallbackBucket: TokenBucket?
    private var spentInFallback = 0.0

    /// Connects and registers. Throws when Redis holds the budget with another C, R or unit;
    /// an unreachable Redis is not an error: the replica starts under its fallback.
    public init(address: RedisBudgetAddress, budget: BudgetConfig, fallback: BudgetStoreFallback, lease: Double = 10,
                log: @escaping @Sendable (String) -> Void) throws(RuntimeError) {
        self.address = address; self.fallback = fallback
        capacity = budget.capacity; refillPerSecond = budget.refillPerSecond; unit = budget.unit
        self.lease = lease
        self.log = log
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        replica = "\(host)-\(ProcessInfo.processInfo.processIdentifier)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
        shared = BudgetFigures(store: "redis", capacity: capacity, refillPerSecond: refillPerSecond, level: 0, reserved: 0, spent: 0,
                               allowance: capacity, replicas: 0, ownSpent: 0, ownReserved: 0, reachable: false)
        if case .failure(let e) = call("sync", 0, ""), case .reply(let why) = e {
            throw .invalidConfig("budget store \(address): \(why)")
        }
    }

    public var counters: VirtualTokenCounters { sharedCounters }
    public var localBucket: TokenBucket? { nil }

    // MARK: operations

    public func refill(to t: Double) {
        clock = max(clock, t)
        fallbackBucket?.refill(to: clock)
        let due = connection == nil ? clock - lastAttempt >= Self.retryInterval : clock - lastSync >= Self.syncInterval
        if due || (!lifts.isEmpty && connection != nil) { _ = call("sync", 0, "") }
    }

    public func reserve(_ amount: Double, group: String) -> Bool {
        if case .success(let r) = call("reserve", amount, group) {
            guard r.ok else { return false }
            ownReserved += amount
            return true
        }
        guard var b = fallbackBucket, b.reserve(amount) else { return false }
        fallbackBucket = b
        holdLocally(amount, group: group)
        return true
    }

    public func reserveRemaining(group: String) -> Double {
        if case .success(let r) = call("remaining", 0, group) {
            ownReserved += r.granted
            return r.granted
        }
        guard var b = fallbackBucket else { return 0 }
        let all = b.level
        _ = b.reserve(all)
        fallbackBucket = b
        holdLocally(all, group: group)
        return all
    }

    private func holdLocally(_ amount: Double, group: String) {
        forcedHold += amount; outstanding += amount; ownReserved += amount
        charge(group, amount)
    }

    public func spendReserved(_ amount: Double) {
        ownReserved -= amount; ownSpent += amount
        settle(amount) { spentHeld += $0 }
        if var b = fallbackBucket { b.spendReserved(min(amount, b.reserved)); fallbackBucket = b }
        if down != nil { spentInFallback += amount }
    }

    public func spendUnreserved(_ amount: Double, group: String) -> Bool {
        if case .success(let r) = call("spend", amount, group) {
            guard r.ok else { return false }
            ownSpent += amount
            return true
        }
        guard var b = fallbackBucket, b.spendUnreserved(amount) else { return false }
        fallbackBucket = b
        forcedSpend += amount; ownSpent += amount; spentInFallback += amount
        charge(group, amount)
        return true
    }

    public func release(_ amount: Double, group: String) {
        ownReserved -= amount
        settle(amount) { released += $0 }
        if var b = fallbackBucket { b.release(min(amount, b.reserved)); fallbackBucket = b }
        charge(group, -amount)
        // A request ended: send its settlement now rather than at the next sync.
        if connection != nil { _ = call("sync", 0, "") }
    }

    public func activate(_ group: String, active: Set<String>) {
        let others = active.subtracting([group]).map { sharedCounters.counter($0) }
        guard let floor = others.min(), sharedCounters.counter(group) < floor else { return }
        sharedCounters.activate(group, active: active)
        lifts[group] = max(lifts[group] ?? 0, floor)
    }

    public func abandonReservations() {
        guard ownReserved > 0 else { return }
        spendReserved(ownReserved)
    }

    /// Settlements of reservations Redis already counted as expired are dropped.
    private func settle(_ amount: Double, into add: (Double) -> Void) {
        let skip = min(amount, orphaned)
        orphaned -= skip
        let rest = amount - skip
        outstanding = max(0, outstanding - rest)
        add(rest)
    }

    private func charge(_ group: String, _ amount: Double) {
        charges[group, default: 0] += amount
        sharedCounters.charge(group, amount)
    }

    public func figures(at now: Double) -> BudgetFigures {
        var f = shared
        f.ownSpent = ownSpent
        f.ownReserved = max(0, ownReserved)
        f.reachable = down == nil && contacted
        f.fallbackActive = down != nil || !contacted
        return f
    }

    // MARK: the script

    struct Reply {
        var ok: Bool
        var granted: Double
    }

    private func call(_ op: String, _ amount: Double, _ group: String) -> Result<Reply, RedisError> {
        if connection == nil {
            guard clock - lastAttempt >= Self.retryInterval else { return .failure(.connection("waiting to retry")) }
            lastAttempt = clock
            do {
                let c = try RedisConnection(host: address.host, port: address.port, timeout: Self.timeout)
                guard case .string(let s) = try c.command(["SCRIPT", "LOAD", RedisBudgetScript.source]) else {
                    throw RedisError.unexpected("SCRIPT LOAD did not return a SHA1")
                }
                connection = c; sha = s
            } catch {
                return markDown(error)
            }
        }
        guard let connection, let sha else { return .failure(.connection("not connected")) }
        var args = [address.keys(replica: replica).count.description] + address.keys(replica: replica)
        args += [replica, epoch, "\(capacity)", "\(refillPerSecond)", unit.rawValue, "\(lease)", op, "\(amount)", group,
                 "\(forcedHold)", "\(forcedSpend)", "\(spentHeld)", "\(released)", "\(heldAcked)", "\(charges.count)"]
        for (g, total) in charges.sorted(by: { $0.key < $1.key }) { args += [g, "\(total)"] }
        args.append("\(lifts.count)")
        for (g, floor) in lifts.sorted(by: { $0.key < $1.key }) { args += [g, "\(floor)"] }
        var value: RedisValue
        do {
            value = try connection.command(["EVALSHA", sha] + args)
            if case .error(let e) = value, e.hasPrefix("NOSCRIPT") {
                guard case .string(let s) = try connection.command(["SCRIPT", "LOAD", RedisBudgetScript.source]) else {
                    throw RedisError.unexpected("SCRIPT LOAD did not return a SHA1")
                }
                self.sha = s
                value = try connection.command(["EVALSHA", s] + args)
            }
        } catch {
            return markDown(error)
        }
        if case .error(let e) = value {
            let why = e.hasPrefix("CONFIG ") ? String(e.dropFirst("CONFIG ".count)) : e
            if !contacted { return .failure(.reply(why)) }
            return markDown(RedisError.reply(why))
        }
        guard case .array(let items) = value, items.count >= 14, items.count % 2 == 0 else {
            return markDown(RedisError.unexpected("the budget script returned \(value)"))
        }
        let text = items.map { $0.text ?? "" }
        let n = text.map { Double($0) ?? .nan }
        guard !n[1].isNaN, !n[4..<14].contains(where: \.isNaN) else {
            return markDown(RedisError.unexpected("non-numeric figures \(text.prefix(14))"))
        }
        lastSync = clock
        lifts = [:]
        epoch = text[3]
        let ok = text[0] == "1", granted = n[1]
        if ok && (op == "reserve" || op == "remaining") { outstanding += granted }
        // Redis and this replica must agree on what it holds. Redis holds less after it
        // reclaimed a lapsed lease (the difference is counted as expired: drop its
        // settlements), more after a grant whose reply was lost (return it).
        let held = n[11], tolerance = 1e-9 * max(1, capacity)
        if held > outstanding + tolerance {
            released += held - outstanding
        } else if held < outstanding - tolerance {
            orphaned += outstanding - held
            outstanding = held
        }
        heldAcked = held
        shared.level = n[4]; shared.reserved = n[5]; shared.spent = n[6]; shared.expired = n[7]
        shared.allowance = capacity + refillPerSecond * n[9]
        shared.replicas = Int(n[10].isFinite ? n[10] : 0)
        var vtc: [String: Double] = [:]
        for i in stride(from: 14, to: text.count, by: 2) { vtc[text[i]] = Double(text[i + 1]) ?? 0 }
        sharedCounters = VirtualTokenCounters(counters: vtc)
        contacted = true
        if let d = down {
            log("budget store \(address): reachable again after \(String(format: "%.1f", clock - d.since)) s; "
                + "\(String(format: "%g", spentInFallback)) units spent meanwhile are now in the shared bucket")
            down = nil
            fallbackBucket = nil
            spentInFallback = 0
        }
        return .success(Reply(ok: ok, granted: granted))
    }

    private func markDown(_ error: any Error) -> Result<Reply, RedisError> {
        connection = nil
        let why = (error as? RedisError)?.description ?? "\(error)"
        if down == nil {
            down = (clock, why)
            lastAttempt = clock
            let n = max(1, shared.replicas)
            if fallback == .local && contacted {
                fallbackBucket = try? TokenBucket(capacity: capacity / Double(n), refillPerSecond: refillPerSecond / Double(n),
                                                  start: clock, level: 0)
                log("budget store \(address) unreachable (\(why)); fallback local: a private bucket of C/\(n), R/\(n) "
                    + "starting empty, paid back to the shared bucket on return; retrying every \(Int(Self.retryInterval)) s")
            } else {
                log("budget store \(address) unreachable (\(why)); fallback deny: no new thinking budget until it returns"
                    + (fallback == .local ? " (local needs one contact first, to know the replica count)" : "")
                    + "; retrying every \(Int(Self.retryInterval)) s")
            }
        }
        return .failure(error as? RedisError ?? .connection(why))
    }
}
