// Bearer-token authentication for `--api-key`, and which paths it guards.

import HTTPTypes
import Hummingbird

/// Bearer-token authentication (`--api-key`). Deny by default: every request needs
/// `Authorization: Bearer <key>` except one whose path is exactly `/health` (liveness
/// probes). The path is compared as sent, without normalising it, because the router
/// collapses `//` and ignores a trailing slash: any prefix test on the raw path would let
/// `//v1/completions` or `/metrics/` through to a protected handler.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: [UInt8]

    init(key: String) { self.key = Array(key.utf8) }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard AuthPolicy.needsKey(request.uri.path) else { return try await next(request, context) }
        guard let header = request.headers[.authorization], authorizes(header) else { throw APIError.unauthorized }
        return try await next(request, context)
    }

    /// "Bearer <key>" (scheme case-insensitive), compared in time independent of where the keys differ.
    func authorizes(_ header: String) -> Bool {
        let bytes = Array(header.utf8)
        let scheme = Array("bearer ".utf8)
        guard bytes.count > scheme.count, zip(bytes, scheme).allSatisfy({ ($0 | 0x20) == $1 || ($0 == $1) }) else { return false }
        let given = bytes[scheme.count...].drop { $0 == 0x20 }
        var diff = UInt8(given.count == key.count ? 0 : 1)
        for (i, k) in key.enumerated() {
            let g = i < given.count ? given[given.startIndex + i] : 0
            diff |= g ^ k
        }
        return diff == 0
    }
}

/// Which paths `--api-key` guards: all but exactly `/health`.
enum AuthPolicy {
    /// The only path served without the key.
    static let openPath = "/health"

    static func needsKey(_ path: String) -> Bool { path != openPath }
}
