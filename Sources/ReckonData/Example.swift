// One JSONL example as a value, with its short answer to train on; reading and writing files is JSONL.swift's.

/// One line of a JSONL data file.
///
/// `short` and `long` are the expert answers without control tokens: the model side
/// trains on `<short>` + short + `<eos>` and `<think>` + long + `</think>` + short + `<eos>`.
public struct Example: Codable, Sendable, Equatable {
    public var id: String?
    public var pairID: String?
    public var group: String?
    public var difficulty: Int?
    public var prompt: String
    public var short: String?
    public var long: String?
    public var answer: String

    public init(id: String? = nil, pairID: String? = nil, group: String? = nil, difficulty: Int? = nil,
                prompt: String, short: String? = nil, long: String? = nil, answer: String) {
        self.id = id
        self.pairID = pairID
        self.group = group
        self.difficulty = difficulty
        self.prompt = prompt
        self.short = short
        self.long = long
        self.answer = answer
    }

    /// Declaration order is the order the writer uses.
    enum CodingKeys: String, CodingKey, CaseIterable {
        case id
        case pairID = "pair_id"
        case group
        case difficulty
        case prompt
        case short
        case long
        case answer
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        pairID = try c.decodeIfPresent(String.self, forKey: .pairID)
        group = try c.decodeIfPresent(String.self, forKey: .group)
        // Decoded as a number first: Foundation reports a non-integer such as 2.5 as
        // corrupt JSON rather than as a wrong type, which would mislead the user.
        if let level = try c.decodeIfPresent(Double.self, forKey: .difficulty) {
            guard let exact = Int(exactly: level) else {
                throw DecodingError.typeMismatch(Int.self, .init(codingPath: [CodingKeys.difficulty],
                                                                 debugDescription: "\(level) is not an integer"))
            }
            difficulty = exact
        }
        prompt = try c.decode(String.self, forKey: .prompt)
        short = try c.decodeIfPresent(String.self, forKey: .short)
        long = try c.decodeIfPresent(String.self, forKey: .long)
        answer = try c.decode(String.self, forKey: .answer)
    }

    /// The short answer to train on: `short` if given, otherwise the gold `answer`.
    public var shortAnswer: String { short ?? answer }
}
