import Foundation
import ReckonModel
import ReckonRuntime
import XCTest
@testable import ReckonServer

/// What clients of vLLM, llama.cpp and OpenAI expect from a thinking model: `reasoning_effort`,
/// `reasoning_content` beside `reasoning`, `usage.completion_tokens_details.reasoning_tokens`,
/// and a closing text before a forced `</think>`.
///
/// The tiny random model never closes a think by itself, so a think runs to its cap: with
/// prompt "2+3=" (6 tokens) and max_tokens 58, the room is 58 − 2 − 16 = 40 tokens, of which
/// the closing text " [cut]" takes 6, leaving 34 to sample.
final class ThinkingClientTests: XCTestCase {
    static let close = " [cut]"

    func start(_ configure: @escaping (inout ServerConfig) -> Void = { _ in }) async throws -> TestServer {
        try await TestServer.start { config in
            config.thinkCloseText = Self.close
            configure(&config)
        }
    }

    func build(_ json: String, defaults: RequestDefaults = RequestDefaults()) throws -> Request {
        var config = ServerConfig()
        config.defaults = defaults
        let builder = RequestBuilder(config: config, contextLength: 64)
        return try builder.build(WireRequest.parse(Array(json.utf8)), endpoint: .completions).request
    }

    // MARK: reasoning_effort

