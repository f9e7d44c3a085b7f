// Running requests through the engine on a simulated or wall clock: arrivals, the step cost model, the loop.

import Foundation
import ReckonCore

/// When requests arrive in a simulated replay.
public enum ArrivalProcess: Sendable, Equatable {
    /// Everything at t = 0.
    case batch
    /// Poisson arrivals at `rate` per second, drawn from `seed`.
    case poisson(rate: Double, seed: UInt64)

    /// Arrival times for `n` requests, non-decreasing.
    public func times(count n: Int) throws(RuntimeError) -> [Double] {
        switch self {
        case .batch:
            return Array(repeating: 0, count: n)
        case .poisson(let rate, let seed):
            guard rate > 0, rate.isFinite else { throw .invalidConfig("the arrival rate must be > 0 per second, got \(rate)") }
            var rng = RNG(seed: seed)
            var t = 0.0
            return (0..<n).map { _ in
                t += -log(1 - rng.uniformDouble()) / rate  // exponential gaps
                return t
            }
        }
    }
}

/// Simulated time per engine step: a fixed overhead plus the step's FLOPs at a sustained
/// rate. The defaults are this machine's order of magnitude for the small model (2 cores,
/// OpenBLAS); a replay's latencies are comparable with each other, not a measurement.
public struct StepCostModel: Sendable, Equatable {
    public var overheadSeconds: Double
    public var flopsPerSecond: Double

    public init(overheadSeconds: Double = 0.002, flopsPerSecond: Double = 10e9) throws(RuntimeError) {
        guard overheadSeconds >= 0, flopsPerSecond > 0 else { throw .invalidConfig("the step cost model needs overhead ≥ 0 and a rate > 0") }
        self.overheadSeconds = overheadSeconds; self.flopsPerSecond = flopsPerSecond
    }

    public func seconds(_ report: StepReport) -> Double {
        report.rows == 0 ? 0 : overheadSeconds + report.flops / flopsPerSecond
    }
}

/// The clock of a replay.
public enum ReplayClock: Sendable, Equatable {
    /// Each step advances time by the cost model: reproducible offline.
    case simulated(StepCostModel)
    /// Wall-clock seconds since the replay started; arrivals wait for their time.
    case real
}

/// Runs requests through an engine: arrivals at their times, steps as fast as the clock
/// allows. On the simulated clock the run is bit-reproducible for fixed seeds.
public enum Replay {
    /// While requests only wait (for budget or the next arrival), the clock moves by this.
    public static let idleTick = 0.01

    /// Results in the order of `requests`. `progress` is called after each finished request.
    public static func run<B: DecodeBackend>(
        _ requests: [Request], arrivals: [Double], engine: inout Engine<B>, clock: ReplayClock,
        progress: ((Int) -> Void)? = nil, onStep: ((Engine<B>.Snapshot) -> Void)? = nil
    ) throws -> [RequestResult] {
        precondition(arrivals.count == requests.count, "one arrival time per request")
        var results = [RequestResult?](repeating: nil, count: requests.count)
        var index: [String: Int] = [:]
        for (i, r) in requests.enumerated() {
            guard index[r.id] == nil else { throw RuntimeError.invalidRequest("request id \"\(r.id)\" appears twice") }
            index[r.id] = i
        }
        let order = requests.indices.sorted { (arrivals[$0], $0) < (arrivals[$1], $1) }
        var next = 0, done = 0
        let start = DispatchTime.now().uptimeNanoseconds
        func wallTime() -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        var now = 0.0
        while done < requests.count {
            if clock == .real { now = wallTime() }
            while next < order.count, arrivals[order[next]] <= now {
                let i = order[next]
                if let r = try engine.submit(requests[i], now: arrivals[i]) { results[i] = r; done += 1; progress?(done) }
                next += 1
            }
            if engine.isIdle {
                guard next < order.count else { break }
                if clock == .real {
                    let wait = arrivals[order[next]] - now
                    if wait > 0 { Thread.sleep(forTimeInterval: wait) }
                } else {
                    now = max(now, arrivals[order[next]])
                }
                continue
            }
            var report = try engine.step(now: now)
            var end = now
            switch clock {
            case .simulated(let cost): end = now + cost.seconds(report)
            case .real: end = wallTime()
            }
            engine.endStep(&report, at: end)
            onStep?(engine.snapshot(now: now))
            for r in report.finished {
                if let i = index[r.id] { results[i] = r; done += 1; progress?(done) }
            }
            if report.rows > 0 {
                now = end
            } else if clock == .real {
                Thread.sleep(forTimeInterval: idleTick)
            } else {
                let nextArrival = next < order.count ? arrivals[order[next]] : Double.infinity
                now = min(now + idleTick, nextArrival)
            }
        }
        return try results.enumerated().map { i, r throws(RuntimeError) in
            guard let r else { throw .invalidRequest("request \(requests[i].id) never finished") }
            return r
        }
    }
}
