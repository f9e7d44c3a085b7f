// A small thread-safe Prometheus registry and its text format; which metrics exist is ServerMetrics.swift's.

import Foundation

/// A small Prometheus registry: labelled counters, gauges and histograms, rendered in the
/// text exposition format (version 0.0.4). Thread-safe.
public final class PrometheusRegistry: @unchecked Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }

    public typealias Labels = [(String, String)]

    private struct Family {
        var name: String
        var help: String
        var kind: Kind
        var buckets: [Double]
        /// Label set (rendered) → value, or histogram state.
        var values: [String: Double] = [:]
        var histograms: [String: Histogram] = [:]
    }

    private struct Histogram {
        var counts: [Double]
        var sum = 0.0
        var count = 0.0
    }

    private let lock = NSLock()
    private var families: [String: Family] = [:]
    private var order: [String] = []

    public init() {}

    /// Declares a metric; its HELP and TYPE lines are rendered even before it has a sample.
    public func declare(_ name: String, _ kind: Kind, help: String, buckets: [Double] = []) {
        lock.lock()
        defer { lock.unlock() }
        guard families[name] == nil else { return }
        families[name] = Family(name: name, help: help, kind: kind, buckets: buckets.sorted())
        order.append(name)
    }

    public func increment(_ name: String, _ labels: Labels = [], by amount: Double = 1) {
        lock.lock()
        defer { lock.unlock() }
        families[name]?.values[Self.render(labels), default: 0] += amount
    }

    public func set(_ name: String, _ value: Double) { set(name, [], value) }

    public func set(_ name: String, _ labels: Labels, _ value: Double) {
        lock.lock()
        defer { lock.unlock() }
        families[name]?.values[Self.render(labels)] = value
    }

    /// Replaces every sample of a gauge (for label sets that come and go).
    public func replace(_ name: String, _ samples: [(Labels, Double)]) {
        lock.lock()
        defer { lock.unlock() }
        families[name]?.values = Dictionary(samples.map { (Self.render($0.0), $0.1) }, uniquingKeysWith: +)
    }

    public func observe(_ name: String, _ value: Double) { observe(name, [], value) }

    public func observe(_ name: String, _ labels: Labels, _ value: Double) {
        lock.lock()
        defer { lock.unlock() }
        guard var family = families[name] else { return }
        let key = Self.render(labels)
        var h = family.histograms[key] ?? Histogram(counts: Array(repeating: 0, count: family.buckets.count))
        for (i, b) in family.buckets.enumerated() where value <= b { h.counts[i] += 1 }
        h.sum += value
        h.count += 1
        family.histograms[key] = h
        families[name] = family
    }

    /// A sample's current value (tests and the load-test checks).
    public func value(_ name: String, _ labels: Labels = []) -> Double? {
        lock.lock()
        defer { lock.unlock() }
        return families[name]?.values[Self.render(labels)]
    }

    /// The text exposition format.
    public func exposition() -> String {
        lock.lock()
        defer { lock.unlock() }
        var out = ""
        for name in order {
            guard let f = families[name] else { continue }
            out += "# HELP \(f.name) \(Self.escapeHelp(f.help))\n# TYPE \(f.name) \(f.kind.rawValue)\n"
            switch f.kind {
            case .counter, .gauge:
                for key in f.values.keys.sorted() {
                    out += "\(f.name)\(key.isEmpty ? "" : "{\(key)}") \(Self.number(f.values[key]!))\n"
                }
            case .histogram:
                for key in f.histograms.keys.sorted() {
                    let h = f.histograms[key]!
                    let prefix = key.isEmpty ? "" : key + ","
                    for (i, b) in f.buckets.enumerated() {
                        out += "\(f.name)_bucket{\(prefix)le=\"\(Self.number(b))\"} \(Self.number(h.counts[i]))\n"
                    }
                    out += "\(f.name)_bucket{\(prefix)le=\"+Inf\"} \(Self.number(h.count))\n"
                    out += "\(f.name)_sum\(key.isEmpty ? "" : "{\(key)}") \(Self.number(h.sum))\n"
                    out += "\(f.name)_count\(key.isEmpty ? "" : "{\(key)}") \(Self.number(h.count))\n"
                }
            }
        }
        return out
    }

    static func render(_ labels: Labels) -> String {
        labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",")
    }

    static func escapeLabel(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n")
    }

    static func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}
