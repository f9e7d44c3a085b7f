import Foundation
import XCTest
@testable import ReckonServer
#if canImport(Glibc)
import Glibc
#endif

/// Numeric fields out of range, stop strings longer than the context, and a client that
/// goes away mid-stream.
final class RequestLimitTests: XCTestCase {
    func testOutOfRangeNumbersNameTheirField() async throws {
        let server = try await TestServer.start()
        let cases: [(String, String)] = [
            (#""max_tokens": 1.5"#, "max_tokens"),
            (#""max_tokens": 1e300"#, "max_tokens"),
            (#""max_completion_tokens": -1e30"#, "max_completion_tokens"),
            (#""seed": 18446744073709551616"#, "seed"),
            (#""seed": 9223372036854775808"#, "seed"),
            (#""top_k": 2.5"#, "top_k"),
            (#""temperature": 1e39"#, "temperature"),
            (#""top_p": -1e39"#, "top_p"),
            (#""thinking_token_budget": 1e19"#, "thinking_token_budget"),
            (#""priority": 0.5"#, "priority"),
            (#""n": 1e300"#, "n"),
        ]
        for (field, name) in cases {
            let reply = try await server.post("/v1/completions", #"{"prompt": "1+1=", "# + field + "}")
            XCTAssertEqual(reply.status, 400, "\(field): \(reply.text)")
            let error = try XCTUnwrap(try reply.json()["error"] as? [String: Any], reply.text)
            XCTAssertEqual(error["code"] as? String, "invalid_parameter", field)
            XCTAssertEqual(error["param"] as? String, name, field)
            XCTAssertTrue((error["message"] as? String ?? "").contains("\"\(name)\""), "\(field): \(reply.text)")
        }
        // In range, the same fields are fine; 2.0 is a whole number, 3.4e38 fits a float.
        let ok = try await server.post("/v1/completions", #"{"prompt": "1+1=", "max_tokens": 2.0, "seed": 9223372036854775807, "temperature": 3.4e38, "top_k": 0}"#)
        XCTAssertEqual(ok.status, 200, ok.text)
        try await server.stop()
    }

    func testStopLongerThanTheContextIsRefused() async throws {
        let server = try await TestServer.start()
        let long = String(repeating: "x", count: TestServer.modelConfig.maxSeqLen + 1)
        let reply = try await server.post("/v1/completions", #"{"prompt": "1+1=", "stop": [""# + long + #""]}"#)
        XCTAssertEqual(reply.status, 400, reply.text)
        let error = try XCTUnwrap(try reply.json()["error"] as? [String: Any])
        XCTAssertEqual(error["param"] as? String, "stop")
        XCTAssertTrue((error["message"] as? String ?? "").contains("65 bytes is longer than the model's 64-token context"), reply.text)
        try await server.stop()
    }

    /// The client reads the first events of a slow stream, then closes the socket: the
    /// request is cancelled, decoding stops well short of max_tokens, and /metrics says so.
    func testDisconnectMidStreamCancelsTheRequest() async throws {
        let server = try await TestServer.start()
        server.pace.slowDown(0.02)  // 20 ms a step: the full answer would take over a second
        let port = server.port
        let body = #"{"prompt": "1+1=", "max_tokens": 56, "routing": "think", "stream": true}"#
        let firstEvent: Bool = try await SlowClientTests.onThread {
            let c = try SlowClientTests.Connection(port: port, receiveTimeout: 5)
            c.send("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
            return c.read() == .data  // the head and the first event; then `c` closes
        }
        XCTAssertTrue(firstEvent)
        var metrics = ""
        for _ in 0..<250 {
            metrics = try await server.get("/metrics").text
            if metrics.contains(#"reckon_requests_cancelled_total{group="default"} 1"#) { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTAssert(metrics.contains(#"reckon_requests_cancelled_total{group="default"} 1"#), metrics)
        XCTAssert(metrics.contains("reckon_engine_running 0\n"), metrics)
        let line = try XCTUnwrap(metrics.split(separator: "\n").first { $0.hasPrefix("reckon_cancelled_tokens_total ") })
        let generated = try XCTUnwrap(Double(line.split(separator: " ")[1]))
        XCTAssertGreaterThanOrEqual(generated, 1)
        XCTAssertLessThan(generated, 30, "decoding went on after the client left")
        XCTAssertFalse(metrics.contains(#"reckon_requests_total{group="default"}"#), "a cancelled request is not counted as served")
        try await server.stop()
    }
}
