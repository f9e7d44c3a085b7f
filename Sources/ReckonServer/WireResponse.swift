// The response bodies of the generation endpoints, whole and streamed chunks, in OpenAI's shapes with Reckon's fields.

import ReckonRuntime

/// The response bodies of the generation endpoints, in OpenAI's shapes, with Reckon's
/// additions: `reasoning` beside the answer (also as `reasoning_content`, the name DeepSeek's API
/// and vLLM before 0.11 use), `usage.reasoning_tokens`, and the top-level
/// `mode`, `p_think` and `budget_action` (null when the budget never got in the way).
enum WireResponse {
    static func usage(_ r: RequestResult, promptTokens: Int) -> JSON {
        .object([
            ("prompt_tokens", .int(promptTokens)),
            ("completion_tokens", .int(r.tokens.count)),
            ("total_tokens", .int(promptTokens + r.tokens.count)),
            ("reasoning_tokens", .int(r.reasoningTokens)),
            ("completion_tokens_details", .object([("reasoning_tokens", .int(r.reasoningTokens))])),
        ])
    }

    static func finishReason(_ r: RequestResult) -> JSON {
        switch r.finishReason {
        case .stop: .string("stop")
        case .length: .string("length")
        case .rejected: .string("rejected")
        case .cancelled: .string("cancelled")
        }
    }

    /// `mode`, `p_think`, `budget_action`, and the rest of what the runtime says about a request.
    static func routing(_ r: RequestResult, correct: Bool?) -> [(String, JSON)] {
        var fields: [(String, JSON)] = [
            ("mode", .optional(r.mode?.rawValue)),
            ("p_think", .optional(r.pThink)),
            ("budget_action", .optional(r.budgetAction?.rawValue)),
            ("think_truncated", .bool(r.thinkTruncated)),
            ("group", .string(r.group)),
        ]
        if let t = r.loadThreshold { fields.append(("load_threshold", .double(t))) }
        if let correct { fields.append(("correct", .bool(correct))) }
        return fields
    }

    private static func head(_ p: PreparedRequest, object: String) -> [(String, JSON)] {
        [("id", .string(p.responseID)), ("object", .string(object)), ("created", .int(p.created)), ("model", .string(p.model))]
    }

    /// The whole response of a request that did not stream.
    static func complete(_ p: PreparedRequest, _ r: RequestResult, correct: Bool?) -> JSON {
        let choice: JSON
        switch p.endpoint {
        case .completions:
            choice = .object([
                ("index", .int(0)), ("text", .string(r.answer)), ("reasoning", .string(r.reasoning)),
                ("reasoning_content", .string(r.reasoning)),
                ("logprobs", .null), ("finish_reason", finishReason(r)),
            ])
        case .chat:
            choice = .object([
                ("index", .int(0)),
                ("message", .object([("role", .string("assistant")), ("content", .string(r.answer)), ("reasoning", .string(r.reasoning)),
                                        ("reasoning_content", .string(r.reasoning))])),
                ("logprobs", .null), ("finish_reason", finishReason(r)),
            ])
        }
        let object = p.endpoint == .chat ? "chat.completion" : "text_completion"
        return .object(head(p, object: object) + [("choices", .array([choice])), ("usage", usage(r, promptTokens: p.request.prompt.count))]
                       + routing(r, correct: correct))
    }

    // MARK: streaming

    /// A chunk with text (and, on the last one, the finish reason and routing fields).
    static func chunk(_ p: PreparedRequest, delta: StreamText.Delta, role: Bool = false, finished: RequestResult? = nil,
                      correct: Bool? = nil) -> JSON {
        let finish: JSON = finished.map(finishReason) ?? .null
        let choice: JSON
        switch p.endpoint {
        case .completions:
            var fields: [(String, JSON)] = [("index", .int(0)), ("text", .string(delta.content))]
            if !delta.reasoning.isEmpty { fields += [("reasoning", .string(delta.reasoning)), ("reasoning_content", .string(delta.reasoning))] }
            choice = .object(fields + [("logprobs", .null), ("finish_reason", finish)])
        case .chat:
            var d: [(String, JSON)] = []
            if role { d.append(("role", .string("assistant"))) }
            if !delta.reasoning.isEmpty { d += [("reasoning", .string(delta.reasoning)), ("reasoning_content", .string(delta.reasoning))] }
            if !delta.content.isEmpty || role { d.append(("content", .string(delta.content))) }
            choice = .object([("index", .int(0)), ("delta", .object(d)), ("logprobs", .null), ("finish_reason", finish)])
        }
        var fields = head(p, object: p.endpoint == .chat ? "chat.completion.chunk" : "text_completion") + [("choices", .array([choice]))]
        if p.includeUsage { fields.append(("usage", .null)) }
        if let finished { fields += routing(finished, correct: correct) }
        return .object(fields)
    }

    /// The last chunk under `stream_options.include_usage`: no choices, the usage.
    static func usageChunk(_ p: PreparedRequest, _ r: RequestResult) -> JSON {
        .object(head(p, object: p.endpoint == .chat ? "chat.completion.chunk" : "text_completion")
                + [("choices", .array([])), ("usage", usage(r, promptTokens: p.request.prompt.count))])
    }
}
