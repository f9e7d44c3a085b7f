import Foundation
import ReckonData
import TOMLKit

// TOML and `--set` into the typed sections through `Recipe.schema`; errors, resolved TOML, key table.

/// A value read from TOML or from `--set`, before it is checked against its key.
enum RecipeValue: Equatable, Sendable {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)
    /// A TOML type no key takes (array, table, date); carries its name for the error.
    case other(String)

    var tomlLiteral: String {
        switch self {
        case .int(let i): String(i)
        case .double(let d): "\(d)"
        case .string(let s): RecipeKey.quoted(s)
        case .bool(let b): String(b)
        case .other(let name): "\"<\(name)>\""
        }
    }

    var typeName: String {
        switch self {
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .bool: "boolean"
        case .other(let name): name
        }
    }
}

/// One recipe key: where it lives, what it takes, how to store and print it, and what it means.
struct RecipeKey {
    /// The TOML type the key takes.
    enum Kind {
        case int, number, string, bool
        var expected: String {
            switch self {
            case .int: "an integer"
            case .number: "a number"
            case .string: "a string"
            case .bool: "a boolean (true or false)"
            }
        }
    }

    let section: String
    let name: String
    let kind: Kind
    /// What the key does: the one place it is written (docs/cli.md's table is made from it).
    let help: String
    /// The values a key with a fixed set accepts, for errors and the doc; nil for open keys.
    let allowed: String?
    /// Stores a value of the right type; returns why it is invalid, or nil.
    let store: (inout Recipe, RecipeValue) -> String?
    /// The current value as a TOML literal.
    let render: (Recipe) -> String

    /// How messages name the key: `[sft] lr`, or `stages` at the top level.
    var label: String { section.isEmpty ? name : "[\(section)] \(name)" }
    /// How `--set` names the key: `sft.lr`, or `stages`.
    var path: String { section.isEmpty ? name : "\(section).\(name)" }
    /// What a value of the wrong type should have been.
    var expected: String { allowed.map { "\($0) (a string)" } ?? kind.expected }

    /// A key whose value `decode` reads: nil for the wrong type, else the value or why it is invalid.
    private static func make<T>(_ section: String, _ name: String, _ kind: Kind, _ help: String, allowed: String? = nil,
                                _ kp: WritableKeyPath<Recipe, T>, render: @escaping (T) -> String,
                                decode: @escaping (RecipeValue) -> Result<T, Invalid>?) -> RecipeKey {
        RecipeKey(section: section, name: name, kind: kind, help: help, allowed: allowed, store: { recipe, value in
            switch decode(value) {
            case nil: return "type"
            case .failure(let invalid): return invalid.why
            case .success(let v): recipe[keyPath: kp] = v; return nil
            }
        }, render: { render($0[keyPath: kp]) })
    }

    struct Invalid: Error { let why: String }

    static func int(_ section: String, _ name: String, _ kp: WritableKeyPath<Recipe, Int>, min: Int, _ help: String) -> RecipeKey {
        make(section, name, .int, help, kp, render: { String($0) }) {
            guard case .int(let v) = $0 else { return nil }
            return v >= min ? .success(v) : .failure(Invalid(why: "must be ≥ \(min), got \(v)"))
        }
    }

    static func number(_ section: String, _ name: String, _ kp: WritableKeyPath<Recipe, Double>, min: Double, _ help: String) -> RecipeKey {
        make(section, name, .number, help, kp, render: { "\($0)" }) {
            let v: Double
            switch $0 {
            case .double(let d): v = d
            case .int(let i): v = Double(i)  // `lr = 1` is a number too
            default: return nil
            }
            return v.isFinite && v >= min ? .success(v) : .failure(Invalid(why: "must be a finite number ≥ \(min), got \(v)"))
        }
    }

    /// A number the trainer keeps as a `Float`: the TOML double is rounded once, here.
    static func float(_ section: String, _ name: String, _ kp: WritableKeyPath<Recipe, Float>, min: Float, max: Float = .infinity,
                      _ help: String) -> RecipeKey {
        make(section, name, .number, help, kp, render: { "\($0)" }) {
            let v: Float
            switch $0 {
            case .double(let d): v = Float(d)
            case .int(let i): v = Float(i)
            default: return nil
            }
            let range = max.isFinite ? "in [\(min), \(max)]" : "≥ \(min)"
            return v.isFinite && v >= min && v <= max ? .success(v) : .failure(Invalid(why: "must be a finite number \(range), got \(v)"))
        }
    }

