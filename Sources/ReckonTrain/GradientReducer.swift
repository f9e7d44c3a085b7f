// Data-parallel training's collectives: how the ranks of one run split a batch, sum their
// gradients and share rollouts. Two implementations: `SingleProcess` (one rank, nothing to
// exchange) and `MPIReducer` (Open MPI, under `mpirun`). The trainers call it just before the
// optimizer update; what gets split, and how results are normalised, is theirs (SFT.swift,
// DeGRPO.swift, DeGRPOParallel.swift). Who writes files is the CLI's (rank 0 alone).

import CMPI
import Foundation

/// The ranks of one training run, as the trainers see them.
public protocol GradientReducer: Sendable {
    /// This process's rank in 0..<size.
    var rank: Int { get }
    /// How many processes train together.
    var size: Int { get }
    /// Sums `values` over every rank, in place: every rank ends with the same sums.
    func sum(_ values: inout [Float]) throws(TrainError)
    func sum(_ values: inout [Double]) throws(TrainError)
    /// Every rank's bytes, in rank order (the rollouts each rank sampled).
    func allgather(_ bytes: [UInt8]) throws(TrainError) -> [[UInt8]]
    /// Returns when every rank has called it (separates waiting for a slow rank from the sum's own time).
    func barrier() throws(TrainError)
}

extension GradientReducer {
    public var isRoot: Bool { rank == 0 }

    /// This rank's contiguous share of `count` items: the shares of all ranks tile 0..<count in
    /// rank order and differ in size by at most one.
    public func share(of count: Int) -> Range<Int> { Shards.part(rank, of: size, count: count) }

    /// True when every rank holds exactly these values (compared through a 64-bit FNV-1a hash
    /// of their bits). The gradients every rank applies are the same sums, so the weights
    /// cannot drift apart; this checks it where it is cheap to, at each checkpoint.
    public func agree(_ values: [Float]) throws(TrainError) -> Bool {
        guard size > 1 else { return true }
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for v in values { h = (h ^ UInt64(v.bitPattern)) &* 0x100_0000_01b3 }
        let mine = withUnsafeBytes(of: h.littleEndian) { Array($0) }
        return try allgather(mine).allSatisfy { $0 == mine }
    }
}

/// One process: its shares are the whole batch and its sums are its own values.
public struct SingleProcess: GradientReducer {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: inout [Float]) throws(TrainError) {}
    public func sum(_ values: inout [Double]) throws(TrainError) {}
    public func allgather(_ bytes: [UInt8]) throws(TrainError) -> [[UInt8]] { [bytes] }
    public func barrier() throws(TrainError) {}
}

/// A batch cut into K shards, each shard's gradient computed on its own and the shards summed
/// in order. Rank r of N computes the shards `share(of: K)`; the allreduce then adds the ranks'
/// sums. Two operands add the same either way round, so one process with K = 2 shards and two
/// ranks with one shard each compute the very same floats: the runs match bit for bit. (With
/// N > 2 ranks MPI's reduction order is its own, and results match to rounding.)
public enum Shards {
    /// Shard `k` of `K` over `count` items: contiguous, tiling 0..<count in order, sizes within one.
    public static func part(_ k: Int, of K: Int, count: Int) -> Range<Int> { (count * k / K)..<(count * (k + 1) / K) }

    /// The running sum of a rank's shard gradients, in shard order.
    public struct Sum {
        /// (P): nil until the first shard is added.
        public private(set) var total: [Float]?
        public init() {}
        public mutating func add(_ grads: [Float]) {
            guard var t = total else { total = grads; return }
            total = nil  // add in place, without a copy-on-write
            for i in t.indices { t[i] += grads[i] }
            total = t
        }
    }
}

