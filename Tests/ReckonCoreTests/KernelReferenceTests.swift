import CKernels
import XCTest
@testable import ReckonCore

/// Each AVX/FMA kernel beside its reference, as llm.c keeps its CPU paths: the references
/// run on every CPU (so the scalar paths are tested on AVX machines too) against values
/// computed here in double precision, and the C kernels, where they can run, against the
/// references.
final class KernelReferenceTests: XCTestCase {
    func randomRows(_ n: Int, seed: UInt64, scale: Float = 3) -> [Float] {
        var rng = RNG(seed: seed)
        return (0..<n).map { _ in scale * rng.normal() }
    }

    func assertClose(_ a: [Float], _ b: [Double], tolerance: Double, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where abs(Double(x) - y) > tolerance {
            XCTFail("\(what): element \(i) is \(x), want \(y)", file: file, line: line)
            return
        }
    }

    func testSoftmaxRowReferenceAndKernel() throws {
        for (len, width) in [(1, 1), (5, 8), (13, 16), (64, 70), (257, 260)] {
            let x = randomRows(width, seed: UInt64(len))
            let mx = x[0..<len].max()!
            let e = x[0..<len].map { exp(Double($0 - mx)) }
            let want = e.map { $0 / e.reduce(0, +) } + [Double](repeating: 0, count: width - len)
            var ref = x
            ref.withUnsafeMutableBufferPointer { Attention.softmaxRowReference($0.baseAddress!, len: len, width: width) }
            assertClose(ref, want, tolerance: 1e-6, "reference len \(len)")
            guard CPUKernels.available else { continue }
            var kernel = x
            kernel.withUnsafeMutableBufferPointer { rk_softmax_row($0.baseAddress!, Int32(len), Int32(width)) }
            assertClose(kernel, ref.map(Double.init), tolerance: 1e-6, "rk_softmax_row len \(len)")
        }
    }

    /// Cross-entropy's vocabulary-wide rows: log Σ exp and w·exp(x − lse), the scalar
    /// reference and the 8-lane kernels, against double precision.
    func testLogSumExpAndScaledExpReferenceAndKernel() throws {
        for len in [1, 7, 8, 23, 1000, 4099] {
            let x = randomRows(len, seed: UInt64(len) + 40, scale: 4)
            let mx = Double(x.max()!)
            let lse = mx + log(x.reduce(0.0) { $0 + exp(Double($1) - mx) })
            let ref = x.withUnsafeBufferPointer { CrossEntropy.logSumExp($0.baseAddress!, len) }
            XCTAssertEqual(Double(ref), lse, accuracy: 1e-5, "reference len \(len)")
            guard CPUKernels.available else { continue }
            let fast = x.withUnsafeBufferPointer { rk_log_sum_exp($0.baseAddress!, Int32(len)) }
            XCTAssertEqual(Double(fast), lse, accuracy: 1e-5, "rk_log_sum_exp len \(len)")
            let w: Float = 0.375
            var out = [Float](repeating: -1, count: len + 3)  // the 3 past the row stay untouched
            x.withUnsafeBufferPointer { xp in
                out.withUnsafeMutableBufferPointer { rk_scaled_exp(xp.baseAddress!, Int32(len), Float(lse), w, $0.baseAddress!) }
            }
            assertClose(Array(out[0..<len]), x.map { 0.375 * exp(Double($0) - Double(Float(lse))) }, tolerance: 1e-7, "rk_scaled_exp len \(len)")
            XCTAssertEqual(Array(out[len...]), [-1, -1, -1])
        }
    }

    func testSoftmaxBackwardRowReferenceAndKernel() throws {
        for (len, width) in [(1, 2), (9, 16), (64, 64), (100, 128)] {
            var p = randomRows(len, seed: 7)
            p.withUnsafeMutableBufferPointer { Attention.softmaxRowReference($0.baseAddress!, len: len, width: len) }
            p += [Float](repeating: 0, count: width - len)
            let g = randomRows(width, seed: 8)
            let scale: Float = 0.125
            let dot = (0..<len).reduce(0.0) { $0 + Double(p[$1]) * Double(g[$1]) }
            let want = (0..<width).map { j in j < len ? Double(p[j]) * (Double(g[j]) - dot) * Double(scale) : 0 }
            var ref = g
            p.withUnsafeBufferPointer { pp in ref.withUnsafeMutableBufferPointer {
                Attention.softmaxBackwardRowReference(pp.baseAddress!, $0.baseAddress!, len: len, width: width, scale: scale)
            } }
            assertClose(ref, want, tolerance: 1e-6, "reference len \(len)")
            guard CPUKernels.available else { continue }
            var kernel = g
            p.withUnsafeBufferPointer { pp in kernel.withUnsafeMutableBufferPointer {
                rk_softmax_backward_row(pp.baseAddress!, $0.baseAddress!, Int32(len), Int32(width), scale)
            } }
            assertClose(kernel, ref.map(Double.init), tolerance: 1e-6, "rk_softmax_backward_row len \(len)")
        }
    }

