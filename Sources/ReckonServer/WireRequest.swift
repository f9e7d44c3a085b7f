// The request body of the generation endpoints as sent, and parsing it with a 400 naming the field at fault.

import Foundation

/// The body of `POST /v1/completions` or `POST /v1/chat/completions`, as sent: OpenAI's
/// fields (with `reasoning_effort`) plus Reckon's extensions (`routing`, `thinking_token_budget`,
/// `group`, `priority`, `expected_answer`). Unknown fields are ignored, as OpenAI-compatible servers do.
public struct WireRequest: Decodable, Sendable {
    public var model: String?
    /// Completions: a string (or an array holding one string).
    public var prompt: String?
    /// Chat: the conversation; the last user message is the prompt.
    public var messages: [ChatMessage]?
    public var maxTokens: Int?
    public var maxCompletionTokens: Int?
    public var temperature: Float?
    public var topP: Float?
    public var topK: Int?
    public var seed: Int64?
    public var stop: [String]?
    public var stream: Bool?
    public var streamOptions: StreamOptions?
    public var n: Int?
    /// `none`, `low`, `medium` or `high` (ReasoningEffort); checked by RequestBuilder.
    public var reasoningEffort: String?
    // Extensions.
    public var routing: String?
    public var thinkingTokenBudget: Int?
    public var group: String?
    public var priority: Int?
    /// The gold answer: the response then says whether the answer was correct, and the
    /// per-group accuracy counters move (for a live fairness audit).
    public var expectedAnswer: String?

    public struct StreamOptions: Decodable, Sendable {
        public var includeUsage: Bool?
    }

    public struct ChatMessage: Decodable, Sendable {
        public var role: String
        /// The text: a string, or the `text` of an array of content parts.
        public var content: String?