    static func string(_ section: String, _ name: String, _ kp: WritableKeyPath<Recipe, String>, _ help: String,
                       check: @escaping (String) -> String? = { _ in nil }) -> RecipeKey {
        make(section, name, .string, help, kp, render: quoted) {
            guard case .string(let v) = $0 else { return nil }
            return check(v).map { .failure(Invalid(why: $0)) } ?? .success(v)
        }
    }

    static func bool(_ section: String, _ name: String, _ kp: WritableKeyPath<Recipe, Bool>, _ help: String) -> RecipeKey {
        make(section, name, .bool, help, kp, render: { String($0) }) {
            guard case .bool(let v) = $0 else { return nil }
            return .success(v)
        }
    }

    /// A key whose string names one case of an enum.
    static func choice<T: RawRepresentable & CaseIterable>(_ section: String, _ name: String, _ kp: WritableKeyPath<Recipe, T>,
                                                           _ help: String) -> RecipeKey where T.RawValue == String {
        let allowed = "one of " + T.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        return make(section, name, .string, help, allowed: allowed, kp, render: { quoted($0.rawValue) }) {
            guard case .string(let v) = $0 else { return nil }
            return T(rawValue: v).map { .success($0) } ?? .failure(Invalid(why: "must be \(allowed), got \"\(v)\""))
        }
    }

    /// A key whose string is a comma list of at least one value `parse` accepts.
    static func list<T>(_ section: String, _ name: String, _ kp: WritableKeyPath<Recipe, [T]>, _ help: String, allowed: String,
                        parse: @escaping (String) -> T?, render: @escaping (T) -> String) -> RecipeKey {
        let allowed = "a comma list of " + allowed
        return make(section, name, .string, help, allowed: allowed, kp, render: { quoted($0.map(render).joined(separator: ",")) }) {
            guard case .string(let v) = $0 else { return nil }
            let items = v.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            if let bad = items.first(where: { parse($0) == nil }) { return .failure(Invalid(why: "must be \(allowed), got \"\(bad)\" in \"\(v)\"")) }
            return items.isEmpty ? .failure(Invalid(why: "must be \(allowed), got \"\(v)\"")) : .success(items.compactMap(parse))
        }
    }

    static func quoted(_ s: String) -> String {
        "\"\(s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))\""
    }
}

/// Checks of the data-mix strings, with the `reckon data gen` syntax.
enum RecipeMixes {
    static func checkLevels(_ text: String) -> String? {
        do {
            let mix = try Mix<Int>.parse(text) { Int($0) }
            if let bad = mix.keys.first(where: { !ArithLevel.all.contains($0) }) {
                return "has level \(bad), which does not exist (valid: \(ArithLevel.all.map(String.init).joined(separator: ",")))"
            }
            return nil
        } catch {
            return "is not a level mix: \(error)"
        }
    }

    static func checkDialects(_ text: String) -> String? {
        do {
            _ = try Mix<Dialect>.parse(text) { Dialect(rawValue: $0) }
            return nil
        } catch {
            return "is not a dialect mix: \(error) (known: \(Dialect.allCases.map(\.rawValue).joined(separator: ", ")))"
        }
    }
}

extension Recipe {
    /// Section names in schema order, without the top level.
    public static var sectionNames: [String] {
        var seen: [String] = []
        for key in schema where !key.section.isEmpty && !seen.contains(key.section) { seen.append(key.section) }
        return seen
    }

    /// The keys of `section`, for an unknown-key error.
    static func knownKeys(_ section: String) -> String {
        let names = schema.filter { $0.section == section }.map(\.name)
        return (section.isEmpty ? "top-level keys: " : "[\(section)] keys: ") + names.joined(separator: ", ")
            + (section.isEmpty ? "; sections: " + sectionNames.map { "[\($0)]" }.joined(separator: ", ") : "")
    }

