// The outermost middleware: every error becomes an OpenAI-shaped JSON body, and every status is counted.

import HTTPTypes
import Hummingbird
import NIOCore

/// The outermost middleware: every error becomes a JSON body in OpenAI's shape (404 and
/// 405 included), and every response status is counted.
struct OpenAIErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics
    /// Known paths and the method each answers, for 405 instead of 404.
    let routes: [String: HTTPRequest.Method]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            metrics.recordStatus(response.status.code)
            return response
        } catch {
            var headers: HTTPFields = [:]
            let apiError = convert(error, request: request, headers: &headers)
            // Engine rejections were counted by the engine loop; lost paths are not refusals.
            if apiError.rejectReason == nil, apiError.code != "not_found", apiError.code != "method_not_allowed" {
                metrics.recordRefusal(reason: apiError.metricReason)
            }
            metrics.recordStatus(apiError.status.code)
            return apiError.response(headers: headers)
        }
    }

    func convert(_ error: any Error, request: Request, headers: inout HTTPFields) -> APIError {
        switch error {
        case let e as APIError:
            return e
        case let e as HTTPError:
            if e.status == .notFound, let allowed = routes[request.uri.path] {
                headers[.allow] = allowed.rawValue
                return APIError(status: .methodNotAllowed, message: "\(request.method.rawValue) is not allowed on \(request.uri.path); use \(allowed.rawValue)",
                                type: "invalid_request_error", code: "method_not_allowed")
            }
            if e.status == .notFound {
                return APIError(status: .notFound, message: "no such endpoint: \(request.method.rawValue) \(request.uri.path)",
                                type: "invalid_request_error", code: "not_found")
            }
            if e.status == .contentTooLarge { return .bodyTooLarge(limit: 0) }
            return APIError(status: e.status, message: e.body ?? e.status.reasonPhrase,
                            type: e.status.code >= 500 ? "server_error" : "invalid_request_error",
                            code: e.status.reasonPhrase.lowercased().replacingOccurrences(of: " ", with: "_"))
        case is NIOTooManyBytesError:
            return APIError(status: .contentTooLarge, message: "the request body is too large", type: "invalid_request_error",
                            code: "body_too_large")
        default:
            return .internalError("\(error)")
        }
    }
}
