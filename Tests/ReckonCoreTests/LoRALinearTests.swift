import XCTest
@testable import ReckonCore

/// Finite-difference check of the low-rank layer alone: out += s·(inp·Aᵀ)·Bᵀ.
final class LoRALinearTests: XCTestCase {
    let n = 5, I = 6, O = 4, r = 3
    let s: Float = 2.5

    /// Loss Σ c ⊙ out over random c, with the frozen product left out (it adds no A/B gradient).
    func testGradientsAgainstFiniteDifferences() {
        var rng = RNG(seed: 11)
        func draw(_ k: Int) -> [Float] { (0..<k).map { _ in rng.normal() } }
        let inp0 = draw(n * I), a0 = draw(r * I), b0 = draw(O * r), c = draw(n * O)
        // x = [inp | A | B] so one probe vector covers every input.
        let x = inp0 + a0 + b0
        func loss(_ x: [Float]) -> Double {
            var out = [Float](repeating: 0, count: n * O), u = [Float](repeating: 0, count: n * r)
            x.withUnsafeBufferPointer { xp in
                let p = xp.baseAddress!
                LoRALinear.forward(&out, u: &u, p, a: p + n * I, b: p + n * I + r * I, n: n, inDim: I, outDim: O, rank: r, scale: s)
            }
            return zip(out, c).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        var out = [Float](repeating: 0, count: n * O), u = [Float](repeating: 0, count: n * r)
        var dinp = [Float](repeating: 0, count: n * I), da = [Float](repeating: 0, count: r * I)
        var db = [Float](repeating: 0, count: O * r), du = [Float](repeating: 0, count: n * r)
        LoRALinear.forward(&out, u: &u, inp0, a: a0, b: b0, n: n, inDim: I, outDim: O, rank: r, scale: s)
        LoRALinear.backward(dinp: &dinp, da: &da, db: &db, du: &du, dout: c, inp: inp0, u: u, a: a0, b: b0,
                            n: n, inDim: I, outDim: O, rank: r, scale: s)
        let analytic = dinp + da + db
        for (name, range) in [("inp", 0..<(n * I)), ("A", (n * I)..<(n * I + r * I)), ("B", (n * I + r * I)..<x.count)] {
            let idx = Array(range)
            let num = FiniteDifference.gradient(of: loss, at: x, indices: idx, h: 1e-2)
            let err = FiniteDifference.relativeError(analytic: idx.map { Double(analytic[$0]) }, numeric: num)
            XCTAssertLessThan(err, 1e-3, "\(name): relative error \(err)")
            XCTAssertGreaterThan(num.map(abs).max() ?? 0, 1e-3, "\(name): gradient is vacuous")
        }
    }

    /// merge(W) · x equals W·x + the layer's update.
    func testMergeEqualsUnmergedProduct() {
        var rng = RNG(seed: 12)
        func draw(_ k: Int) -> [Float] { (0..<k).map { _ in rng.normal() } }
        let inp = draw(n * I), w = draw(O * I), a = draw(r * I), b = draw(O * r)
        var unmerged = [Float](repeating: 0, count: n * O), u = [Float](repeating: 0, count: n * r)
        Matmul.forwardBLAS(&unmerged, inp, w, n: n, inDim: I, outDim: O)
        LoRALinear.forward(&unmerged, u: &u, inp, a: a, b: b, n: n, inDim: I, outDim: O, rank: r, scale: s)
        var wm = w
        LoRALinear.merge(&wm, a: a, b: b, inDim: I, outDim: O, rank: r, scale: s)
        var merged = [Float](repeating: 0, count: n * O)
        Matmul.forwardBLAS(&merged, inp, wm, n: n, inDim: I, outDim: O)
        for (x, y) in zip(merged, unmerged) { XCTAssertEqual(x, y, accuracy: 1e-5) }
    }

    /// The classifier-row gradient is column · rows.
    func testRowGradientByHand() {
        let rows: [Float] = [1, 2, 3, 4, 5, 6]          // (2, 3)
        let dlogits: [Float] = [0, 0.5, 9, 0, -2, 9]   // (2, 3): column 1 is [0.5, -2]
        var dw: [Float] = [1, 1, 1]
        dlogits.withUnsafeBufferPointer { LoRALinear.rowGradient(&dw, column: $0.baseAddress! + 1, stride: 3, rows: rows, n: 2, dim: 3) }
        XCTAssertEqual(dw, [-6.5, -8, -9.5] as [Float])  // 1 + 0.5·row0 − 2·row1
    }
}
