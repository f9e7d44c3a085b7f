import CBLAS
import Dispatch
import Foundation

/// Thread configuration. BLAS threads and `concurrentPerform` workers never run
/// over the same cores at once: element-wise and attention loops ask BLAS to stay
/// single-threaded while they fan out.
public enum Parallel {
    /// Worker count for hand-written loops (the machine's cores).
    public static let workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Runs `body(i)` for i in 0..<count on up to `workers` threads.
    /// The caller guarantees that iterations write disjoint memory.
    @inline(__always)
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        if count <= 1 || workers == 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { b in
            let box = UncheckedSendable(b)
            DispatchQueue.concurrentPerform(iterations: count) { i in box.value(i) }
        }
    }

    /// Splits 0..<count into one contiguous chunk per worker; body gets (worker, range).
    /// Work below `minChunk` items per worker stays on the calling thread, where a
    /// dispatch would cost more than it saves (decode runs these loops on a few rows).
    @inline(__always)
    public static func chunks(_ count: Int, minChunk: Int = 1, _ body: (Int, Range<Int>) -> Void) {
        let w = min(workers, max(1, count / max(1, minChunk)))
        if w == 1 { body(0, 0..<count); return }
        forEach(w) { c in
            let lo = count * c / w, hi = count * (c + 1) / w
            if lo < hi { body(c, lo..<hi) }
        }
    }

    /// Runs `body` with BLAS restricted to one thread, so the caller's own
    /// `concurrentPerform` workers have the cores to themselves.
    @inline(__always)
    public static func withSingleThreadedBLAS<R>(_ body: () throws -> R) rethrows -> R {
        let saved = BLAS.threads
        if saved != 1 { BLAS.setThreads(1) }
        defer { if saved != 1 { BLAS.setThreads(saved) } }
        return try body()
    }
}

public enum BLAS {
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
}

/// Lets a non-escaping closure that captures raw pointers run on Dispatch's workers.
/// Sound only because `Parallel` waits for every iteration before returning.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
