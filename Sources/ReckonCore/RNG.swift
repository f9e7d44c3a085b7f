// The seedable SplitMix64 generator whose one-word state checkpoints store; a request's seed is derived
// in ReckonRuntime/Request.swift.

import Foundation

/// Seedable, serialisable random number generator (SplitMix64).
///
/// A value type whose whole state is one `UInt64`, so a checkpoint can store it
/// and a resumed run continues the exact same stream.
public struct RNG: RandomNumberGenerator, Sendable, Equatable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 bits of precision.
    public mutating func uniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    public mutating func uniformDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal (Box-Muller; one of the pair is discarded to keep the state a single word).
    public mutating func normal() -> Float {
        let u1 = max(uniformDouble(), 1e-300)
        let u2 = uniformDouble()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n.
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0)
        return Int(next() % UInt64(n))
    }

    /// An independent generator derived from this one (for per-example seeding).
    public func derived(_ salt: UInt64) -> RNG {
        var r = RNG(seed: state ^ (salt &* 0xD1B5_4A32_D192_ED03))
        _ = r.next()
        return r
    }
}

