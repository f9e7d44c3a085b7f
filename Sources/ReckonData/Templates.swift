// The prompt templates of each dialect and the rules every template keeps; choosing one is Dialects.swift's.

/// The prompt templates of each dialect.
///
/// Rules every template keeps, checked by the tests:
/// - it states `a` before `b` and no other number, so the scratchpad's `a op b` is a copy;
/// - its meaning is `a + b` (sums) or `a * b` with `a` per container and `b` containers (products);
/// - it stays short: prompt plus scratchpad must fit the 256-token context.
enum Templates {
    static func list(for dialect: Dialect, op: ArithOp) -> [Template] {
        switch (dialect, op) {
        case (.sae, .add): saeAdd
        case (.sae, .mul): saeMul
        case (.aae, .add): aaeAdd
        case (.aae, .mul): aaeMul
        case (.symbolic, .add): symbolicAdd
        case (.symbolic, .mul): symbolicMul
        case (.words, .add): wordsAdd
        case (.words, .mul): wordsMul
        case (.indian, .add): indianAdd
        case (.indian, .mul): indianMul
        case (.scots, .add): scotsAdd
        case (.scots, .mul): scotsMul
        case (.pidgin, .add): pidginAdd
        case (.pidgin, .mul): pidginMul
        }
    }

    // MARK: Standard American English

    static let saeAdd: [Template] = [
        { s in "\(s.name) has \(s.a) \(s.itemsA) and gets \(s.b) more. How many \(s.items) does \(s.she) have now?" },
        { s in "\(s.name) sold \(s.a) \(s.itemsA) on Monday and \(s.b) on Tuesday. How many \(s.items) did \(s.she) sell in all?" },
        { s in "What is \(s.a) plus \(s.b)?" },
        { s in "Find the sum of \(s.a) and \(s.b)." },
        { s in "There are \(s.a) \(s.itemsA) on a shelf. \(s.name) adds \(s.b) more. How many \(s.items) are on the shelf now?" },
    ]

    static let saeMul: [Template] = [
        { s in "Each \(s.box) holds \(s.a) \(s.items). How many \(s.items) are in \(s.b) \(s.boxes)?" },
        { s in "What is \(s.a) times \(s.b)?" },
        { s in "Find the product of \(s.a) and \(s.b)." },
        { s in "\(s.name) packs \(s.a) \(s.items) into each \(s.box) and fills \(s.b) \(s.boxes). How many \(s.items) does \(s.she) pack?" },
    ]

    // MARK: African American English
    //
    // eWAVE features, several per template: habitual be ("be collecting"), copula deletion
    // ("she real lucky", "how many apple in 6 box"), negative concord ("ain't lose none"),
    // ain't, y'all, completive done ("done got"), zero plural after a quantifier ("47 apple"),
    // and absent third-person -s ("each box hold").

    static let aaeAdd: [Template] = [
        { s in "\(s.name) got \(s.a) \(s.item) and \(s.she) done got \(s.b) more. How many \(s.item) \(s.she) got now?" },
        { s in "\(s.name) be collecting \(s.items). \(s.She) had \(s.a) \(s.item), done found \(s.b) more, and ain't lose none. How many \(s.item) \(s.she) got?" },
        { s in "Y'all, \(s.name) real lucky. \(s.She) had \(s.a) \(s.item) and somebody gave \(s.her) \(s.b) more. How many \(s.item) \(s.she) got now?" },
        { s in "What \(s.a) plus \(s.b) come out to? \(s.name) ain't got no calculator." },
        { s in "\(s.name) be selling \(s.items). \(s.She) done sold \(s.a) \(s.item) Monday and \(s.b) Tuesday. How many \(s.item) that make?" },
    ]

    static let aaeMul: [Template] = [
        { s in "Every \(s.box) got \(s.a) \(s.item) in it. How many \(s.item) in \(s.b) \(s.box)?" },
        { s in "\(s.name) be packing \(s.a) \(s.item) in each \(s.box). \(s.She) done packed \(s.b) \(s.box). How many \(s.item) that make?" },
        { s in "Y'all, each \(s.box) hold \(s.a) \(s.item) and ain't no \(s.box) empty. How many \(s.item) in \(s.b) \(s.box)?" },
        { s in "What \(s.a) times \(s.b) come out to? \(s.name) ain't got no calculator." },
    ]

    // MARK: Symbolic

    static let symbolicAdd: [Template] = [
        { s in "\(s.a)+\(s.b)=?" },
        { s in "\(s.a) + \(s.b) = ?" },
        { s in "\(s.a)+\(s.b)=" },
        { s in "add(\(s.a),\(s.b))" },
        { s in "sum \(s.a) \(s.b)" },
    ]

    static let symbolicMul: [Template] = [
        { s in "\(s.a)*\(s.b)=?" },
        { s in "\(s.a) * \(s.b) = ?" },
        { s in "\(s.a)x\(s.b)=" },
        { s in "mul(\(s.a),\(s.b))" },
        { s in "product \(s.a) \(s.b)" },
    ]

    // MARK: Numbers as words (Slots spells the numbers; no other number word may appear)

