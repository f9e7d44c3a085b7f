// The checks before a training run does any work: model geometry, a writable output folder, memory.

import Foundation
import ReckonModel
import ReckonRuntime
import ReckonTrain

/// Checks a training run can start and finish before it does any work (data generation
/// included): the model geometry is valid, the output folder can be written, and the
/// memory the run needs at most fits the machine. Each problem is one line, then exit 1.
enum TrainPreflight {
    static func run(_ r: Recipe, available: UInt64 = MemoryCheck.availableBytes()) throws {
        let config = r.modelConfig
        do { try config.validate() } catch { throw fail("[model]: invalid geometry: \(error)") }
        try checkOutput(r.output.dir)
        let estimate = memoryEstimate(r)
        if estimate.total > available {
            throw fail("the run needs up to \(MemoryCheck.gb(estimate.total)) (\(estimate.detail)); this machine has "
                       + "\(MemoryCheck.gb(available)) available. Lower sft.batch, degrpo.prompts_per_step × group_size or model.context")
        }
    }

    /// The most a run holds at once: parameters, gradients and both AdamW moments (16 bytes
    /// a parameter), and the activations of the largest batch padded to the full context.
    /// SFT keeps a buffer per pass (short and think), DeGRPO one for its rollouts.
    static func memoryEstimate(_ r: Recipe) -> (total: UInt64, detail: String) {
        let c = r.modelConfig
        let stages = r.stages
        let params = UInt64(ParameterLayout(c).count) * 16
        var activations: UInt64 = 0
        var parts = ["\(MemoryCheck.gb(params)) for weights, gradients and optimizer moments"]
        if stages.contains(.sft) {
            // Each pass keeps buffers for its micro-batch and for the smaller one that ends it.
            let b = max(1, r.sft.batch), m = r.sft.microBatch
            let held = m > 0 && m < b ? m + b % m : b
            let a = 2 * UInt64(Activations.bytes(config: c, batch: held, seqLen: c.maxSeqLen))
            activations = max(activations, a)
            parts.append("\(MemoryCheck.gb(a)) for SFT activations at batch \(b)\(held < b ? " in micro-batches of \(m)" : "") × context \(c.maxSeqLen)")
        }
        if stages.contains(.degrpo) {
            let rows = max(1, r.degrpo.config.promptsPerStep * r.degrpo.config.rollout.groupSize)
            let a = UInt64(Activations.bytes(config: c, batch: rows, seqLen: c.maxSeqLen))
            activations = max(activations, a)
            parts.append("\(MemoryCheck.gb(a)) for DeGRPO activations at \(rows) rollouts × context \(c.maxSeqLen)")
        }
        return (params + activations, parts.joined(separator: ", "))
    }

    /// The output folder exists and is a writable folder, or can be created: its nearest
    /// existing ancestor is a writable folder.
    static func checkOutput(_ dir: String) throws {
        guard !dir.isEmpty else { throw fail("output.dir is empty") }
        let fm = FileManager.default
        var url = URL(fileURLWithPath: dir).standardizedFileURL
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw fail("output.dir \(dir) is a file, not a folder") }
            guard fm.isWritableFile(atPath: url.path) else { throw fail("output.dir \(dir) is not writable") }
            return
        }
        while url.path != "/" {
            url.deleteLastPathComponent()
            guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory) else { continue }
            guard isDirectory.boolValue else { throw fail("output.dir \(dir) cannot be created: \(url.path) is a file, not a folder") }
            guard fm.isWritableFile(atPath: url.path) else { throw fail("output.dir \(dir) cannot be created: \(url.path) is not writable") }
            return
        }
    }
}
