// Virtual Token Counters: each group's thinking service, for the `fair` grant order.

/// Virtual Token Counters (Sheng et al., "Fairness in Serving Large Language Models",
/// OSDI'24), applied to the thinking budget.
///
/// Each group's counter is the thinking service it has received, in budget units: a grant
/// adds its reservation, metering beyond the reservation adds each token, and settling
/// takes back what was reserved but not used. Among waiting requests the group with the
/// smallest counter goes first. A group that was idle is lifted to the smallest counter of
/// the active groups, so it cannot bank credit while it had nothing to ask for.
public struct VirtualTokenCounters: Sendable, Equatable {
    public private(set) var counters: [String: Double] = [:]

    public init() {}

    /// Counters read back from a shared store.
    public init(counters: [String: Double]) { self.counters = counters }

    public func counter(_ group: String) -> Double { counters[group] ?? 0 }

    /// Called when `group` gets work while it had none; `active` are the groups with
    /// requests waiting for budget or thinking.
    public mutating func activate(_ group: String, active: Set<String>) {
        let others = active.subtracting([group]).map { counter($0) }
        guard let floor = others.min() else { return }
        counters[group] = max(counter(group), floor)
    }

    public mutating func charge(_ group: String, _ amount: Double) {
        counters[group, default: 0] += amount
    }
}
