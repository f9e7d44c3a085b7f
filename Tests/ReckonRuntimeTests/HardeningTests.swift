import Foundation
import ReckonModel
import XCTest
@testable import ReckonRuntime

/// Cancellation, stop strings prepared once, and the KV-cache memory check.
final class CancellationTests: XCTestCase {
    /// A thinker cancelled mid-thought: its slot is freed at once, the reservation it had not
    /// spent goes back to the bucket and off its group's counter, and the thinking tokens it
    /// did generate stay charged.
    func testCancelReturnsTheUnspentReservation() throws {
        let budget = try BudgetConfig(capacity: 100, refillPerSecond: 0, policy: .truncate)
        var engine = try Engine(backend: ScriptedBackend(slots: 2), config: EngineConfig(slots: 2, budget: budget))
        // p(think) = 1, 50 reasoning tokens scripted.
        XCTAssertNil(try engine.submit(Request(id: "a", prompt: ScriptedBackend.prompt(pThink: 100, thinkLength: 50),
                                               group: "g", routing: .think, maxTokens: 200), now: 0))
        var reserved = 0.0
        for step in 0..<6 {
            let report = try engine.step(now: Double(step))
            XCTAssertTrue(report.finished.isEmpty)
            if step == 0 { reserved = engine.bucket?.reserved ?? 0 }
        }
        // Step 0 routed and granted; steps 1–5 generated 5 reasoning tokens out of the reservation.
        let initial = budget.initialReservation
        XCTAssertEqual(reserved, initial)
        XCTAssertEqual(engine.bucket?.spent, 5)
        XCTAssertEqual(engine.bucket?.reserved, initial - 5)
        let r = try XCTUnwrap(engine.cancel(id: "a", now: 6))
        XCTAssertEqual(r.finishReason, .cancelled)
        XCTAssertEqual(r.reasoningTokens, 5)
        XCTAssertEqual(r.releasedUnits, initial - 5)
        XCTAssertEqual(engine.bucket?.reserved, 0)
        XCTAssertEqual(engine.bucket?.spent, 5)
        XCTAssertEqual(engine.bucket?.level, 100 - 5, "only what was spent left the bucket")
        XCTAssertEqual(engine.counters.counter("g"), 5, "the group is charged for what it used, not what it reserved")
        XCTAssertTrue(engine.isIdle)
        XCTAssertNil(engine.cancel(id: "a", now: 7), "a finished request cannot be cancelled twice")
    }

    func testCancelWhileQueuedLeavesTheQueue() throws {
        var engine = try Engine(backend: ScriptedBackend(slots: 1), config: EngineConfig(slots: 1))
        for id in ["a", "b"] { _ = try engine.submit(Request(id: id, prompt: ScriptedBackend.prompt(pThink: 0, thinkLength: 0)), now: 0) }
        _ = try engine.step(now: 0)
        XCTAssertEqual(engine.waitingForSlot, 1)
        let r = try XCTUnwrap(engine.cancel(id: "b", now: 1))
        XCTAssertEqual(r.finishReason, .cancelled)
        XCTAssertEqual(r.tokens, [])
        XCTAssertEqual(engine.waitingForSlot, 0)
    }
}

final class StopStringTests: XCTestCase {
    /// Checked after each byte, a stop can only end at the last one.
    func testStopEndingChecksOnlyTheSuffix() {
        let stops = ["42", "is 4"].map { Array($0.utf8) }
        XCTAssertNil(Engine<ScriptedBackend>.stopEnding(Array("the answer is".utf8), stops: stops))
        XCTAssertEqual(Engine<ScriptedBackend>.stopEnding(Array("the answer is 4".utf8), stops: stops), 11)
        // Both end at the last byte: the one that starts first wins.
        XCTAssertEqual(Engine<ScriptedBackend>.stopEnding(Array("is 42".utf8), stops: [Array("42".utf8), Array("s 42".utf8)]), 1)
        XCTAssertNil(Engine<ScriptedBackend>.stopEnding(Array("4".utf8), stops: stops))
    }

    func testStopLongerThanTheContextIsRefused() throws {
        var engine = try Engine(backend: ScriptedBackend(slots: 1, context: 16), config: EngineConfig(slots: 1))
        XCTAssertThrowsError(try engine.submit(Request(id: "s", prompt: [65], stop: [String(repeating: "x", count: 17)]), now: 0)) {
            XCTAssertTrue("\($0)".contains("17 bytes is longer than the 16-token context"), "\($0)")
        }
        XCTAssertNil(try engine.submit(Request(id: "ok", prompt: [65], stop: [String(repeating: "x", count: 16)]), now: 0))
    }
}

final class MemoryCheckTests: XCTestCase {
    /// 2 (K and V) · 4 layers · 65,536 positions · kv dim 256 · 4 bytes, by hand.
    func testKVBytesPerSlot() throws {
        let c = ModelConfig(dim: 256, nLayers: 4, nHeads: 8, nKVHeads: 8, hiddenDim: 768, maxSeqLen: 65_536)
        XCTAssertEqual(MemoryCheck.kvBytesPerSlot(c), 536_870_912)
        let gqa = ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 24, maxSeqLen: 64)
        XCTAssertEqual(MemoryCheck.kvBytesPerSlot(gqa), 2 * 2 * 64 * 8 * 4)
    }

    /// A tampered max_seq_len: 32 slots of 537 MB do not fit in 16 GB (75% usable).
    func testBackendRefusesACacheThatDoesNotFit() throws {
        let c = ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 24, maxSeqLen: 1024)
        let model = try Transformer(config: c, seed: 1)
        let perSlot = MemoryCheck.kvBytesPerSlot(c)  // 131,072 bytes
        XCTAssertEqual(perSlot, 131_072)
        XCTAssertThrowsError(try TransformerBackend(model: model, slots: 32, memoryAvailable: 32 * perSlot)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("0.1 MB per slot at max_seq_len 1024"), text)
            XCTAssertTrue(text.contains("4.2 MB for 32 slots"), text)
        }
        XCTAssertNoThrow(try TransformerBackend(model: model, slots: 32, memoryAvailable: 64 * perSlot))
        let big = ModelConfig(dim: 256, nLayers: 4, nHeads: 8, nKVHeads: 8, hiddenDim: 768, maxSeqLen: 65_536)
        XCTAssertThrowsError(try MemoryCheck.check(big, slots: 32, available: 16_000_000_000)) {
            XCTAssertTrue("\($0)".contains("536.9 MB per slot") && "\($0)".contains("17.2 GB for 32 slots"), "\($0)")
        }
    }
}

/// A model whose logits are NaN: the engine refuses to route on them.
struct NaNBackend: DecodeBackend {
    let vocabSize = Tokenizer.vocabSize
    let contextLength = 32
    let slots = 1
    mutating func step(_ rows: [DecodeRow]) throws -> [Float] { [Float](repeating: .nan, count: rows.count * vocabSize) }
    mutating func release(slot: Int) throws {}
    func flopsPerToken(context: Int) -> Double { 1 }
}

final class NonFiniteLogitsTests: XCTestCase {
    func testNaNLogitsAreAnErrorNotARoute() throws {
        var engine = try Engine(backend: NaNBackend(), config: EngineConfig(slots: 1))
        _ = try engine.submit(Request(id: "n", prompt: [Tokenizer.bos, 65]), now: 0)
        XCTAssertThrowsError(try engine.step(now: 0)) { XCTAssertTrue("\($0)".contains("non-finite logits"), "\($0)") }
    }
}
