import XCTest
import ReckonCore
import ReckonModel
@testable import ReckonRuntime

final class EngineTests: XCTestCase {
    let config = ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 24, maxSeqLen: 48)

    func prompts() -> [[Int32]] {
        (0..<7).map { (i: Int) -> [Int32] in
            let length = 2 + i * 3 % 11
            let body: [Int32] = (0..<length).map { (k: Int) -> Int32 in Int32((k * 37 + i * 11) % 256) }
            return [Tokenizer.bos] + body
        }
    }

    /// Greedy requests that join a running batch at different steps (and leave it at
    /// different steps) get exactly the tokens they get when run alone.
    func testContinuousBatchingGivesTheTokensOfRunningAlone() throws {
        let model = try Transformer(config: config, seed: 3)
        let requests = prompts().enumerated().map { i, p in
            Request(id: "q\(i)", prompt: p, routing: i % 3 == 0 ? .think : .model, sampling: .greedy, seed: UInt64(i),
                    maxTokens: 6 + 5 * i, stop: [])
        }
        // 3 slots for 7 requests: later ones wait and join as earlier ones leave.
        var batched = try Engine(backend: TransformerBackend(model: model, slots: 3), config: EngineConfig(slots: 3))
        var together: [String: RequestResult] = [:]
        var now = 0.0, next = 0, joinedMidBatch = 0
        while together.count < requests.count {
            // One new request every other step, so arrivals land while others decode.
            if next < requests.count, Int(now) % 2 == 0 {
                if batched.running > 0 { joinedMidBatch += 1 }
                XCTAssertNil(try batched.submit(requests[next], now: now)); next += 1
            }
            for r in try batched.step(now: now).finished { together[r.id] = r }
            now += 1
        }
        XCTAssertGreaterThan(joinedMidBatch, 3)
        for r in requests {
            var alone = try Engine(backend: TransformerBackend(model: model, slots: 1), config: EngineConfig(slots: 1))
            _ = try alone.submit(r, now: 0)
            var result: RequestResult?
            while result == nil { result = try alone.step(now: 0).finished.first }
            XCTAssertEqual(together[r.id]?.tokens, result?.tokens, "request \(r.id)")
            XCTAssertEqual(together[r.id]?.pThink ?? 0, result?.pThink ?? 1, accuracy: 1e-5)
            XCTAssertEqual(together[r.id]?.tokens.count, r.maxTokens, "an untrained model runs to max_tokens")
        }
    }

    /// A replay on the simulated clock with Poisson arrivals, sampling and a binding budget
    /// is bit-identical when repeated with the same seeds, and changes with another seed.
    func testSimulatedReplayIsBitReproducible() throws {
        let model = try Transformer(config: config, seed: 5)
        func replay(seed: UInt64) throws -> [RequestResult] {
            let requests = prompts().enumerated().map { i, p in
                Request(id: "q\(i)", prompt: p, group: i % 2 == 0 ? "a" : "b", routing: .model,
                        sampling: SamplingParams(temperature: 1, topK: 20, topP: 0.9), seed: seed &+ UInt64(i), maxTokens: 30)
            }
            let budget = try BudgetConfig(capacity: 20, refillPerSecond: 200, policy: .queue, queueDeadline: 1)
            var engine = try Engine(backend: TransformerBackend(model: model, slots: 4),
                                    config: EngineConfig(slots: 4, budget: budget, order: .fair))
            let arrivals = try ArrivalProcess.poisson(rate: 50, seed: seed).times(count: requests.count)
            return try Replay.run(requests, arrivals: arrivals, engine: &engine, clock: .simulated(StepCostModel(flopsPerSecond: 1e8)))
        }
        let a = try replay(seed: 1), b = try replay(seed: 1), c = try replay(seed: 2)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.map(\.tokens), c.map(\.tokens))
        XCTAssertTrue(a.contains { $0.mode == .think } && a.contains { $0.latency > 0 })
    }

    func testStopStringsEndTheAnswerAndAreNotReturned() {
        XCTAssertEqual(Engine<ScriptedBackend>.stopCut(Array("the answer is 42.".utf8), stops: ["42", "is"]), 11)
        XCTAssertNil(Engine<ScriptedBackend>.stopCut(Array("4".utf8), stops: ["42"]))
        var engine = try! Engine(backend: ScriptedBackend(slots: 1), config: EngineConfig(slots: 1))
        _ = try! engine.submit(Request(id: "s", prompt: ScriptedBackend.prompt(pThink: 0, thinkLength: 0), stop: ["2"]), now: 0)
        var result: RequestResult?
        while result == nil { result = try! engine.step(now: 0).finished.first }
        XCTAssertEqual(result?.answer, "4")
        XCTAssertEqual(result?.finishReason, .stop)
    }

    func testBadRequestsAreRefusedWithTheirReason() throws {
        var engine = try Engine(backend: ScriptedBackend(slots: 1, context: 8), config: EngineConfig(slots: 1, maxPending: 1))
        let cases: [(Request, String)] = [
            (Request(id: "e", prompt: []), "prompt is empty"),
            (Request(id: "v", prompt: [999]), "outside the vocabulary"),
            (Request(id: "l", prompt: Array(repeating: 65, count: 8)), "context holds 8"),
            (Request(id: "m", prompt: [65], maxTokens: 0), "max_tokens must be ≥ 1"),
            (Request(id: "t", prompt: [65], thinkingTokenBudget: -1), "thinking_token_budget"),
            (Request(id: "s", prompt: [65], sampling: SamplingParams(temperature: -1)), "temperature"),
        ]
        for (r, message) in cases {
            XCTAssertThrowsError(try engine.submit(r, now: 0), r.id) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
        XCTAssertNil(try engine.submit(Request(id: "ok", prompt: [65]), now: 0))
        let full = try engine.submit(Request(id: "full", prompt: [65]), now: 0)
        XCTAssertEqual(full?.rejectReason, .queueFull)
        XCTAssertEqual(full?.budgetAction, .reject)
    }
}

