import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw HTTP/1.1 client over a loopback socket, so tests can send exactly the bytes they
/// mean (invalid UTF-8, oversized bodies) and read exactly what came back (SSE framing).
/// Blocking I/O runs on a thread per request, away from the concurrency pool the server uses.
struct HTTPReply {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> [String: Any] {
        guard let o = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw TestError("body is not a JSON object: \(text)")
        }
        return o
    }
}

struct TestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

enum HTTPTestClient {
    static func exchange(port: Int, method: String = "POST", path: String, headers: [String: String] = [:],
                     body: [UInt8]? = nil) async throws -> HTTPReply {
        try await withCheckedThrowingContinuation { c in
            // A thread of its own: blocking reads on the concurrency pool could starve the server.
            Thread {
                c.resume(with: Result { try sendBlocking(port: port, method: method, path: path, headers: headers, body: body) })
            }.start()
        }
    }

    static func post(port: Int, path: String, json: String, headers: [String: String] = [:]) async throws -> HTTPReply {
        var h = headers
        h["Content-Type"] = "application/json"
        return try await exchange(port: port, path: path, headers: h, body: Array(json.utf8))
    }

    static func get(port: Int, path: String, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await exchange(port: port, method: "GET", path: path, headers: headers)
    }

    /// A blocking TCP socket connected to 127.0.0.1:`port`, whose reads time out after
    /// `receiveTimeout` seconds; the caller closes it.
    static func connectLoopback(port: Int, receiveTimeout: Double) throws -> Int32 {
        #if canImport(Glibc)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw TestError("socket() failed") }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int((receiveTimeout - receiveTimeout.rounded(.down)) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(fd); throw TestError("connect to port \(port) failed") }
        return fd
    }

    static func sendBlocking(port: Int, method: String, path: String, headers: [String: String], body: [UInt8]?) throws -> HTTPReply {
        let fd = try connectLoopback(port: port, receiveTimeout: 60)
        defer { close(fd) }

        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try writeAll(fd, Array(head.utf8) + (body ?? []))

        var reader = Reader(fd: fd)
        let headText = try reader.readHead()
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestError("bad status line in \(headText)") }
        var fields: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var bodyBytes: [UInt8] = []
        if method == "HEAD" {
            // No body follows a HEAD response, whatever its Content-Length says.
        } else if fields["transfer-encoding"]?.lowercased() == "chunked" {
            while true {
                let sizeLine = try reader.readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else { throw TestError("bad chunk size \(sizeLine)") }
                if size == 0 {
                    while try !reader.readLine().isEmpty {}
                    break
                }
                bodyBytes += try reader.read(size)
                _ = try reader.readLine()
            }
        } else if let length = fields["content-length"].flatMap({ Int($0) }) {
            bodyBytes = try reader.read(length)
        } else {
            bodyBytes = try reader.readToEnd()
        }
        return HTTPReply(status: status, headers: fields, body: bodyBytes)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw TestError("send failed (errno \(errno))") }
            offset += n
        }
    }

    struct Reader {
        let fd: Int32
        var buffer: [UInt8] = []

        mutating func fill() throws -> Bool {
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 { throw TestError("recv failed (errno \(errno))") }
            if n == 0 { return false }
            buffer += chunk[0..<n]
            return true
        }

        mutating func readHead() throws -> String {
            while true {
                if let r = find([13, 10, 13, 10]) {
                    let head = String(decoding: buffer[0..<r], as: UTF8.self)
                    buffer.removeFirst(r + 4)
                    return head
                }
                guard try fill() else { throw TestError("connection closed before the response head") }
            }
        }

        mutating func readLine() throws -> String {
            while true {
                if let r = find([13, 10]) {
                    let line = String(decoding: buffer[0..<r], as: UTF8.self)
                    buffer.removeFirst(r + 2)
                    return line
                }
                guard try fill() else { throw TestError("connection closed mid-line") }
            }
        }

        mutating func read(_ n: Int) throws -> [UInt8] {
            while buffer.count < n { guard try fill() else { throw TestError("connection closed mid-body") } }
            let out = Array(buffer[0..<n])
            buffer.removeFirst(n)
            return out
        }

        mutating func readToEnd() throws -> [UInt8] {
            while try fill() {}
            defer { buffer = [] }
            return buffer
        }

        func find(_ needle: [UInt8]) -> Int? {
            guard buffer.count >= needle.count else { return nil }
            for i in 0...(buffer.count - needle.count) where buffer[i..<(i + needle.count)].elementsEqual(needle) { return i }
            return nil
        }
    }
}
