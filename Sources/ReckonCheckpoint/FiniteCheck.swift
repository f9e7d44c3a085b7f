// The NaN/±Inf scan that loading runs over every stored tensor; checksums are HDF5's (Schema.swift).

import ReckonModel

/// NaN and ±Inf in stored weights: a checkpoint holding one loads as a model whose every
/// answer is wrong, so loading refuses it and names the tensor.
enum FiniteCheck {
    /// Index of the first NaN or infinity in `values`, or nil when all are finite.
    ///
    /// One branch-free pass over the contiguous buffer (it vectorises) answers whether any
    /// value is non-finite; only then is it searched for the first one.
    static func firstNonFinite(_ values: [Float]) -> Int? {
        let bad: UInt32 = values.withUnsafeBufferPointer { buffer in
            var any: UInt32 = 0
            // A float is non-finite exactly when its 8 exponent bits are all ones.
            for x in buffer { any |= ((x.bitPattern & 0x7F80_0000) &+ 0x0080_0000) & 0x8000_0000 }
            return any
        }
        guard bad != 0 else { return nil }
        return values.firstIndex { !$0.isFinite }
    }

    /// Throws `.nonFinite` naming the tensor of `layout` under `group` that holds the first
    /// non-finite value of the flat buffer `values`.
    static func check(_ values: [Float], layout: some TensorLayout, group: String, path: String) throws(CheckpointError) {
        guard let i = firstNonFinite(values) else { return }
        guard let t = layout.tensors.first(where: { $0.range.contains(i) }) else {
            throw .nonFinite(path: path, dataset: group, element: i, value: "\(values[i])")
        }
        throw .nonFinite(path: path, dataset: "\(group)/\(t.name)", element: i - t.offset, value: "\(values[i])")
    }
}
