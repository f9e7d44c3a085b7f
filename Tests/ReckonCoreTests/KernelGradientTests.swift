import XCTest
@testable import ReckonCore

/// Finite-difference checks of every kernel's backward pass. Each loss is Σ r ⊙ output
/// with a fixed random r, so ∂loss/∂output = r. Tolerance: 1e-2 of the gradient's scale
/// with h = 1e-3 in float32 (the forward's own rounding bounds the numeric side).
final class KernelGradientTests: XCTestCase {
    var rng = RNG(seed: 42)
    func randn(_ n: Int, _ s: Float = 1) -> [Float] { (0..<n).map { _ in s * rng.normal() } }
    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
    let h: Float = 1e-3, tol = 1e-2

    func check(_ name: String, _ x: [Float], analytic: [Float], loss: ([Float]) -> Double,
               file: StaticString = #filePath, line: UInt = #line) {
        let idx = FiniteDifference.sampleIndices(x.count, count: 64)
        let num = FiniteDifference.gradient(of: loss, at: x, indices: idx, h: h)
        let err = FiniteDifference.relativeError(analytic: idx.map { Double(analytic[$0]) }, numeric: num)
        XCTAssertLessThan(err, tol, "\(name): relative gradient error \(err)", file: file, line: line)
        XCTAssertGreaterThan(num.map(abs).max() ?? 0, 1e-6, "\(name): gradient is vacuous", file: file, line: line)
    }

