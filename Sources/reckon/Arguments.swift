import ArgumentParser
import Foundation
import ReckonData
import ReckonModel
import ReckonRuntime

// The CLI's typed option values: a routing, a list of them, a budget and the runtime's
// enums are each parsed once, by ArgumentParser, so a bad value is its one-line error
// naming the flag and what it accepts; commands never re-parse the strings.

extension RoutingPolicy: ExpressibleByArgument {
    public init?(argument: String) { try? self.init(parsing: argument) }
    public static var allValueStrings: [String] { ["model", "think", "short", "threshold:T"] }
}

/// `--routing think,short,model`: one or more routing policies, evaluated in turn.
struct RoutingList: ExpressibleByArgument, CustomStringConvertible {
    var policies: [RoutingPolicy]

    init(_ policies: [RoutingPolicy]) { self.policies = policies }

    init?(argument: String) {
        let parts = argument.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let parsed = parts.compactMap { RoutingPolicy(argument: $0) }
        guard !parts.isEmpty, parsed.count == parts.count else { return nil }
        policies = parsed
    }

    var description: String { policies.map(\.description).joined(separator: ",") }
}

/// `--budget C` or `C:R`: capacity, and refill per second (0 when omitted).
struct BudgetSpec: ExpressibleByArgument, CustomStringConvertible {
    var capacity: Double
    var refillPerSecond: Double

    init?(argument: String) {
        guard let b = try? BudgetConfig(parsing: argument) else { return nil }
        capacity = b.capacity
        refillPerSecond = b.refillPerSecond
    }

    var description: String {
        refillPerSecond == 0 ? String(format: "%g", capacity) : String(format: "%g:%g", capacity, refillPerSecond)
    }
}

extension GrantOrder: ExpressibleByArgument {}
extension BudgetPolicy: ExpressibleByArgument {}
extension Phrasings: ExpressibleByArgument {}
extension BudgetUnit: ExpressibleByArgument {}
