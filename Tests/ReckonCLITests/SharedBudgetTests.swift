import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ReckonRuntime
import XCTest

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Two `reckon serve` replicas spending one budget kept in Redis (docs/deployment.md).
///
/// Redis: $RECKON_TEST_REDIS (HOST:PORT; `.ci/run` starts one and sets it), else a
/// `redis-server` this test starts on a free loopback port. Skipped, saying why, only when
/// neither is there; with $RECKON_TEST_REDIS set an unreachable Redis is a failure.
final class SharedBudgetTests: XCTestCase {
    let cli = CLI()
    static let capacity = 300.0, refill = 150.0

    // MARK: Redis for the test

    /// A Redis the test may stop and start again: its address and how it was started.
    struct TestRedis {
        var host = "127.0.0.1"
        var port: Int
        var dir: String
        var file: String
        var binary: String
        var process: Process?
    }

    static func redisBinary() -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/bin:/usr/local/bin:/usr/sbin"
        return path.split(separator: ":").map { "\($0)/redis-server" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static func connect(_ r: TestRedis, tries: Int = 50) -> RedisConnection? {
        for _ in 0..<tries {
            if let c = try? RedisConnection(host: r.host, port: r.port, timeout: 1), (try? c.command(["PING"])) == .status("PONG") {
                return c
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return nil
    }

    static func launch(_ r: inout TestRedis) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: r.binary)
        p.arguments = ["--port", "\(r.port)", "--bind", r.host, "--dir", r.dir, "--dbfilename", r.file, "--save", "", "--appendonly", "no"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        r.process = p
    }

    func redisForTest(scratch: URL) throws -> TestRedis {
        let binary = Self.redisBinary()
        if let given = ProcessInfo.processInfo.environment["RECKON_TEST_REDIS"], !given.isEmpty {
            let parts = given.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]) else { throw XCTSkip("RECKON_TEST_REDIS=\(given) is not HOST:PORT") }
            var r = TestRedis(host: String(parts[0]), port: port, dir: "", file: "", binary: binary ?? "")
            guard let c = Self.connect(r, tries: 20) else {
                XCTFail("RECKON_TEST_REDIS=\(given) is set but no Redis answers there")
                throw XCTSkip("unreachable Redis")
            }
            guard binary != nil else { throw XCTSkip("no redis-server binary to restart \(given) after stopping it") }
            guard case .array(let d) = try c.command(["CONFIG", "GET", "dir"]), d.count == 2, let dir = d[1].text,
                  case .array(let f) = try c.command(["CONFIG", "GET", "dbfilename"]), f.count == 2, let file = f[1].text else {
                throw XCTSkip("cannot read the dir and dbfilename of \(given)")
            }
            r.dir = dir; r.file = file
            return r
        }
        guard let binary else {
            print("SharedBudgetTests: skipped: no Redis reachable (RECKON_TEST_REDIS unset and no redis-server on PATH)")
            throw XCTSkip("no Redis reachable: set RECKON_TEST_REDIS=HOST:PORT or install redis-server")
        }
        var r = TestRedis(port: Int.random(in: 20000...40000), dir: scratch.path, file: "budget.rdb", binary: binary)
        try Self.launch(&r)
        guard Self.connect(r) != nil else { throw XCTSkip("redis-server did not start on port \(r.port)") }
        return r
    }

    // MARK: replicas and load

    final class Replica {
        let process = Process()
        let log: URL
        var port = 0
        init(log: URL) { self.log = log }
        var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
    }