    func testMatmul() {
        let n = 5, i = 7, o = 6
        let x = randn(n * i), w = randn(o * i), r = randn(n * o)
        func fwd(_ x: [Float], _ w: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: n * o)
            Matmul.forward(&out, x, w, n: n, inDim: i, outDim: o)
            return out
        }
        var dx = [Float](repeating: 0, count: n * i), dw = [Float](repeating: 0, count: o * i)
        Matmul.backward(dinp: &dx, dw: &dw, dout: r, inp: x, w: w, n: n, inDim: i, outDim: o)
        check("matmul.x", x, analytic: dx) { dot(fwd($0, w), r) }
        check("matmul.w", w, analytic: dw) { dot(fwd(x, $0), r) }
    }

    func testEmbedding() {
        let v = 9, d = 4, tokens: [Int32] = [3, 0, 3, 8, 5]
        let table = randn(v * d), r = randn(tokens.count * d)
        func fwd(_ t: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: tokens.count * d)
            Embedding.forward(&out, tokens: tokens, table: t, n: tokens.count, dim: d)
            return out
        }
        var dt = [Float](repeating: 0, count: v * d)
        Embedding.backward(dtable: &dt, dout: r, tokens: tokens, n: tokens.count, dim: d)
        check("embedding.table", table, analytic: dt) { dot(fwd($0), r) }
    }

    func testRMSNorm() {
        let n = 4, d = 8
        let x = randn(n * d), w = randn(d), r = randn(n * d)
        func fwd(_ x: [Float], _ w: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: n * d), rstd = [Float](repeating: 0, count: n)
            RMSNorm.forward(&out, rstd: &rstd, x, weight: w, n: n, dim: d, eps: 1e-5)
            return out
        }
        var out = [Float](repeating: 0, count: n * d), rstd = [Float](repeating: 0, count: n)
        RMSNorm.forward(&out, rstd: &rstd, x, weight: w, n: n, dim: d, eps: 1e-5)
        var dx = [Float](repeating: 0, count: n * d), dw = [Float](repeating: 0, count: d)
        RMSNorm.backward(dinp: &dx, dweight: &dw, dout: r, inp: x, weight: w, rstd: rstd, n: n, dim: d)
        check("rmsnorm.x", x, analytic: dx) { dot(fwd($0, w), r) }
        check("rmsnorm.w", w, analytic: dw) { dot(fwd(x, $0), r) }
    }

    func testSwiGLU() {
        let n = 24
        let a = randn(n, 2), b = randn(n), r = randn(n)
        func fwd(_ a: [Float], _ b: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: n)
            SwiGLU.forward(&out, a: a, b: b, count: n)
            return out
        }
        var da = [Float](repeating: 0, count: n), db = da
        SwiGLU.backward(da: &da, db: &db, dout: r, a: a, b: b, count: n)
        check("swiglu.a", a, analytic: da) { dot(fwd($0, b), r) }
        check("swiglu.b", b, analytic: db) { dot(fwd(a, $0), r) }
    }

    func testRoPEBackwardIsInverseRotation() {
        let n = 3, heads = 2, hd = 6
        let table = RoPETable(headDim: hd, maxSeqLen: 16, theta: 10000)
        let pos: [Int32] = [0, 5, 11]
        let x = randn(n * heads * hd), r = randn(n * heads * hd)
        func fwd(_ x: [Float], inverse: Bool = false) -> [Float] {
            var y = x
            RoPE.apply(&y, positions: pos, cos: table.cos, sin: table.sin, n: n, heads: heads, headDim: hd, inverse: inverse)
            return y
        }
        check("rope.x", x, analytic: fwd(r, inverse: true)) { dot(fwd($0), r) }
        // A rotation keeps norms, and the pair (x[2j], x[2j+1]) at position 0 is untouched.
        XCTAssertEqual(dot(fwd(x), fwd(x)), dot(x, x), accuracy: 1e-4)
        XCTAssertEqual(Array(fwd(x)[0..<(heads * hd)]), Array(x[0..<(heads * hd)]))
    }

    /// Attention with RoPE applied to q and k, causal mask, grouped KV heads (4 query heads, 2 KV heads).
    func testAttentionWithRoPE() {
        let B = 2, T = 5, H = 4, Hkv = 2, hd = 4, qd = H * hd, kvd = Hkv * hd, N = B * T
        let table = RoPETable(headDim: hd, maxSeqLen: T, theta: 10000)
        let pos = (0..<N).map { Int32($0 % T) }
        let q = randn(N * qd), k = randn(N * kvd), v = randn(N * kvd), r = randn(N * qd)
        func rot(_ x: [Float], _ heads: Int, inverse: Bool = false) -> [Float] {
            var y = x
            RoPE.apply(&y, positions: pos, cos: table.cos, sin: table.sin, n: N, heads: heads, headDim: hd, inverse: inverse)
            return y
        }
        func fwd(_ q: [Float], _ k: [Float], _ v: [Float]) -> (out: [Float], att: [Float]) {
            var out = [Float](repeating: 0, count: N * qd), att = [Float](repeating: 0, count: B * H * T * T)
            Attention.forward(out: &out, att: &att, q: rot(q, H), k: rot(k, Hkv), v: v,
                              batch: B, seqLen: T, heads: H, kvHeads: Hkv, headDim: hd)
            return (out, att)
        }
        let (_, att) = fwd(q, k, v)
        // Causal mask: no weight on future positions; rows sum to 1.
        for bh in 0..<(B * H) { for i in 0..<T {
            let row = att[(bh * T + i) * T..<((bh * T + i + 1) * T)]
            XCTAssertEqual(row.reduce(0, +), 1, accuracy: 1e-5)
            for j in (i + 1)..<T { XCTAssertEqual(row[row.startIndex + j], 0) }
        } }
        var dq = [Float](repeating: 0, count: N * qd), dk = [Float](repeating: 0, count: N * kvd), dv = dk
        var scratch = [Float](repeating: 0, count: Parallel.workers * T * T)
        Attention.backward(dq: &dq, dk: &dk, dv: &dv, scratch: &scratch, dout: r, att: att,
                           q: rot(q, H), k: rot(k, Hkv), v: v, batch: B, seqLen: T, heads: H, kvHeads: Hkv, headDim: hd)
        check("attention.q", q, analytic: rot(dq, H, inverse: true)) { dot(fwd($0, k, v).out, r) }
        check("attention.k", k, analytic: rot(dk, Hkv, inverse: true)) { dot(fwd(q, $0, v).out, r) }
        check("attention.v", v, analytic: dv) { dot(fwd(q, k, $0).out, r) }
    }

    /// Sequences longer than one causal block (64, 64 and a ragged 22 rows): the blocked products
    /// against attention and its gradients written out in Double from their definitions.
    func testBlockedAttentionMatchesTheFullProducts() {
        let B = 1, T = 2 * Attention.causalBlock + 22, H = 2, Hkv = 1, hd = 8, qd = H * hd, kvd = Hkv * hd
        let q = randn(B * T * qd), k = randn(B * T * kvd), v = randn(B * T * kvd), r = randn(B * T * qd)
        var out = [Float](repeating: 0, count: B * T * qd), att = [Float](repeating: .nan, count: B * H * T * T)
        Attention.forward(out: &out, att: &att, q: q, k: k, v: v, batch: B, seqLen: T, heads: H, kvHeads: Hkv, headDim: hd)
        var dq = [Float](repeating: 0, count: B * T * qd), dk = [Float](repeating: .nan, count: B * T * kvd), dv = dk
        var scratch = [Float](repeating: .nan, count: Parallel.workers * T * T)
        Attention.backward(dq: &dq, dk: &dk, dv: &dv, scratch: &scratch, dout: r, att: att,
                           q: q, k: k, v: v, batch: B, seqLen: T, heads: H, kvHeads: Hkv, headDim: hd)
        let scale = 1 / Double(hd).squareRoot()
        var refOut = [Double](repeating: 0, count: T * qd), refDq = refOut
        var refDk = [Double](repeating: 0, count: T * kvd), refDv = refDk
        for h in 0..<H {
            let kh = h / (H / Hkv)
            func Q(_ i: Int, _ c: Int) -> Double { Double(q[i * qd + h * hd + c]) }
            func K(_ j: Int, _ c: Int) -> Double { Double(k[j * kvd + kh * hd + c]) }
            func V(_ j: Int, _ c: Int) -> Double { Double(v[j * kvd + kh * hd + c]) }
            func G(_ i: Int, _ c: Int) -> Double { Double(r[i * qd + h * hd + c]) }
            for i in 0..<T {
                let s = (0...i).map { j in scale * (0..<hd).reduce(0) { $0 + Q(i, $1) * K(j, $1) } }
                let m = s.max() ?? 0, e = s.map { exp($0 - m) }, z = e.reduce(0, +)
                let p = e.map { $0 / z }
                // dL/dp_j = g·v_j; dL/ds_j = p_j (dL/dp_j − Σ p·dL/dp).
                let dp = (0...i).map { j in (0..<hd).reduce(0) { $0 + G(i, $1) * V(j, $1) } }
                let mean = zip(p, dp).reduce(0) { $0 + $1.0 * $1.1 }
                for j in 0...i {
                    let ds = p[j] * (dp[j] - mean) * scale
                    for c in 0..<hd {
                        refOut[i * qd + h * hd + c] += p[j] * V(j, c)
                        refDv[j * kvd + kh * hd + c] += p[j] * G(i, c)
                        refDq[i * qd + h * hd + c] += ds * K(j, c)
                        refDk[j * kvd + kh * hd + c] += ds * Q(i, c)
                    }
                }
            }
        }
        for (name, got, want) in [("out", out, refOut), ("dq", dq, refDq), ("dk", dk, refDk), ("dv", dv, refDv)] {
            let worst = zip(got, want).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? .nan
            XCTAssertLessThan(worst, 1e-5, "\(name): largest error \(worst)")
        }
    }

    /// Classifier (a matmul) followed by cross-entropy with per-token weights, some zero, one target ignored.
    func testClassifierWithMaskedCrossEntropy() {
        let n = 6, d = 5, V = 11
        let x = randn(n * d), w = randn(V * d)
        let targets: [Int32] = [3, 0, 10, -1, 7, 7]
        let weights: [Float] = [0.5, 0, 1.5, 1, -0.7, 0.25]
        func loss(_ x: [Float], _ w: [Float]) -> Double {
            var logits = [Float](repeating: 0, count: n * V), lp = [Float](repeating: 0, count: n)
            Matmul.forward(&logits, x, w, n: n, inDim: d, outDim: V)
            CrossEntropy.forward(logprobs: &lp, logits: logits, targets: targets, n: n, vocab: V)
            XCTAssertEqual(lp[3], 0)
            return zip(lp, weights).reduce(0) { $0 - Double($1.0) * Double($1.1) }
        }
        var logits = [Float](repeating: 0, count: n * V)
        Matmul.forward(&logits, x, w, n: n, inDim: d, outDim: V)
        var dlogits = [Float](repeating: 0, count: n * V)
        CrossEntropy.backward(dlogits: &dlogits, logits: logits, targets: targets, weights: weights, n: n, vocab: V)
        XCTAssertEqual(Array(dlogits[(V)..<(2 * V)]), [Float](repeating: 0, count: V), "zero weight gives zero gradient")
        var dx = [Float](repeating: 0, count: n * d), dw = [Float](repeating: 0, count: V * d)
        Matmul.backward(dinp: &dx, dw: &dw, dout: dlogits, inp: x, w: w, n: n, inDim: d, outDim: V)
        check("classifier.x", x, analytic: dx) { loss($0, w) }
        check("classifier.w", w, analytic: dw) { loss(x, $0) }
    }

    func testRNGIsDeterministicAndSerialisable() {
        var a = RNG(seed: 7), b = RNG(seed: 7)
        for _ in 0..<10 { XCTAssertEqual(a.next(), b.next()) }
        var c = RNG(seed: a.state)
        XCTAssertEqual(a.next(), c.next())
        let u = (0..<1000).map { _ in a.uniform() }
        XCTAssert(u.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(Double(u.reduce(0, +)) / 1000, 0.5, accuracy: 0.05)
    }
}
