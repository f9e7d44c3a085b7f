// ggml blocks to float32, bit-equal to gguf-py's dequantisation; not the file format (GGUFFile.swift).

/// Dequantisation of ggml blocks to float32, with the arithmetic of gguf-py's
/// `gguf.quants.dequantize` (the readable specification of every block format): the same
/// products and sums in the same order, each rounded to float32, so results are bit-equal.
/// Block layouts are documented in docs/import.md. All multi-byte fields are little-endian.
public enum Dequantize {
    /// Writes `count` weights of `type` read from `src` into `out`. `src` holds exactly
    /// count / blockSize blocks; the caller checks the sizes.
    public static func run(_ type: GGMLType, _ src: UnsafeRawPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        guard let block = type.block else { preconditionFailure("\(type.name) is not dequantised") }
        let blocks = count / block.size
        for b in 0..<blocks {
            let x = src + b * block.bytes, y = out + b * block.size
            switch type {
            case .f32: y[0] = Float(bitPattern: x.loadUnaligned(as: UInt32.self))
            case .f16: y[0] = halfToFloat(x.loadUnaligned(as: UInt16.self))
            case .bf16: y[0] = Float(bitPattern: UInt32(x.loadUnaligned(as: UInt16.self)) << 16)
            case .q4_0: q4_0(x, y)
            case .q4_1: q4_1(x, y)
            case .q5_0: q5_0(x, y)
            case .q5_1: q5_1(x, y)
            case .q8_0: q8_0(x, y)
            case .q4_K: q4_K(x, y)
            case .q5_K: q5_K(x, y)
            case .q6_K: q6_K(x, y)
            default: preconditionFailure("\(type.name) is not dequantised")
            }
        }
    }

