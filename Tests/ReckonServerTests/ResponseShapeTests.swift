import Foundation
import ReckonModel
import XCTest
@testable import ReckonServer

/// Completion and chat responses over real HTTP: OpenAI's shapes plus Reckon's fields.
final class ResponseShapeTests: XCTestCase {
    func checkUsage(_ o: [String: Any], prompt: String, maxTokens: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        let usage = try XCTUnwrap(o["usage"] as? [String: Any], file: file, line: line)
        let promptTokens = try XCTUnwrap(usage["prompt_tokens"] as? Int)
        let completion = try XCTUnwrap(usage["completion_tokens"] as? Int)
        let reasoning = try XCTUnwrap(usage["reasoning_tokens"] as? Int)
        XCTAssertEqual(promptTokens, PromptFormat.prompt(prompt).count, file: file, line: line)
        XCTAssertEqual(usage["total_tokens"] as? Int, promptTokens + completion, file: file, line: line)
        XCTAssert((1...maxTokens).contains(completion), "completion_tokens \(completion)", file: file, line: line)
        XCTAssertLessThan(reasoning, completion, file: file, line: line)
        let details = try XCTUnwrap(usage["completion_tokens_details"] as? [String: Any], file: file, line: line)
        XCTAssertEqual(details["reasoning_tokens"] as? Int, reasoning, file: file, line: line)
        let p = try XCTUnwrap(o["p_think"] as? Double, file: file, line: line)
        XCTAssert((0...1).contains(p), file: file, line: line)
        XCTAssert(o.keys.contains("budget_action"), "budget_action is reported (null when none)", file: file, line: line)
        XCTAssert(o["budget_action"] is NSNull, file: file, line: line)
    }

    func testCompletionResponseShape() async throws {
        let server = try await TestServer.start()
        let reply = try await server.post("/v1/completions", #"{"model": "tiny", "prompt": "2+3=", "max_tokens": 20, "routing": "think"}"#)
        XCTAssertEqual(reply.status, 200, reply.text)
        XCTAssertEqual(reply.headers["content-type"], "application/json")
        let o = try reply.json()
        XCTAssertEqual(o["object"] as? String, "text_completion")
        XCTAssertEqual(o["model"] as? String, "tiny")
        XCTAssert((o["id"] as? String)?.hasPrefix("cmpl-") == true)
        XCTAssertNotNil(o["created"] as? Int)
        let choices = try XCTUnwrap(o["choices"] as? [[String: Any]])
        XCTAssertEqual(choices.count, 1)
        XCTAssertEqual(choices[0]["index"] as? Int, 0)
        XCTAssertNotNil(choices[0]["text"] as? String)
        XCTAssertNotNil(choices[0]["reasoning"] as? String)
        XCTAssert(["stop", "length"].contains(choices[0]["finish_reason"] as? String ?? ""))
        XCTAssertEqual(o["mode"] as? String, "think")
        try checkUsage(o, prompt: "2+3=", maxTokens: 20)
        try await server.stop()
    }

    func testChatResponseShape() async throws {
        let server = try await TestServer.start()
        let body = #"""
        {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "ignored"},
                      {"role": "assistant", "content": "ok"}, {"role": "user", "content": [{"type": "text", "text": "7*6="}]}],
         "max_completion_tokens": 12, "routing": "short", "group": "en", "priority": 2, "seed": 7, "temperature": 0}
        """#
        let reply = try await server.post("/v1/chat/completions", body)
        XCTAssertEqual(reply.status, 200, reply.text)
        let o = try reply.json()
        XCTAssertEqual(o["object"] as? String, "chat.completion")
        XCTAssert((o["id"] as? String)?.hasPrefix("chatcmpl-") == true)
        let choice = try XCTUnwrap((o["choices"] as? [[String: Any]])?.first)
        let message = try XCTUnwrap(choice["message"] as? [String: Any])
        XCTAssertEqual(message["role"] as? String, "assistant")
        XCTAssertNotNil(message["content"] as? String)
        XCTAssertEqual(message["reasoning"] as? String, "", "short mode has no reasoning")
        XCTAssertEqual(o["mode"] as? String, "short")
        XCTAssertEqual(o["group"] as? String, "en")
        // The last user message is the prompt.
        try checkUsage(o, prompt: "7*6=", maxTokens: 12)
        XCTAssertEqual((o["usage"] as? [String: Any])?["reasoning_tokens"] as? Int, 0)
        try await server.stop()
    }

    func testModelsHealthAndExpectedAnswer() async throws {
        let server = try await TestServer.start()
        let models = try await server.get("/v1/models").json()
        XCTAssertEqual(models["object"] as? String, "list")
        let entry = try XCTUnwrap((models["data"] as? [[String: Any]])?.first)
        XCTAssertEqual(entry["id"] as? String, "tiny")
        XCTAssertEqual(entry["object"] as? String, "model")
        XCTAssertEqual(entry["context_length"] as? Int, 64)
        let one = try await server.get("/v1/models/tiny")
        XCTAssertEqual(try one.json()["id"] as? String, "tiny")
        let other = try await server.get("/v1/models/gpt-9")
        XCTAssertEqual(other.status, 404)
        XCTAssertEqual((try other.json()["error"] as? [String: Any])?["code"] as? String, "model_not_found")
        let health = try await server.get("/health")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(try health.json()["status"] as? String, "ok")

        let graded = try await server.post("/v1/completions", #"{"prompt": "1+1=", "max_tokens": 4, "routing": "short", "expected_answer": "2"}"#)
        XCTAssertEqual(graded.status, 200, graded.text)
        XCTAssertNotNil(try graded.json()["correct"] as? Bool)
        let metrics = try await server.get("/metrics").text
        XCTAssert(metrics.contains(#"reckon_graded_total{group="default"} 1"#), metrics)
        try await server.stop()
    }

    /// Requests joining a running batch get the tokens they get alone (greedy).
    func testConcurrentRequestsMatchSequentialOnes() async throws {
        let server = try await TestServer.start()
        let prompts = (0..<6).map { "\($0)*\($0 + 3)=" }
        func body(_ p: String) -> String { #"{"prompt": "\#(p)", "max_tokens": 24, "routing": "think"}"# }
        var alone: [String] = []
        for p in prompts { alone.append(try await server.post("/v1/completions", body(p)).text) }
        let together = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (i, p) in prompts.enumerated() { group.addTask { (i, try await server.post("/v1/completions", body(p)).text) } }
            var out = [String](repeating: "", count: prompts.count)
            for try await (i, t) in group { out[i] = t }
            return out
        }
        func texts(_ s: String) throws -> [String] {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
            let c = try XCTUnwrap((o["choices"] as? [[String: Any]])?.first)
            return [c["text"] as? String ?? "?", c["reasoning"] as? String ?? "?"]
        }
        for i in prompts.indices { XCTAssertEqual(try texts(alone[i]), try texts(together[i])) }
        try await server.stop()
    }
}