    static let wordsAdd: [Template] = [
        { s in "What is \(s.a) plus \(s.b)?" },
        { s in "Add \(s.a) and \(s.b)." },
        { s in "\(s.name) has \(s.a) \(s.itemsA) and gets \(s.b) more. How many \(s.items) does \(s.she) have now?" },
        { s in "What do you get if you add \(s.a) and \(s.b)?" },
    ]

    static let wordsMul: [Template] = [
        { s in "What is \(s.a) times \(s.b)?" },
        { s in "Multiply \(s.a) by \(s.b)." },
        { s in "Each \(s.box) holds \(s.a) \(s.items). How many \(s.items) are in \(s.b) \(s.boxes)?" },
    ]

    // MARK: Indian English
    //
    // Stative verbs in the progressive ("is having"), "kindly", emphatic "itself" and "only",
    // "cousin-brother", "into" for multiplication, "is how much?", questions without inversion.

    static let indianAdd: [Template] = [
        { s in "\(s.name) is having \(s.a) \(s.itemsA). \(s.His) cousin-brother gave \(s.b) more. How many \(s.items) \(s.she) is having now?" },
        { s in "Kindly tell the total of \(s.a) and \(s.b)." },
        { s in "\(s.name) purchased \(s.a) \(s.itemsA) yesterday itself and \(s.b) more today. Total how many \(s.items) \(s.she) purchased?" },
        { s in "\(s.a) plus \(s.b) is how much?" },
        { s in "\(s.name) has \(s.a) \(s.itemsA) only. \(s.She) is getting \(s.b) more. How many \(s.items) \(s.she) will have?" },
    ]

    static let indianMul: [Template] = [
        { s in "Each \(s.box) is having \(s.a) \(s.items). How many \(s.items) will be there in \(s.b) \(s.boxes)?" },
        { s in "\(s.a) into \(s.b) is how much?" },
        { s in "Kindly calculate \(s.a) multiplied by \(s.b) and tell the answer." },
        { s in "\(s.name) is packing \(s.a) \(s.items) in each \(s.box). \(s.She) filled \(s.b) \(s.boxes). Total how many \(s.items) \(s.she) packed?" },
    ]

    // MARK: Scots

    static let scotsAdd: [Template] = [
        { s in "\(s.name) has got \(s.a) \(s.itemsA) and \(s.his) pal gies \(s.her) \(s.b) mair. How mony \(s.items) has \(s.she) got noo?" },
        { s in "Whit's \(s.a) and \(s.b) thegither?" },
        { s in "\(s.name) selt \(s.a) \(s.itemsA) on Monday and \(s.b) on Tuesday. How mony did \(s.she) sell aw thegither?" },
        { s in "Gie us the sum o \(s.a) and \(s.b), ken." },
    ]

    static let scotsMul: [Template] = [
        { s in "There's \(s.a) \(s.items) in ilka \(s.box). How mony \(s.items) in \(s.b) \(s.boxes)?" },
        { s in "Whit's \(s.a) times \(s.b)?" },
        { s in "\(s.name) pits \(s.a) \(s.items) in ilka \(s.box) and fills \(s.b) \(s.boxes). How mony \(s.items) is that aw thegither?" },
    ]

    // MARK: Nigerian Pidgin English
    //
    // Features described for Nigerian Pidgin (eWAVE; Faraclas's grammar), several per template:
    // "wetin" (what), "na" as copula and focus ("na how much?"), "dey" for the progressive or
    // habitual and as locative copula ("dey sell", "dey inside"), completive "don" ("don give"),
    // "abeg" (please), "una" (you plural), existential and possessive "get" ("e get", "every box
    // get"), "sabi" (know), "for" as the general locative ("for market", "for inside"), "chop"
    // (eat), the genderless pronouns e/am/im, "di" (the), and no plural -s after a number.
    // The scene's she/her are not used: the pronouns do not mark gender.

    static let pidginAdd: [Template] = [
        { s in "\(s.name) get \(s.a) \(s.item). Im padi don give am \(s.b) more. How many \(s.item) e get now?" },
        { s in "\(s.name) dey sell \(s.item) for market. E sell \(s.a) Monday and \(s.b) Tuesday. How many \(s.item) e don sell?" },
        { s in "Abeg, \(s.a) plus \(s.b) na how much?" },
        { s in "E get \(s.a) \(s.item) for inside di \(s.box). \(s.name) put \(s.b) more. How many \(s.item) dey inside now?" },
        { s in "Una sabi wetin \(s.a) plus \(s.b) be? Abeg tell me before una go chop." },
    ]

    static let pidginMul: [Template] = [
        { s in "Every \(s.box) get \(s.a) \(s.item) for inside. How many \(s.item) e get for \(s.b) \(s.box)?" },
        { s in "Abeg, wetin be \(s.a) times \(s.b)?" },
        { s in "\(s.name) dey pack \(s.a) \(s.item) for each \(s.box). E don fill \(s.b) \(s.box). How many \(s.item) e don pack?" },
        { s in "\(s.a) times \(s.b), na how much? Una sabi am?" },
    ]
}