    /// IEEE binary16 → binary32, exact (every half is a float).
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h & 0x8000) << 16
        let exponent = Int(h >> 10) & 0x1F, mantissa = UInt32(h & 0x3FF)
        if exponent == 0 {
            let magnitude = Float(mantissa) * 0x1p-24   // zero or subnormal
            return sign != 0 ? -magnitude : magnitude
        }
        if exponent == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        return Float(bitPattern: sign | (UInt32(exponent - 15 + 127) << 23) | (mantissa << 13))
    }

    @inline(__always) static func half(_ p: UnsafeRawPointer, _ at: Int) -> Float {
        halfToFloat(p.loadUnaligned(fromByteOffset: at, as: UInt16.self))
    }

    @inline(__always) static func byte(_ p: UnsafeRawPointer, _ at: Int) -> UInt8 {
        p.load(fromByteOffset: at, as: UInt8.self)
    }

    // MARK: 32-weight blocks. Byte j of the codes holds weight j (low nibble) and j+16 (high).

    /// d (f16), 16 bytes of 4-bit codes: x = d·(q − 8).
    static func q4_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 0)
        for j in 0..<16 {
            let q = byte(x, 2 + j)
            y[j] = d * Float(Int(q & 0x0F) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }

    /// d, m (f16), 16 bytes of 4-bit codes: x = d·q + m.
    static func q4_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 0), m = half(x, 2)
        for j in 0..<16 {
            let q = byte(x, 4 + j)
            y[j] = d * Float(q & 0x0F) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }

    /// Weight j's fifth bit is bit j of the u32 `qh`.
    @inline(__always) static func fiveBit(_ x: UnsafeRawPointer, qh: Int, qs: Int, _ j: Int) -> Int {
        let high = (x.loadUnaligned(fromByteOffset: qh, as: UInt32.self) >> UInt32(j)) & 1
        let low = j < 16 ? byte(x, qs + j) & 0x0F : byte(x, qs + j - 16) >> 4
        return Int(low) | Int(high) << 4
    }

    /// d (f16), qh (u32), 16 bytes of low nibbles: x = d·(q − 16).
    static func q5_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 0)
        for j in 0..<32 { y[j] = d * Float(fiveBit(x, qh: 2, qs: 6, j) - 16) }
    }

    /// d, m (f16), qh (u32), 16 bytes of low nibbles: x = d·q + m.
    static func q5_1(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 0), m = half(x, 2)
        for j in 0..<32 { y[j] = d * Float(fiveBit(x, qh: 4, qs: 8, j)) + m }
    }

    /// d (f16), 32 signed bytes: x = d·q.
    static func q8_0(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 0)
        for j in 0..<32 { y[j] = d * Float(Int8(bitPattern: byte(x, 2 + j))) }
    }

    // MARK: 256-weight super-blocks (k-quants)

    /// The 8 six-bit scales and mins packed in 12 bytes (Q4_K, Q5_K): bytes 0–3 hold scales
    /// 0–3 in their low 6 bits, bytes 4–7 mins 0–3; scales and mins 4–7 take their low 4 bits
    /// from bytes 8–11 and their top 2 bits from the top bits of bytes 0–3 and 4–7.
    @inline(__always)
    static func scaleMin(_ s: UnsafeRawPointer, _ j: Int) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (byte(s, j) & 0x3F, byte(s, 4 + j) & 0x3F) }
        let i = j - 4
        return ((byte(s, 8 + i) & 0x0F) | ((byte(s, i) >> 2) & 0x30),
                (byte(s, 8 + i) >> 4) | ((byte(s, 4 + i) >> 2) & 0x30))
    }

    /// d, dmin (f16), 12 bytes of scales/mins, 128 bytes of codes. Sub-block j (32 weights)
    /// uses byte 32·(j/2)+i's low (j even) or high nibble: x = (d·sc_j)·q − dmin·m_j.
    static func q4_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 0), dmin = half(x, 2)
        for j in 0..<8 {
            let (sc, mn) = scaleMin(x + 4, j)
            let dl = d * Float(sc), ml = dmin * Float(mn)
            let shift = UInt8(4 * (j % 2)), codes = 16 + 32 * (j / 2)
            for i in 0..<32 { y[32 * j + i] = dl * Float((byte(x, codes + i) >> shift) & 0x0F) - ml }
        }
    }

    /// As Q4_K with 32 bytes of fifth bits before the codes: weight i of sub-block j takes bit j of qh[i].
    static func q5_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 0), dmin = half(x, 2)
        for j in 0..<8 {
            let (sc, mn) = scaleMin(x + 4, j)
            let dl = d * Float(sc), ml = dmin * Float(mn)
            let shift = UInt8(4 * (j % 2)), codes = 48 + 32 * (j / 2)
            for i in 0..<32 {
                let q = ((byte(x, codes + i) >> shift) & 0x0F) | (((byte(x, 16 + i) >> UInt8(j)) & 1) << 4)
                y[32 * j + i] = dl * Float(q) - ml
            }
        }
    }

    /// 128 bytes of low nibbles, 64 bytes of high 2-bit pairs, 16 int8 scales, d (f16).
    /// Weight e = 128a + r: low nibble from ql[64a + r%64] (high nibble if r ≥ 64), top two
    /// bits from qh[32a + r%32] at bit 2·(r/32); x = (d·scale_{e/16})·(q − 32).
    static func q6_K(_ x: UnsafeRawPointer, _ y: UnsafeMutablePointer<Float>) {
        let d = half(x, 208)
        for e in 0..<256 {
            let a = e / 128, r = e % 128
            let low = (byte(x, 64 * a + r % 64) >> UInt8(4 * (r / 64))) & 0x0F
            let high = (byte(x, 128 + 32 * a + r % 32) >> UInt8(2 * (r / 32))) & 0x03
            let scale = Float(Int8(bitPattern: byte(x, 192 + e / 16)))
            y[e] = (d * scale) * Float(Int(low | high << 4) - 32)
        }
    }
}
