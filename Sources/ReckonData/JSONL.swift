// JSONL files of examples: reading with line-numbered errors (or skipping bad lines), and deterministic writing.

import Foundation

/// A JSONL file that could not be read, or one of its lines that could not be parsed.
public enum DataError: Error, Equatable, CustomStringConvertible {
    case unreadableFile(file: String, reason: String)
    case unwritableFile(file: String, reason: String)
    case badLine(file: String, line: Int, problem: LineProblem)

    public var description: String {
        switch self {
        case let .unreadableFile(file, reason): "\(file): cannot read the file: \(reason)"
        case let .unwritableFile(file, reason): "\(file): cannot write the file: \(reason)"
        case let .badLine(file, line, problem): "\(file):\(line): \(problem)"
        }
    }
}

/// What is wrong with one JSONL line.
public enum LineProblem: Error, Equatable, Sendable, CustomStringConvertible {
    case badJSON(String)
    case notAnObject
    case missingField(String)
    case wrongType(field: String, expected: String)

    public var description: String {
        switch self {
        case let .badJSON(detail): "not valid JSON (\(detail))"
        case .notAnObject: "expected a JSON object {...}"
        case let .missingField(field): "missing required field \"\(field)\""
        case let .wrongType(field, expected): "field \"\(field)\" must be \(expected)"
        }
    }
}

/// The examples of a file, and the bad lines skipped on request.
public struct JSONLContents: Sendable, Equatable {
    public var examples: [Example]
    /// The 1-based line of each example, parallel to `examples`, for messages about them.
    public var lineNumbers: [Int]
    /// One error per skipped line, in file order; empty unless skipping was asked for.
    public var skipped: [DataError]

    public var skippedCount: Int { skipped.count }
}

public enum JSONL {
    // MARK: Reading

    /// Reads a JSONL file. Without `skipBad` the first bad line throws; with it, bad lines
    /// are skipped and reported in `skipped`. Blank lines are ignored in both modes.
    public static func read(path: String, skipBad: Bool = false) throws(DataError) -> JSONLContents {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadableFile(file: path, reason: (error as NSError).localizedDescription)
        }
        return try parse(data, file: path, skipBad: skipBad)
    }

    /// Parses JSONL bytes; `file` is the name errors mention.
    public static func parse(_ data: Data, file: String, skipBad: Bool = false) throws(DataError) -> JSONLContents {
        var contents = JSONLContents(examples: [], lineNumbers: [], skipped: [])
        let newline = UInt8(ascii: "\n")
        var lineNumber = 0
        for rawLine in data.split(separator: newline, omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = rawLine.last == UInt8(ascii: "\r") ? rawLine.dropLast() : rawLine
            if lineNumber == 1, line.starts(with: [0xEF, 0xBB, 0xBF]) { line = line.dropFirst(3) }  // UTF-8 byte order mark
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            switch decodeLine(Data(line)) {
            case .success(let example):
                contents.examples.append(example)
                contents.lineNumbers.append(lineNumber)
            case .failure(let problem):
                let error = DataError.badLine(file: file, line: lineNumber, problem: problem)
                guard skipBad else { throw error }
                contents.skipped.append(error)
            }
        }
        return contents
    }

    /// Decodes one line, turning decoder errors into a problem a user can act on.
    static func decodeLine(_ line: Data) -> Result<Example, LineProblem> {
        do {
            return .success(try JSONDecoder().decode(Example.self, from: line))
        } catch let DecodingError.keyNotFound(key, _) {
            return .failure(.missingField(key.stringValue))
        } catch let DecodingError.valueNotFound(_, context) {
            // Only a required field can be null and fail; optional ones decode as nil.
            return .failure(context.codingPath.first.map { .missingField($0.stringValue) } ?? .notAnObject)
        } catch let DecodingError.typeMismatch(_, context) {
            return .failure(context.codingPath.first.map { wrongType($0) } ?? .notAnObject)
        } catch let DecodingError.dataCorrupted(context) {
            // With a coding path the JSON was fine but a value was not, e.g. "difficulty": 2.5.
            if let field = context.codingPath.first { return .failure(wrongType(field)) }
            return .failure(.badJSON(syntaxDetail(line) ?? context.debugDescription))
        } catch {
            return .failure(.badJSON(String(describing: error)))
        }
    }

    /// JSONDecoder only says "not valid JSON"; JSONSerialization also says where.
    private static func syntaxDetail(_ line: Data) -> String? {
        do {
            _ = try JSONSerialization.jsonObject(with: line, options: [.fragmentsAllowed])
            return nil
        } catch {
            return (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
        }
    }

    private static func wrongType(_ field: any CodingKey) -> LineProblem {
        let expected = field.stringValue == Example.CodingKeys.difficulty.stringValue ? "an integer" : "a string"
        return .wrongType(field: field.stringValue, expected: expected)
    }

    // MARK: Writing

    /// One example as one line of JSON (no newline), fields in a fixed order, absent
    /// optionals left out. Deterministic, so the same examples give the same bytes.
    public static func line(_ example: Example) -> String {
        var fields: [String] = []
        func add(_ key: Example.CodingKeys, _ value: String?) {
            if let value { fields.append("\"\(key.stringValue)\":" + quoted(value)) }
        }
        add(.id, example.id)
        add(.pairID, example.pairID)
        add(.group, example.group)
        if let difficulty = example.difficulty { fields.append("\"difficulty\":\(difficulty)") }
        add(.prompt, example.prompt)
        add(.short, example.short)
        add(.long, example.long)
        add(.answer, example.answer)
        return "{" + fields.joined(separator: ",") + "}"
    }

    /// The whole file: one line per example, each ending in a newline.
    public static func encode(_ examples: [Example]) -> String {
        examples.map { line($0) + "\n" }.joined()
    }

    public static func write(_ examples: [Example], to path: String) throws(DataError) {
        do {
            try Data(encode(examples).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .unwritableFile(file: path, reason: (error as NSError).localizedDescription)
        }
    }

    /// A JSON string literal. Escapes what JSON requires (and U+2028/U+2029, which break
    /// JavaScript readers of SSE streams) and nothing else, so text stays readable.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
