import Foundation
import XCTest
import ReckonData

final class JSONLTests: XCTestCase {
    func parse(_ text: String, skipBad: Bool = false) throws(DataError) -> JSONLContents {
        try JSONL.parse(Data(text.utf8), file: "train.jsonl", skipBad: skipBad)
    }

    func testRoundTrip() throws {
        let examples = [
            Example(id: "a", pairID: "p", group: "sae", difficulty: 3, prompt: "Say \"hi\"\\ \n\tnow\u{1}",
                    short: "1", long: "1+0|1+0=1|=1", answer: "1"),
            Example(prompt: "What is 2+2? ünïcødé ✓", answer: "4"),
        ]
        let text = JSONL.encode(examples)
        XCTAssertEqual(text.split(separator: "\n").count, 2)
        XCTAssertEqual(try parse(text).examples, examples)
        XCTAssertTrue(text.hasPrefix(#"{"id":"a","pair_id":"p","group":"sae","difficulty":3,"prompt":"#), text)
        XCTAssertTrue(text.contains(#""prompt":"What is 2+2? ünïcødé ✓","answer":"4"}"#), text)
    }

    func testOptionalFieldsAndExtrasAndBlankLines() throws {
        let text = """

        {"prompt": "p1", "answer": "1", "note": "extra keys are ignored", "short": null}
           \t
        {"answer": "2", "prompt": "p2", "difficulty": 4, "pair_id": "x"}\r

        """
        let examples = try parse(text).examples
        XCTAssertEqual(examples, [Example(prompt: "p1", answer: "1"),
                                  Example(pairID: "x", difficulty: 4, prompt: "p2", answer: "2")])
    }

    func testByteOrderMarkIsIgnored() throws {
        let data = Data([0xEF, 0xBB, 0xBF]) + Data(#"{"prompt": "p", "answer": "1"}"#.utf8)
        XCTAssertEqual(try JSONL.parse(data, file: "bom.jsonl").examples, [Example(prompt: "p", answer: "1")])
    }

    func testErrorsNameFileLineAndProblem() {
        let cases: [(String, Int, LineProblem)] = [
            ("{\"prompt\": \"p\", \"answer\": \"1\"}\n\n{\"prompt\": \"p\"}", 3, .missingField("answer")),
            ("{\"answer\": \"1\"}", 1, .missingField("prompt")),
            ("{\"prompt\": null, \"answer\": \"1\"}", 1, .missingField("prompt")),
            ("{\"prompt\": \"p\", \"answer\": \"1\"}\n{\"prompt\": \"p\", \"answer\": 1}", 2, .wrongType(field: "answer", expected: "a string")),
            ("{\"prompt\": \"p\", \"answer\": \"1\", \"difficulty\": \"hard\"}", 1, .wrongType(field: "difficulty", expected: "an integer")),
            ("{\"prompt\": \"p\", \"answer\": \"1\", \"difficulty\": 2.5}", 1, .wrongType(field: "difficulty", expected: "an integer")),
            ("{\"prompt\": \"p\", \"answer\": \"1\", \"group\": 3}", 1, .wrongType(field: "group", expected: "a string")),
            ("[1, 2]", 1, .notAnObject),
            ("\"just a string\"", 1, .notAnObject),
        ]
        for (text, line, problem) in cases {
            XCTAssertThrowsError(try parse(text)) { error in
                XCTAssertEqual(error as? DataError, .badLine(file: "train.jsonl", line: line, problem: problem), text)
                XCTAssertTrue(String(describing: error).hasPrefix("train.jsonl:\(line): "), String(describing: error))
            }
        }
    }

    func testBadJSONMessage() {
        XCTAssertThrowsError(try parse("{\"prompt\": \"p\", \"answer\": \"1\"}\n{\"prompt\": \"p\", answer: 1}")) { error in
            guard case let .badLine(file, line, .badJSON(detail))? = error as? DataError else {
                return XCTFail("unexpected error \(error)")
            }
            XCTAssertEqual(file, "train.jsonl")
            XCTAssertEqual(line, 2)
            XCTAssertFalse(detail.isEmpty)
            XCTAssertTrue(String(describing: error).contains("train.jsonl:2: not valid JSON (Invalid value around character 16"),
                          String(describing: error))
        }
        XCTAssertThrowsError(try JSONL.parse(Data([0x7B, 0xFF, 0xFE, 0x7D]), file: "x.jsonl")) { error in
            XCTAssertTrue(String(describing: error).hasPrefix("x.jsonl:1: "), String(describing: error))
        }
    }

    func testSkipModeCountsSkippedLines() throws {
        let text = """
        {"prompt": "a", "answer": "1"}
        not json
        {"prompt": "b"}

        {"prompt": "c", "answer": "3"}
        {"prompt": "d", "answer": 4}
        """
        let contents = try parse(text, skipBad: true)
        XCTAssertEqual(contents.examples.map(\.prompt), ["a", "c"])
        XCTAssertEqual(contents.lineNumbers, [1, 5])
        XCTAssertEqual(contents.skippedCount, 3)
        XCTAssertEqual(contents.skipped.compactMap { error -> Int? in
            if case let .badLine(_, line, _) = error { return line } else { return nil }
        }, [2, 3, 6])
    }

    func testFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reckon-data-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("d.jsonl").path
        let examples = try Generator.generate(n: 20, dialects: [.sae: 1], seed: 1)
        try JSONL.write(examples, to: path)
        XCTAssertEqual(try JSONL.read(path: path).examples, examples)
        let missing = dir.appendingPathComponent("missing.jsonl").path
        XCTAssertThrowsError(try JSONL.read(path: missing)) { error in
            XCTAssertTrue(String(describing: error).contains(missing), String(describing: error))
        }
    }
}
