// Errors answered to the client in OpenAI's shape, and their HTTP responses.

import HTTPTypes
import Hummingbird

/// An error answered to the client in the OpenAI shape
/// `{"error": {"message": ..., "type": ..., "code": ...}}`; engine rejections add `reject_reason`.
public struct APIError: Error, Sendable, Equatable {
    public var status: HTTPResponse.Status
    public var message: String
    /// OpenAI's error class: invalid_request_error, authentication_error, rate_limit_error, ...
    public var type: String
    /// Machine-readable: invalid_json, prompt_too_long, queue_full, ...
    public var code: String
    /// For requests the engine would not serve (queue_full, budget_exhausted, queue_deadline_exceeded).
    public var rejectReason: String?
    /// The parameter at fault, when there is one.
    public var param: String?

    public init(status: HTTPResponse.Status, message: String, type: String, code: String,
                rejectReason: String? = nil, param: String? = nil) {
        self.status = status; self.message = message; self.type = type; self.code = code
        self.rejectReason = rejectReason; self.param = param
    }

    public static func invalid(_ message: String, code: String = "invalid_parameter", param: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", code: code, param: param)
    }

    public static func rejected(_ reason: String, message: String) -> APIError {
        APIError(status: .tooManyRequests, message: message, type: "rate_limit_error", code: reason, rejectReason: reason)
    }

    public static let unauthorized = APIError(
        status: .unauthorized, message: "missing or invalid API key: send 'Authorization: Bearer <key>'",
        type: "authentication_error", code: "invalid_api_key")

    public static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, message: "the request body is larger than the server's limit of \(limit) bytes",
                 type: "invalid_request_error", code: "body_too_large")
    }

    public static let shuttingDown = APIError(
        status: .serviceUnavailable, message: "the server is shutting down", type: "server_error", code: "shutting_down")

    public static func internalError(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", code: "internal_error")
    }

    /// The reason label of `reckon_requests_rejected_total` this error counts under.
    var metricReason: String {
        if let rejectReason { return rejectReason }
        switch code {
        case "invalid_api_key": return "unauthorized"
        case "body_too_large", "prompt_too_long", "shutting_down", "not_found", "method_not_allowed", "model_not_found": return code
        default: return status.code >= 500 ? "server_error" : "invalid_request"
        }
    }

    public var json: JSON {
        var fields: [(String, JSON)] = [("message", .string(message)), ("type", .string(type)),
                                         ("param", .optional(param)), ("code", .string(code))]
        if let rejectReason { fields.append(("reject_reason", .string(rejectReason))) }
        return .object([("error", .object(fields))])
    }

    public func response(headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer" }
        if status == .tooManyRequests { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }
}
