import Foundation
import ReckonModel
import ReckonRuntime

/// The tests' hand on the engine's pace: hold its steps, or slow them down. The server
/// itself has no such switch; it comes in through the backend the test server is built with.
final class Pace: @unchecked Sendable {
    private let condition = NSCondition()
    private var held = false
    private var blocked = 0
    /// Seconds each step takes at least (a slow model, for what happens mid-decode).
    private var delay = 0.0

    func hold() { condition.lock(); held = true; condition.unlock() }
    func release() { condition.lock(); held = false; condition.broadcast(); condition.unlock() }
    func slowDown(_ seconds: Double) { condition.lock(); delay = seconds; condition.unlock() }

    /// Called by the backend at the start of every step.
    func enterStep() {
        condition.lock()
        blocked += 1
        condition.broadcast()
        while held { condition.wait() }
        blocked -= 1
        let delay = delay
        condition.unlock()
        if delay > 0 { Thread.sleep(forTimeInterval: delay) }
    }

    private var blockedCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return blocked
    }

    /// Waits until the engine sits in a held step.
    func waitUntilHeld() async throws {
        for _ in 0..<2000 {
            if blockedCount > 0 { return }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        throw TestError("the engine never reached a held step")
    }
}

/// The transformer, stepping at the pace a test sets.
struct PacedBackend: DecodeBackend {
    var base: TransformerBackend
    let pace: Pace

    var vocabSize: Int { base.vocabSize }
    var contextLength: Int { base.contextLength }
    var slots: Int { base.slots }
    mutating func step(_ rows: [DecodeRow]) throws -> [Float] {
        pace.enterStep()
        return try base.step(rows)
    }
    mutating func release(slot: Int) throws { try base.release(slot: slot) }
    func flopsPerToken(context: Int) -> Double { base.flopsPerToken(context: context) }
}
