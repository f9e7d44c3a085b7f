// Reading a GGUF file: header, metadata values, tensor infos and dequantised tensors, bounds-checked;
// writing one is GGUFWriter.swift's.

import Foundation

/// One metadata value of a GGUF file, in GGUF's own types.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array([GGUFValue])

    /// Any integer type as Int (nil for other types or out-of-range values).
    public var int: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): v <= UInt64(Int.max) ? Int(v) : nil
        case .int64(let v): Int(v)
        default: nil
        }
    }

    public var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: int.map(Double.init)
        }
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
    public var array: [GGUFValue]? { if case .array(let a) = self { a } else { nil } }

    /// The value as JSON text; arrays longer than `maxArray` are summarised by length.
    func json(maxArray: Int) -> String {
        switch self {
        case .string(let s): return Self.quote(s)
        case .bool(let b): return b ? "true" : "false"
        case .float32(let v): return v.isFinite ? "\(v)" : "null"
        case .float64(let v): return v.isFinite ? "\(v)" : "null"
        case .array(let a):
            if a.count > maxArray { return "{\"array_length\": \(a.count)}" }
            return "[" + a.map { $0.json(maxArray: maxArray) }.joined(separator: ", ") + "]"
        default: return "\(int ?? 0)"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

/// Where one tensor's data lies in a GGUF file. `dims` are GGUF's, innermost first, so a
/// (rows, cols) matrix has dims [cols, rows]; `shape` is the row-major (outermost first) view.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let dims: [Int]
    public let type: GGMLType
    /// Byte offset from the start of the file.
    public let offset: Int
    public var shape: [Int] { dims.reversed() }
    public var count: Int { dims.reduce(1, *) }
    public var byteCount: Int {
        let b = type.block ?? (1, 0)
        return count / b.size * b.bytes
    }
}

/// A GGUF file (versions 2 and 3), memory-mapped: header, metadata, tensor infos, and
/// dequantised reads of any tensor. The layout is summarised in docs/import.md.
public struct GGUFFile: @unchecked Sendable {
    public static let supportedVersions = [2, 3]
    public let path: String
    public let version: Int
    /// Metadata in file order.
    public let keys: [String]
    public let metadata: [String: GGUFValue]
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    let data: Data

    public init(path: String) throws(ImportError) {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path: path) }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw .io(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        self.path = path
        self.data = data
        var r = ByteCursor(data: data, path: path)
        let magic = try r.bytes(4)
        guard magic == Array("GGUF".utf8) else {
            throw .notGGUF(path: path, detail: data.count < 4 ? "the file has \(data.count) bytes" : "magic \(magic.map { String(format: "%02x", $0) }.joined())")
        }
        version = Int(try r.u32())
        guard Self.supportedVersions.contains(version) else {
            throw .unsupportedVersion(path: path, found: version, supported: Self.supportedVersions)
        }
        let tensorCount = try r.count(try r.u64(), what: "tensor count")
        let kvCount = try r.count(try r.u64(), what: "metadata count")
        var keys: [String] = [], metadata: [String: GGUFValue] = [:]
        for _ in 0..<kvCount {
            let key = try r.string()
            let type = try r.u32()
            metadata[key] = try r.value(type: type, key: key)
            keys.append(key)
        }
        self.keys = keys
        self.metadata = metadata
        if let a = metadata["general.alignment"] {
            guard let v = a.int, v > 0, v & (v - 1) == 0 else {
                throw .badMetadata(path: path, key: "general.alignment", reason: "must be a power of two, got \(a.json(maxArray: 4))")
            }
            alignment = v
        } else {
            alignment = 32
        }
        var infos: [(String, [Int], UInt32, UInt64)] = []
        for _ in 0..<tensorCount {
            let name = try r.string()
            let nDims = Int(try r.u32())
            guard nDims >= 1, nDims <= 4 else { throw .malformed(path: path, reason: "tensor \(name) has \(nDims) dimensions") }
            var dims: [Int] = []
            for _ in 0..<nDims { dims.append(try r.count(try r.u64(), what: "dimension of \(name)")) }
            infos.append((name, dims, try r.u32(), try r.u64()))
        }
        let dataStart = (r.at + alignment - 1) / alignment * alignment
        var tensors: [GGUFTensorInfo] = []
        for (name, dims, typeID, relative) in infos {
            guard let type = GGMLType(rawValue: typeID) else {
                throw .unknownTensorType(path: path, tensor: name, type: typeID)
            }
            guard type.isSupported, let block = type.block else {
                throw .unsupportedTensorType(path: path, tensor: name, type: type.name, supported: GGMLType.supported.map(\.name))
            }
            guard dims[0] % block.size == 0 else {
                throw .malformed(path: path, reason: "tensor \(name) has rows of \(dims[0]) weights, not a multiple of \(type.name)'s block of \(block.size)")
            }
            guard relative <= UInt64(Int.max / 2), relative % UInt64(alignment) == 0 else {
                throw .malformed(path: path, reason: "tensor \(name) has offset \(relative), not a multiple of the alignment \(alignment)")
            }
            let info = GGUFTensorInfo(name: name, dims: dims, type: type, offset: dataStart + Int(relative))
            guard info.offset + info.byteCount <= data.count else {
                throw .truncated(path: path, detail: "tensor \(name) needs bytes \(info.offset)..<\(info.offset + info.byteCount), the file has \(data.count)")
            }
            tensors.append(info)
        }
        self.tensors = tensors
    }

    public func tensor(named name: String) -> GGUFTensorInfo? { tensors.first { $0.name == name } }

    /// The tensor's weights as float32, in row-major order of `shape`.
    public func floats(_ t: GGUFTensorInfo) -> [Float] {
        var out = [Float](repeating: 0, count: t.count)
        data.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { o in
                Dequantize.run(t.type, raw.baseAddress! + t.offset, count: t.count, into: o.baseAddress!)
            }
        }
        return out
    }

    /// Metadata as a JSON object, with long arrays (vocabularies, merges) reduced to their length.
    public func metadataJSON(maxArray: Int = 64) -> String {
        "{" + keys.map { "\(GGUFValue.quote($0)): \(metadata[$0]!.json(maxArray: maxArray))" }.joined(separator: ", ") + "}"
    }
}

