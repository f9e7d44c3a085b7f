// A wire request checked against the server's limits and turned into an engine `Request`; parsing the
// body is WireRequest.swift's.

import Foundation
import ReckonModel
import ReckonRuntime

/// The two generation endpoints.
public enum Endpoint: String, Sendable {
    case completions = "/v1/completions"
    case chat = "/v1/chat/completions"
}

/// A validated request: what the engine runs, and how to answer.
struct PreparedRequest: Sendable {
    var request: Request
    var endpoint: Endpoint
    var stream: Bool
    var includeUsage: Bool
    var expectedAnswer: String?
    /// `cmpl-…` or `chatcmpl-…`, also the engine's request id.
    var responseID: String
    var created: Int
    var model: String
}

/// Checks a wire request against the server's limits and turns it into an engine `Request`.
final class RequestBuilder: @unchecked Sendable {
    let config: ServerConfig
    let contextLength: Int
    /// The model's tokenizer and chat template: every prompt is made with them.
    let text: ModelText
    /// `config.thinkCloseText` in tokens, forced before `</think>` when a think is cut.
    let thinkClose: [Int32]
    private let lock = NSLock()
    private var issued: UInt64 = 0

    init(config: ServerConfig, contextLength: Int, text: ModelText = .bytes()) {
        self.config = config
        self.contextLength = contextLength
        self.text = text
        thinkClose = text.tokenizer.encode(config.thinkCloseText, parseSpecials: false)
    }

    /// Largest `max_tokens` accepted.
    var maxTokensLimit: Int { config.maxTokensLimit ?? contextLength }
    /// Longest prompt accepted, in tokens.
    var maxPromptTokens: Int { min(config.maxPromptTokens ?? Int.max, contextLength - 1) }

