// A DeGRPO step's rollouts over the ranks of a data-parallel run: each rank samples its places
// of every group, then all ranks gather the scored rollouts, so each holds whole groups for the
// advantages and the statistics. Not the loss or its split (DeGRPO.swift `optimize`).

import Foundation
import ReckonCore
import ReckonModel

extension DeGRPOTrainer {
    /// The step's scored rollouts, G consecutive per prompt with their group advantages, and the
    /// seconds spent gathering them. With one shard they are all sampled from `seed`, exactly as
    /// before data parallelism; with K shards, shard k samples its places of every group from a
    /// stream derived from (`seed`, k), so the rollouts depend on K and not on which rank
    /// samples which shard.
    func sampleRollouts(prompts: [RLPrompt], seed: UInt64) throws -> (rollouts: [Rollout], gatherSeconds: Double) {
        let c = config.rollout, K = max(shards, reducer.size), G = c.groupSize
        guard K > 1 else { return (try Rollouts.sample(policy: policy, prompts: prompts, config: c, seed: seed, format: format), 0) }
        guard G >= K else {
            throw TrainError.invalidConfig("[degrpo] group_size \(G) is smaller than the \(K) shards sharing each group")
        }
        // Shard k's rollouts, prompt-major: its places of each group.
        var local: [Rollout] = []
        for k in reducer.share(of: K) {
            local += try Rollouts.sample(policy: policy, prompts: prompts, config: c, seed: RNG(seed: seed).derived(UInt64(k)).state,
                                         members: Shards.part(k, of: K, count: G), format: format)
        }
        let start = Self.now()
        let gathered = try reducer.allgather(RolloutWire.encode(local))
        let seconds = reducer.size > 1 ? Self.now() - start : 0
        let all = try gathered.flatMap(RolloutWire.decode)
        guard all.count == prompts.count * G else {
            throw TrainError.collective("gathered \(all.count) rollouts, expected \(prompts.count) × \(G)")
        }
        // In rank order the shards come in order: interleave their places back into groups.
        var rollouts: [Rollout] = []
        rollouts.reserveCapacity(all.count)
        for p in prompts.indices {
            var offset = 0
            for k in 0..<K {
                let m = Shards.part(k, of: K, count: G).count
                rollouts += all[(offset + p * m)..<(offset + (p + 1) * m)]
                offset += prompts.count * m
            }
        }
        Rollouts.assignAdvantages(&rollouts, config: c)
        return (rollouts, seconds)
    }
}

/// One shard of a DeGRPO step's rollouts, packed for forward and backward in micro-batches
/// padded to the shard's own longest sequence.
struct PolicyShard {
    let own: [Rollout]
    let seqs: [TrainingSequence]
    /// Padded length and sequences per micro-batch.
    let T: Int, mb: Int
    /// (mb, T) rows.
    var acts: Activations
    let batches: [Range<Int>]
    /// Per rollout of `own`: its response's log-probs under the reference and under the policy
    /// before the step's first pass (nil when unused).
    var ref: [[Float]]?, old: [[Float]]?

    init(_ own: [Rollout], prompts: [RLPrompt], microBatch: Int, config: ModelConfig) throws {
        self.own = own
        seqs = own.map { TrainingSequence(prompt: prompts[$0.prompt].tokens, answer: $0.response) }
        T = PackedBatch.length(longest: seqs.map(\.rowCount).max() ?? 1, bucket: 8, context: config.maxSeqLen)
        let count = seqs.count, mb = min(microBatch, count)
        self.mb = mb
        acts = try Activations(config: config, batch: mb, seqLen: T)
        batches = stride(from: 0, to: count, by: mb).map { $0..<min($0 + mb, count) }
    }

    /// `responseLogprobs` of every rollout of the shard, in order.
    mutating func logprobs(_ model: Transformer) throws -> [[Float]] {
        var all: [[Float]] = []
        for range in batches { all += try responseLogprobs(model, range) }
        return all
    }

    /// Log-probs of each response token (control token first) of `range` under `model`.
    mutating func responseLogprobs(_ model: Transformer, _ range: Range<Int>) throws -> [[Float]] {
        let packed = PackedBatch(seqs[range], length: T, batch: mb)
        try acts.setBatch(tokens: packed.inputs, targets: packed.targets)
        model.forward(&acts)
        let lp = Array(acts.logprobs)
        return range.enumerated().map { j, i in
            let first = j * T + seqs[i].promptLength - 1
            return Array(lp[first..<(first + own[i].response.count)])
        }
    }
}

/// The bytes of scored rollouts between ranks: per rollout, little-endian
/// prompt (Int32), response length n (Int32), n tokens (Int32), mode, correct, malformed,
/// truncated (UInt8 each), reward, p(think), control importance (Float32 bits).
/// Advantages are not sent: the receiver computes them over whole groups.
enum RolloutWire {
    static func encode(_ rollouts: [Rollout]) -> [UInt8] {
        var out: [UInt8] = []
        func put(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        for r in rollouts {
            put(UInt32(bitPattern: Int32(r.prompt)))
            put(UInt32(r.response.count))
            for t in r.response { put(UInt32(bitPattern: t)) }
            out += [r.outcome.mode == .think ? 1 : 0, r.outcome.correct ? 1 : 0, r.outcome.malformed ? 1 : 0, r.truncated ? 1 : 0]
            put(r.reward.bitPattern); put(r.pThink.bitPattern); put(r.controlImportance.bitPattern)
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws(TrainError) -> [Rollout] {
        var at = 0, rollouts: [Rollout] = []
        func need(_ n: Int) throws(TrainError) {
            guard at + n <= bytes.count else { throw .collective("a gathered rollout is cut short at byte \(at) of \(bytes.count)") }
        }
        func word() throws(TrainError) -> UInt32 {
            try need(4)
            defer { at += 4 }
            return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
        while at < bytes.count {
            let prompt = Int(Int32(bitPattern: try word()))
            let n = Int(try word())
            try need(4 * n + 4)
            var response: [Int32] = []
            response.reserveCapacity(n)
            for _ in 0..<n { response.append(Int32(bitPattern: try word())) }
            let flags = bytes[at..<(at + 4)].map { $0 != 0 }
            at += 4
            let outcome = RolloutOutcome(mode: flags[0] ? .think : .short, correct: flags[1], malformed: flags[2])
            var r = Rollout(prompt: prompt, response: response, outcome: outcome, reward: Float(bitPattern: try word()),
                            advantage: 0, truncated: flags[3])
            r.pThink = Float(bitPattern: try word())
            r.controlImportance = Float(bitPattern: try word())
            rollouts.append(r)
        }
        return rollouts
    }
}
