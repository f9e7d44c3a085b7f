import Foundation
import ReckonRuntime
import XCTest
@testable import ReckonServer

/// Refusals: every one has a JSON body `{"error": {"message", "type", "code"}}` and the right status.
final class ErrorTests: XCTestCase {
    @discardableResult
    func expectError(_ reply: HTTPReply, _ status: Int, code: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        XCTAssertEqual(reply.status, status, reply.text, file: file, line: line)
        XCTAssertEqual(reply.headers["content-type"], "application/json", file: file, line: line)
        let error = try XCTUnwrap(try reply.json()["error"] as? [String: Any], "error body: \(reply.text)", file: file, line: line)
        XCTAssertNotNil(error["message"] as? String, file: file, line: line)
        XCTAssertNotNil(error["type"] as? String, file: file, line: line)
        XCTAssertEqual(error["code"] as? String, code, file: file, line: line)
        return error
    }

    func testMalformedRequestsGet400Or413() async throws {
        let server = try await TestServer.start { $0.maxBodyBytes = 4096; $0.maxTokensLimit = 48 }
        let port = server.port
        let path = "/v1/completions"
        try expectError(try await server.post(path, #"{"prompt": "1+1=", "max_tokens": 4"#), 400, code: "invalid_json")
        try expectError(try await server.post(path, "[1, 2]"), 400, code: "invalid_json")
        try expectError(try await server.post(path, ""), 400, code: "invalid_json")
        try expectError(try await HTTPTestClient.exchange(port: port, path: path, body: [0x7B, 0x22, 0x70, 0xFF, 0xFE, 0x22, 0x7D]), 400,
                        code: "invalid_utf8")
        let big = #"{"prompt": ""# + String(repeating: "x", count: 10_000) + #""}"#
        try expectError(try await server.post(path, big), 413, code: "body_too_large")
        try expectError(try await server.post(path, #"{"prompt": "1+1=", "max_tokens": 0}"#), 400, code: "invalid_max_tokens")
        try expectError(try await server.post(path, #"{"prompt": "1+1=", "max_tokens": 49}"#), 400, code: "invalid_max_tokens")
        try expectError(try await server.post(path, #"{"prompt": "1+1=", "max_tokens": -3}"#), 400, code: "invalid_max_tokens")
        let wrongType = try expectError(try await server.post(path, #"{"prompt": "1+1=", "max_tokens": "ten"}"#), 400, code: "invalid_parameter")
        XCTAssertEqual(wrongType["param"] as? String, "max_tokens")
        try expectError(try await server.post(path, #"{"max_tokens": 4}"#), 400, code: "invalid_parameter")
        try expectError(try await server.post(path, #"{"prompt": "1+1=", "routing": "sometimes"}"#), 400, code: "invalid_parameter")
        try expectError(try await server.post(path, #"{"prompt": "1+1=", "temperature": -1}"#), 400, code: "invalid_parameter")
        try expectError(try await server.post(path, #"{"prompt": "1+1=", "group": "a b"}"#), 400, code: "invalid_parameter")
        try expectError(try await server.post(path, #"{"prompt": "1+1=", "model": "gpt-9"}"#), 404, code: "model_not_found")
        // The context is 64 tokens: a 70-byte prompt does not fit.
        try expectError(try await server.post(path, #"{"prompt": ""# + String(repeating: "7", count: 70) + #""}"#), 400,
                        code: "prompt_too_long")
        try expectError(try await server.post("/v1/chat/completions", #"{"messages": [{"role": "system", "content": "x"}]}"#), 400,
                        code: "invalid_parameter")
        try expectError(try await server.get("/v1/nothing"), 404, code: "not_found")
        let wrongMethod = try await server.get(path)
        try expectError(wrongMethod, 405, code: "method_not_allowed")
        XCTAssertEqual(wrongMethod.headers["allow"], "POST")
        // Still serving after all that.
        let fine = try await server.post(path, #"{"prompt": "1+1=", "max_tokens": 3}"#)
        XCTAssertEqual(fine.status, 200)
        let metrics = try await server.get("/metrics").text
        XCTAssert(metrics.contains(#"reckon_requests_rejected_total{reason="body_too_large"} 1"#), metrics)
        XCTAssert(metrics.contains(#"reckon_requests_rejected_total{reason="prompt_too_long"} 1"#), metrics)
        try await server.stop()
    }

    func testBearerKey() async throws {
        let server = try await TestServer.start { $0.apiKey = "sekret-key" }
        let body = #"{"prompt": "1+1=", "max_tokens": 3}"#
        let missing = try await server.post("/v1/completions", body)
        try expectError(missing, 401, code: "invalid_api_key")
        XCTAssertEqual(missing.headers["www-authenticate"], "Bearer")
        try expectError(try await server.post("/v1/completions", body, headers: ["Authorization": "Bearer sekret-kez"]), 401, code: "invalid_api_key")
        try expectError(try await server.post("/v1/completions", body, headers: ["Authorization": "Bearer sekret-key2"]), 401, code: "invalid_api_key")
        try expectError(try await server.post("/v1/completions", body, headers: ["Authorization": "Basic sekret-key"]), 401, code: "invalid_api_key")
        try expectError(try await server.get("/v1/models"), 401, code: "invalid_api_key")
        try expectError(try await server.get("/metrics"), 401, code: "invalid_api_key")
        let good = try await server.post("/v1/completions", body, headers: ["Authorization": "Bearer sekret-key"])
        XCTAssertEqual(good.status, 200)
        let lower = try await server.post("/v1/completions", body, headers: ["Authorization": "bearer sekret-key"])
        XCTAssertEqual(lower.status, 200)
        let health = try await server.get("/health")
        XCTAssertEqual(health.status, 200, "health stays open for probes")
        try await server.stop()
    }

    /// One slot and a queue of one: while the first request's step is held, three more
    /// arrive together; one is queued and served, two are turned away at once with 429 queue_full.
    func testFullQueueGets429() async throws {
        let server = try await TestServer.start(engine: try EngineConfig(slots: 1, maxPending: 1))
        server.pace.hold()
        let replies = try await withThrowingTaskGroup(of: HTTPReply.self) { group in
            group.addTask { try await server.post("/v1/completions", #"{"prompt": "0+1=", "max_tokens": 8}"#) }
            try await server.pace.waitUntilHeld()
            for i in 1..<4 {
                group.addTask {
                    try await server.post("/v1/completions", #"{"prompt": "\#(i)+1=", "max_tokens": 8, "stream": \#(i % 2 == 0)}"#)
                }
            }
            try await server.waitForInbox(3)
            server.pace.release()
            var out: [HTTPReply] = []
            for try await r in group { out.append(r) }
            return out
        }
        XCTAssertEqual(replies.filter { $0.status == 200 }.count, 2)
        let rejected = replies.filter { $0.status == 429 }
        XCTAssertEqual(rejected.count, 2)
        for r in rejected {
            let error = try expectError(r, 429, code: "queue_full")
            XCTAssertEqual(error["reject_reason"] as? String, "queue_full")
            XCTAssertEqual(r.headers["retry-after"], "1")
        }
        let metrics = try await server.get("/metrics").text
        XCTAssert(metrics.contains(#"reckon_requests_rejected_total{reason="queue_full"} 2"#), metrics)
        try await server.stop()
    }

    /// An empty bucket under the reject policy: thinking gets 429 budget_exhausted, short is served.
    /// (max_tokens leaves room to think: a request with no room reserves nothing and is not rejected.)
    func testBudgetRejectGets429() async throws {
        let budget = try BudgetConfig(capacity: 0, refillPerSecond: 0, policy: .reject)
        let server = try await TestServer.start(engine: try EngineConfig(slots: 2, maxPending: 8, budget: budget))
        for stream in [false, true] {
            let reply = try await server.post("/v1/completions", #"{"prompt": "5+5=", "max_tokens": 40, "routing": "think", "stream": \#(stream)}"#)
            let error = try expectError(reply, 429, code: "budget_exhausted")
            XCTAssertEqual(error["reject_reason"] as? String, "budget_exhausted")
        }
        let short = try await server.post("/v1/completions", #"{"prompt": "5+5=", "max_tokens": 8, "routing": "short"}"#)
        XCTAssertEqual(short.status, 200, short.text)
        let metrics = try await server.get("/metrics").text
        XCTAssert(metrics.contains(#"reckon_budget_actions_total{action="reject",group="default"} 2"#), metrics)
        try await server.stop()
    }

    /// SIGTERM's path: a request in flight when the shutdown starts still gets its answer.
    func testGracefulShutdownFinishesRequestsInFlight() async throws {
        let server = try await TestServer.start()
        server.pace.hold()
        async let reply = server.post("/v1/completions", #"{"prompt": "3*3=", "max_tokens": 40, "routing": "think"}"#)
        try await server.pace.waitUntilHeld()
        let stopping = Task { try await server.stop() }
        try await Task.sleep(nanoseconds: 100_000_000)
        server.pace.release()
        let r = try await reply
        XCTAssertEqual(r.status, 200, r.text)
        XCTAssertEqual(try r.json()["object"] as? String, "text_completion")
        try await stopping.value
    }
}