    func testReasoningEffortMapsToRoutingAndCap() throws {
        var defaults = RequestDefaults()
        defaults.routing = .threshold(0.1)
        let cases: [(String, RoutingPolicy, Int?)] = [
            ("", .threshold(0.1), nil),
            (#", "reasoning_effort": null"#, .threshold(0.1), nil),
            (#", "reasoning_effort": "none""#, .short, 0),
            (#", "reasoning_effort": "low""#, .threshold(0.9), 32),
            (#", "reasoning_effort": "medium""#, .threshold(0.1), 128),
            (#", "reasoning_effort": "high""#, .think, nil),
            // The request's own fields win over the effort's.
            (#", "reasoning_effort": "none", "routing": "think", "thinking_token_budget": 7"#, .think, 7),
            (#", "reasoning_effort": "high", "thinking_token_budget": 5"#, .think, 5),
            (#", "reasoning_effort": "low", "routing": "model""#, .model, 32),
        ]
        for (fields, routing, cap) in cases {
            let r = try build(#"{"prompt": "1+1="\#(fields)}"#, defaults: defaults)
            XCTAssertEqual(r.routing, routing, fields)
            XCTAssertEqual(r.thinkingTokenBudget, cap, fields)
        }
        // A server-wide cap (--thinking-token-budget) is never raised by an effort.
        defaults.thinkingTokenBudget = 20
        for (effort, cap) in [("none", 0), ("low", 20), ("medium", 20), ("high", 20)] {
            XCTAssertEqual(try build(#"{"prompt": "1+1=", "reasoning_effort": "\#(effort)"}"#, defaults: defaults).thinkingTokenBudget, cap, effort)
        }
        defaults.thinkingTokenBudget = 100
        XCTAssertEqual(try build(#"{"prompt": "1+1=", "reasoning_effort": "low"}"#, defaults: defaults).thinkingTokenBudget, 32)
    }

    func testInvalidReasoningEffortIs400NamingTheField() async throws {
        let server = try await start()
        for (path, body) in [("/v1/completions", #"{"prompt": "1+1=", "reasoning_effort": "extreme"}"#),
                             ("/v1/chat/completions", #"{"messages": [{"role": "user", "content": "1+1="}], "reasoning_effort": "minimal"}"#),
                             ("/v1/completions", #"{"prompt": "1+1=", "reasoning_effort": "HIGH"}"#),
                             ("/v1/completions", #"{"prompt": "1+1=", "reasoning_effort": 3}"#)] {
            let reply = try await server.post(path, body)
            XCTAssertEqual(reply.status, 400, body)
            let error = try XCTUnwrap(try reply.json()["error"] as? [String: Any])
            XCTAssertEqual(error["param"] as? String, "reasoning_effort", body)
            XCTAssertEqual(error["code"] as? String, "invalid_parameter", body)
            if !body.hasSuffix("3}") {
                XCTAssert((error["message"] as? String)?.contains("none, low, medium, high") == true, "\(error)")
            }
        }
        try await server.stop()
    }

    func testReasoningEffortOverHTTP() async throws {
        let server = try await start { $0.defaults.routing = .think }
        func usage(_ o: [String: Any]) -> Int? { (o["usage"] as? [String: Any])?["reasoning_tokens"] as? Int }
        func post(_ fields: String) async throws -> [String: Any] {
            let reply = try await server.post("/v1/completions", #"{"prompt": "2+3=", "max_tokens": 58\#(fields)}"#)
            XCTAssertEqual(reply.status, 200, reply.text)
            return try reply.json()
        }
        let none = try await post(#", "reasoning_effort": "none""#)
        XCTAssertEqual(none["mode"] as? String, "short")
        XCTAssertEqual(usage(none), 0)
        // low: threshold 0.9 on the model's own p(think).
        let low = try await post(#", "reasoning_effort": "low""#)
        let p = try XCTUnwrap(low["p_think"] as? Double)
        XCTAssertEqual(low["mode"] as? String, p >= 0.9 ? "think" : "short")
        // low's cap of 32 sampled tokens, with routing forced: 32 + the closing text.
        let lowThink = try await post(#", "reasoning_effort": "low", "routing": "think""#)
        XCTAssertEqual(usage(lowThink), 32 + 6)
        // medium follows the server's routing (here think); its cap of 128 is above the room.
        let medium = try await post(#", "reasoning_effort": "medium""#)
        XCTAssertEqual(medium["mode"] as? String, "think")
        XCTAssertEqual(usage(medium), 34 + 6)
        let high = try await post(#", "reasoning_effort": "high""#)
        XCTAssertEqual(high["mode"] as? String, "think")
        XCTAssertEqual(usage(high), 34 + 6)
        XCTAssertEqual(high["think_truncated"] as? Bool, true)
        try await server.stop()
    }

    // MARK: reasoning_content, reasoning_tokens, the closing text

    func testReasoningContentAndReasoningTokensStreamedAndNot() async throws {
        let server = try await start()
        let request = #"{"messages": [{"role": "user", "content": "2+3="}], "max_tokens": 58, "routing": "think", "thinking_token_budget": 5"#
        let plain = try await server.post("/v1/chat/completions", request + "}").json()
        let message = try XCTUnwrap((plain["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
        let reasoning = try XCTUnwrap(message["reasoning"] as? String)
        XCTAssertEqual(message["reasoning_content"] as? String, reasoning)
        XCTAssert(reasoning.hasSuffix(Self.close), reasoning)
        let usage = try XCTUnwrap(plain["usage"] as? [String: Any])
        XCTAssertEqual((usage["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int, 5 + 6)
        XCTAssertEqual(usage["reasoning_tokens"] as? Int, 5 + 6)
        XCTAssertEqual(plain["think_truncated"] as? Bool, true)

        let streamed = try await server.post("/v1/chat/completions",
                                             request + #", "stream": true, "stream_options": {"include_usage": true}}"#)
        XCTAssertEqual(streamed.status, 200, streamed.text)
        let payloads = streamed.text.components(separatedBy: "\n\n").filter { $0.hasPrefix("data: {") }
        let chunks = try payloads.map { p -> [String: Any] in
            guard let o = try JSONSerialization.jsonObject(with: Data(p.dropFirst(6).utf8)) as? [String: Any] else { throw TestError("not an object: \(p)") }
            return o
        }
        var streamedReasoning = "", reasoningDeltas = 0
        for c in chunks {
            guard let d = (c["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] else { continue }
            XCTAssertEqual(d["reasoning_content"] as? String, d["reasoning"] as? String, "\(d)")
            if let r = d["reasoning"] as? String { streamedReasoning += r; reasoningDeltas += 1 }
        }
        XCTAssertGreaterThan(reasoningDeltas, 1)
        XCTAssertEqual(streamedReasoning, reasoning)
        let last = try XCTUnwrap(chunks.last)
        XCTAssertEqual((last["choices"] as? [Any])?.count, 0)
        let streamedUsage = try XCTUnwrap(last["usage"] as? [String: Any])
        XCTAssertEqual((streamedUsage["completion_tokens_details"] as? [String: Any])?["reasoning_tokens"] as? Int, 5 + 6)

        let completion = try await server.post("/v1/completions", #"{"prompt": "2+3=", "max_tokens": 58, "routing": "think", "thinking_token_budget": 5}"#).json()
        let choice = try XCTUnwrap((completion["choices"] as? [[String: Any]])?.first)
        XCTAssertEqual(choice["reasoning_content"] as? String, choice["reasoning"] as? String)
        XCTAssertEqual(choice["reasoning"] as? String, reasoning, "the same prompt, greedy: the same trace")
        try await server.stop()
    }

    /// The closing text is there exactly when thinking was cut, and reasoning_tokens counts it.
    func testClosingTextExactlyWhenThinkingIsCut() async throws {
        let server = try await start()
        func post(_ fields: String) async throws -> (reasoning: String, tokens: Int, truncated: Bool) {
            let o = try await server.post("/v1/completions", #"{"prompt": "2+3=", "max_tokens": 58\#(fields)}"#).json()
            let choice = try XCTUnwrap((o["choices"] as? [[String: Any]])?.first)
            return (try XCTUnwrap(choice["reasoning"] as? String), try XCTUnwrap((o["usage"] as? [String: Any])?["reasoning_tokens"] as? Int),
                    try XCTUnwrap(o["think_truncated"] as? Bool))
        }
        for cap in [0, 1, 9] {
            let r = try await post(#", "routing": "think", "thinking_token_budget": \#(cap)"#)
            XCTAssertTrue(r.truncated)
            XCTAssert(r.reasoning.hasSuffix(Self.close), r.reasoning)
            XCTAssertEqual(r.tokens, cap + 6)
        }
        let zero = try await post(#", "routing": "think", "thinking_token_budget": 0"#)
        XCTAssertEqual(zero.reasoning, Self.close)
        let short = try await post(#", "routing": "short""#)
        XCTAssertFalse(short.truncated)
        XCTAssertEqual(short.reasoning, "")
        XCTAssertEqual(short.tokens, 0)
        try await server.stop()

        // With an empty closing text, a cut forces </think> alone.
        let bare = try await start { $0.thinkCloseText = "" }
        let o = try await bare.post("/v1/completions", #"{"prompt": "2+3=", "max_tokens": 58, "routing": "think", "thinking_token_budget": 0}"#).json()
        XCTAssertEqual((o["choices"] as? [[String: Any]])?.first?["reasoning"] as? String, "")
        XCTAssertEqual((o["usage"] as? [String: Any])?["reasoning_tokens"] as? Int, 0)
        XCTAssertEqual(o["think_truncated"] as? Bool, true)
        try await bare.stop()
    }
}
