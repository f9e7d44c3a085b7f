// Central-difference gradients and the error measure the gradient-check tests use; no training path calls it.

/// Central-difference gradients, the reference the analytic backward passes are tested against.
public enum FiniteDifference {
    /// ∂loss/∂x_i ≈ (loss(x + h·e_i) − loss(x − h·e_i)) / 2h for each i in `indices`.
    public static func gradient(
        of loss: ([Float]) -> Double, at x: [Float], indices: [Int], h: Float
    ) -> [Double] {
        var probe = x
        return indices.map { i in
            let keep = probe[i]
            probe[i] = keep + h
            let up = loss(probe)
            probe[i] = keep - h
            let down = loss(probe)
            probe[i] = keep
            return (up - down) / (2 * Double(h))
        }
    }

    /// max_i |analytic_i − numeric_i| / max_i |numeric_i|: an error relative to the tensor's
    /// gradient scale, so tiny entries do not dominate.
    public static func relativeError(analytic: [Double], numeric: [Double]) -> Double {
        precondition(analytic.count == numeric.count)
        let scale = max(numeric.map(abs).max() ?? 0, 1e-12)
        return zip(analytic, numeric).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }

    /// Evenly spread sample of `count` indices from 0..<n (all of them if n ≤ count).
    public static func sampleIndices(_ n: Int, count: Int) -> [Int] {
        n <= count ? Array(0..<n) : (0..<count).map { $0 * n / count }
    }
}
