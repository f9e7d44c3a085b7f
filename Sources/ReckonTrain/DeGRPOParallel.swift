import Foundation
import ReckonCore
import ReckonModel

// A DeGRPO step's rollouts over the ranks of a data-parallel run: each rank samples its places
// of every group, then all ranks gather the scored rollouts, so each holds whole groups for the
// advantages and the statistics. Not the loss or its split (DeGRPO.swift `optimize`).

extension DeGRPOTrainer {
    /// The step's scored rollouts, G consecutive per prompt with their group advantages, and the
    /// seconds spent gathering them. One process samples them all from `seed`, exactly as
    /// before data parallelism; rank r of N samples its share of each group from a stream
    /// derived from (`seed`, r), so a run is reproducible for a given N.
    func sampleRollouts(prompts: [RLPrompt], seed: UInt64) throws -> (rollouts: [Rollout], gatherSeconds: Double) {
        let c = config.rollout
        guard reducer.size > 1 else { return (try Rollouts.sample(policy: policy, prompts: prompts, config: c, seed: seed), 0) }
        guard c.groupSize >= reducer.size else {
            throw TrainError.invalidConfig("[degrpo] group_size \(c.groupSize) is smaller than the \(reducer.size) ranks sharing each group")
        }
        let members = reducer.share(of: c.groupSize)
        let local = try Rollouts.sample(policy: policy, prompts: prompts, config: c,
                                        seed: RNG(seed: seed).derived(UInt64(reducer.rank)).state, members: members)
        let start = Self.now()
        let gathered = try reducer.allgather(RolloutWire.encode(local))
        let seconds = Self.now() - start
        // Rank r's rollouts are its places of each group, prompt-major: interleave them back into groups.
        let parts = try gathered.map(RolloutWire.decode)
        var rollouts: [Rollout] = []
        rollouts.reserveCapacity(prompts.count * c.groupSize)
        for p in prompts.indices {
            for (r, part) in parts.enumerated() {
                let m = (c.groupSize * (r + 1) / reducer.size) - (c.groupSize * r / reducer.size)
                guard part.count == prompts.count * m else {
                    throw TrainError.collective("rank \(r) sent \(part.count) rollouts, expected \(prompts.count) × \(m)")
                }
                rollouts += part[(p * m)..<((p + 1) * m)]
            }
        }
        Rollouts.assignAdvantages(&rollouts, config: c)
        return (rollouts, seconds)
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
