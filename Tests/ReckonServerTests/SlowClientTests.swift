import Foundation
import XCTest
@testable import ReckonServer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Slow clients on loopback: read deadlines close them, a cap bounds open connections, and
/// graceful shutdown has a deadline. Every wait here is bounded by a socket timeout.
final class SlowClientTests: XCTestCase {
    /// A raw loopback connection, driven by blocking calls on a thread of its own.
    final class Connection: @unchecked Sendable {
        let fd: Int32

        init(port: Int, receiveTimeout: Double) throws {
            fd = try HTTPTestClient.connectLoopback(port: port, receiveTimeout: receiveTimeout)
        }

        deinit { close(fd) }

        /// False once the server has closed its end (a send then fails).
        @discardableResult
        func send(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
        }

        enum ReadOutcome: Equatable { case data, closed, timedOut }

        /// One recv: data, the server's close (EOF or reset), or nothing within the timeout.
        func read() -> ReadOutcome {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { return .data }
            if n == 0 || errno == ECONNRESET { return .closed }
            return .timedOut
        }
    }

    /// Runs blocking socket work off the concurrency pool the server uses.
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in Thread { c.resume(with: Result { try body() }) }.start() }
    }

    func testSlowHeadersAndMissingBodiesAreCut() async throws {
        let server = try await TestServer.start { $0.headerTimeout = 0.6; $0.bodyTimeout = 0.6 }
        let port = server.port
        let started = Date()
        // Ten clients drip a header line a byte at a time; ten send a head promising 100
        // bytes of body and never send them. Each must be closed by the server.
        let outcomes = try await withThrowingTaskGroup(of: (String, Double).self) { group in
            for i in 0..<20 {
                group.addTask {
                    try await Self.onThread {
                        let c = try Connection(port: port, receiveTimeout: 0.2)
                        let begin = Date()
                        if i < 10 {
                            c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\n")
                            for ch in "X-Slow: " + String(repeating: "a", count: 60) {
                                if !c.send(String(ch)) || c.read() == .closed { return ("drip", Date().timeIntervalSince(begin)) }
                            }
                            return ("drip never closed", Date().timeIntervalSince(begin))
                        } else {
                            c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
                            for _ in 0..<60 {
                                switch c.read() {
                                case .closed: return ("body", Date().timeIntervalSince(begin))
                                case .data: return ("body answered", Date().timeIntervalSince(begin))
                                case .timedOut: continue
                                }
                            }
                            return ("body never closed", Date().timeIntervalSince(begin))
                        }
                    }
                }
            }
            var all: [(String, Double)] = []
            for try await o in group { all.append(o) }
            return all
        }
        XCTAssertEqual(Set(outcomes.map(\.0)), ["drip", "body"], "\(outcomes)")
        // Every slow connection is gone: only the one asking for /metrics below is open.
        let metrics = try await server.get("/metrics").text
        XCTAssert(metrics.contains("reckon_http_connections_open 1\n"), metrics)
        for (kind, seconds) in outcomes {
            XCTAssertGreaterThanOrEqual(seconds, 0.4, "\(kind) closed before its deadline")
            XCTAssertLessThan(seconds, 5, "\(kind) outlived its deadline")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        // The server still answers a prompt client.
        let health = try await server.get("/health")
        XCTAssertEqual(health.status, 200)
        try await server.stop()
    }

    func testOpenConnectionsAreCapped() async throws {
        let server = try await TestServer.start { $0.maxConnections = 3; $0.headerTimeout = 30 }
        let port = server.port
        let outcomes: [Connection.ReadOutcome] = try await Self.onThread {
            // Three idle connections fill the cap.
            var idle = try (0..<3).map { _ in try Connection(port: port, receiveTimeout: 1) }
            Thread.sleep(forTimeInterval: 0.3)
            // A fourth is closed as soon as it is accepted, unanswered...
            let fourth = try Connection(port: port, receiveTimeout: 2)
            fourth.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            let whileFull = fourth.read()
            // ...until one of the three goes away: then a new one is served.
            idle.removeFirst()  // closes it
            Thread.sleep(forTimeInterval: 0.3)
            let fifth = try Connection(port: port, receiveTimeout: 2)
            fifth.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            let afterClose = fifth.read()
            withExtendedLifetime(idle) {}
            return [whileFull, afterClose]
        }
        XCTAssertEqual(outcomes, [.closed, .data])
        // The closure's sockets close as it returns; give the server time to see them go, or
        // this scrape is itself over the cap and refused.
        try await Task.sleep(nanoseconds: 500_000_000)
        let metrics = try await server.get("/metrics").text
        XCTAssert(metrics.contains("reckon_http_connections_refused_total 1\n"), metrics)
        try await server.stop()
    }

    func testShutdownClosesStalledConnectionsAfterItsDeadline() async throws {
        let server = try await TestServer.start { $0.bodyTimeout = 120; $0.shutdownTimeout = 0.5 }
        let port = server.port
        let client = try Connection(port: port, receiveTimeout: 0.25)
        // A head promising a body that never comes: the handler waits for it.
        client.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n")
        try await Task.sleep(nanoseconds: 300_000_000)
        let begin = Date()
        try await server.stop()
        let took = Date().timeIntervalSince(begin)
        XCTAssertLessThan(took, 5, "shutdown waited for the stalled client")
        let outcome: Connection.ReadOutcome = try await Self.onThread {
            var o = Connection.ReadOutcome.timedOut
            for _ in 0..<8 where o == .timedOut { o = client.read() }
            return o
        }
        XCTAssertEqual(outcome, .closed)
    }
}