/// The ranks of `mpirun -n N reckon train …`, over MPI_COMM_WORLD.
///
/// MPI is initialised only when the process was started by an MPI launcher (it then finds
/// `OMPI_COMM_WORLD_SIZE` or `PMIX_RANK` in its environment): a plain `reckon train` never
/// touches MPI, so it needs neither `mpirun` nor a working MPI network setup, and
/// Open MPI's singleton start-up (which forks a helper daemon) never runs.
public final class MPIReducer: GradientReducer {
    public let rank: Int
    public let size: Int

    /// The world of this process when an MPI launcher started it, else nil.
    public static func launched(environment: [String: String] = ProcessInfo.processInfo.environment) throws(TrainError) -> MPIReducer? {
        guard environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMIX_RANK"] != nil else { return nil }
        return try MPIReducer()
    }

    private init() throws(TrainError) {
        if reckon_mpi_initialized() == 0 { try Self.check(reckon_mpi_init(), "MPI_Init") }
        try Self.check(reckon_mpi_errors_return(), "MPI_Comm_set_errhandler")
        var r: Int32 = 0, s: Int32 = 0
        try Self.check(reckon_mpi_rank(&r), "MPI_Comm_rank")
        try Self.check(reckon_mpi_size(&s), "MPI_Comm_size")
        rank = Int(r)
        size = Int(s)
    }

    /// Ends MPI at the end of a run; every rank must call it.
    public func finalize() {
        if reckon_mpi_finalized() == 0 { _ = reckon_mpi_finalize() }
    }

    /// Stops every rank of the job (one rank failed; the others would wait for it forever).
    public func abort(code: Int32) -> Never {
        _ = reckon_mpi_abort(code)
        exit(code)
    }

    public func barrier() throws(TrainError) { try Self.check(reckon_mpi_barrier(), "MPI_Barrier") }

    public func sum(_ values: inout [Float]) throws(TrainError) {
        try Self.countFits(values.count)
        let rc = values.withUnsafeMutableBufferPointer { reckon_mpi_allreduce_sum_float($0.baseAddress, Int32($0.count)) }
        try Self.check(rc, "MPI_Allreduce of \(values.count) floats")
    }

    public func sum(_ values: inout [Double]) throws(TrainError) {
        try Self.countFits(values.count)
        let rc = values.withUnsafeMutableBufferPointer { reckon_mpi_allreduce_sum_double($0.baseAddress, Int32($0.count)) }
        try Self.check(rc, "MPI_Allreduce of \(values.count) doubles")
    }

    public func allgather(_ bytes: [UInt8]) throws(TrainError) -> [[UInt8]] {
        try Self.countFits(bytes.count)
        var counts = [Int32](repeating: 0, count: size)
        var mine = Int32(bytes.count)
        try Self.check(reckon_mpi_allgather_int(&mine, 1, &counts), "MPI_Allgather of byte counts")
        var offsets = [Int32](repeating: 0, count: size)
        for r in 1..<max(1, size) { offsets[r] = offsets[r - 1] + counts[r - 1] }
        let total = Int(counts.reduce(0, +))
        try Self.countFits(total)
        var out = [UInt8](repeating: 0, count: max(1, total))
        let rc = bytes.withUnsafeBytes { send in
            out.withUnsafeMutableBytes { recv in
                reckon_mpi_allgatherv_bytes(send.baseAddress, mine, recv.baseAddress, counts, offsets)
            }
        }
        try Self.check(rc, "MPI_Allgatherv of \(total) bytes")
        return (0..<size).map { r in Array(out[Int(offsets[r])..<Int(offsets[r] + counts[r])]) }
    }

    static func countFits(_ n: Int) throws(TrainError) {
        guard n <= Int(Int32.max) else { throw .collective("\(n) values exceed one MPI call's count (Int32)") }
    }

    static func check(_ code: Int32, _ call: String) throws(TrainError) {
        guard code != reckon_mpi_success() else { return }
        var text = [CChar](repeating: 0, count: 512)
        var length: Int32 = 0
        _ = reckon_mpi_error_string(code, &text, &length)
        let message = String(decoding: text.prefix(Int(max(0, length))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw .collective("\(call) failed: \(message) (MPI error \(code))")
    }
}