    /// Reads a recipe file and applies `overrides` (`section.key=value`).
    public static func load(path: String, overrides: [String] = []) throws(RecipeError) -> Recipe {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw .unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        var recipe = try parse(text, source: path)
        for o in overrides { try recipe.apply(override: o) }
        return recipe
    }

    /// Parses TOML text; `source` is the name errors start with. Absent keys keep their defaults.
    public static func parse(_ text: String, source: String) throws(RecipeError) -> Recipe {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let error as TOMLParseError {
            throw .syntax(source: source, message: "\(error.description) at line \(error.source.begin.line)")
        } catch {
            throw .syntax(source: source, message: "\(error)")
        }
        var recipe = Recipe()
        recipe.text = text
        let keys = schema
        let sections = Set(keys.map(\.section))
        for name in table.keys.sorted() {
            guard let value = table[name] else { continue }
            if name == "phase" {
                recipe.phases = try parsePhases(value, source: source)
            } else if value.type == .table {
                guard sections.contains(name), !name.isEmpty, let inner = value.table else {
                    throw .unknownSection(source: source, section: name)
                }
                for key in inner.keys.sorted() {
                    guard let v = inner[key] else { continue }
                    try recipe.set(section: name, key: key, to: Self.value(v), source: source)
                }
            } else {
                try recipe.set(section: "", key: name, to: Self.value(value), source: source)
            }
        }
        return recipe
    }

    /// `[[phase]]` tables: each holds `[sft]` and `[data]` keys, written `sft.steps = 500` or
    /// as sub-tables.
    private static func parsePhases(_ value: TOMLValueConvertible, source: String) throws(RecipeError) -> [Phase] {
        guard let array = value.array else {
            throw .wrongType(source: source, key: "phase", expected: "an array of tables ([[phase]])", found: value.type.description)
        }
        var phases: [Phase] = []
        for (i, element) in array.enumerated() {
            let where_ = "\(source): [[phase]] \(i + 2)"
            guard let table = element.table else {
                throw .wrongType(source: source, key: "phase", expected: "an array of tables ([[phase]])", found: element.type.description)
            }
            var phase = Phase()
            for section in table.keys.sorted() {
                guard let inner = table[section]?.table else {
                    throw .unknownKey(source: where_, key: "\(section) (a phase holds [sft] and [data] keys, e.g. sft.steps = 500)")
                }
                for name in inner.keys.sorted() {
                    guard let v = inner[name] else { continue }
                    phase.settings.append(try checkedPhaseSetting(section: section, name: name, value: Self.value(v), source: where_))
                }
            }
            phases.append(phase)
        }
        return phases
    }

    /// A phase setting that names a key a phase may change, with a value that key accepts.
    static func checkedPhaseSetting(section: String, name: String, value: RecipeValue, source: String) throws(RecipeError) -> PhaseSetting {
        guard phaseAllows(section: section, name: name) else {
            throw .unknownKey(source: source, key: "[\(section)] \(name) (a phase may change [sft] keys other than init, and [data] train, train_n, levels, dialects, seed, skip_bad)")
        }
        var scratch = Recipe()
        try scratch.set(section: section, key: name, to: value, source: source)
        return PhaseSetting(section: section, name: name, value: value)
    }

    private static func value(_ v: TOMLValueConvertible) -> RecipeValue {
        switch v.type {
        case .int: v.int.map(RecipeValue.int) ?? .other("integer")
        case .double: v.double.map(RecipeValue.double) ?? .other("number")
        case .string: v.string.map(RecipeValue.string) ?? .other("string")
        case .bool: v.bool.map(RecipeValue.bool) ?? .other("boolean")
        default: .other(v.type.description)
        }
    }

    mutating func set(section: String, key name: String, to value: RecipeValue, source: String) throws(RecipeError) {
        let label = section.isEmpty ? name : "[\(section)] \(name)"
        guard let key = Self.schema.first(where: { $0.section == section && $0.name == name }) else {
            throw .unknownKey(source: source, key: "\(label) (\(Self.knownKeys(section)))")
        }
        guard let why = key.store(&self, value) else { return }
        if why == "type" {
            throw .wrongType(source: source, key: key.label, expected: key.expected, found: value.typeName)
        }
        throw .invalidValue(source: source, key: key.label, reason: why)
    }

