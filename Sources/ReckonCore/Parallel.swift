// Thread configuration: parallel loops on the kernel pool (CKernels/pool.c) and BLAS's thread count;
// not the kernels that run inside them.

import CBLAS
import CKernels
import Foundation

/// Thread configuration. Hand-written loops run on the kernel pool (`rk_pool_run`): its
/// workers spin briefly between jobs, which decode needs (dozens of loops per step, each a
/// few microseconds long), and its size is the `--threads` setting. BLAS threads and the
/// pool never run over the same cores at once: loops that call BLAS inside ask it to stay
/// single-threaded while they fan out.
public enum Parallel {
    /// Most parts a loop is split into (the machine's cores); per-worker scratch is sized by it.
    public static let workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(i)` for i in 0..<count, in one contiguous share per part (a part runs on
    /// whichever pool thread claims it).
    /// The caller guarantees that iterations write disjoint memory.
    @inline(__always)
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        chunks(count) { _, range in for i in range { body(i) } }
    }

    /// Splits 0..<count into one contiguous chunk per part; body gets (part, range), and a
    /// part index is never in use on two threads at once, so it can index scratch.
    /// Work below `minChunk` items per worker stays on the calling thread, where a
    /// dispatch would cost more than it saves.
    @inline(__always)
    public static func chunks(_ count: Int, minChunk: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        let w = min(workers, max(1, count / max(1, minChunk)))
        if w == 1 || count <= 1 { body(0, 0..<count); return }
        withoutActuallyEscaping(body) { b in
            var job = ChunkJob(count: count, body: b)
            withUnsafeMutablePointer(to: &job) { ctx in
                rk_pool_run(Int32(w), { ctx, part, parts in
                    guard let job = ctx?.assumingMemoryBound(to: ChunkJob.self).pointee else { return }
                    let lo = job.count * Int(part) / Int(parts), hi = job.count * (Int(part) + 1) / Int(parts)
                    if lo < hi { job.body(Int(part), lo..<hi) }
                }, ctx)
            }
        }
    }

    /// Runs `body` with BLAS restricted to one thread, so the pool's workers have the
    /// cores to themselves.
    @inline(__always)
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        let saved = BLAS.openBLASThreads
        if saved != 1 { openblas_set_num_threads(1) }
        defer { if saved != 1 { openblas_set_num_threads(Int32(saved)) } }
        return try body()
    }
}

/// One `Parallel.chunks` call, handed to the pool's workers by pointer. Sound only because
/// `rk_pool_run` returns after every part has finished.
private struct ChunkJob {
    let count: Int
    let body: (Int, Range<Int>) -> Void
}

/// Threads for matrix products: OpenBLAS's and the few-row kernel's pool.
public enum BLAS {
    public static func setThreads(_ n: Int) {
        openblas_set_num_threads(Int32(n))
        rk_pool_set_threads(Int32(n))
    }
    public static var threads: Int { Int(rk_pool_threads()) }
    static var openBLASThreads: Int { Int(openblas_get_num_threads()) }
}
