// The request body size limit (413 without buffering).

import Hummingbird
import NIOCore

/// Request-size limits: bodies above `maxBytes` are answered 413 without being buffered.
struct BodyLimit: Sendable {
    let maxBytes: Int

    /// The whole body, or 413 when its declared or actual length is over the limit.
    func read(_ request: Request) async throws(APIError) -> [UInt8] {
        if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > maxBytes {
            throw .bodyTooLarge(limit: maxBytes)
        }
        do {
            let buffer = try await request.body.collect(upTo: maxBytes)
            return Array(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw .bodyTooLarge(limit: maxBytes)
        } catch {
            throw .invalid("the request body could not be read: \(error)", code: "invalid_body")
        }
    }
}