    private func next() -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        issued += 1
        return issued
    }

    func build(_ wire: WireRequest, endpoint: Endpoint) throws(APIError) -> PreparedRequest {
        if let model = wire.model, model != config.modelName {
            throw APIError(status: .notFound, message: "the model \"\(model)\" does not exist; this server serves \"\(config.modelName)\"",
                           type: "invalid_request_error", code: "model_not_found", param: "model")
        }
        if let n = wire.n, n != 1 { throw .invalid("only n = 1 is supported, got \(n)", param: "n") }

        // "routing": "none" (and, on a model without control tokens, the default) asks for a
        // plain generation: no control token, the raw text or the chat template.
        let plain = wire.routing == "none" || (wire.routing == nil && text.roles.control == nil)
        let prompt: [Int32]
        switch endpoint {
        case .completions:
            guard let p = wire.prompt else { throw .invalid("missing required field \"prompt\"", param: "prompt") }
            prompt = try Self.make { () throws(PromptError) in plain ? text.rawPrompt(p) : try text.routedPrompt(p) }
        case .chat:
            guard let messages = wire.messages else { throw .invalid("missing required field \"messages\"", param: "messages") }
            guard messages.contains(where: { $0.role == "user" }) else {
                throw .invalid("\"messages\" has no message with role \"user\"", param: "messages")
            }
            let conversation = messages.map { ReckonModel.ChatMessage(role: $0.role, content: $0.content ?? "") }
            prompt = try Self.make { () throws(PromptError) in plain ? try text.chatPrompt(conversation) : try text.routedChatPrompt(conversation) }
        }
        guard prompt.count <= maxPromptTokens else {
            throw APIError(status: .badRequest,
                           message: "the prompt is \(prompt.count) tokens (as the model's tokenizer and template make it); the limit is \(maxPromptTokens)",
                           type: "invalid_request_error", code: "prompt_too_long", param: endpoint == .chat ? "messages" : "prompt")
        }

        let maxTokens = wire.maxCompletionTokens ?? wire.maxTokens ?? min(config.defaults.maxTokens, maxTokensLimit)
        let maxParam = wire.maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens"
        guard maxTokens >= 1, maxTokens <= maxTokensLimit else {
            throw .invalid("\(maxParam) must be between 1 and \(maxTokensLimit), got \(maxTokens)", code: "invalid_max_tokens", param: maxParam)
        }

        var sampling = config.defaults.sampling
        if let t = wire.temperature { sampling.temperature = t }
        if let p = wire.topP { sampling.topP = p }
        if let k = wire.topK { sampling.topK = k }
        do { try sampling.validate() } catch {
            throw .invalid("\(error)".replacingOccurrences(of: "invalid sampling parameters: ", with: ""))
        }

        // reasoning_effort sets routing and the cap; the request's own fields override each.
        var effort: ReasoningEffort?
        if let e = wire.reasoningEffort {
            guard let parsed = ReasoningEffort(rawValue: e) else {
                throw .invalid("reasoning_effort must be one of \(ReasoningEffort.accepted), got \"\(e)\"", param: "reasoning_effort")
            }
            effort = parsed
        }
        var routing = effort?.routing(serverDefault: config.defaults.routing) ?? config.defaults.routing
        if let r = wire.routing, r != "none" {
            do { routing = try RoutingPolicy(parsing: r) } catch { throw .invalid("\(error)", param: "routing") }
        }
        let defaultBudget = effort.map { $0.thinkingCap(serverDefault: config.defaults.thinkingTokenBudget) }
            ?? config.defaults.thinkingTokenBudget
        let thinkingBudget = wire.thinkingTokenBudget ?? defaultBudget
        if let b = thinkingBudget, b < 0 {
            throw .invalid("thinking_token_budget must be ≥ 0, got \(b)", param: "thinking_token_budget")
        }
        let group = wire.group ?? "default"
        guard Self.isValidGroup(group) else {
            throw .invalid("group must be 1 to 64 characters of A-Z a-z 0-9 _ . : -, got \"\(group)\"", param: "group")
        }
        let stops = (wire.stop ?? []).filter { !$0.isEmpty }
        guard stops.count <= 16 else { throw .invalid("at most 16 stop strings, got \(stops.count)", param: "stop") }
        // Each generated token adds at most one byte to the answer: a longer stop never matches.
        if let long = stops.first(where: { $0.utf8.count > contextLength }) {
            throw .invalid("a stop string of \(long.utf8.count) bytes is longer than the model's \(contextLength)-token context", param: "stop")
        }
        if let options = wire.streamOptions, options.includeUsage != nil, wire.stream != true {
            throw .invalid("stream_options is only allowed with \"stream\": true", param: "stream_options")
        }

        let n = next()
        let seed = wire.seed.map { UInt64(bitPattern: $0) } ?? Request.seed(base: config.defaults.seed, number: n)
        let id = (endpoint == .chat ? "chatcmpl-" : "cmpl-") + String(n, radix: 16) + "-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let request = Request(id: id, prompt: prompt, group: group, routing: routing, sampling: sampling, seed: seed,
                              maxTokens: maxTokens, stop: stops, thinkingTokenBudget: thinkingBudget, priority: wire.priority ?? 0,
                              thinkClose: thinkClose, plain: plain)
        return PreparedRequest(request: request, endpoint: endpoint, stream: wire.stream ?? false,
                               includeUsage: wire.streamOptions?.includeUsage ?? false, expectedAnswer: wire.expectedAnswer,
                               responseID: id, created: Int(Date().timeIntervalSince1970), model: config.modelName)
    }

    /// A prompt, or the 400 that says why the model cannot take it.
    private static func make(_ prompt: () throws(PromptError) -> [Int32]) throws(APIError) -> [Int32] {
        do throws(PromptError) { return try prompt() } catch {
            throw .invalid("\(error)", param: error == .noControlTokens ? "routing" : nil)
        }
    }

    /// Group names become metric labels: short, and of a safe alphabet.
    static func isValidGroup(_ g: String) -> Bool {
        (1...64).contains(g.utf8.count) && g.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2E || c == 0x3A || c == 0x2D
        }
    }
}
