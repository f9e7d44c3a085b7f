import ReckonCheckpoint
import ReckonCore
import ReckonModel
import Foundation

// AdamW and its checkpoint form; the learning rate is the stage loop's, held parameters the trainer's.

public struct AdamWConfig: Codable, Sendable, Equatable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var eps: Float = 1e-8
    /// Decoupled weight decay, applied to matrices and embeddings only (not norm gains).
    public var weightDecay: Float = 0.1
    /// Global gradient-norm clip; 0 disables it.
    public var gradClip: Float = 1.0
    public init(beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1, gradClip: Float = 1.0) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay; self.gradClip = gradClip
    }
}

/// AdamW with decoupled weight decay and global gradient-norm clipping.
/// Both moments live in one contiguous buffer with two views.
public struct AdamW: Sendable {
    public var config: AdamWConfig
    /// Moments, (2, P): m at [0, P), v at [P, 2P).
    public var moments: [Float]
    /// Updates taken so far (bias correction uses step + 1).
    public var step: Int
    public let parameterCount: Int
    /// Parameter ranges that receive weight decay.
    let decayRanges: [Range<Int>]

    public init(config: AdamWConfig, layout: ParameterLayout) {
        self.config = config
        parameterCount = layout.count
        moments = [Float](repeating: 0, count: 2 * layout.count)
        step = 0
        decayRanges = layout.tensors.filter(\.decay).map(\.range)
    }

    /// Copies of the two views, indexed like the parameters (for inspection and tests).
    public var m: [Float] { Array(moments[0..<parameterCount]) }
    public var v: [Float] { Array(moments[parameterCount..<(2 * parameterCount)]) }

    /// L2 norm of the whole gradient (the sum of squares in double precision, on the pool).
    public static func gradNorm(_ grads: [Float]) -> Float {
        let s = grads.withUnsafeBufferPointer { g in
            g.baseAddress.map { AdamWKernel.sumOfSquares($0, count: g.count) } ?? 0
        }
        return Float(s.squareRoot())
    }

    /// One update at learning rate `lr`; returns the gradient norm before clipping.
    /// `scaled` lists disjoint parameter ranges that step at `lr` times their factor instead.
    @discardableResult
    public mutating func update(params: inout [Float], grads: [Float], lr: Float,
                                scaled: [(range: Range<Int>, factor: Float)] = []) throws(TrainError) -> Float {
        let P = parameterCount
        guard params.count == P, grads.count == P else {
            throw .shapeMismatch("optimizer holds \(P) parameters; got \(params.count) parameters and \(grads.count) gradients")
        }
        // Per-parameter rate as sorted segments: (start, rate), each running to the next start.
        let special = scaled.filter { !$0.range.isEmpty }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        var segments: [(start: Int, rate: Float)] = [(0, lr)]
        for (k, s) in special.enumerated() {
            guard s.range.upperBound <= P, k == 0 || special[k - 1].range.upperBound <= s.range.lowerBound else {
                throw .shapeMismatch("learning-rate ranges must be disjoint and within the \(P) parameters")
            }
            segments.append((s.range.lowerBound, lr * s.factor))
            segments.append((s.range.upperBound, lr))
        }
        let norm = Self.gradNorm(grads)
        guard norm.isFinite else { throw .nonFiniteGradient }
        let clip: Float = (config.gradClip > 0 && norm > config.gradClip) ? config.gradClip / norm : 1
        step += 1
        let c = config
        let bc1 = 1 - Float(Foundation.pow(Double(c.beta1), Double(step)))
        let bc2 = 1 - Float(Foundation.pow(Double(c.beta2), Double(step)))
        let constants = AdamWKernel.Constants(beta1: c.beta1, beta2: c.beta2, eps: c.eps, bc1: bc1, bc2: bc2, clip: clip)
        let runs = Self.runs(segments: segments, decayRanges: c.weightDecay != 0 ? decayRanges : [],
                             decay: lr * c.weightDecay, count: P)
        params.withUnsafeMutableBufferPointer { p in
            grads.withUnsafeBufferPointer { g in
                moments.withUnsafeMutableBufferPointer { mv in
                    AdamWKernel.update(p: p.baseAddress!, g: g.baseAddress!, m: mv.baseAddress!, v: mv.baseAddress! + P,
                                       runs: runs, constants: constants)
                }
            }
        }
        return norm
    }
}

extension AdamW {
    /// [0, count) cut into runs of one rate and one decay: `segments` give the rates (each
    /// from its start to the next one's), `decayRanges` (sorted, disjoint) take `decay`.
    static func runs(segments: [(start: Int, rate: Float)], decayRanges unsorted: [Range<Int>], decay: Float,
                     count: Int) -> [AdamWKernel.Run] {
        let decayRanges = unsorted.filter { !$0.isEmpty }.sorted { $0.lowerBound < $1.lowerBound }
        var cuts = Set([0, count])
        for s in segments where s.start < count { cuts.insert(s.start) }
        for r in decayRanges { cuts.insert(min(r.lowerBound, count)); cuts.insert(min(r.upperBound, count)) }
        let sorted = cuts.sorted()
        var runs: [AdamWKernel.Run] = []
        var seg = 0, dec = 0
        for (a, b) in zip(sorted, sorted.dropFirst()) where a < b {
            while seg + 1 < segments.count, segments[seg + 1].start <= a { seg += 1 }
            while dec < decayRanges.count, decayRanges[dec].upperBound <= a { dec += 1 }
            let decays = dec < decayRanges.count && decayRanges[dec].contains(a)
            runs.append(AdamWKernel.Run(range: a..<b, rate: segments[seg].rate, decay: decays ? decay : 0))
        }
        return runs
    }

    /// The optimizer from a checkpoint's state, for `layout`'s parameters.
    public init(_ state: OptimizerState, layout: ParameterLayout) throws(TrainError) {
        self.init(config: AdamWConfig(beta1: state.beta1, beta2: state.beta2, eps: state.eps,
                                      weightDecay: state.weightDecay, gradClip: state.gradClip), layout: layout)
        guard state.moments.count == moments.count else {
            throw .shapeMismatch("the checkpoint's optimizer holds \(state.moments.count) moment values; the model needs \(moments.count)")
        }
        moments = state.moments
        step = state.step
    }

    /// What a checkpoint stores of this optimizer.
    public var state: OptimizerState {
        OptimizerState(beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay,
                       gradClip: config.gradClip, step: step, moments: moments)
    }
}
