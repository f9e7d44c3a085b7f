// Server-sent events for `"stream": true`: a request's engine updates as SSE events; the text deltas are
// StreamText.swift's, the chunk bodies WireResponse.swift's.

import Hummingbird
import ReckonModel

/// Server-sent events for `"stream": true`: one `data: {json}\n\n` event per chunk, and
/// `data: [DONE]\n\n` at the end.
enum SSE {
    static func event(_ json: JSON) -> String { "data: " + json.serialized + "\n\n" }
    static let done = "data: [DONE]\n\n"

    static var headers: HTTPFields {
        [.contentType: "text/event-stream", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no"]
    }
}

/// Turns a request's engine updates into SSE events.
struct SSEStream {
    let prepared: PreparedRequest
    private var text: StreamText
    private var sentRole = false

    init(_ p: PreparedRequest, roles: TokenRoles = .bytes) {
        prepared = p
        text = StreamText(stops: p.request.stop, roles: roles)
    }

    /// The events for one update; `finished` once the stream is over.
    mutating func events(for update: EngineUpdate) -> (events: [String], finished: Bool) {
        var out: [String] = []
        if prepared.endpoint == .chat && !sentRole {
            // The first chunk announces the assistant's role, as OpenAI's does.
            sentRole = true
            out.append(SSE.event(WireResponse.chunk(prepared, delta: .init(), role: true)))
        }
        switch update {
        case .token(let e):
            let d = text.accept(e)
            if !d.isEmpty { out.append(SSE.event(WireResponse.chunk(prepared, delta: d))) }
            return (out, false)
        case .finished(let r, let correct):
            let d = text.finish()
            out.append(SSE.event(WireResponse.chunk(prepared, delta: d, finished: r, correct: correct)))
            if prepared.includeUsage { out.append(SSE.event(WireResponse.usageChunk(prepared, r))) }
            out.append(SSE.done)
            return (out, true)
        case .refused(let error):
            // Headers are already out: the error travels as an event, then the stream ends.
            out.append(SSE.event(error.json))
            out.append(SSE.done)
            return (out, true)
        }
    }
}

/// Hands a stream's iterator from the handler (which reads the first update, to answer
/// 429 before any header is sent) to the response body writer. Used by one task at a time.
final class UpdateIterator: @unchecked Sendable {
    private var iterator: AsyncStream<EngineUpdate>.Iterator

    init(_ stream: AsyncStream<EngineUpdate>) { iterator = stream.makeAsyncIterator() }

    func next() async -> EngineUpdate? { await iterator.next() }
}
