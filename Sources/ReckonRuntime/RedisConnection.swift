// A blocking hiredis connection with timeouts, RESP2 values and Redis errors; no budget logic.

import CHiredis
import Foundation

/// One value of the Redis protocol (RESP2).
public enum RedisValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case array([RedisValue])
    case status(String)
    case error(String)
    case null

    /// Bulk strings, status replies and integers as text.
    public var text: String? {
        switch self {
        case .string(let s), .status(let s): s
        case .integer(let i): String(i)
        default: nil
        }
    }
}

public enum RedisError: Error, Equatable, CustomStringConvertible {
    /// Could not connect, or the connection failed (refused, reset, timed out).
    case connection(String)
    /// Redis answered with an error reply.
    case reply(String)
    /// The reply had a shape the caller did not expect.
    case unexpected(String)

    public var description: String {
        switch self {
        case .connection(let s): "cannot reach Redis: \(s)"
        case .reply(let s): "Redis error: \(s)"
        case .unexpected(let s): "unexpected Redis reply: \(s)"
        }
    }
}

/// A blocking connection through hiredis, with connect and command timeouts.
///
/// Blocking fits the engine: it steps on its own thread, and a budget decision must be made
/// before the step goes on. After any connection error the connection is dead; make a new one.
public final class RedisConnection {
    private let context: UnsafeMutablePointer<redisContext>

    public init(host: String, port: Int, timeout: Double) throws(RedisError) {
        let tv = Self.timeval(timeout)
        guard let c = redisConnectWithTimeout(host, Int32(port), tv) else { throw .connection("out of memory") }
        if c.pointee.err != 0 {
            let why = String(cString: reckon_redis_errstr(c))
            redisFree(c)
            throw .connection("\(host):\(port): \(why)")
        }
        guard redisSetTimeout(c, tv) == REDIS_OK else {
            redisFree(c)
            throw .connection("\(host):\(port): cannot set the command timeout")
        }
        context = c
    }

    deinit { redisFree(context) }

    private static func timeval(_ seconds: Double) -> timeval {
        let whole = max(0, seconds.rounded(.down))
        return Foundation.timeval(tv_sec: Int(whole), tv_usec: .init(((seconds - whole) * 1e6).rounded()))
    }

    /// Sends one command; error replies come back as `.error`, connection failures throw.
    public func command(_ args: [String]) throws(RedisError) -> RedisValue {
        let bytes = args.map { Array($0.utf8) }
        let lengths = bytes.map(\.count)
        let reply: UnsafeMutableRawPointer? = withPointers(bytes) { argv in
            lengths.withUnsafeBufferPointer { lens in
                redisCommandArgv(context, Int32(argv.count), argv.baseAddress, lens.baseAddress)
            }
        }
        guard let reply else {
            throw .connection(context.pointee.err != 0 ? String(cString: reckon_redis_errstr(context)) : "no reply")
        }
        defer { freeReplyObject(reply) }
        return Self.value(reply.assumingMemoryBound(to: redisReply.self))
    }

    /// `body` gets argv pointers into `bytes`, valid for its duration.
    private func withPointers<R>(_ bytes: [[UInt8]], _ body: (UnsafeMutableBufferPointer<UnsafePointer<CChar>?>) -> R) -> R {
        let buffers = bytes.map { b -> UnsafeMutablePointer<CChar> in
            let p = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, b.count))
            b.withUnsafeBufferPointer { src in
                src.baseAddress.map { UnsafeMutableRawPointer(p).copyMemory(from: $0, byteCount: b.count) }
            }
            return p
        }
        defer { buffers.forEach { $0.deallocate() } }
        var argv = buffers.map { UnsafePointer<CChar>?(UnsafePointer($0)) }
        return argv.withUnsafeMutableBufferPointer { body($0) }
    }

    private static func value(_ r: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let type = r.pointee.type
        func text() -> String {
            guard let s = r.pointee.str else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: s, count: r.pointee.len), as: UTF8.self)
        }
        switch type {
        case reckon_REDIS_REPLY_STRING(): return .string(text())
        case reckon_REDIS_REPLY_STATUS(): return .status(text())
        case reckon_REDIS_REPLY_ERROR(): return .error(text())
        case reckon_REDIS_REPLY_INTEGER(): return .integer(r.pointee.integer)
        case reckon_REDIS_REPLY_ARRAY():
            var items: [RedisValue] = []
            for i in 0..<r.pointee.elements {
                if let e = r.pointee.element[i] { items.append(value(e)) } else { items.append(.null) }
            }
            return .array(items)
        default: return .null
        }
    }
}
