import Foundation
import ReckonModel
import ReckonRuntime
import XCTest
@testable import ReckonServer

/// A request without a seed samples the same tokens in `reckon serve` and `reckon generate`:
/// the server's n-th request and input line n of `generate` (a `Replay` of requests built by
/// `RuntimeOptions.request`) both get `Request.seed(base: --seed, number: n)`.
final class SeedTests: XCTestCase {
    func testServedRequestSamplesWhatGenerateSamples() async throws {
        let server = try await TestServer.start()
        let model = try Transformer(config: TestServer.modelConfig, seed: 1)
        let prompt = "12+30="
        var texts: Set<String> = []
        for n in 1...3 {
            let reply = try await server.post("/v1/completions",
                                              #"{"prompt": "\#(prompt)", "max_tokens": 12, "temperature": 1, "routing": "model"}"#).json()
            let choice = try XCTUnwrap((reply["choices"] as? [[String: Any]])?.first)

            // Input line n of `generate --temperature 1 --routing model --seed 1`, replayed as `generate` does.
            let request = Request(id: "\(n)", prompt: PromptFormat.prompt(prompt), routing: .model, sampling: SamplingParams(temperature: 1),
                                  seed: Request.seed(base: 1, number: UInt64(n)), maxTokens: 12)
            var engine = try Engine(backend: TransformerBackend(model: model, slots: 4), config: EngineConfig(slots: 4))
            let result = try XCTUnwrap(Replay.run([request], arrivals: [0], engine: &engine, clock: .real).first)
            XCTAssertEqual(choice["text"] as? String, result.answer, "request \(n)")
            XCTAssertEqual(choice["reasoning"] as? String, result.reasoning, "request \(n)")
            texts.insert(result.reasoning + "|" + result.answer)
        }
        XCTAssertGreaterThan(texts.count, 1, "the three requests got different seeds")
        try await server.stop()
    }

    func testRequestSeedDerivation() {
        XCTAssertEqual(Request.seed(base: 1, number: 1), 1 &+ 0x9E37_79B9_7F4A_7C15)
        XCTAssertEqual(Request.seed(base: 5, number: 2), 5 &+ 2 &* 0x9E37_79B9_7F4A_7C15)
    }
}