final class GenerationInputTests: XCTestCase {
    func testInputLinesParseAndBadLinesNameFileLineAndProblem() throws {
        let good = Data("{\"prompt\": \"What is 2 + 2?\", \"group\": \"sae\", \"answer\": 4}\n\n{\"prompt\": \"hi\", \"id\": \"x\"}\n".utf8)
        let inputs = try GenerationInput.parse(good, file: "in.jsonl")
        XCTAssertEqual(inputs, [GenerationInput(prompt: "What is 2 + 2?", group: "sae", answer: "4"),
                                GenerationInput(id: "x", prompt: "hi")])
        let cases: [(String, String)] = [
            ("{\"prompt\": \"ok\"}\n{\"prompt\": ", "in.jsonl:2: not valid JSON"),
            ("[1, 2]", "in.jsonl:1: expected a JSON object"),
            ("{\"text\": \"hi\"}", "in.jsonl:1: missing required field \"prompt\""),
            ("{\"prompt\": 3}", "in.jsonl:1: field \"prompt\" must be a string"),
            ("{\"prompt\": \"a\", \"group\": 1}", "in.jsonl:1: field \"group\" must be a string"),
            ("{\"prompt\": \"a\", \"difficulty\": \"hard\"}", "in.jsonl:1: field \"difficulty\" must be an integer"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try GenerationInput.parse(Data(text.utf8), file: "in.jsonl")) { error in
                XCTAssertTrue("\(error)".hasPrefix(message), "\(error)")
            }
        }
        XCTAssertThrowsError(try GenerationInput.parse(Data([0x7B, 0xFF, 0x7D]), file: "in.jsonl")) { error in
            XCTAssertEqual("\(error)", "in.jsonl:1: not valid UTF-8")
        }
    }
}
