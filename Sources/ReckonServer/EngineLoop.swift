// The engine on its own thread, stepped on the real clock: HTTP handlers' inbox in, token updates and
// results out; the engine itself is ReckonRuntime/Engine.swift's.

import Dispatch
import Foundation
import ReckonData
import ReckonModel
import ReckonRuntime

/// What a request's update stream carries.
enum EngineUpdate: Sendable {
    /// A generated token (only for requests that asked for tokens: streams).
    case token(TokenEvent)
    /// The outcome, served or rejected by the engine; `correct` when `expected_answer` was given.
    case finished(RequestResult, correct: Bool?)
    /// The request never reached the engine, or the model failed under it.
    case refused(APIError)
}

/// Owns the engine on a dedicated thread and steps it on the real clock while it has work.
///
/// Model calls are CPU-bound, so they run here and never on the NIO event loops. HTTP
/// handlers put requests in an inbox; between two steps the loop moves them into the
/// engine (continuous batching: they join the running batch at the next step), runs one
/// step, and hands each request's token events and result to its own async stream.
final class EngineLoop: @unchecked Sendable {
    typealias Model = Engine<AnyDecodeBackend>

    private struct Submission {
        var request: Request
        var arrival: Double
        var expectedAnswer: String?
        var wantsTokens: Bool
        var continuation: AsyncStream<EngineUpdate>.Continuation
    }

    /// While requests only wait for budget, the loop sleeps this long between steps.
    static let idleTick = 0.005

    private let condition = NSCondition()
    // Guarded by `condition`.
    private var inbox: [Submission] = []
    /// Ids of requests whose client went away.
    private var cancellations: [String] = []
    private var stopRequested = false
    private var started = false
    private var exited = false
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []

    // Touched by the loop thread only (after `start`).
    private var engine: Model
    private let makeEngine: @Sendable (Double) throws -> Model
    private var streams: [String: Submission] = [:]
    private var steps = 0
    private var broken: String?

    private let metrics: ServerMetrics
    private let origin = DispatchTime.now().uptimeNanoseconds

    /// `makeEngine(start)` builds an engine whose budget clock starts at `start`.
    init(metrics: ServerMetrics, makeEngine: @escaping @Sendable (Double) throws -> Model) throws {
        self.metrics = metrics
        self.makeEngine = makeEngine
        engine = try makeEngine(0)
        publish(at: 0)  // /metrics shows the budget before the first request
    }

    /// Seconds since the loop was made: the engine's clock.
    func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds - origin) / 1e9 }

    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        let thread = Thread { [self] in self.run() }
        thread.name = "reckon-engine"
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Queues a request; its updates arrive on the returned stream, which ends after
    /// `.finished` or `.refused`. Without `wantsTokens` only the outcome is sent.
    func submit(_ p: PreparedRequest) -> AsyncStream<EngineUpdate> {
        let (stream, continuation) = AsyncStream.makeStream(of: EngineUpdate.self, bufferingPolicy: .unbounded)
        condition.lock()
        if stopRequested {
            condition.unlock()
            continuation.yield(.refused(.shuttingDown))
            continuation.finish()
            return stream
        }
        inbox.append(Submission(request: p.request, arrival: now(), expectedAnswer: p.expectedAnswer, wantsTokens: p.stream,
                                continuation: continuation))
        condition.signal()
        condition.unlock()
        return stream
    }

    /// Stops request `id` at the next step boundary (its client disconnected): decoding ends
    /// and its unspent budget reservation goes back. A no-op once it has finished.
    func cancel(id: String) {
        condition.lock()
        cancellations.append(id)
        condition.signal()
        condition.unlock()
    }

    /// Finishes the requests in flight, then ends the loop; new submissions are refused.
    func stop() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            condition.lock()
            stopRequested = true
            if exited || !started {
                exited = true
                condition.unlock()
                c.resume()
                return
            }
            exitWaiters.append(c)
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Submissions not yet moved into the engine.
    var inboxCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return inbox.count
    }

    // MARK: the loop

    private func run() {
        var waitForBudget = false
        while true {
            condition.lock()
            while (inbox.isEmpty && cancellations.isEmpty && idle && !stopRequested) { condition.wait() }
            if waitForBudget && inbox.isEmpty && cancellations.isEmpty && !stopRequested {
                _ = condition.wait(until: Date(timeIntervalSinceNow: Self.idleTick))
            }
            let incoming = inbox
            inbox.removeAll(keepingCapacity: true)
            let cancelled = cancellations
            cancellations.removeAll()
            let stopping = stopRequested
            condition.unlock()

            for s in incoming { admit(s) }
            for id in cancelled { cancel(id) }
            if idle {
                publish(at: now())
                if stopping { break }
                continue
            }
            waitForBudget = step()
        }
        condition.lock()
        exited = true
        let waiters = exitWaiters
        exitWaiters = []
        condition.unlock()
        for w in waiters { w.resume() }
    }

    /// Nothing to step (or nothing that can be stepped).
    private var idle: Bool { broken != nil || engine.isIdle }

    private func admit(_ s: Submission) {
        if let broken {
            refuse(s, .internalError("the model failed earlier and the engine could not be rebuilt: \(broken)"))
            return
        }
        do {
            if let rejected = try engine.submit(s.request, now: s.arrival) {
                complete(s, rejected)
            } else {
                streams[s.request.id] = s
            }
        } catch {
            if case .invalidRequest(let why) = error { refuse(s, .invalid(why)) } else { refuse(s, .internalError("\(error)")) }
        }
    }

    private func cancel(_ id: String) {
        guard broken == nil, let s = streams.removeValue(forKey: id), let r = engine.cancel(id: id, now: now()) else { return }
        complete(s, r)
    }

    /// One step; true when it ran no model rows (everyone waits for budget).
    private func step() -> Bool {
        let t = now()
        var report: StepReport
        do {
            report = try engine.step(now: t)
        } catch {
            fail(error)
            return false
        }
        engine.endStep(&report, at: now())
        steps += 1
        for e in report.events {
            if let s = streams[e.id], s.wantsTokens { s.continuation.yield(.token(e)) }
        }
        for r in report.finished {
            guard let s = streams.removeValue(forKey: r.id) else { continue }
            complete(s, r)
        }
        publish(at: t)
        return report.rows == 0
    }

    private func complete(_ s: Submission, _ r: RequestResult) {
        var correct: Bool?
        if let gold = s.expectedAnswer, r.finishReason != .rejected, r.finishReason != .cancelled { correct = Verifier.matches(r.answer, gold: gold) }
        metrics.recordResult(r, promptTokens: s.request.prompt.count, correct: correct)
        s.continuation.yield(.finished(r, correct: correct))
        s.continuation.finish()
    }

    private func refuse(_ s: Submission, _ error: APIError) {
        s.continuation.yield(.refused(error))
        s.continuation.finish()
    }

    /// A model error: every request in flight gets a 500, and a fresh engine takes over.
    private func fail(_ error: any Error) {
        for s in streams.values { refuse(s, .internalError("model error: \(error)")) }
        streams.removeAll()
        do { engine = try makeEngine(now()) } catch { broken = "\(error)" }
    }

    private func publish(at t: Double) {
        let snap = engine.snapshot(now: t)
        metrics.publish(EngineGauges(now: t, budget: snap.budget, running: engine.running, waitingForSlot: engine.waitingForSlot,
                                     waitingForBudget: engine.waitingForBudget, steps: steps, service: snap.service,
                                     counters: snap.counters.counters))
    }
}