    /// Applies `section.key=value` with the same checks as the file. The text is read as the
    /// key's type: a string key takes it verbatim (surrounding quotes removed).
    public mutating func apply(override: String) throws(RecipeError) {
        let parts = override.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .badOverride("\"\(override)\" is not of the form section.key=value") }
        let path = parts[0].trimmingCharacters(in: .whitespaces)
        let raw = parts[1].trimmingCharacters(in: .whitespaces)
        let source = "--set \(override)"
        if path.hasPrefix("phase.") { return try applyPhase(path: path, raw: raw, source: source) }
        let pieces = path.split(separator: ".", maxSplits: 1).map(String.init)
        let (section, name) = pieces.count == 2 ? (pieces[0], pieces[1]) : ("", path)
        guard let key = Self.schema.first(where: { $0.section == section && $0.name == name }) else {
            if !section.isEmpty, !Self.sectionNames.contains(section) {
                throw .unknownSection(source: source, section: section)
            }
            throw .unknownKey(source: source, key: (section.isEmpty ? name : "[\(section)] \(name)") + " (\(Self.knownKeys(section)))")
        }
        try set(section: section, key: name, to: Self.overrideValue(raw, kind: key.kind), source: source)
    }

    /// `--set phase.K.section.key=value`: changes (or adds) one setting of phase K ≥ 2.
    private mutating func applyPhase(path: String, raw: String, source: String) throws(RecipeError) {
        let pieces = path.split(separator: ".").map(String.init)
        guard pieces.count == 4, let k = Int(pieces[1]) else {
            throw .badOverride("\"\(path)\" is not of the form phase.K.section.key")
        }
        guard k >= 2, k <= phases.count + 1 else {
            throw .badOverride("\(path): the recipe has phases 2...\(phases.count + 1) after [sft]" + (phases.isEmpty ? " (it has none)" : ""))
        }
        let (section, name) = (pieces[2], pieces[3])
        let kind = Self.schema.first(where: { $0.section == section && $0.name == name })?.kind ?? .string
        let setting = try Self.checkedPhaseSetting(section: section, name: name, value: Self.overrideValue(raw, kind: kind), source: source)
        phases[k - 2].settings.removeAll { $0.section == section && $0.name == name }
        phases[k - 2].settings.append(setting)
    }

    /// Reads `--set` text as `kind` when it can, else as whatever it looks like, so the error
    /// says what was found.
    static func overrideValue(_ raw: String, kind: RecipeKey.Kind) -> RecipeValue {
        var text = raw
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") {
            text = String(text.dropFirst().dropLast())
            return .string(text)
        }
        if kind == .string { return .string(text) }
        if let i = Int(text.replacingOccurrences(of: "_", with: "")) { return .int(i) }
        if let d = Double(text.replacingOccurrences(of: "_", with: "")) { return .double(d) }
        if text == "true" || text == "false" { return .bool(text == "true") }
        return .string(text)
    }

    /// The key table of docs/cli.md: every key with its default and help, in schema order.
    public static var keyTable: String {
        let defaults = Recipe()
        var lines = ["| key | default | meaning |", "|-----|---------|---------|"]
        for key in schema {
            let values = key.allowed.map { "; \($0)" } ?? ""
            lines.append("| `\(key.label)` | `\(key.render(defaults))` | \(key.help)\(values) |")
        }
        return lines.joined(separator: "\n")
    }

    /// The effective recipe as TOML, every key included (for logs and reproduction).
    public var resolvedTOML: String {
        var out = ""
        var current: String? = nil
        for key in Self.schema {
            if key.section != current {
                if !key.section.isEmpty { out += "\n[\(key.section)]\n" }
                current = key.section
            }
            out += "\(key.name) = \(key.render(self))\n"
        }
        for phase in phases {
            out += "\n[[phase]]\n"
            for s in phase.settings { out += "\(s.section).\(s.name) = \(s.value.tomlLiteral)\n" }
        }
        return out
    }
}
