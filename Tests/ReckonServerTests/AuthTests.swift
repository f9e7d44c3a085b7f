import Foundation
import XCTest
@testable import ReckonServer

/// `--api-key` is deny-by-default: only the exact path `/health` is open. Paths the router
/// would normalise onto a protected handler (`//v1/…`, `/v1//…`, a trailing slash,
/// percent-encoded slashes) and methods other than the route's own must all get 401.
final class AuthTests: XCTestCase {
    static let key = "sk-secret"
    static let body = #"{"prompt": "1+1=", "max_tokens": 2}"#

    /// Every spelling of every protected route, as sent on the request line.
    static let protectedPaths = [
        "/v1/completions", "//v1/completions", "/v1//completions", "/v1/completions/", "///v1///completions",
        "/v1%2Fcompletions", "/%2Fv1%2Fcompletions", "/v1/%63ompletions",
        "/v1/chat/completions", "//v1/chat/completions", "/v1/chat//completions", "/v1/chat/completions/",
        "/v1/models", "//v1/models", "/v1/models/", "/v1//models", "/v1/models/tiny", "//v1/models/tiny", "/v1/models%2Ftiny",
        "/metrics", "/metrics/", "//metrics", "/%2Fmetrics", "/metrics%2F", "/%6Detrics",
        // Not /health exactly: closed as well.
        "/health/", "//health", "/%68ealth", "/health%2F",
        // Unknown paths: denied before they could be routed anywhere.
        "/", "/v1", "/nothing", "/v2/completions",
    ]

    func testEveryPathButHealthNeedsTheKey() async throws {
        let server = try await TestServer.start { $0.apiKey = Self.key }
        var opened: [String] = []
        for path in Self.protectedPaths {
            for method in ["GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE"] {
                let body: [UInt8]? = method == "POST" ? Array(Self.body.utf8) : nil
                let reply = try await HTTPTestClient.exchange(port: server.port, method: method, path: path,
                                                              headers: ["Content-Type": "application/json"], body: body)
                if reply.status != 401 { opened.append("\(method) \(path) → \(reply.status)") }
                if reply.status == 401 { XCTAssertEqual(reply.headers["www-authenticate"], "Bearer", "\(method) \(path)") }
            }
        }
        XCTAssertEqual(opened, [], "answered without the key")
        // A request target that is not a path is refused by the HTTP parser before any route.
        let malformed = try await HTTPTestClient.exchange(port: server.port, method: "GET", path: "%2Fv1%2Fcompletions")
        XCTAssertEqual(malformed.status, 400)
        // The key opens the canonical routes.
        let auth = ["Authorization": "Bearer \(Self.key)"]
        let completion = try await server.post("/v1/completions", Self.body, headers: auth)
        XCTAssertEqual(completion.status, 200, completion.text)
        let metrics = try await server.get("/metrics", headers: auth)
        XCTAssertEqual(metrics.status, 200)
        let models = try await server.get("/v1/models", headers: auth)
        XCTAssertEqual(models.status, 200)
        // Exactly /health stays open, with or without a query string.
        for path in ["/health", "/health?probe=1"] {
            let health = try await server.get(path)
            XCTAssertEqual(health.status, 200, path)
        }
        // Nothing was generated for an unauthenticated request: one completion in the counters.
        XCTAssert(metrics.text.contains(#"reckon_requests_total{group="default"} 1"# + "\n"), metrics.text)
        try await server.stop()
    }

    func testDecisionUsesTheRawPath() {
        XCTAssertFalse(AuthPolicy.needsKey("/health"))
        for p in ["/health/", "//health", "/Health", "/health ", "", "/metrics/", "//v1/models"] { XCTAssertTrue(AuthPolicy.needsKey(p), p) }
    }
}
