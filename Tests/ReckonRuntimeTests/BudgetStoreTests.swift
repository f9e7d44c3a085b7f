import XCTest
@testable import ReckonRuntime

final class BudgetStoreTests: XCTestCase {
    /// The in-process store is the bucket plus the VTC charges that ride on its operations.
    func testLocalStoreMovesUnitsAndChargesGroups() throws {
        var s = LocalBudgetStore(bucket: try TokenBucket(capacity: 10, refillPerSecond: 2))
        XCTAssertTrue(s.reserve(6, group: "a"))
        XCTAssertFalse(s.reserve(5, group: "b"), "4 left")
        XCTAssertEqual(s.reserveRemaining(group: "b"), 4)
        s.spendReserved(3)
        s.release(3, group: "a")  // a used 3 of its 6
        XCTAssertFalse(s.spendUnreserved(4, group: "b"), "3 back in the bucket")
        XCTAssertTrue(s.spendUnreserved(3, group: "b"))
        s.refill(to: 1.5)  // + 3
        let f = s.figures(at: 1.5)
        XCTAssertEqual([f.level, f.reserved, f.spent, f.allowance], [3, 4, 6, 13])
        XCTAssertEqual([f.ownSpent, f.ownReserved], [6, 4])
        XCTAssertEqual(s.counters.counters, ["a": 3, "b": 7])
        s.abandonReservations()
        XCTAssertEqual([s.bucket.reserved, s.bucket.spent], [0, 10], "abandoned reservations count as spent")
        XCTAssertEqual(try TokenBucket(capacity: 10, refillPerSecond: 0, level: 4).level, 4)
        XCTAssertEqual(try TokenBucket(capacity: 10, refillPerSecond: 0, level: 40).level, 10, "clamped to the capacity")
    }

    func testRedisAddressesParseOrSayWhatIsWrong() throws {
        let a = try RedisBudgetAddress(parsing: "redis://10.0.0.5:6379/prod")
        XCTAssertEqual(a, RedisBudgetAddress(host: "10.0.0.5", port: 6379, name: "prod"))
        XCTAssertEqual(a.keys(replica: "r1"), ["reckon:{prod}:bucket", "reckon:{prod}:vtc", "reckon:{prod}:lease",
                                               "reckon:{prod}:held", "reckon:{prod}:epoch", "reckon:{prod}:applied:r1"])
        let cases = ["http://h:1/x": "is not redis://HOST:PORT/NAME", "redis://h:1": "no /NAME",
                     "redis://h/x": "a port 1...65535", "redis://h:0/x": "a port 1...65535", "redis://:5/x": "HOST:PORT",
                     "redis://h:1/": "NAME must be", "redis://h:1/a b": "NAME must be", "redis://h:1/{x}": "NAME must be"]
        for (url, message) in cases {
            XCTAssertThrowsError(try RedisBudgetAddress(parsing: url), url) { error in
                XCTAssertTrue("\(error)".contains(message), "\(url): \(error)")
            }
        }
    }

    /// Without Redis the store starts under deny: nothing granted, nothing spent, no crash.
    func testUnreachableRedisDeniesAndSaysSo() throws {
        let lines = LockedLines()
        let store = try RedisBudgetStore(address: RedisBudgetAddress(host: "127.0.0.1", port: 1, name: "x"),
                                         budget: try BudgetConfig(capacity: 10, refillPerSecond: 1), fallback: .local) { lines.add($0) }
        XCTAssertFalse(store.reserve(1, group: "a"))
        XCTAssertEqual(store.reserveRemaining(group: "a"), 0)
        XCTAssertFalse(store.spendUnreserved(1, group: "a"))
        let f = store.figures(at: 0)
        XCTAssertFalse(f.reachable); XCTAssertTrue(f.fallbackActive)
        XCTAssertEqual(lines.all.count, 1, "one log line per outage")
        XCTAssertTrue(lines.all[0].contains("unreachable") && lines.all[0].contains("fallback deny")
                      && lines.all[0].contains("local needs one contact first"), lines.all[0])
    }
}

final class LockedLines: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func add(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }
}