        enum CodingKeys: String, CodingKey { case role, content }
        struct Part: Decodable { var type: String; var text: String? }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decode(String.self, forKey: .role)
            if try c.decodeNil(forKey: .content) {
                content = nil
            } else if let s = try? c.decode(String.self, forKey: .content) {
                content = s
            } else if let c = try? c.decodeIfPresent([Part].self, forKey: .content) {
                guard c.allSatisfy({ $0.type == "text" }) else {
                    throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [CodingKeys.content],
                                                            debugDescription: "only text content parts are supported"))
                }
                content = c.compactMap(\.text).joined()
            } else {
                throw DecodingError.typeMismatch(String.self, .init(codingPath: decoder.codingPath + [CodingKeys.content],
                                                                    debugDescription: "expected a string or an array of text parts"))
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case model, prompt, messages, maxTokens, maxCompletionTokens, temperature, topP, topK, seed, stop, stream
        case streamOptions, n, reasoningEffort, routing, thinkingTokenBudget, group, priority, expectedAnswer
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        if c.contains(.prompt), !(try c.decodeNil(forKey: .prompt)) {
            if let s = try? c.decode(String.self, forKey: .prompt) {
                prompt = s
            } else {
                let list = try c.decode([String].self, forKey: .prompt)
                guard list.count == 1 else {
                    throw DecodingError.dataCorrupted(.init(codingPath: [CodingKeys.prompt],
                                                            debugDescription: "only one prompt per request is supported, got \(list.count)"))
                }
                prompt = list[0]
            }
        }
        messages = try c.decodeIfPresent([ChatMessage].self, forKey: .messages)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        maxCompletionTokens = try c.decodeIfPresent(Int.self, forKey: .maxCompletionTokens)
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Float.self, forKey: .topP)
        topK = try c.decodeIfPresent(Int.self, forKey: .topK)
        seed = try c.decodeIfPresent(Int64.self, forKey: .seed)
        if c.contains(.stop), !(try c.decodeNil(forKey: .stop)) {
            if let s = try? c.decode(String.self, forKey: .stop) { stop = [s] } else { stop = try c.decode([String].self, forKey: .stop) }
        }
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
        streamOptions = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)
        n = try c.decodeIfPresent(Int.self, forKey: .n)
        reasoningEffort = try c.decodeIfPresent(String.self, forKey: .reasoningEffort)
        routing = try c.decodeIfPresent(String.self, forKey: .routing)
        thinkingTokenBudget = try c.decodeIfPresent(Int.self, forKey: .thinkingTokenBudget)
        group = try c.decodeIfPresent(String.self, forKey: .group)
        priority = try c.decodeIfPresent(Int.self, forKey: .priority)
        expectedAnswer = try c.decodeIfPresent(String.self, forKey: .expectedAnswer)
    }

    /// Parses a request body: 400 `invalid_utf8` for bytes that are not UTF-8, 400
    /// `invalid_json` for text that is not a JSON object, 400 `invalid_parameter` naming the
    /// field for a value of the wrong type.
    public static func parse(_ body: [UInt8]) throws(APIError) -> WireRequest {
        guard isValidUTF8(body) else {
            throw .invalid("the request body is not valid UTF-8", code: "invalid_utf8")
        }
        let data = Data(body)
        // Syntax first, so a syntax error is reported as such and not as a missing field.
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) } catch {
            throw .invalid("the request body is not valid JSON", code: "invalid_json")
        }
        guard let fields = object as? [String: Any] else { throw .invalid("the request body must be a JSON object {...}", code: "invalid_json") }
        try checkNumbers(fields)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do { return try decoder.decode(WireRequest.self, from: data) } catch let error as DecodingError {
            throw Self.describe(error)
        } catch {
            throw .invalid("the request body could not be read: \(error)", code: "invalid_json")
        }
    }

    /// Integer fields, decoded as 64-bit integers.
    static let integerFields = ["max_tokens", "max_completion_tokens", "top_k", "seed", "n", "thinking_token_budget", "priority"]
    /// Number fields, decoded as 32-bit floats.
    static let floatFields = ["temperature", "top_p"]

    /// A number the decoder cannot hold (1.5 or 1e300 for an integer, 2⁶⁴ for the seed, 1e39
    /// for a 32-bit float) gets a 400 naming its field; the decoder alone would report it as
    /// a body that is not valid JSON. Values of the wrong type are left to the decoder.
    static func checkNumbers(_ fields: [String: Any]) throws(APIError) {
        for name in integerFields {
            guard let v = fields[name], let n = v as? NSNumber, !(v is Bool) else { continue }
            guard (v as? Int64) == nil else { continue }
            throw .invalid("field \"\(name)\" must be a whole number from \(Int64.min) to \(Int64.max), got \(n)", param: name)
        }
        for name in floatFields {
            guard let v = fields[name], let n = v as? NSNumber, !(v is Bool) else { continue }
            if n.doubleValue.magnitude <= Double(Float.greatestFiniteMagnitude) { continue }
            throw .invalid("field \"\(name)\" is out of range: \(n) does not fit a 32-bit float", param: name)
        }
    }

    /// Whether `bytes` is well-formed UTF-8 (no stray continuation bytes, overlongs or surrogates).
    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    static func describe(_ error: DecodingError) -> APIError {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { k in k.intValue.map { "[\($0)]" } ?? Self.snakeCase(k.stringValue) }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .typeMismatch(let type, let ctx):
            let field = path(ctx.codingPath)
            return .invalid("field \"\(field)\" has the wrong type (expected \(Self.typeName(type)))", param: field)
        case .valueNotFound(let type, let ctx):
            let field = path(ctx.codingPath)
            return .invalid("field \"\(field)\" must not be null (expected \(Self.typeName(type)))", param: field)
        case .keyNotFound(let key, let ctx):
            let field = path(ctx.codingPath + [key])
            return .invalid("missing required field \"\(field)\"", param: field)
        case .dataCorrupted(let ctx):
            let field = path(ctx.codingPath)
            if field.isEmpty { return .invalid("the request body is not valid JSON", code: "invalid_json") }
            return .invalid("field \"\(field)\": \(ctx.debugDescription)", param: field)
        @unknown default:
            return .invalid("the request body could not be read", code: "invalid_json")
        }
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Float.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is [String].Type: "an array of strings"
        default: "\(type)"
        }
    }

    static func snakeCase(_ s: String) -> String {
        var out = ""
        for ch in s {
            if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
        }
        return out
    }
}
