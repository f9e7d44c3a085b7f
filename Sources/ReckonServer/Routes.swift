// The HTTP endpoints and their handlers: generation (plain and streamed), models, health and metrics.

import Foundation
import HTTPTypes
import Hummingbird
import ReckonModel
import ReckonRuntime

/// The endpoints: generation (`/v1/completions`, `/v1/chat/completions`), `/v1/models`,
/// `/health` and `/metrics`.
struct Routes: Sendable {
    let builder: RequestBuilder
    let loop: EngineLoop
    let metrics: ServerMetrics
    let limit: BodyLimit
    let config: ServerConfig
    let started = Int(Date().timeIntervalSince1970)

    static let table: [String: HTTPRequest.Method] = [
        Endpoint.completions.rawValue: .post, Endpoint.chat.rawValue: .post,
        "/v1/models": .get, "/health": .get, "/metrics": .get,
    ]

    func register(on router: Router<BasicRequestContext>) {
        router.post(RouterPath(stringLiteral: Endpoint.completions.rawValue)) { request, _ in
            try await generate(request, endpoint: .completions)
        }
        router.post(RouterPath(stringLiteral: Endpoint.chat.rawValue)) { request, _ in
            try await generate(request, endpoint: .chat)
        }
        router.get("/v1/models") { _, _ in json(models) }
        router.get("/v1/models/{id}") { _, context in
            guard context.parameters.get("id") == config.modelName else {
                throw APIError(status: .notFound, message: "the model \"\(context.parameters.get("id") ?? "")\" does not exist; this server serves \"\(config.modelName)\"",
                               type: "invalid_request_error", code: "model_not_found", param: "model")
            }
            return json(modelEntry)
        }
        router.get("/health") { _, _ in json(health) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
    }

    func json(_ value: JSON, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: value.bytes)))
    }

    var modelEntry: JSON {
        .object([
            ("id", .string(config.modelName)), ("object", .string("model")), ("created", .int(started)),
            ("owned_by", .string("reckon")), ("context_length", .int(builder.contextLength)),
            ("max_tokens_limit", .int(builder.maxTokensLimit)), ("max_prompt_tokens", .int(builder.maxPromptTokens)),
        ])
    }

    var models: JSON { .object([("object", .string("list")), ("data", .array([modelEntry]))]) }

    var health: JSON {
        let g = metrics.engineGauges
        return .object([
            ("status", .string("ok")), ("model", .string(config.modelName)), ("running", .int(g.running)),
            ("waiting_for_slot", .int(g.waitingForSlot)), ("waiting_for_budget", .int(g.waitingForBudget)),
        ])
    }

    // MARK: generation

    func generate(_ request: Request, endpoint: Endpoint) async throws -> Response {
        let body = try await limit.read(request)
        let wire = try WireRequest.parse(body)
        let prepared = try builder.build(wire, endpoint: endpoint)
        let updates = loop.submit(prepared)
        if prepared.stream { return try await stream(prepared, updates) }
        let loop = loop, id = prepared.request.id
        // A handler cancelled (the connection closed under a shutdown deadline) stops decoding.
        return try await withTaskCancellationHandler {
            for await update in updates {
                switch update {
                case .token: continue
                case .refused(let error): throw error
                case .finished(let r, let correct):
                    if r.finishReason == .rejected { throw Self.rejection(r) }
                    return json(WireResponse.complete(prepared, r, correct: correct))
                }
            }
            throw APIError.internalError("the request ended without a result")
        } onCancel: {
            loop.cancel(id: id)
        }
    }

    /// SSE. The status waits for the first update, so a request the engine rejects (queue
    /// full, budget) still gets a 429 with a JSON body instead of an empty stream.
    func stream(_ prepared: PreparedRequest, _ updates: AsyncStream<EngineUpdate>) async throws -> Response {
        let iterator = UpdateIterator(updates)
        guard let first = await iterator.next() else { throw APIError.internalError("the request ended without a result") }
        switch first {
        case .refused(let error): throw error
        case .finished(let r, _) where r.finishReason == .rejected: throw Self.rejection(r)
        default: break
        }
        let loop = loop, id = prepared.request.id, roles = builder.text.roles
        let body = ResponseBody { writer in
            // A write fails once the client has gone: cancel the request so decoding stops
            // and its unspent budget goes back (see docs/http-api.md, "Disconnects").
            do {
                try await withTaskCancellationHandler {
                    var sse = SSEStream(prepared, roles: roles)
                    var update: EngineUpdate? = first
                    while let u = update {
                        let (events, finished) = sse.events(for: u)
                        try await writer.write(ByteBuffer(string: events.joined()))
                        if finished { break }
                        update = await iterator.next()
                    }
                    try await writer.finish(nil)
                } onCancel: {
                    loop.cancel(id: id)
                }
            } catch {
                loop.cancel(id: id)
                throw error
            }
        }
        return Response(status: .ok, headers: SSE.headers, body: body)
    }

    static func rejection(_ r: RequestResult) -> APIError {
        let reason = r.rejectReason?.rawValue ?? "rejected"
        let message: String
        switch r.rejectReason {
        case .queueFull: message = "the server's queue is full; retry later"
        case .budgetExhausted: message = "the thinking budget is exhausted and the budget policy is reject; retry later or ask for routing \"short\""
        case .queueDeadline: message = "the request waited for thinking budget longer than the queue deadline"
        default: message = "the request was not served (\(reason))"
        }
        return .rejected(reason, message: message)
    }
}
