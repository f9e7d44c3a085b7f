import Foundation
import XCTest
import ReckonCheckpoint
import ReckonImport
import ReckonModel

/// The shipped SmolLM2 adapter (checkpoints/smollm2-selfroute.h5) on its base imported from the
/// GGUF: greedy tokens forced to think and to answer directly equal the committed ones, which
/// `reckon generate` wrote through the serving path (tools/make_adapter_golden.sh). Any change
/// to the import, the adapter file, the merge, the chat template or decoding shows here.
final class AdapterGoldenTests: XCTestCase {
    struct Golden: Decodable {
        struct Case: Decodable { var prompt: String; var mode: String; var tokens: [Int32]; var answer: String }
        var max_tokens: Int
        var cases: [Case]
    }

    func testShippedAdapterGreedyTokens() throws {
        let gguf = try ParityTests.fetchedBase()
        let adapterPath = ParityTests.repo.appendingPathComponent("checkpoints/smollm2-selfroute.h5").path
        let adapter = try AdapterCheckpoint.load(from: adapterPath)
        let base = try Importer.load(gguf, options: Importer.Options(maxContext: adapter.config.maxSeqLen))
        XCTAssertEqual(AdapterCheckpoint.weightsSHA256(base.params), adapter.base.sha256, "the import is not the base the adapter was trained on")
        var model = try base.model()
        try model.attach(adapter.adapters())
        let merged = try Checkpoint.merged(model, base: base)
        let text = try merged.text()
        let format = try text.routedFormat()
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: ParityTests.repo.appendingPathComponent("Tests/ReckonImportTests/Fixtures/smollm2_selfroute_golden.json")))
        let modes = golden.cases.map { $0.mode == "think" ? ReasoningMode.think : .short }
        let results = try merged.model().generate(prompts: golden.cases.map { format.prompt($0.prompt) }, maxNewTokens: golden.max_tokens,
                                                   first: FirstToken.forced(modes), roles: text.roles)
        for (g, r) in zip(golden.cases, results) {
            XCTAssertEqual(r.tokens, g.tokens, "\(g.mode): \(g.prompt)")
            XCTAssertEqual(format.parse(r.tokens).answer, g.answer)
        }
    }
}
