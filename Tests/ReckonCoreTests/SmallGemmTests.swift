import XCTest
import Foundation
@testable import ReckonCore

final class SmallGemmTests: XCTestCase {
    /// out (n, m) = x (n, k) · wᵀ in double precision.
    func reference(_ x: [Float], _ w: [Float], n: Int, k: Int, m: Int) -> [Double] {
        var out = [Double](repeating: 0, count: n * m)
        for r in 0..<n { for j in 0..<m { for i in 0..<k { out[r * m + j] += Double(x[r * k + i]) * Double(w[j * k + i]) } } }
        return out
    }

    func product(_ x: [Float], _ w: [Float], n: Int, k: Int, m: Int, into out: inout [Float], accumulate: Bool) {
        x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { op in
            Matmul.forward(op.baseAddress!, xp.baseAddress!, wp.baseAddress!, n: n, inDim: k, outDim: m, accumulate: accumulate)
        } } }
    }

    /// Row counts around the 4-row blocks, column counts around the 3-column blocks and the
    /// thread split, with and without accumulation, against a double-precision product.
    func testFewRowProductMatchesReference() throws {
        var rng = RNG(seed: 5)
        for (n, k, m) in [(1, 8, 1), (3, 16, 7), (5, 24, 13), (32, 256, 262), (64, 64, 50), (7, 768, 31)] {
            XCTAssertLessThanOrEqual(n, Matmul.smallRowLimit)
            let x = (0..<(n * k)).map { _ in rng.normal() }, w = (0..<(m * k)).map { _ in rng.normal() }
            let base = (0..<(n * m)).map { _ in rng.normal() }
            let want = reference(x, w, n: n, k: k, m: m)
            for accumulate in [false, true] {
                var out = base
                product(x, w, n: n, k: k, m: m, into: &out, accumulate: accumulate)
                for e in 0..<(n * m) {
                    let expected = want[e] + (accumulate ? Double(base[e]) : 0)
                    XCTAssertEqual(Double(out[e]), expected, accuracy: 1e-5 * Double(k).squareRoot() * 4,
                                   "n=\(n) k=\(k) m=\(m) accumulate=\(accumulate) element \(e)")
                }
            }
        }
    }

    /// Bit-identical with the few-row kernel; without AVX/FMA, OpenBLAS's sums depend on the
    /// row and thread counts, so only closeness (1e-5 relative) is promised there.
    func assertSame(_ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        if CPUKernels.available { XCTAssertEqual(a, b, what, file: file, line: line); return }
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        let scale = max(b.map(abs).max() ?? 0, 1e-6)
        let err = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(err / scale, 1e-5, what, file: file, line: line)
    }

    /// Each output is summed in one fixed order, so neither the thread count nor the rows
    /// computed alongside a row change a single bit of it.
    func testFewRowProductIsBitIdenticalAcrossThreadsAndRowCounts() throws {
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        var rng = RNG(seed: 6)
        let n = 33, k = 256, m = 100
        let x = (0..<(n * k)).map { _ in rng.normal() }, w = (0..<(m * k)).map { _ in rng.normal() }
        var outs: [[Float]] = []
        for t in [1, 2, 3] {
            BLAS.setThreads(t)
            var out = [Float](repeating: 0, count: n * m)
            product(x, w, n: n, k: k, m: m, into: &out, accumulate: false)
            outs.append(out)
        }
        assertSame(outs[1], outs[0], "2 threads against 1")
        assertSame(outs[2], outs[0], "3 threads against 1")
        for r in [0, 5, 32] {   // each row alone
            var one = [Float](repeating: 0, count: m)
            product(Array(x[(r * k)..<((r + 1) * k)]), w, n: 1, k: k, m: m, into: &one, accumulate: false)
            assertSame(one, Array(outs[0][(r * m)..<((r + 1) * m)]), "row \(r)")
        }
    }

    /// The pool runs every index once, and a loop started inside a loop runs on its caller
    /// instead of waiting for the busy pool.
    func testParallelLoopsCoverEachIndexOnceAndNest() {
        for count in [0, 1, 2, 7, 1000] {
            var hits = [Int](repeating: 0, count: count)
            hits.withUnsafeMutableBufferPointer { h in
                let p = h.baseAddress
                Parallel.forEach(count) { i in p![i] += 1 }
            }
            XCTAssertEqual(hits, [Int](repeating: 1, count: count), "count \(count)")
        }
        var grid = [Int](repeating: 0, count: 40 * 50)
        grid.withUnsafeMutableBufferPointer { g in
            let p = g.baseAddress
            Parallel.chunks(40) { _, rows in
                for r in rows { Parallel.forEach(50) { c in p![r * 50 + c] += r * 50 + c } }
            }
        }
        XCTAssertEqual(grid, Array(0..<(40 * 50)))
    }
    /// One query against its cached positions, through the AVX kernel, against a
    /// double-precision softmax: position counts on and around the 8-lane blocks, head sizes
    /// with and without a 32-column rest, and scores spread wide enough to underflow exp.
    func testCachedHeadMatchesReference() throws {
        var rng = RNG(seed: 7)
        for (len, hd, spread) in [(1, 8, Float(1)), (7, 32, 1), (8, 32, 3), (9, 40, 3), (80, 64, 1), (200, 32, 30)] {
            let q = (0..<hd).map { _ in rng.normal() * spread }
            let keys = (0..<(len * hd)).map { _ in rng.normal() }, values = (0..<(len * hd)).map { _ in rng.normal() }
            var scores = [Float](repeating: 0, count: len), out = [Float](repeating: 0, count: hd)
            scores.withUnsafeMutableBufferPointer { sp in out.withUnsafeMutableBufferPointer { op in
                Attention.cachedHead(out: op.baseAddress!, scores: sp.baseAddress!, q: q, keys: keys, values: values, len: len, headDim: hd)
            } }
            let s = (0..<len).map { t in (0..<hd).reduce(0.0) { $0 + Double(q[$1]) * Double(keys[t * hd + $1]) } / Double(hd).squareRoot() }
            let mx = s.max() ?? 0, e = s.map { Foundation.exp($0 - mx) }, z = e.reduce(0, +)
            for i in 0..<hd {
                let want = (0..<len).reduce(0.0) { $0 + e[$1] / z * Double(values[$1 * hd + i]) }
                XCTAssertEqual(Double(out[i]), want, accuracy: 2e-6 * max(1, abs(want)), "len \(len) hd \(hd) column \(i)")
            }
        }
    }

    /// The heads of one KV head together (`rk_attend_group`, in blocks of three) give each
    /// head's `cachedHead` result bit for bit, and stay within the reference's tolerance.
    func testCachedGroupEqualsEachHead() throws {
        var rng = RNG(seed: 8)
        for (group, len, hd) in [(1, 1, 8), (2, 9, 40), (3, 33, 64), (4, 8, 32), (5, 70, 96)] {
            let q = (0..<(group * hd)).map { _ in rng.normal() * 2 }
            let keys = (0..<(len * hd)).map { _ in rng.normal() }, values = (0..<(len * hd)).map { _ in rng.normal() }
            var scores = [Float](repeating: .nan, count: group * len), out = [Float](repeating: .nan, count: group * hd)
            scores.withUnsafeMutableBufferPointer { sp in out.withUnsafeMutableBufferPointer { op in
                Attention.cachedGroup(out: op.baseAddress!, scores: sp.baseAddress!, q: q, keys: keys, values: values,
                                      len: len, headDim: hd, group: group)
            } }
            for h in 0..<group {
                var one = [Float](repeating: .nan, count: hd), ref = one, sc = [Float](repeating: .nan, count: len)
                let qh = Array(q[(h * hd)..<((h + 1) * hd)])
                sc.withUnsafeMutableBufferPointer { sp in one.withUnsafeMutableBufferPointer { op in
                    Attention.cachedHead(out: op.baseAddress!, scores: sp.baseAddress!, q: qh, keys: keys, values: values, len: len, headDim: hd)
                } }
                sc.withUnsafeMutableBufferPointer { sp in ref.withUnsafeMutableBufferPointer { op in
                    Attention.cachedHeadReference(out: op.baseAddress!, scores: sp.baseAddress!, q: qh, keys: keys, values: values, len: len, headDim: hd)
                } }
                let got = Array(out[(h * hd)..<((h + 1) * hd)])
                XCTAssertEqual(got, one, "group \(group) len \(len) hd \(hd) head \(h)")
                for i in 0..<hd { XCTAssertEqual(got[i], ref[i], accuracy: 1e-5 * max(1, abs(ref[i])), "head \(h) column \(i)") }
            }
        }
    }

    /// A product of many rows split over the pool (one single-threaded sgemm per part) equals
    /// one OpenBLAS call on one thread, bit for bit: forward, the input gradient, and the
    /// weight gradient, split by rows (first shape) and by columns (second).
    func testSplitProductsEqualOneCall() throws {
        for (n, k, m) in [(2 * Matmul.rowsPerPart + 37, 40, 2 * Matmul.rowsPerPart + 5),
                          (2 * Matmul.rowsPerPart + 2, 2 * Matmul.rowsPerPart + 22, 2 * Matmul.rowsPerPart + 12)] {
            try splitProductEqualsOneCall(n: n, k: k, m: m)
        }
    }

    func splitProductEqualsOneCall(n: Int, k: Int, m: Int) throws {
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        var rng = RNG(seed: 9)
        let x = (0..<(n * k)).map { _ in rng.normal() }, w = (0..<(m * k)).map { _ in rng.normal() }
        let dy = (0..<(n * m)).map { _ in rng.normal() }, dw0 = (0..<(m * k)).map { _ in rng.normal() }
        func run(threads: Int, split: Bool) -> [Float] {
            BLAS.setThreads(threads)
            var y = [Float](repeating: 0, count: n * m), dx = [Float](repeating: 0, count: n * k), dw = dw0
            y.withUnsafeMutableBufferPointer { yp in dx.withUnsafeMutableBufferPointer { dxp in dw.withUnsafeMutableBufferPointer { dwp in
                if split {
                    Matmul.forward(yp.baseAddress!, x, w, n: n, inDim: k, outDim: m)
                } else {
                    Matmul.forwardBLAS(yp.baseAddress!, x, w, n: n, inDim: k, outDim: m)
                }
                Matmul.backward(dinp: dxp.baseAddress!, dw: dwp.baseAddress!, dout: dy, inp: x, w: w, n: n, inDim: k, outDim: m)
            } } }
            return y + dx + dw
        }
        let one = run(threads: 1, split: false)
        XCTAssertEqual(run(threads: 2, split: true), one, "n=\(n) k=\(k) m=\(m), 2 threads")
        XCTAssertEqual(run(threads: 3, split: true), one, "n=\(n) k=\(k) m=\(m), 3 threads")
    }

    /// The 4 × 6 blocks in AVX-512VL's 32 registers give the bits of the 4 × 3 blocks in 16:
    /// row counts around the 4-row blocks, columns around the 6-, 3- and 12-column tiles,
    /// with and without accumulation, on 1 and 2 threads.
    func testWideBlocksEqualNarrowBlocks() throws {
        guard CPUKernels.setWideProducts(true) else { throw XCTSkip("this CPU has no AVX-512VL: only the 16-register product runs here") }
        let saved = BLAS.threads
        defer { CPUKernels.setWideProducts(true); BLAS.setThreads(saved) }
        var rng = RNG(seed: 11)
        for (n, k, m) in [(1, 64, 30), (3, 16, 7), (5, 24, 13), (32, 256, 262), (33, 72, 49)] {
            let x = (0..<(n * k)).map { _ in rng.normal() }, w = (0..<(m * k)).map { _ in rng.normal() }
            let base = (0..<(n * m)).map { _ in rng.normal() }
            for accumulate in [false, true] {
                for threads in [1, 2] {
                    BLAS.setThreads(threads)
                    var outs: [[Float]] = []
                    for wide in [true, false] {
                        CPUKernels.setWideProducts(wide)
                        var out = base
                        product(x, w, n: n, k: k, m: m, into: &out, accumulate: accumulate)
                        outs.append(out)
                    }
                    XCTAssertEqual(outs[0], outs[1], "n=\(n) k=\(k) m=\(m) accumulate=\(accumulate) threads=\(threads)")
                }
            }
        }
    }

    /// Products that share an input, run as one job, equal one `forward` each, bit for bit:
    /// three projections (a layer's query, key and value), five (more than one job holds),
    /// and rows beyond the few-row kernel's limit.
    func testSharedProjectionsEqualSeparateProducts() throws {
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        var rng = RNG(seed: 12)
        let k = 32
        for (n, widths) in [(1, [24, 7, 13]), (5, [24, 7, 13]), (32, [36, 12, 12, 50, 5]), (Matmul.smallRowLimit + 3, [20, 9])] {
            let x = (0..<(n * k)).map { _ in rng.normal() }
            let ws = widths.map { m in (0..<(m * k)).map { _ in rng.normal() } }
            for threads in [1, 2] {
                BLAS.setThreads(threads)
                var separate = widths.map { [Float](repeating: 0, count: n * $0) }
                for (i, m) in widths.enumerated() { product(x, ws[i], n: n, k: k, m: m, into: &separate[i], accumulate: false) }
                // Stale values in the outputs: the shared job overwrites, it does not accumulate.
                let shared = widths.map { [Float](repeating: .nan, count: n * $0) }
                let outs = shared.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0.count) }
                let weights = ws.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0.count) }
                defer { outs.forEach { $0.deallocate() }; weights.forEach { $0.deallocate() } }
                for i in widths.indices {
                    _ = outs[i].initialize(from: shared[i])
                    _ = weights[i].initialize(from: ws[i])
                }
                x.withUnsafeBufferPointer { xp in
                    Matmul.forward(widths.indices.map { Projection(outs[$0].baseAddress!, weights[$0].baseAddress!, outDim: widths[$0]) },
                                   xp.baseAddress!, n: n, inDim: k)
                }
                for i in widths.indices {
                    XCTAssertEqual(Array(outs[i]), separate[i], "n=\(n) widths=\(widths) threads=\(threads) projection \(i)")
                }
            }
        }
    }
}
