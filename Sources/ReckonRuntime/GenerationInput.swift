// One line of `reckon generate`'s JSONL input, and parsing a file of them with line-numbered errors.

import Foundation

/// One line of `reckon generate` input: `prompt` (required) and the optional `id`, `group`
/// and `answer` (the expected answer; when present the result says whether it was correct).
public struct GenerationInput: Sendable, Equatable {
    public var id: String?
    public var prompt: String
    public var group: String?
    public var answer: String?
    public var difficulty: Int?

    public init(id: String? = nil, prompt: String, group: String? = nil, answer: String? = nil, difficulty: Int? = nil) {
        self.id = id; self.prompt = prompt; self.group = group; self.answer = answer; self.difficulty = difficulty
    }

    /// Parses JSONL text; the first bad line throws an error naming `file`, its line and the problem.
    /// Blank lines are skipped.
    public static func parse(_ data: Data, file: String) throws(RuntimeError) -> [GenerationInput] {
        var inputs: [GenerationInput] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let trimmed = line.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\r") }
            if trimmed.isEmpty { continue }
            func bad(_ problem: String) -> RuntimeError { .badInput(file: file, line: lineNumber, problem: problem) }
            guard String(data: Data(line), encoding: .utf8) != nil else { throw bad("not valid UTF-8") }
            let object: Any
            // Fragments parse, so a scalar line is "expected a JSON object", as `JSONL` (eval, audit) says.
            do { object = try JSONSerialization.jsonObject(with: Data(line), options: [.fragmentsAllowed]) } catch {
                throw bad("not valid JSON")
            }
            guard let dict = object as? [String: Any] else { throw bad("expected a JSON object {...}") }
            guard let promptValue = dict["prompt"] else { throw bad("missing required field \"prompt\"") }
            guard let prompt = promptValue as? String else { throw bad("field \"prompt\" must be a string") }
            func string(_ key: String) throws(RuntimeError) -> String? {
                guard let v = dict[key], !(v is NSNull) else { return nil }
                if let s = v as? String { return s }
                if key == "answer" || key == "id", !(v is Bool), let n = v as? Int { return String(n) }
                throw bad("field \"\(key)\" must be a string")
            }
            var difficulty: Int?
            if let v = dict["difficulty"], !(v is NSNull) {
                guard let n = v as? Int else { throw bad("field \"difficulty\" must be an integer") }
                difficulty = n
            }
            inputs.append(GenerationInput(id: try string("id"), prompt: prompt, group: try string("group"),
                                          answer: try string("answer"), difficulty: difficulty))
        }
        return inputs
    }
}
