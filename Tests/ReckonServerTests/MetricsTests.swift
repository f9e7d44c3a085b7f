import Foundation
import ReckonRuntime
import XCTest
@testable import ReckonServer

/// `/metrics` is Prometheus text, and it carries what the fairness audit and the budget invariant need.
final class MetricsTests: XCTestCase {
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// A strict reader of the text exposition format: every line is a `# HELP` / `# TYPE`
    /// comment or `name{label="value",...} number`, and every sample belongs to a declared family.
    static func parse(_ text: String) throws -> (samples: [Sample], types: [String: String]) {
        var samples: [Sample] = []
        var types: [String: String] = [:]
        func isNameStart(_ c: Character) -> Bool { c.isASCII && (c.isLetter || c == "_" || c == ":") }
        func isName(_ c: Character) -> Bool { isNameStart(c) || (c.isASCII && c.isNumber) }
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            func bad(_ why: String) -> TestError { TestError("line \(n + 1): \(why): \(line)") }
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let parts = line.split(separator: " ", maxSplits: 3)
                guard parts.count >= 3, parts[0] == "#", ["HELP", "TYPE"].contains(parts[1]) else { throw bad("unknown comment") }
                if parts[1] == "TYPE" {
                    guard parts.count == 4, ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]) else { throw bad("bad TYPE") }
                    types[String(parts[2])] = String(parts[3])
                }
                continue
            }
            var i = line.startIndex
            guard isNameStart(line[i]) else { throw bad("bad metric name") }
            while i < line.endIndex, isName(line[i]) { i = line.index(after: i) }
            let name = String(line[..<i])
            var labels: [String: String] = [:]
            if i < line.endIndex, line[i] == "{" {
                i = line.index(after: i)
                while line[i] != "}" {
                    let keyStart = i
                    while i < line.endIndex, isName(line[i]) { i = line.index(after: i) }
                    let key = String(line[keyStart..<i])
                    guard !key.isEmpty, i < line.endIndex, line[i] == "=" else { throw bad("bad label name") }
                    i = line.index(after: i)
                    guard i < line.endIndex, line[i] == "\"" else { throw bad("label value not quoted") }
                    i = line.index(after: i)
                    var value = ""
                    while true {
                        guard i < line.endIndex else { throw bad("unterminated label value") }
                        let c = line[i]
                        if c == "\"" { break }
                        if c == "\\" {
                            i = line.index(after: i)
                            guard i < line.endIndex, ["\\", "\"", "n"].contains(line[i]) else { throw bad("bad escape") }
                            value.append(line[i] == "n" ? "\n" : line[i])
                        } else {
                            value.append(c)
                        }
                        i = line.index(after: i)
                    }
                    labels[key] = value
                    i = line.index(after: i)
                    guard i < line.endIndex else { throw bad("unterminated labels") }
                    if line[i] == "," { i = line.index(after: i) } else if line[i] != "}" { throw bad("expected , or }") }
                }
                i = line.index(after: i)
            }
            guard i < line.endIndex, line[i] == " " else { throw bad("expected one space before the value") }
            let rest = line[line.index(after: i)...]
            let valueText = rest.split(separator: " ").first.map(String.init) ?? ""
            guard rest.split(separator: " ").count <= 2 else { throw bad("trailing text") }
            let value: Double
            switch valueText {
            case "+Inf": value = .infinity
            case "-Inf": value = -.infinity
            case "NaN": value = .nan
            default:
                guard let v = Double(valueText) else { throw bad("value is not a number") }
                value = v
            }
            let family = ["_bucket", "_sum", "_count"].reduce(name) { n, suffix in
                n.hasSuffix(suffix) && types[String(n.dropLast(suffix.count))] == "histogram" ? String(n.dropLast(suffix.count)) : n
            }
            guard types[family] != nil else { throw bad("sample of an undeclared family \(family)") }
            samples.append(Sample(name: name, labels: labels, value: value))
        }
        return (samples, types)
    }

    func testMetricsParseAndCarryTheBudgetInvariant() async throws {
        let budget = try BudgetConfig(capacity: 30, refillPerSecond: 20, policy: .truncate)
        let server = try await TestServer.start(engine: try EngineConfig(slots: 4, maxPending: 16, budget: budget))
        let routes = ["think", "short", "model", "threshold:0.2"]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<12 {
                group.addTask {
                    let body = #"{"prompt": "\#(i)+\#(i)=", "max_tokens": 30, "routing": "\#(routes[i % 4])", "group": "g\#(i % 3)", "stream": \#(i % 5 == 0)}"#
                    let r = try await server.post("/v1/completions", body)
                    XCTAssertEqual(r.status, 200, r.text)
                }
            }
            try await group.waitForAll()
        }
        _ = try await server.post("/v1/completions", "{")  // one refusal
        let reply = try await server.get("/metrics")
        XCTAssertEqual(reply.status, 200)
        XCTAssert(reply.headers["content-type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        let (samples, types) = try Self.parse(reply.text)
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
        for (name, type) in [("reckon_route_total", "counter"), ("reckon_budget_tokens_available", "gauge"),
                             ("reckon_budget_tokens_spent_total", "counter"), ("reckon_budget_allowance", "gauge"),
                             ("reckon_budget_actions_total", "counter"), ("reckon_requests_rejected_total", "counter"),
                             ("reckon_time_to_first_token_seconds", "histogram"), ("reckon_request_latency_seconds", "histogram"),
                             ("reckon_thinking_tokens", "histogram"), ("reckon_requests_total", "counter")] {
            XCTAssertEqual(types[name], type, name)
        }
        // Every request is routed once, per group.
        let routed = samples.filter { $0.name == "reckon_route_total" }.reduce(0) { $0 + $1.value }
        XCTAssertEqual(routed, 12)
        XCTAssertEqual(value("reckon_requests_total", ["group": "g0"]), 4)
        XCTAssertEqual(value("reckon_request_latency_seconds_count", ["mode": "think"]).map(Int.init),
                       Int(samples.filter { $0.name == "reckon_route_total" && $0.labels["mode"] == "think" }.reduce(0) { $0 + $1.value }))
        XCTAssertEqual(value("reckon_time_to_first_token_seconds_count"), 12)
        XCTAssertEqual(value("reckon_requests_rejected_total", ["reason": "invalid_request"]), 1)
        // The budget: spent ≤ C + R·elapsed, both from one snapshot.
        let spent = try XCTUnwrap(value("reckon_budget_tokens_spent_total"))
        let allowance = try XCTUnwrap(value("reckon_budget_allowance"))
        XCTAssertGreaterThan(spent, 0)
        XCTAssertLessThanOrEqual(spent, allowance)
        // Histogram buckets are cumulative and end at +Inf = count.
        let buckets = samples.filter { $0.name == "reckon_thinking_tokens_bucket" }
        XCTAssertEqual(buckets.last?.labels["le"], "+Inf")
        XCTAssertEqual(buckets.last?.value, value("reckon_thinking_tokens_count"))
        XCTAssertEqual(buckets.map(\.value), buckets.map(\.value).sorted())
        try await server.stop()
    }

    func testRegistryEscapesLabelsAndRejectsNothingItRenders() throws {
        let r = PrometheusRegistry()
        r.declare("x_total", .counter, help: "a \\ help\nline")
        r.declare("h", .histogram, help: "h", buckets: [1, 0.5])
        r.increment("x_total", [("group", "we\"ird\\name\n")], by: 2)
        r.observe("h", 0.7)
        r.observe("h", 3)
        let (samples, _) = try Self.parse(r.exposition())
        XCTAssertEqual(samples.first?.labels["group"], "we\"ird\\name\n")
        XCTAssertEqual(samples.filter { $0.name == "h_bucket" }.map(\.value), [0, 1, 2])
        XCTAssertEqual(samples.first { $0.name == "h_sum" }?.value, 3.7)
    }
}