    func startReplica(_ args: [String], log: URL, in dir: URL) throws -> Replica {
        let r = Replica(log: log)
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        r.process.executableURL = cli.reckon
        r.process.arguments = args
        r.process.currentDirectoryURL = dir
        r.process.standardOutput = handle
        r.process.standardError = handle
        try r.process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let range = r.output.range(of: #"listening on http://127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                r.port = Int(r.output[range].split(separator: ":").last ?? "") ?? 0
                return r
            }
            guard r.process.isRunning else { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        throw TestError("replica did not start: \(r.output)")
    }

    static func http(_ port: Int, _ path: String, body: String? = nil) -> (Int, String)? {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.timeoutInterval = 60
        if let body {
            request.httpMethod = "POST"
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var out: (Int, String)?
        URLSession.shared.dataTask(with: request) { data, response, _ in
            if let h = response as? HTTPURLResponse { out = (h.statusCode, String(decoding: data ?? Data(), as: UTF8.self)) }
            done.signal()
        }.resume()
        done.wait()
        return out
    }

    /// The unlabelled samples of a Prometheus exposition.
    static func metrics(_ port: Int) -> [String: Double]? {
        guard let (status, text) = http(port, "/metrics"), status == 200 else { return nil }
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.contains("{") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = Double(parts[1]) { out[String(parts[0])] = v }
        }
        return out
    }

    /// The bucket's figures and Redis's clock, read in one atomic script.
    static func readBucket(_ c: RedisConnection, name: String) -> [String: Double]? {
        let script = """
            local f = redis.call('HMGET', KEYS[1], 'start', 'level', 'reserved', 'spent', 'expired', 'refilled')
            local t = redis.call('TIME')
            return {f[1], f[2], f[3], f[4], f[5], f[6], t[1], t[2]}
            """
        guard case .array(let v)? = try? c.command(["EVAL", script, "1", "reckon:{\(name)}:bucket"]), v.count == 8 else { return nil }
        let n = v.map { $0.text.flatMap(Double.init) }
        guard let start = n[0] else { return nil }
        return ["start": start, "level": n[1] ?? .nan, "reserved": n[2] ?? .nan, "spent": n[3] ?? .nan, "expired": n[4] ?? .nan,
                "refilled": n[5] ?? .nan, "now": (n[6] ?? .nan) + (n[7] ?? .nan) / 1e6]
    }

    func testBadStoreFlagsAreOneLineErrors() throws {
        let dir = FileManager.default.temporaryDirectory
        for (args, message) in [
            (["--budget-store", "redis://127.0.0.1:6379/x"], "--budget-store needs a --budget C:R to share"),
            (["--budget", "10:1", "--budget-store", "redis://127.0.0.1/x"], "--budget-store: invalid runtime setting: budget store"),
            (["--budget", "10:1", "--budget-store", "redis://127.0.0.1:6379/x", "--budget-store-fallback", "maybe"],
             "--budget-store-fallback must be deny or local"),
        ] {
            let r = try cli.run(["serve"] + args, in: dir)
            XCTAssertNotEqual(r.status, 0, r.output)
            XCTAssertTrue(r.output.contains(message), r.output)
        }
    }

    // MARK: the test

    /// Both replicas under load; at every scrape, from Redis and from both /metrics, the
    /// spending stays within C + R·elapsed; Redis stops for 3 s mid-load: the `deny`
    /// replica stops granting, the `local` one spends its private share; both recover, and
    /// at the end Redis's spent is the sum of what the replicas metered (plus at most one
    /// unit per replica whose reply was lost as Redis went down).
    func testTwoReplicasShareOneBudgetThroughAnOutage() throws {
        XCTAssertTrue(FileManager.default.fileExists(atPath: cli.reckon.path), "the test target builds reckon; not found at \(cli.reckon.path)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-shared-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var redis = try redisForTest(scratch: dir)
        let ownRedis = redis.process != nil
        defer {
            // A Redis given by $RECKON_TEST_REDIS is left running (restarted by this test).
            if ownRedis, let c = Self.connect(redis, tries: 5) {
                _ = try? c.command(["SHUTDOWN", "NOSAVE"])
                redis.process?.waitUntilExit()
            }
        }
        guard var redisConn = Self.connect(redis) else { return XCTFail("Redis at \(redis.port) does not answer") }

        let made = try cli.run(["init-checkpoint", "tiny.h5", "--dim", "32", "--layers", "1", "--heads", "2", "--kv-heads", "1",
                                "--hidden", "64", "--context", "128"], in: dir)
        XCTAssertEqual(made.status, 0, made.output)
        let name = "test-\(UUID().uuidString.prefix(8))"
        let store = "redis://\(redis.host):\(redis.port)/\(name)"
        func serveArgs(_ fallback: String) -> [String] {
            ["serve", "--checkpoint", "tiny.h5", "--port", "0", "--threads", "1", "--slots", "4", "--routing", "think",
             "--max-tokens", "48", "--budget", "\(Int(Self.capacity)):\(Int(Self.refill))", "--order", "fair",
             "--budget-store", store, "--budget-store-fallback", fallback]
        }
        let a = try startReplica(serveArgs("deny"), log: dir.appendingPathComponent("a.log"), in: dir)
        let b = try startReplica(serveArgs("local"), log: dir.appendingPathComponent("b.log"), in: dir)
        defer {
            for r in [a, b] where r.process.isRunning { r.process.terminate() }
            for r in [a, b] { r.process.waitUntilExit() }
        }

        // Load: three clients per replica, each one request at a time, two groups.
        let stop = NSLock()
        nonisolated(unsafe) var stopping = false
        nonisolated(unsafe) var served = [0, 0]
        let clients = DispatchGroup()
        for (k, r) in [a, b].enumerated() {
            for c in 0..<3 {
                clients.enter()
                let port = r.port
                Thread {
                    var i = 0
                    while true {
                        stop.lock(); let done = stopping; stop.unlock()
                        if done { break }
                        let body = #"{"prompt": "\#(i % 9)+\#(c)=", "max_tokens": 48, "group": "g\#(i % 2)", "seed": \#(i)}"#
                        if let (status, _) = Self.http(port, "/v1/completions", body: body), status == 200 {
                            stop.lock(); served[k] += 1; stop.unlock()
                        }
                        i += 1
                    }
                    clients.leave()
                }.start()
            }
        }

        // Scrape every 0.25 s for 12 s; Redis is down from 4 s to 7 s.
        var scrapes = 0, redisScrapes = 0, worstRedis = -Double.infinity, worstJoint = -Double.infinity
        var start: Double?
        var sawDeny = false, sawLocal = false, spentLocallyByB = 0.0, spentByABeforeOutage = 0.0
        var bSpentAtOutage = 0.0
        let t0 = Date()
        var stopped = false, restarted = false
        while Date().timeIntervalSince(t0) < 12 {
            let t = Date().timeIntervalSince(t0)
            if t >= 4 && !stopped {
                let before = Self.metrics(b.port)
                bSpentAtOutage = before?["reckon_budget_own_tokens_spent_total"] ?? 0
                spentByABeforeOutage = Self.metrics(a.port)?["reckon_budget_own_tokens_spent_total"] ?? 0
                _ = try? redisConn.command(["SHUTDOWN", "SAVE"])
                redis.process?.waitUntilExit()
                stopped = true
            }
            if t >= 7 && !restarted {
                try Self.launch(&redis)
                guard let c = Self.connect(redis) else { return XCTFail("Redis did not come back") }
                redisConn = c
                restarted = true
            }
            guard let ma = Self.metrics(a.port), let mb = Self.metrics(b.port) else {
                XCTFail("a replica's /metrics did not answer at \(t) s"); break
            }
            let bucket = (stopped && !restarted) ? nil : Self.readBucket(redisConn, name: name)
            // Once Redis is back, the `local` replica spends its private R/n for up to one retry
            // interval plus one connect timeout before it reconnects, while the `deny` one already
            // draws on the shared refill again: the documented overlap (docs/deployment.md).
            let overlap = restarted ? Self.refill / 2 * (1.0 + 0.5) : 0
            let wall = Date().timeIntervalSince1970
            scrapes += 1
            if let bk = bucket, let s = bk["start"], let now = bk["now"] {
                start = s
                redisScrapes += 1
                let taken = bk["spent"]! + bk["expired"]! + bk["reserved"]!
                let allowance = Self.capacity + Self.refill * (now - s) + overlap
                worstRedis = max(worstRedis, taken - allowance)
                XCTAssertLessThanOrEqual(taken, allowance + 1e-6, "Redis at \(t) s: \(bk)")
            }
            for m in [ma, mb] {
                let spent = m["reckon_budget_tokens_spent_total"] ?? .nan, allowance = m["reckon_budget_allowance"] ?? .nan
                XCTAssertLessThanOrEqual(spent, allowance + overlap + 1e-6, "a replica's shared figures at \(t) s")
            }
            if let s = start {
                // What both replicas metered, against the allowance after the scrape.
                let joint = (ma["reckon_budget_own_tokens_spent_total"] ?? .nan) + (mb["reckon_budget_own_tokens_spent_total"] ?? .nan)
                let allowance = Self.capacity + Self.refill * (wall - s) + overlap
                worstJoint = max(worstJoint, joint - allowance)
                XCTAssertLessThanOrEqual(joint, allowance + 1e-6, "both replicas' own spending at \(t) s")
            }
            if stopped && !restarted && t > 5 {
                if ma["reckon_budget_fallback_active"] == 1 && ma["reckon_budget_store_reachable"] == 0 { sawDeny = true }
                if mb["reckon_budget_fallback_active"] == 1 && mb["reckon_budget_store_reachable"] == 0 { sawLocal = true }
                spentLocallyByB = (mb["reckon_budget_own_tokens_spent_total"] ?? 0) - bSpentAtOutage
            }
            Thread.sleep(forTimeInterval: 0.25)
        }
        stop.lock(); stopping = true; stop.unlock()
        clients.wait()
        Thread.sleep(forTimeInterval: 0.5)

        // Settled: every reservation returned, and Redis counted exactly what the replicas metered.
        guard let ma = Self.metrics(a.port), let mb = Self.metrics(b.port), let bk = Self.readBucket(redisConn, name: name) else {
            return XCTFail("final scrape failed")
        }
        let ownA = ma["reckon_budget_own_tokens_spent_total"] ?? .nan, ownB = mb["reckon_budget_own_tokens_spent_total"] ?? .nan
        print(String(format: "SharedBudgetTests: %d scrapes (%d of Redis), served %d + %d, spent A %.0f + B %.0f = Redis %.0f "
                     + "(expired %.0f, reserved %.3f), B spent %.0f locally in the outage, worst margin Redis %.1f joint %.1f units, "
                     + "allowance at end %.0f", scrapes, redisScrapes, served[0], served[1], ownA, ownB, bk["spent"]!, bk["expired"]!,
                     bk["reserved"]!, spentLocallyByB, worstRedis, worstJoint, Self.capacity + Self.refill * (bk["now"]! - bk["start"]!)))
        // Redis's spent is the sum of the replicas' metering, except that an unreserved spend
        // whose reply was lost as Redis shut down counts in Redis only (the safe side): at
        // most one such call in flight per replica, 1 unit each.
        XCTAssertGreaterThanOrEqual(bk["spent"]!, ownA + ownB - 1e-6, "Redis counted every metered unit")
        XCTAssertLessThanOrEqual(bk["spent"]!, ownA + ownB + 2 + 1e-6, "Redis counted no more than a lost reply per replica")
        XCTAssertEqual(bk["expired"]!, 0, "no lease ran out")
        XCTAssertEqual(bk["reserved"]!, 0, accuracy: 1e-6, "no reservation left")
        XCTAssertEqual(ma["reckon_budget_store_reachable"], 1, "A recovered")
        XCTAssertEqual(mb["reckon_budget_store_reachable"], 1, "B recovered")
        XCTAssertEqual(ma["reckon_budget_replicas"], 2)
        XCTAssertTrue(sawDeny, "A reported its deny fallback during the outage")
        XCTAssertTrue(sawLocal, "B reported its local fallback during the outage")
        XCTAssertGreaterThan(spentLocallyByB, 0, "B kept thinking on its private share")
        XCTAssertGreaterThan(ownA, spentByABeforeOutage, "A thought again after the outage")
        XCTAssertTrue(a.output.contains("unreachable") && a.output.contains("fallback deny"), a.output)
        XCTAssertTrue(b.output.contains("unreachable") && b.output.contains("fallback local"), b.output)
        XCTAssertTrue(a.output.contains("reachable again") && b.output.contains("reachable again"), a.output + b.output)
        XCTAssertGreaterThan(served[0], 0); XCTAssertGreaterThan(served[1], 0)
    }

    /// The script's invariant under random schedules: three replicas reserve, spend, settle
    /// and die at random (a dead one's lease runs out); after every operation Redis satisfies
    /// spent + expired + reserved ≤ C + R·elapsed, reserved ≥ 0 and level ≤ C − reserved, and
    /// what the live replicas really metered never exceeds the allowance. At the end, with
    /// everything settled, reserved is 0 and Redis counted at least what was metered.
    func testScriptInvariantUnderRandomSchedules() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-script-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let redis = try redisForTest(scratch: dir)
        defer {
            if redis.process != nil, let c = Self.connect(redis, tries: 5) { _ = try? c.command(["SHUTDOWN", "NOSAVE"]) }
            redis.process?.waitUntilExit()
        }
        guard let conn = Self.connect(redis) else { return XCTFail("Redis at \(redis.port) does not answer") }
        let C = 40.0, R = 30.0, lease = 0.4
        let budget = try BudgetConfig(capacity: C, refillPerSecond: R)
        for seed in 1...3 {
            let name = "prop-\(seed)-\(UUID().uuidString.prefix(6))"
            let address = RedisBudgetAddress(host: redis.host, port: redis.port, name: name)
            func replica() throws -> RedisBudgetStore {
                try RedisBudgetStore(address: address, budget: budget, fallback: .deny, lease: lease) { _ in }
            }
            struct Live { var store: RedisBudgetStore; var open: [Double] = []; var metered = 0.0 }
            var live = try (0..<3).map { _ in Live(store: try replica()) }
            var meteredByDead = 0.0
            var g = SplitMix(seed: UInt64(seed))
            let t0 = Date()
            var ops = 0
            while Date().timeIntervalSince(t0) < 2.5 {
                let k = Int(g.next() % UInt64(live.count))
                let t = Date().timeIntervalSince(t0)
                var r = live[k]
                switch g.next() % 8 {
                case 0, 1:
                    let amount = Double(g.next() % 12) + 0.5
                    if r.store.reserve(amount, group: "g\(k)") { r.open.append(amount) }
                case 2:
                    let got = r.store.reserveRemaining(group: "g\(k)")
                    if got > 0 { r.open.append(got) }
                case 3, 4:
                    if let i = r.open.indices.randomElement(using: &g) {
                        let x = min(r.open[i], Double(g.next() % 4) + 1)
                        r.store.spendReserved(x); r.open[i] -= x; r.metered += x
                    }
                case 5:
                    if let i = r.open.indices.randomElement(using: &g) {
                        r.store.release(r.open[i], group: "g\(k)"); r.open.remove(at: i)
                    }
                case 6:
                    if r.store.spendUnreserved(1, group: "g\(k)") { r.metered += 1 }
                default:
                    if g.next() % 6 == 0 {
                        // Dies mid-request: its open reservations stay until its lease runs out.
                        meteredByDead += r.metered
                        r = Live(store: try replica())
                    } else {
                        r.store.refill(to: t)
                    }
                }
                live[k] = r
                ops += 1
                guard let bk = Self.readBucket(conn, name: name), let now = bk["now"], let start = bk["start"] else { continue }
                let allowance = C + R * (now - start)
                let taken = bk["spent"]! + bk["expired"]! + bk["reserved"]!
                XCTAssertLessThanOrEqual(taken, allowance + 1e-6, "seed \(seed) op \(ops): \(bk)")
                XCTAssertGreaterThanOrEqual(bk["reserved"]!, -1e-6, "seed \(seed) op \(ops)")
                XCTAssertLessThanOrEqual(bk["level"]!, C - bk["reserved"]! + 1e-6, "seed \(seed) op \(ops)")
                XCTAssertLessThanOrEqual(bk["level"]! + taken, C + bk["refilled"]! + 1e-6, "seed \(seed) op \(ops): units from nowhere")
                let metered = meteredByDead + live.map(\.metered).reduce(0, +)
                XCTAssertLessThanOrEqual(metered, allowance + 1e-6, "seed \(seed) op \(ops): replicas metered more than allowed")
                Thread.sleep(forTimeInterval: 0.002)
            }
            // Settle the live replicas, outlive the dead ones' leases, and sync once more.
            for i in live.indices {
                for x in live[i].open { live[i].store.release(x, group: "g\(i)") }
                live[i].open = []
            }
            Thread.sleep(forTimeInterval: lease + 0.2)
            for i in live.indices { live[i].store.refill(to: 10) }
            guard let bk = Self.readBucket(conn, name: name) else { return XCTFail("no bucket for \(name)") }
            let metered = meteredByDead + live.map(\.metered).reduce(0, +)
            print(String(format: "SharedBudgetTests: seed %d: %d ops, metered %.1f, Redis spent %.1f + expired %.1f, reserved %.3g",
                         seed, ops, metered, bk["spent"]!, bk["expired"]!, bk["reserved"]!))
            XCTAssertEqual(bk["reserved"]!, 0, accuracy: 1e-6, "seed \(seed): everything settled or expired")
            XCTAssertGreaterThanOrEqual(bk["spent"]! + bk["expired"]! + 1e-6, metered, "seed \(seed): Redis counted every metered unit")
            XCTAssertGreaterThan(ops, 100)
        }
    }
}

/// A seeded generator for the schedules (SplitMix64).
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