    func testCachedHeadReferenceAndKernel() throws {
        for (len, hd) in [(1, 8), (7, 16), (40, 32), (129, 64)] {
            let q = randomRows(hd, seed: 1, scale: 1), keys = randomRows(len * hd, seed: 2, scale: 1)
            let values = randomRows(len * hd, seed: 3, scale: 1)
            // softmax(q·Kᵀ/√hd) · V in double precision.
            let s = (0..<len).map { t in (0..<hd).reduce(0.0) { $0 + Double(q[$1]) * Double(keys[t * hd + $1]) } / Double(hd).squareRoot() }
            let e = s.map { exp($0 - s.max()!) }, z = e.reduce(0, +)
            let want = (0..<hd).map { i in (0..<len).reduce(0.0) { $0 + e[$1] / z * Double(values[$1 * hd + i]) } }
            func run(_ f: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) -> Void) -> [Float] {
                var out = [Float](repeating: .nan, count: hd), scores = [Float](repeating: .nan, count: len)
                out.withUnsafeMutableBufferPointer { o in scores.withUnsafeMutableBufferPointer { sc in
                    q.withUnsafeBufferPointer { qp in keys.withUnsafeBufferPointer { kp in values.withUnsafeBufferPointer { vp in
                        f(o.baseAddress!, sc.baseAddress!, qp.baseAddress!, kp.baseAddress!, vp.baseAddress!)
                    } } }
                } }
                return out
            }
            let ref = run { Attention.cachedHeadReference(out: $0, scores: $1, q: $2, keys: $3, values: $4, len: len, headDim: hd) }
            assertClose(ref, want, tolerance: 1e-5, "reference len \(len) hd \(hd)")
            guard CPUKernels.available else { continue }
            let kernel = run { rk_attend_head($2, $3, $4, Int32(len), Int32(hd), 1 / Float(hd).squareRoot(), $1, $0) }
            assertClose(kernel, ref.map(Double.init), tolerance: 1e-5, "rk_attend_head len \(len) hd \(hd)")
        }
    }

    /// The few-row product's reference is OpenBLAS (`Matmul.forwardBLAS`).
    func testFewRowProductReferenceAndKernel() throws {
        for (n, k, m) in [(1, 8, 3), (4, 64, 9), (17, 256, 40)] {
            let x = randomRows(n * k, seed: 4, scale: 1), w = randomRows(m * k, seed: 5, scale: 1)
            let want = (0..<(n * m)).map { e in (0..<k).reduce(0.0) { $0 + Double(x[e / m * k + $1]) * Double(w[e % m * k + $1]) } }
            func run(_ f: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>) -> Void) -> [Float] {
                var out = [Float](repeating: .nan, count: n * m)
                out.withUnsafeMutableBufferPointer { o in x.withUnsafeBufferPointer { xp in w.withUnsafeBufferPointer { wp in
                    f(o.baseAddress!, xp.baseAddress!, wp.baseAddress!)
                } } }
                return out
            }
            let ref = run { Matmul.forwardBLAS($0, $1, $2, n: n, inDim: k, outDim: m) }
            assertClose(ref, want, tolerance: 1e-4, "forwardBLAS n \(n) k \(k)")
            guard CPUKernels.available else { continue }
            let kernel = run { rk_small_gemm($1, $2, $0, Int32(n), Int32(k), Int32(m), 0) }
            assertClose(kernel, ref.map(Double.init), tolerance: 1e-4, "rk_small_gemm n \(n) k \(k)")
        }
    }

    /// The SwiGLU gate: the scalar references against double precision, and the 8-lane
    /// kernels (exp(−|x|), so no lane overflows) against the references, over lengths with
    /// and without a tail and inputs from −100 to 100.
    func testSwiGLUReferenceAndKernel() throws {
        for n in [1, 7, 8, 37] {
            var a = randomRows(n, seed: UInt64(n), scale: 4), b = randomRows(n, seed: UInt64(n + 100))
            let dout = randomRows(n, seed: UInt64(n + 200))
            if n == 37 { a[0] = -100; a[1] = 100; a[2] = 0; a[3] = -30 }
            let sig = a.map { 1 / (1 + exp(-Double($0))) }
            let wantOut: [Double] = (0..<n).map { i in Double(a[i]) * sig[i] * Double(b[i]) }
            let wantDb: [Double] = (0..<n).map { i in Double(dout[i]) * Double(a[i]) * sig[i] }
            let wantDa: [Double] = (0..<n).map { i in
                let x = Double(a[i]), s = sig[i]
                return Double(dout[i]) * Double(b[i]) * s * (1 + x * (1 - s))
            }
            var out = [Float](repeating: 0, count: n), da = out, db = out
            SwiGLU.forwardReference(&out, a: a, b: b, count: n)
            SwiGLU.backwardReference(da: &da, db: &db, dout: dout, a: a, b: b, count: n)
            let amax: Float = a.map(abs).max() ?? 1, bmax: Float = b.map(abs).max() ?? 1, gmax: Float = dout.map(abs).max() ?? 1
            let tol = 1e-5 * Double(amax * bmax * gmax)
            assertClose(out, wantOut, tolerance: tol, "forward reference n \(n)")
            assertClose(db, wantDb, tolerance: tol, "backward reference db n \(n)")
            assertClose(da, wantDa, tolerance: tol, "backward reference da n \(n)")
            guard CPUKernels.available else { continue }
            var kOut = [Float](repeating: 9, count: n), kDa = kOut, kDb = kOut
            rk_swiglu_forward(a, b, &kOut, n)
            rk_swiglu_backward(dout, a, b, &kDa, &kDb, n)
            assertClose(kOut, out.map(Double.init), tolerance: tol, "rk_swiglu_forward n \(n)")
            assertClose(kDb, db.map(Double.init), tolerance: tol, "rk_swiglu_backward db n \(n)")
            assertClose(kDa, da.map(Double.init), tolerance: tol, "rk_swiglu_backward da n \(n)")
            // In place, as decode calls it (out = a).
            var inPlace = a
            inPlace.withUnsafeMutableBufferPointer { rk_swiglu_forward($0.baseAddress!, b, $0.baseAddress!, n) }
            XCTAssertEqual(inPlace, kOut, "in place n \(n)")
        }
    }

    /// AdamW's update: the reference against the formula in double precision, and the
    /// 8-lane kernel against the reference bit for bit (both round after every operation),
    /// with and without decay and clipping, over lengths with a tail.
    func testAdamWReferenceAndKernel() throws {
        let k = AdamWKernel.Constants(beta1: 0.9, beta2: 0.95, eps: 1e-8, bc1: 1 - 0.9 * 0.9, bc2: 1 - 0.95 * 0.95, clip: 0.5)
        for (n, decay) in [(3, Float(0)), (8, 1e-4), (29, 1e-3)] {
            let g = randomRows(n, seed: UInt64(n)), p0 = randomRows(n, seed: UInt64(n + 1))
            let m0 = randomRows(n, seed: UInt64(n + 2), scale: 0.1), v0 = randomRows(n, seed: UInt64(n + 3), scale: 0.1).map { $0 * $0 }
            var p = p0, m = m0, v = v0
            AdamWKernel.updateReference(p: &p, g: g, m: &m, v: &v, count: n, rate: 1e-3, decay: decay, constants: k)
            var wantP: [Double] = []
            for i in 0..<n {
                let gi = Double(g[i]) * 0.5
                let mi = 0.9 * Double(m0[i]) + 0.1 * gi, vi = 0.95 * Double(v0[i]) + 0.05 * gi * gi
                let mh = mi / Double(k.bc1), vh = vi / Double(k.bc2)
                let pi = Double(p0[i]) - 1e-3 * mh / (vh.squareRoot() + 1e-8)
                wantP.append(pi - Double(decay) * pi)
            }
            assertClose(p, wantP, tolerance: 1e-6, "reference n \(n)")
            guard CPUKernels.available else { continue }
            var kp = p0, km = m0, kv = v0
            var args = rk_adamw_args(beta1: k.beta1, beta2: k.beta2, eps: k.eps, bc1: k.bc1, bc2: k.bc2, clip: k.clip, rate: 1e-3, decay: decay)
            rk_adamw(&kp, g, &km, &kv, n, &args)
            XCTAssertEqual(kp, p, "rk_adamw parameters n \(n)")
            XCTAssertEqual(km, m, "rk_adamw first moment n \(n)")
            XCTAssertEqual(kv, v, "rk_adamw second moment n \(n)")
        }
    }

    /// The gradient's sum of squares: kernel and reference against double precision, and
    /// the blocked, pooled sum the same at every thread count.
    func testSumOfSquaresReferenceKernelAndBlocks() throws {
        for n in [1, 9, 1000] {
            let x = randomRows(n, seed: UInt64(n))
            let want = x.reduce(0.0) { $0 + Double($1) * Double($1) }
            let ref = AdamWKernel.sumOfSquaresReference(x, count: n)
            XCTAssertEqual(ref, want, accuracy: 1e-12 * want)
            if CPUKernels.available { XCTAssertEqual(rk_sum_squares(x, n), want, accuracy: 1e-12 * want) }
        }
        let saved = BLAS.threads
        defer { BLAS.setThreads(saved) }
        let x = randomRows(3 * AdamWKernel.sumBlock + 17, seed: 4)
        var sums: [Double] = []
        for t in [1, 2, 3] {
            BLAS.setThreads(t)
            sums.append(AdamWKernel.sumOfSquares(x, count: x.count))
        }
        XCTAssertEqual(sums[1], sums[0]); XCTAssertEqual(sums[2], sums[0])
        XCTAssertEqual(sums[0], AdamWKernel.sumOfSquaresReference(x, count: x.count), accuracy: 1e-12 * sums[0])
    }
}
