import Foundation
@testable import ReckonRuntime
import XCTest
@testable import ReckonServer

/// Server-sent events: framing, `[DONE]`, usage, and the same text as without streaming.
final class StreamingTests: XCTestCase {
    /// Splits an SSE body into its `data:` payloads, checking the framing on the way.
    func events(_ reply: HTTPReply, file: StaticString = #filePath, line: UInt = #line) throws -> [String] {
        XCTAssertEqual(reply.status, 200, reply.text, file: file, line: line)
        XCTAssertEqual(reply.headers["content-type"], "text/event-stream", file: file, line: line)
        let text = reply.text
        XCTAssert(text.hasSuffix("data: [DONE]\n\n"), "ends with [DONE]: \(text.suffix(80))", file: file, line: line)
        let frames = text.components(separatedBy: "\n\n").dropLast()  // after the last "\n\n": nothing
        XCTAssertEqual(text.components(separatedBy: "\n\n").last, "", file: file, line: line)
        return try frames.map { frame in
            guard frame.hasPrefix("data: "), !frame.dropFirst(6).contains("\n") else { throw TestError("bad SSE frame: \(frame)") }
            return String(frame.dropFirst(6))
        }
    }

    func object(_ s: String) throws -> [String: Any] {
        guard let o = try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any] else { throw TestError("not an object: \(s)") }
        return o
    }

    func testChatStreamFramingUsageAndText() async throws {
        let server = try await TestServer.start()
        let request = #"{"messages": [{"role": "user", "content": "12+30="}], "max_tokens": 30, "routing": "think", "stop": ["\n\n", "zz"]"#
        let plain = try await server.post("/v1/chat/completions", request + "}").json()
        let streamed = try await server.post("/v1/chat/completions",
                                             request + #", "stream": true, "stream_options": {"include_usage": true}}"#)
        let payloads = try events(streamed)
        XCTAssertEqual(payloads.last, "[DONE]")
        let chunks = try payloads.dropLast().map(object)
        XCTAssertGreaterThanOrEqual(chunks.count, 3)
        for c in chunks {
            XCTAssertEqual(c["object"] as? String, "chat.completion.chunk")
            XCTAssertEqual(c["id"] as? String, chunks[0]["id"] as? String, "one id per stream")
        }
        // First: the role. Last: no choices, the usage. Before it: the finish reason and routing.
        let first = try XCTUnwrap((chunks[0]["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])
        XCTAssertEqual(first["role"] as? String, "assistant")
        let usageChunk = try XCTUnwrap(chunks.last)
        XCTAssertEqual((usageChunk["choices"] as? [Any])?.count, 0)
        let usage = try XCTUnwrap(usageChunk["usage"] as? [String: Any])
        XCTAssertEqual(NSDictionary(dictionary: usage), NSDictionary(dictionary: try XCTUnwrap(plain["usage"] as? [String: Any])))
        let finish = chunks[chunks.count - 2]
        let finishChoice = try XCTUnwrap((finish["choices"] as? [[String: Any]])?.first)
        let plainChoice = try XCTUnwrap((plain["choices"] as? [[String: Any]])?.first)
        XCTAssertEqual(finishChoice["finish_reason"] as? String, plainChoice["finish_reason"] as? String)
        XCTAssertEqual(finish["mode"] as? String, "think")
        XCTAssertEqual(finish["p_think"] as? Double, plain["p_think"] as? Double)
        XCTAssert(finish["budget_action"] is NSNull)
        for c in chunks.dropLast() { XCTAssert(c["usage"] is NSNull, "usage is null until the last chunk") }
        // The deltas add up to the message.
        var content = "", reasoning = ""
        for c in chunks {
            guard let d = (c["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] else { continue }
            content += d["content"] as? String ?? ""
            reasoning += d["reasoning"] as? String ?? ""
        }
        let message = try XCTUnwrap(plainChoice["message"] as? [String: Any])
        XCTAssertEqual(content, message["content"] as? String)
        XCTAssertEqual(reasoning, message["reasoning"] as? String)
        try await server.stop()
    }

    func testCompletionStreamWithoutUsage() async throws {
        let server = try await TestServer.start()
        let request = #"{"prompt": "99-1=", "max_tokens": 25, "routing": "think""#
        let plain = try await server.post("/v1/completions", request + "}").json()
        let payloads = try events(try await server.post("/v1/completions", request + #", "stream": true}"#))
        let chunks = try payloads.dropLast().map(object)
        var text = "", reasoning = ""
        for c in chunks {
            XCTAssertEqual(c["object"] as? String, "text_completion")
            XCTAssertNil(c["usage"], "no usage without stream_options.include_usage")
            let choice = try XCTUnwrap((c["choices"] as? [[String: Any]])?.first)
            text += choice["text"] as? String ?? ""
            reasoning += choice["reasoning"] as? String ?? ""
        }
        let plainChoice = try XCTUnwrap((plain["choices"] as? [[String: Any]])?.first)
        XCTAssertEqual(text, plainChoice["text"] as? String)
        XCTAssertEqual(reasoning, plainChoice["reasoning"] as? String)
        XCTAssertNotNil((chunks.last?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String)
        try await server.stop()
    }

    // MARK: the text splitter, without a server

    func feed(_ s: StreamText, _ bytes: [UInt8], part: TokenEvent.Part) -> (StreamText, String) {
        var s = s
        var out = ""
        for b in bytes {
            let d = s.accept(TokenEvent(id: "x", token: Int32(b), part: part))
            out += part == .answer ? d.content : d.reasoning
        }
        return (s, out)
    }

    func testMultibyteCharactersAreNotSplit() {
        let bytes = Array("né 7€ 🙂".utf8)
        var s = StreamText(stops: [])
        var pieces: [String] = []
        for b in bytes {
            let d = s.accept(TokenEvent(id: "x", token: Int32(b), part: .reasoning))
            if !d.reasoning.isEmpty { pieces.append(d.reasoning) }
        }
        XCTAssertEqual(pieces.joined(), "né 7€ 🙂")
        XCTAssert(pieces.allSatisfy { !$0.contains("\u{FFFD}") })
        XCTAssertEqual(s.finish(), StreamText.Delta())
    }

    func testTextThatMayBecomeAStopStringIsHeldBack() {
        // "END" is a stop string: "E" and "EN" wait; "EX" goes out; at the end the answer is cut before "END".
        let (s1, sent) = feed(StreamText(stops: ["END"]), Array("42 EXIT EN".utf8), part: .answer)
        XCTAssertEqual(sent, "42 EXIT ")
        var s2 = s1
        let (s3, more) = feed(s2, Array("D".utf8), part: .answer)
        XCTAssertEqual(more, "")
        s2 = s3
        XCTAssertEqual(s2.finish().content, "")
        var s4 = feed(StreamText(stops: ["END"]), Array("7 E".utf8), part: .answer).0
        XCTAssertEqual(s4.finish().content, "E", "a held prefix that never completed is sent at the end")
    }
}
