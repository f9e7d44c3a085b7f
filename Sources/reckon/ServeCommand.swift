// `reckon serve`: its flags into the server's and engine's settings; the server is ReckonServer's.

import ArgumentParser
import Foundation
import ReckonCheckpoint
import ReckonCore
import ReckonModel
import ReckonRuntime
import ReckonServer

/// `reckon serve`: the OpenAI-compatible HTTP server (docs/http-api.md).
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a checkpoint over an OpenAI-compatible HTTP API.",
        discussion: """
        Endpoints: POST /v1/completions, POST /v1/chat/completions (with "stream": true for \
        server-sent events), GET /v1/models, GET /health, GET /metrics (Prometheus text). \
        Binds 127.0.0.1:\(ServerConfig.defaultPort) by default. The runtime flags set the engine (slots, \
        budget, policy, order, load-linked threshold) and the defaults of request fields \
        (routing, max_tokens, thinking_token_budget, temperature, top_p, top_k, seed); the \
        clock is always real and arrivals come from the network (--clock and --arrival-* do \
        not apply). SIGINT or SIGTERM stops accepting connections, finishes the requests in \
        flight (closing what is left after --shutdown-timeout), then exits. With --api-key every \
        path but exactly /health needs the key. A client that disconnects mid-stream has its \
        request cancelled. Prompts use the checkpoint's own tokenizer; chat completions on an         imported model render its chat template (or --chat-template). A model without the         <think>/<short> control tokens (a plain base) generates without one. See docs/http-api.md.

        Example: reckon serve --budget 2000:500 --budget-policy truncate --api-key secret
        """)

    @Option(help: "Checkpoint (HDF5); the shipped default when omitted.")
    var checkpoint: String?
    @Option(help: "A LoRA adapter's base checkpoint, instead of the path the adapter stores.")
    var base: String?
    @Option(help: "Address to bind; 0.0.0.0 exposes the server to the network.") var host = "127.0.0.1"
    @Option(help: "Port to bind (0: any free port).") var port = ServerConfig.defaultPort
    @Option(help: "Require 'Authorization: Bearer KEY' on every path but exactly /health (default: $RECKON_API_KEY if set).")
    var apiKey: String?
    @Option(help: "Largest request body in bytes (413 above).") var maxBodyBytes = 1 << 20
    @Option(help: "Seconds a client has to send a request's line and headers (from connecting, or from the previous response); then the connection closes.")
    var headerTimeout = ServerConfig().headerTimeout
    @Option(help: "Seconds a client has to send a request's body, from the end of its headers.") var bodyTimeout = ServerConfig().bodyTimeout
    @Option(help: "Open connections at most; one accepted over the limit is closed at once.") var maxConnections = ServerConfig().maxConnections
    @Option(help: "Seconds SIGINT/SIGTERM waits for requests in flight before closing their connections.")
    var shutdownTimeout = ServerConfig().shutdownTimeout
    @Option(help: "Largest max_tokens a request may ask for (default: the model's context).") var maxTokensLimit: Int?
    @Option(help: "Requests queued for a batch slot before new ones get 429 queue_full.") var maxPending = 256
    @Option(help: "Model name in /v1/models and responses (default: the checkpoint's file name).") var modelName: String?
    @Option(help: "Distinct request groups kept as metric labels (the rest count as _other).") var maxGroups = 256
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel = "info"
    @Option(help: "BLAS and worker threads.") var threads = 2
    @Option(help: "Keep the budget in Redis, shared by every replica naming it: redis://HOST:PORT/NAME (see docs/deployment.md).")
    var budgetStore: String?
    @Option(help: "While the budget store is unreachable: deny (no new thinking budget) or local (a private 1/n share, paid back on return).")
    var budgetStoreFallback = "deny"
    @Option(help: "Override the model's chat template for /v1/chat/completions: chatml, llama3 or none.")
    var chatTemplate: ChatTemplateKind?
    @Option(help: "Text forced before </think> when thinking is cut (by a cap, the budget or max_tokens), like llama.cpp's --reasoning-budget-message; \"\" forces </think> alone. Default: \"\(ServerConfig.byteLevelThinkCloseText)\" on byte-level models, else \"\(ServerConfig.defaultThinkCloseText)\".")
    var thinkCloseText: String?
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0...65535, got \(port)") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be ≥ 1024") }
        guard maxPending >= 1 else { throw ValidationError("--max-pending must be ≥ 1") }
        for (flag, seconds) in [("--header-timeout", headerTimeout), ("--body-timeout", bodyTimeout), ("--shutdown-timeout", shutdownTimeout)] {
            guard seconds > 0, seconds <= 86_400 else { throw ValidationError("\(flag) must be in (0, 86400] seconds, got \(seconds)") }
        }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be ≥ 1") }
        guard threads >= 1, maxGroups >= 1 else { throw ValidationError("--threads and --max-groups must be ≥ 1") }
        if let m = maxTokensLimit, m < 1 { throw ValidationError("--max-tokens-limit must be ≥ 1") }
        if runtime.arrivalRate != nil { throw ValidationError("--arrival-rate does not apply to serve: requests arrive over HTTP") }
        if let key = apiKey, key.isEmpty { throw ValidationError("--api-key must not be empty") }
        if let store = budgetStore {
            guard runtime.budget != nil else { throw ValidationError("--budget-store needs a --budget C:R to share") }
            do { _ = try RedisBudgetAddress(parsing: store) } catch { throw ValidationError("--budget-store: \(error)") }
        }
        guard BudgetStoreFallback(rawValue: budgetStoreFallback) != nil else {
            throw ValidationError("--budget-store-fallback must be deny or local, got \"\(budgetStoreFallback)\"")
        }
        let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
        guard levels.contains(logLevel) else { throw ValidationError("--log-level must be one of \(levels.joined(separator: ", "))") }
    }

    func run() async throws {
        BLAS.setThreads(threads)
        let path = try Self.checkpointPath(checkpoint)
        // An adapter is merged at load: serving never changes it, and merged decoding costs what the base's does.
        let checkpoint = try ModelFile.load(path, base: base)
        let (model, stored) = (try checkpoint.model(), checkpoint.routing)
        let text = try checkpoint.text(templateOverride: chatTemplate, path: path)
        if text.roles.control == nil, runtime.routing != nil {
            throw ValidationError("\(path): \(PromptError.noControlTokens)")
        }

        var engine = try runtime.engineConfig()
        engine.maxPending = maxPending
        var config = ServerConfig()
        config.host = host
        config.port = port
        config.apiKey = apiKey ?? ProcessInfo.processInfo.environment["RECKON_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        config.maxBodyBytes = maxBodyBytes
        config.headerTimeout = headerTimeout
        config.bodyTimeout = bodyTimeout
        config.maxConnections = maxConnections
        config.shutdownTimeout = shutdownTimeout
        config.maxTokensLimit = maxTokensLimit
        config.modelName = modelName ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        config.maxMetricGroups = maxGroups
        config.logLevel = logLevel
        do { config.budgetStore = try budgetStore.map { try RedisBudgetAddress(parsing: $0) } } catch { throw ValidationError("--budget-store: \(error)") }
        config.budgetStoreFallback = BudgetStoreFallback(rawValue: budgetStoreFallback) ?? .deny
        config.defaults.routing = runtime.routingPolicy(stored: stored)
        config.defaults.sampling = runtime.sampling
        config.defaults.maxTokens = runtime.maxTokens
        config.defaults.thinkingTokenBudget = runtime.thinkingTokenBudget
        config.defaults.seed = runtime.seed
        config.thinkCloseText = thinkCloseText ?? (text.isByteLevel ? ServerConfig.byteLevelThinkCloseText : ServerConfig.defaultThinkCloseText)

        let server = try ReckonHTTPServer(model: model, engine: engine, config: config, text: text)
        let routingNote = text.roles.control == nil ? "no control tokens: plain generation" : runtime.routingNote(stored: stored)
        let tokenizerNote = text.isByteLevel ? "byte tokenizer"
            : "BPE tokenizer, chat template " + (text.template.map { $0.kind.rawValue } ?? "none (\(text.templateProblem.map { "\($0)" } ?? "?"))")
        let summary = "serve: \(config.modelName) (\(path), \(model.parameterCount) parameters), \(tokenizerNote), \(routingNote), \(engine.slots) slots, queue \(maxPending)"
            + (runtime.budget.map { ", budget \($0) (\(runtime.budgetPolicy), \(runtime.order)\(runtime.loadLinked ? ", load-linked" : ""))" } ?? "")
            + (config.budgetStore.map { ", shared through \($0) (fallback \(budgetStoreFallback))" } ?? "")
            + (config.apiKey != nil ? ", bearer auth on" : "")
        let host = host
        try await server.run { port in
            note("\(summary)\nserve: listening on http://\(host):\(port) (Ctrl-C or SIGTERM finishes the requests in flight, then exits)")
        }
        note("serve: stopped")
    }

    /// --checkpoint, else the shipped default.
    static func checkpointPath(_ given: String?) throws -> String {
        try DefaultCheckpoint.resolve(given)
    }
}
