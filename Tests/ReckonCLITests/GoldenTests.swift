import Foundation
import XCTest

/// The shipped default checkpoint on ten fixed prompts: the exact greedy tokens (the model's
/// own choice at token 0, and forced `<short>`) and p(think) that `tools/make_golden.py`
/// recorded in `Golden/greedy.json`. Any change to the forward
/// pass, the decode kernels, the tokenizer, the prompt format or the generation loop that
/// moves a token fails here.
final class GoldenTests: XCTestCase {
    struct Golden: Decodable {
        struct Case: Decodable {
            var id: String
            var p_think: Double
            var tokens: [Int32]
            var short_tokens: [Int32]
        }
        var checkpoint: String
        var sha256: String
        var routing: String
        var max_tokens: Int
        var regenerate: String
        var cases: [Case]
    }

    struct Report: Decodable {
        struct Record: Decodable {
            var id: String?
            var p_think: Double
            var tokens: [Int32]
        }
        var records: [Record]
    }

    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")
    static let repository = folder.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testDefaultCheckpointGivesTheGoldenGreedyTokens() throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.folder.appendingPathComponent("greedy.json")))
        let regenerate = "regenerate the golden values with: \(golden.regenerate)"
        XCTAssertEqual(golden.cases.count, 10)

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-golden-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let eval = try CLI().run(["eval", "--data", Self.folder.appendingPathComponent("prompts.jsonl").path,
                                  "--routing", golden.routing, "--max-tokens", String(golden.max_tokens),
                                  "--threads", "1", "--records", "--json", "out.json"], in: dir)
        XCTAssertEqual(eval.status, 0, eval.output)

        // The default the binary chose must be the checkpoint the values were recorded from.
        let named = eval.output.split(separator: "\n").first { $0.contains("using the shipped default ") }
        let path = try XCTUnwrap(named.map { String($0.split(separator: " ").last ?? "") }, eval.output)
        XCTAssertEqual(URL(fileURLWithPath: path).lastPathComponent, golden.checkpoint,
                       "the default checkpoint is no longer \(golden.checkpoint); \(regenerate)")
        let sha = try Self.sha256(path)
        XCTAssertEqual(sha, golden.sha256, "\(path) changed since the golden values were recorded; \(regenerate)")
        guard sha == golden.sha256 else { return }

        // One report per routing: the model's greedy choice, then forced <short>.
        let reports = try JSONDecoder().decode([Report].self, from: Data(contentsOf: dir.appendingPathComponent("out.json")))
        XCTAssertEqual(reports.count, 2)
        guard reports.count == 2 else { return }
        XCTAssertEqual(reports[0].records.count, golden.cases.count)
        for (want, (greedy, short)) in zip(golden.cases, zip(reports[0].records, reports[1].records)) {
            XCTAssertEqual(greedy.id, want.id)
            XCTAssertEqual(greedy.tokens, want.tokens, "\(want.id): greedy tokens differ; if the change is intended, \(regenerate)")
            XCTAssertEqual(short.tokens, want.short_tokens, "\(want.id): forced-short tokens differ; if intended, \(regenerate)")
            XCTAssertEqual(greedy.p_think, want.p_think, accuracy: 1e-5, "\(want.id): p(think) differs; if intended, \(regenerate)")
            XCTAssertEqual(short.p_think, want.p_think, accuracy: 1e-5, "\(want.id): p(think) under forced short")
        }
    }

    /// The file's SHA-256 in hex, from coreutils' sha256sum (shasum on macOS).
    static func sha256(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        #if os(macOS)
        p.arguments = ["shasum", "-a", "256", path]
        #else
        p.arguments = ["sha256sum", path]
        #endif
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    }
}
