// The dialects and the scene (people, objects) a prompt is written about; the template text is Templates.swift's.

import ReckonCore

/// The language varieties a problem can be written in. The raw values are the names
/// used on the command line and in the `group` field.
public enum Dialect: String, CaseIterable, Sendable, Codable, Comparable {
    /// Standard American English, the reference.
    case sae
    /// African American English, built on eWAVE features.
    case aae
    /// Terse symbolic form such as `47+85=?`.
    case symbolic
    /// Numbers spelled out in English words.
    case words
    /// Indian English.
    case indian
    /// Scots.
    case scots
    /// Nigerian Pidgin English. Added after the other six and in no shipped training mix,
    /// so that it can serve as a held-out dialect. New dialects go last: a dialect's position
    /// seeds its template draws, so inserting one earlier would change existing files.
    case pidgin

    /// Declaration order, so that sorted dialect lists (and hence generated files) are stable.
    public static func < (lhs: Dialect, rhs: Dialect) -> Bool {
        allCases.firstIndex(of: lhs) ?? 0 < allCases.firstIndex(of: rhs) ?? 0
    }

    public var summary: String {
        switch self {
        case .sae: "Standard American English (reference)"
        case .aae: "African American English: habitual be, copula deletion, negative concord, ain't, y'all, completive done, zero plural"
        case .symbolic: "terse symbolic form: 47+85=?"
        case .words: "numbers written as English words"
        case .indian: "Indian English: stative progressive, 'kindly', 'itself', 'into' for times, 'is how much?'"
        case .scots: "Scots: mair, mony, noo, ilka, gie, whit, thegither"
        case .pidgin: "Nigerian Pidgin: wetin, na how much?, dey, don, abeg, una, e get, sabi, for, chop, e/am/im"
        }
    }

    /// Renders `problem` as a prompt. `scene` picks the people and objects (shared by all
    /// renderings of a problem); `rng` picks the template among those `phrasings` allows, so
    /// one seed gives one prompt.
    public func render(_ problem: ArithProblem, scene: Scene, rng: inout RNG, phrasings: Phrasings = .all) -> String {
        let templates = phrasings.allowed(Templates.list(for: self, op: problem.op))
        let template = templates[templates.startIndex + rng.int(below: templates.count)]
        return template(Slots(problem: problem, scene: scene, spelled: self == .words))
    }
}

/// Who and what a word problem is about.
public struct Scene: Sendable, Equatable {
    public let person: Person
    public let item: Noun
    public let container: Noun

    public static func random(using rng: inout RNG) -> Scene {
        Scene(person: Person.pool[rng.int(below: Person.pool.count)],
              item: Noun.items[rng.int(below: Noun.items.count)],
              container: Noun.containers[rng.int(below: Noun.containers.count)])
    }
}

public struct Person: Sendable, Equatable {
    public let name: String
    public let subject: String
    public let object: String
    public let possessive: String

    static func she(_ name: String) -> Person { Person(name: name, subject: "she", object: "her", possessive: "her") }
    static func he(_ name: String) -> Person { Person(name: name, subject: "he", object: "him", possessive: "his") }

    /// One pool for every dialect: a name must not give away the dialect.
    static let pool: [Person] = [
        .she("Keisha"), .he("Marcus"), .she("Priya"), .he("Ravi"), .he("Hamish"), .she("Emma"),
        .he("Jamal"), .she("Aisha"), .he("Carlos"), .she("Mei"), .he("Tom"), .she("Fiona"),
        .he("Darnell"), .she("Anjali"), .she("Lucy"), .he("Omar"),
    ]
}

public struct Noun: Sendable, Equatable {
    public let singular: String
    public let plural: String

    init(_ singular: String, _ plural: String? = nil) {
        self.singular = singular
        self.plural = plural ?? singular + "s"
    }

    func agreeing(with count: Int) -> String { count == 1 ? singular : plural }

    static let items: [Noun] = ["apple", "pencil", "book", "marble", "sticker", "card", "cookie", "stamp", "shell", "coin"].map { Noun($0) }
    static let containers: [Noun] = [Noun("box", "boxes"), Noun("bag"), Noun("jar"), Noun("crate"), Noun("pack"), Noun("basket")]
}

/// What a template can fill in. Numbers come already rendered (digits or words).
struct Slots {
    let a: String, b: String
    let aCount: Int, bCount: Int
    let name: String
    let she: String, her: String, his: String
    let item: String, items: String
    let box: String, boxes: String

    init(problem: ArithProblem, scene: Scene, spelled: Bool) {
        // Every operand is in NumberWords.range (at most 9999), so the fallback never shows.
        a = spelled ? NumberWords.words(problem.a) ?? String(problem.a) : String(problem.a)
        b = spelled ? NumberWords.words(problem.b) ?? String(problem.b) : String(problem.b)
        aCount = problem.a
        bCount = problem.b
        name = scene.person.name
        she = scene.person.subject
        her = scene.person.object
        his = scene.person.possessive
        item = scene.item.singular
        items = scene.item.plural
        box = scene.container.singular
        boxes = scene.container.plural
    }

    var She: String { she.capitalizedFirst }
    var His: String { his.capitalizedFirst }
    /// The item noun agreeing with `a` or `b` (standard plural marking).
    var itemsA: String { aCount == 1 ? item : items }
    var itemsB: String { bCount == 1 ? item : items }
}

typealias Template = @Sendable (Slots) -> String

extension String {
    var capitalizedFirst: String { prefix(1).uppercased() + dropFirst() }
}
