// Writing a GGUF v3 file, atomically, and float32 to float16 rounding; reading is GGUFFile.swift's.

import Foundation

/// Serialises a GGUF v3 file: header, metadata, tensor infos, then each tensor's data at the
/// alignment. Used by `reckon export --format gguf` and by tests that need crafted files.
public struct GGUFWriter {
    public struct Tensor {
        public var name: String
        /// Row-major shape, outermost first (written reversed, as GGUF's innermost-first dims).
        public var shape: [Int]
        public var type: GGMLType
        public var data: [UInt8]
        /// Overrides the type id written to the file (tests of unknown types).
        public var rawType: UInt32?
        public init(name: String, shape: [Int], type: GGMLType, data: [UInt8], rawType: UInt32? = nil) {
            self.name = name; self.shape = shape; self.type = type; self.data = data; self.rawType = rawType
        }
    }

    public var metadata: [(String, GGUFValue)] = []
    public var tensors: [Tensor] = []
    public var alignment = 32
    public var version: UInt32 = 3

    public init() {}

    public mutating func add(_ key: String, _ value: GGUFValue) { metadata.append((key, value)) }

    public mutating func add(_ name: String, floats: [Float], shape: [Int], as type: GGMLType = .f32) {
        precondition(type == .f32 || type == .f16, "the writer encodes F32 and F16")
        // GGUF is little-endian, like every host this builds for (x86-64, arm64).
        let bytes: [UInt8] = type == .f32
            ? floats.withUnsafeBytes { Array($0) }
            : floats.map(Self.floatToHalf).withUnsafeBytes { Array($0) }
        tensors.append(Tensor(name: name, shape: shape, type: type, data: bytes))
    }

    public func bytes() -> [UInt8] {
        var out = header()
        for t in tensors {
            out += t.data
            out += [UInt8](repeating: 0, count: padding(t.data.count))
        }
        return out
    }

    func padding(_ n: Int) -> Int { (alignment - n % alignment) % alignment }

    /// Everything before the first tensor's data, padded to the alignment.
    func header() -> [UInt8] {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { out += withUnsafeBytes(of: v.littleEndian, Array.init) }
        func u64(_ v: UInt64) { out += withUnsafeBytes(of: v.littleEndian, Array.init) }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        func typeID(_ v: GGUFValue) -> UInt32 {
            switch v {
            case .uint8: 0; case .int8: 1; case .uint16: 2; case .int16: 3; case .uint32: 4; case .int32: 5
            case .float32: 6; case .bool: 7; case .string: 8; case .array: 9; case .uint64: 10; case .int64: 11; case .float64: 12
            }
        }
        func value(_ v: GGUFValue) {
            switch v {
            case .uint8(let x): out.append(x)
            case .int8(let x): out.append(UInt8(bitPattern: x))
            case .uint16(let x): out += withUnsafeBytes(of: x.littleEndian, Array.init)
            case .int16(let x): out += withUnsafeBytes(of: x.littleEndian, Array.init)
            case .uint32(let x): u32(x)
            case .int32(let x): u32(UInt32(bitPattern: x))
            case .uint64(let x): u64(x)
            case .int64(let x): u64(UInt64(bitPattern: x))
            case .float32(let x): u32(x.bitPattern)
            case .float64(let x): u64(x.bitPattern)
            case .bool(let b): out.append(b ? 1 : 0)
            case .string(let s): str(s)
            case .array(let items):
                u32(items.first.map(typeID) ?? 4)
                u64(UInt64(items.count))
                items.forEach(value)
            }
        }
        out += Array("GGUF".utf8)
        u32(version)
        u64(UInt64(tensors.count))
        let meta = alignment == 32 || metadata.contains(where: { $0.0 == "general.alignment" })
            ? metadata : metadata + [("general.alignment", .uint32(UInt32(alignment)))]
        u64(UInt64(meta.count))
        for (k, v) in meta { str(k); u32(typeID(v)); value(v) }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            offsets.append(offset)
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        for (t, o) in zip(tensors, offsets) {
            str(t.name)
            u32(UInt32(t.shape.count))
            for d in t.shape.reversed() { u64(UInt64(d)) }
            u32(t.rawType ?? t.type.rawValue)
            u64(UInt64(o))
        }
        out += [UInt8](repeating: 0, count: padding(out.count))
        return out
    }

    /// Streams the file to a temporary name beside `path`, then renames it into place.
    public func write(to path: String) throws(ImportError) {
        let temporary = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil), let h = FileHandle(forWritingAtPath: temporary) else {
            throw .io(path: path, message: "cannot create \(temporary)")
        }
        do {
            try h.write(contentsOf: header())
            for t in tensors {
                try h.write(contentsOf: t.data)
                try h.write(contentsOf: [UInt8](repeating: 0, count: padding(t.data.count)))
            }
            try h.close()
            guard rename(temporary, path) == 0 else {
                throw ImportError.io(path: path, message: "cannot rename \(temporary) over it: \(String(cString: strerror(errno)))")
            }
        } catch let e as ImportError {
            try? FileManager.default.removeItem(atPath: temporary)
            throw e
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw .io(path: path, message: "cannot write: \(error.localizedDescription)")
        }
    }

    /// binary32 → binary16 with round-to-nearest-even, as numpy's astype(float16) does.
    public static func floatToHalf(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let exponent = Int((bits >> 23) & 0xFF), mantissa = bits & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }
        let e = exponent - 127 + 15
        if e >= 31 { return sign | 0x7C00 }
        if e <= 0 {
            // Subnormal half (or zero): shift the full significand, rounding to nearest even.
            if e < -10 { return sign }
            let significand = mantissa | 0x80_0000
            let shift = UInt32(14 - e)
            var half = significand >> shift
            let rest = significand & ((1 << shift) - 1), halfway = UInt32(1) << (shift - 1)
            if rest > halfway || (rest == halfway && half & 1 == 1) { half += 1 }
            return sign | UInt16(half)
        }
        var half = UInt32(e) << 10 | (mantissa >> 13)
        let rest = mantissa & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) { half += 1 }   // may carry into the exponent, correctly
        return sign | UInt16(half)
    }
}
