// Whether the weights and KV cache fit the machine's memory, checked before anything is allocated.

import Foundation
import ReckonModel

/// Whether a model's KV cache fits the machine, checked before anything is allocated: a
/// tampered or careless `max_seq_len` must be refused with the figure, not crash the
/// process (or push the machine into swap) when the cache is allocated.
public enum MemoryCheck {
    /// Bytes of keys and values one slot holds at full context: 2 · L · context · kvDim · 4.
    public static func kvBytesPerSlot(_ c: ModelConfig) -> UInt64 {
        2 * UInt64(c.nLayers) * UInt64(c.maxSeqLen) * UInt64(c.kvDim) * UInt64(MemoryLayout<Float>.size)
    }

    /// The share of available memory the weights and KV cache may take; the rest is left for
    /// the decode scratch, the process and the system.
    public static let usableFraction = 0.75

    /// Memory available now: MemAvailable on Linux, else the physical memory.
    public static func availableBytes() -> UInt64 {
        if let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
           let kb = line.split(separator: " ").dropFirst().first.flatMap({ UInt64($0) }) {
            return kb * 1024
        }
        return ProcessInfo.processInfo.physicalMemory
    }

    /// Throws when `slots` KV slots and the weights would take more than `usableFraction`
    /// of `available` bytes.
    public static func check(_ c: ModelConfig, slots: Int, available: UInt64 = availableBytes()) throws(RuntimeError) {
        let perSlot = kvBytesPerSlot(c)
        let (kv, overflow) = perSlot.multipliedReportingOverflow(by: UInt64(max(0, slots)))
        let weights = UInt64(ParameterLayout(c).count) * UInt64(MemoryLayout<Float>.size)
        let limit = UInt64(Double(available) * usableFraction)
        guard overflow || kv + weights > limit else { return }
        throw .invalidConfig("the KV cache needs \(gb(perSlot)) per slot at max_seq_len \(c.maxSeqLen) (\(c.nLayers) layers × kv dim \(c.kvDim)), "
            + "\(overflow ? "more than 2⁶⁴ bytes" : gb(kv)) for \(slots) slots, plus \(gb(weights)) of weights; "
            + "this machine has \(gb(available)) available and the model may use \(Int(usableFraction * 100))% of it "
            + "(use fewer --slots or a checkpoint with a smaller max_seq_len)")
    }

    public static func gb(_ bytes: UInt64) -> String {
        bytes >= 1_000_000_000 ? String(format: "%.1f GB", Double(bytes) / 1e9) : String(format: "%.1f MB", Double(bytes) / 1e6)
    }
}
