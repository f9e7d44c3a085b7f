// The load-linked think threshold: its settings and the controller that raises the threshold under load.

/// The load-linked think threshold: when thinking demand outruns what the budget refills,
/// only the prompts the model is surest need thinking keep it.
///
/// Control law, evaluated at every routing decision:
///
///     demand  D = λ · p̄_think · L̄           thinking units asked for per second
///     supply  S = R                          the bucket's refill per second
///     keep    f = min(1, S / D) · min(1, q₀ / q)
///     τ_eff   = max(τ_base, quantile_{1−f}(p(think) of recent would-be thinkers))
///
/// λ is the measured arrival rate (an exponential moving average over `window` arrivals),
/// p̄_think the fraction of recent requests that chose to think before the law applied, L̄
/// the mean measured thinking length in budget units, q the number of requests waiting for
/// budget and q₀ the queue depth tolerated before the threshold rises further. Taking the
/// (1 − f) quantile of recent p(think) values means that, in steady state, the fraction f
/// of would-be thinkers with the highest p(think) still think: the budget is spent where
/// the model expects thinking to pay most, instead of on whoever arrives first.
public struct LoadLinkedConfig: Sendable, Equatable {
    /// Queue depth tolerated before it alone raises the threshold.
    public var queueTarget: Double = 4
    /// Requests remembered for the rate, the think fraction and the p(think) quantile.
    public var window: Int = 128

    public init(queueTarget: Double = 4, window: Int = 128) throws(RuntimeError) {
        guard queueTarget > 0, queueTarget.isFinite else { throw .invalidConfig("load-linked queue target must be > 0") }
        guard window >= 8 else { throw .invalidConfig("load-linked window must be ≥ 8 requests") }
        self.queueTarget = queueTarget; self.window = window
    }
}

public struct LoadController: Sendable, Equatable {
    public let config: LoadLinkedConfig
    private var arrivals: [Double] = []
    private var recentP: [Double] = []
    private var recentThink: [Bool] = []
    private var meanThinkUnits: Double

    public init(config: LoadLinkedConfig, initialThinkUnits: Double) {
        self.config = config
        meanThinkUnits = initialThinkUnits
    }

    public mutating func observeArrival(at t: Double) {
        arrivals.append(t)
        if arrivals.count > config.window { arrivals.removeFirst(arrivals.count - config.window) }
    }

    /// A routing decision before the law: the model's p(think) and whether it chose to think.
    public mutating func observeRoute(pThink: Double, wouldThink: Bool) {
        recentThink.append(wouldThink)
        if recentThink.count > config.window { recentThink.removeFirst() }
        if wouldThink {
            recentP.append(pThink)
            if recentP.count > config.window { recentP.removeFirst() }
        }
    }

    /// A finished think, in budget units.
    public mutating func observeThinking(units: Double) {
        meanThinkUnits += (units - meanThinkUnits) / 16
    }

    /// Arrivals per second over the remembered window (0 until two have been seen).
    public var arrivalRate: Double {
        guard arrivals.count >= 2, let first = arrivals.first, let last = arrivals.last, last > first else { return 0 }
        return Double(arrivals.count - 1) / (last - first)
    }

    /// The fraction f of would-be thinkers that may think.
    public func keepFraction(refillPerSecond: Double, waiting: Int) -> Double {
        let thinkFraction = recentThink.isEmpty ? 1 : Double(recentThink.filter { $0 }.count) / Double(recentThink.count)
        let demand = arrivalRate * thinkFraction * meanThinkUnits
        let supply = demand > 0 ? min(1, refillPerSecond / demand) : 1
        let queue = Double(waiting) > config.queueTarget ? config.queueTarget / Double(waiting) : 1
        return supply * queue
    }

    /// τ_eff for the next routing decision.
    public func threshold(base: Double, refillPerSecond: Double, waiting: Int) -> Double {
        let f = keepFraction(refillPerSecond: refillPerSecond, waiting: waiting)
        guard f < 1, !recentP.isEmpty else { return base }
        let sorted = recentP.sorted()
        let index = min(sorted.count - 1, Int((1 - f) * Double(sorted.count)))
        return max(base, sorted[index])
    }
}
