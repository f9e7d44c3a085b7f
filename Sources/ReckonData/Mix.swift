// A weighted, order-stable choice among keys (dialects, levels) and its command-line syntax.

import Foundation
import ReckonCore

/// A weighted choice among keys (dialects, levels). Keys are kept sorted so that draws
/// do not depend on dictionary order, which Swift randomises per process.
public struct Mix<Key: Hashable & Comparable & Sendable>: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let key: Key
        public let weight: Double
    }

    /// Entries with positive weight, sorted by key.
    public let entries: [Entry]

    /// Weights need not sum to 1; zero-weight keys are dropped. At least one weight must be positive.
    public init(_ weights: [Key: Double]) throws(MixError) {
        for (key, weight) in weights where !(weight.isFinite && weight >= 0) {
            throw .badWeight(key: "\(key)", weight: weight)
        }
        entries = weights.filter { $0.value > 0 }.map { Entry(key: $0.key, weight: $0.value) }.sorted { $0.key < $1.key }
        guard !entries.isEmpty else { throw .empty }
    }

    /// Equal weights.
    public static func uniform(_ keys: [Key]) throws(MixError) -> Mix {
        try Mix(Dictionary(keys.map { ($0, 1.0) }, uniquingKeysWith: { first, _ in first }))
    }

    public var keys: [Key] { entries.map(\.key) }

    /// Each key's share of the total weight.
    public var fractions: [Key: Double] {
        let total = entries.reduce(0) { $0 + $1.weight }
        return Dictionary(uniqueKeysWithValues: entries.map { ($0.key, $0.weight / total) })
    }

    public func draw(_ rng: inout RNG) -> Key {
        let total = entries.reduce(0) { $0 + $1.weight }
        var u = rng.uniformDouble() * total
        for entry in entries {
            if u < entry.weight { return entry.key }
            u -= entry.weight
        }
        return entries[entries.count - 1].key  // rounding left u just past the end
    }

    /// Parses a command-line list such as `sae,aae` (equal weights) or `sae=0.7,aae=0.1`.
    /// `key` turns a name into a key, or returns nil if there is no such key.
    public static func parse(_ text: String, key: (String) -> Key?) throws(MixError) -> Mix {
        var weights: [Key: Double] = [:]
        for part in text.split(separator: ",", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = pieces[0].trimmingCharacters(in: .whitespaces)
            guard let k = key(name) else { throw .unknownKey(name) }
            var weight = 1.0
            if pieces.count == 2 {
                let text = pieces[1].trimmingCharacters(in: .whitespaces)
                guard let w = Double(text) else { throw .badWeightText(key: name, text: text) }
                weight = w
            }
            guard weights[k] == nil else { throw .duplicateKey(name) }
            weights[k] = weight
        }
        return try Mix(weights)
    }
}

public enum MixError: Error, Equatable, CustomStringConvertible {
    case empty
    case badWeight(key: String, weight: Double)
    case badWeightText(key: String, text: String)
    case unknownKey(String)
    case duplicateKey(String)

    public var description: String {
        switch self {
        case .empty: "the mix needs at least one entry with a positive weight"
        case let .badWeight(key, weight): "weight \(weight) for '\(key)' must be a finite number >= 0"
        case let .badWeightText(key, text): "weight '\(text)' for '\(key)' is not a number"
        case let .unknownKey(name): "unknown name '\(name)'"
        case let .duplicateKey(name): "'\(name)' is listed twice"
        }
    }
}