/// Bounds-checked little-endian reads over the mapped file; running past the end is a
/// truncation error naming what was being read.
struct ByteCursor {
    let data: Data
    let path: String
    var at = 0

    init(data: Data, path: String) {
        self.data = data
        self.path = path
    }

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws(ImportError) {
        guard n >= 0, at <= data.count - n else {
            throw .truncated(path: path, detail: "\(what()) needs \(n) bytes at offset \(at), the file has \(data.count)")
        }
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: String) throws(ImportError) -> T {
        try need(MemoryLayout<T>.size, what)
        let v = data.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: T.self)) }
        at += MemoryLayout<T>.size
        return v
    }

    mutating func u32() throws(ImportError) -> UInt32 { try load(UInt32.self, "a 32-bit field") }
    mutating func u64() throws(ImportError) -> UInt64 { try load(UInt64.self, "a 64-bit field") }

    mutating func bytes(_ n: Int) throws(ImportError) -> [UInt8] {
        try need(n, "\(n) bytes")
        let out = [UInt8](data[(data.startIndex + at)..<(data.startIndex + at + n)])
        at += n
        return out
    }

    /// A count that must fit in what remains of the file (each item takes at least a byte).
    func count(_ v: UInt64, what: String) throws(ImportError) -> Int {
        guard v <= UInt64(data.count) else {
            throw .truncated(path: path, detail: "\(what) is \(v), more than the file's \(data.count) bytes can hold")
        }
        return Int(v)
    }

    mutating func string() throws(ImportError) -> String {
        let n = try count(try u64(), what: "a string length")
        try need(n, "a string of \(n) bytes")
        let s = data.withUnsafeBytes { raw in
            String(decoding: UnsafeRawBufferPointer(rebasing: raw[at..<(at + n)]), as: UTF8.self)
        }
        at += n
        return s
    }

    mutating func value(type: UInt32, key: String) throws(ImportError) -> GGUFValue {
        switch type {
        case 0: return .uint8(try load(UInt8.self, key))
        case 1: return .int8(try load(Int8.self, key))
        case 2: return .uint16(try load(UInt16.self, key))
        case 3: return .int16(try load(Int16.self, key))
        case 4: return .uint32(try load(UInt32.self, key))
        case 5: return .int32(try load(Int32.self, key))
        case 6: return .float32(Float(bitPattern: try load(UInt32.self, key)))
        case 7:
            let b = try load(UInt8.self, key)
            guard b <= 1 else { throw .badMetadata(path: path, key: key, reason: "bool byte is \(b)") }
            return .bool(b == 1)
        case 8: return .string(try string())
        case 9:
            let element = try u32()
            guard element != 9 else { throw .badMetadata(path: path, key: key, reason: "nested arrays are not supported") }
            let n = try count(try u64(), what: "the length of \(key)")
            var items: [GGUFValue] = []
            items.reserveCapacity(n)
            for _ in 0..<n { items.append(try value(type: element, key: key)) }
            return .array(items)
        case 10: return .uint64(try load(UInt64.self, key))
        case 11: return .int64(try load(Int64.self, key))
        case 12: return .float64(Double(bitPattern: try load(UInt64.self, key)))
        default: throw .badMetadata(path: path, key: key, reason: "unknown value type \(type)")
        }
    }
}
