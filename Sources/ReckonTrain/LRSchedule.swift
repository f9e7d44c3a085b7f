import Foundation

// The learning-rate schedules the stage loop applies; the trainers only receive the rate.

/// Linear warm-up from 0 to `maxLR` over `warmupSteps`, then cosine decay to `minLR` at `totalSteps`.
public struct LRSchedule: Codable, Sendable, Equatable {
    public var maxLR: Float
    public var minLR: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    public init(maxLR: Float, minLR: Float = 0, warmupSteps: Int = 0, totalSteps: Int) throws(TrainError) {
        guard maxLR > 0, minLR >= 0, minLR <= maxLR else { throw .invalidSchedule("need 0 ≤ minLR ≤ maxLR and maxLR > 0") }
        guard totalSteps > 0, warmupSteps >= 0, warmupSteps <= totalSteps else {
            throw .invalidSchedule("need 0 ≤ warmupSteps ≤ totalSteps and totalSteps > 0")
        }
        self.maxLR = maxLR; self.minLR = minLR; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }

    /// Learning rate for 0-based `step`.
    public func lr(at step: Int) -> Float {
        if step < warmupSteps { return maxLR * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let t = min(1, Double(step - warmupSteps) / Double(span))
        return minLR + (maxLR - minLR) * Float(0.5 * (1 + cos(Double.pi * t)))
    }
}
