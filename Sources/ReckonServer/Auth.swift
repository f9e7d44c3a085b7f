import HTTPTypes
import Hummingbird

/// Bearer-token authentication (`--api-key`): `/v1/*` and `/metrics` need
/// `Authorization: Bearer <key>`; `/health` stays open for liveness probes.
struct BearerAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: [UInt8]

    init(key: String) { self.key = Array(key.utf8) }

    static func protects(_ path: String) -> Bool { path.hasPrefix("/v1/") || path == "/v1" || path == "/metrics" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard Self.protects(request.uri.path) else { return try await next(request, context) }
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
