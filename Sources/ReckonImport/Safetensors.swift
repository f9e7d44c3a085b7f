// Reading one safetensors file (F32, F16, BF16), memory-mapped; sharded folders are WeightSource.swift's.

import Foundation

/// One tensor of a safetensors file: dtype, row-major shape, and absolute byte range.
public struct SafetensorsTensor: Sendable, Equatable {
    public let name: String
    public let dtype: String
    public let shape: [Int]
    public let begin: Int, end: Int
}

/// A safetensors file, memory-mapped: a u64 little-endian header length, a JSON header
/// mapping names to {dtype, shape, data_offsets}, then the data. Reads F32, F16 and BF16.
public struct SafetensorsFile: @unchecked Sendable {
    public static let supportedDtypes = ["F32", "F16", "BF16"]
    public let path: String
    public let tensors: [String: SafetensorsTensor]
    let data: Data

    public init(path: String) throws(ImportError) {
        guard FileManager.default.fileExists(atPath: path) else { throw .fileNotFound(path: path) }
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw .io(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        self.path = path
        guard data.count >= 8 else { throw .truncated(path: path, detail: "\(data.count) bytes, less than the 8-byte header length") }
        let n = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(data.count - 8) else {
            throw .truncated(path: path, detail: "the header claims \(n) bytes, the file has \(data.count)")
        }
        let dataStart = 8 + Int(n)
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<dataStart)) } catch {
            throw .malformed(path: path, reason: "the header is not JSON (\(error.localizedDescription))")
        }
        guard let header = object as? [String: Any] else { throw .malformed(path: path, reason: "the header is not a JSON object") }
        var tensors: [String: SafetensorsTensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2 else {
                throw .malformed(path: path, reason: "header entry \(name) lacks dtype, shape or data_offsets")
            }
            guard Self.supportedDtypes.contains(dtype) else {
                throw .unsupportedTensorType(path: path, tensor: name, type: dtype, supported: Self.supportedDtypes)
            }
            let width = dtype == "F32" ? 4 : 2
            let t = SafetensorsTensor(name: name, dtype: dtype, shape: shape, begin: dataStart + offsets[0], end: dataStart + offsets[1])
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, t.end - t.begin == shape.reduce(1, *) * width else {
                throw .malformed(path: path, reason: "tensor \(name): data_offsets \(offsets) do not fit shape \(shape) of \(dtype)")
            }
            guard t.end <= data.count else {
                throw .truncated(path: path, detail: "tensor \(name) needs bytes up to \(t.end), the file has \(data.count)")
            }
            tensors[name] = t
        }
        self.tensors = tensors
    }

    public func floats(_ t: SafetensorsTensor) -> [Float] {
        let type: GGMLType = t.dtype == "F32" ? .f32 : t.dtype == "F16" ? .f16 : .bf16
        let count = t.shape.reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { Dequantize.run(type, raw.baseAddress! + t.begin, count: count, into: $0.baseAddress!) }
        }
        return out
    }
}
