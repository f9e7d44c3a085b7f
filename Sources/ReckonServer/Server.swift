// `reckon serve`'s server: binding, the handler pipeline, serving and graceful shutdown; endpoints are
// Routes.swift's, settings ServerConfig.swift's.

import Hummingbird
import Logging
import NIOCore
import ReckonModel
import ReckonRuntime
import ServiceLifecycle
import UnixSignals

/// `reckon serve`: an OpenAI-compatible HTTP server in front of one engine.
///
/// `run` binds, serves until SIGINT or SIGTERM (or `shutdown()`), then shuts down
/// gracefully: it stops accepting connections, lets every request in flight finish (for at
/// most `shutdownTimeout` seconds, then closes what is left), and stops the engine loop.
public final class ReckonHTTPServer: Sendable {
    public let config: ServerConfig
    let loop: EngineLoop
    let metrics: ServerMetrics
    let routes: Routes
    let connections: ConnectionCap
    private let logger: Logger
    private let group = GroupBox()

    /// - Parameters:
    ///   - model: the model to serve.
    ///   - engine: batch slots, the bounded queue (`maxPending`), the budget and its policies.
    ///   - text: the model's tokenizer and chat template (`Checkpoint.text`); bytes by default.
    public convenience init(model: Transformer, engine: EngineConfig, config: ServerConfig, text: ModelText = .bytes(),
                            logger: Logger? = nil) throws {
        try self.init(model: model, engine: engine, config: config, text: text, logger: logger) { try TransformerBackend(model: $0, slots: $1) }
    }

    /// `backend(model, slots)` makes the engine's backend (the tests pace the transformer with it).
    init(model: Transformer, engine: EngineConfig, config: ServerConfig, text: ModelText = .bytes(), logger: Logger? = nil,
         backend: @escaping @Sendable (Transformer, Int) throws -> any DecodeBackend) throws {
        self.config = config
        var log = logger ?? Logger(label: "reckon.serve", factory: { StreamLogHandler.standardError(label: $0) })
        if logger == nil { log.logLevel = Logger.Level(rawValue: config.logLevel) ?? .info }
        self.logger = log
        let metrics = ServerMetrics(maxGroups: config.maxMetricGroups, hasBudget: engine.budget != nil)
        self.metrics = metrics
        var store: RedisBudgetStore?
        if let address = config.budgetStore {
            guard let budget = engine.budget else { throw RuntimeError.invalidConfig("a budget store needs a --budget") }
            let storeLog = log
            store = try RedisBudgetStore(address: address, budget: budget, fallback: config.budgetStoreFallback) {
                storeLog.warning("\($0)")
            }
            log.info("budget store \(address): replica \(store?.replica ?? "?"), fallback \(config.budgetStoreFallback.rawValue)")
        }
        connections = ConnectionCap(limit: config.maxConnections)
        metrics.connections = connections
        loop = try EngineLoop(metrics: metrics) { [store] start in
            try Engine(backend: AnyDecodeBackend(backend(model, engine.slots)), config: engine, start: start, store: store,
                       roles: text.roles)
        }
        routes = Routes(builder: RequestBuilder(config: config, contextLength: model.config.maxSeqLen, text: text), loop: loop,
                        metrics: metrics, limit: BodyLimit(maxBytes: config.maxBodyBytes), config: config)
    }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        // Middleware first: it only wraps routes registered after it.
        router.add(middleware: OpenAIErrorMiddleware(metrics: metrics, routes: Routes.table))
        if let key = config.apiKey { router.add(middleware: BearerAuthMiddleware(key: key)) }
        routes.register(on: router)
        return router
    }

    /// Serves until shut down. `onRunning` gets the bound port (useful with port 0).
    /// With `handleSignals`, SIGINT and SIGTERM start the graceful shutdown.
    public func run(handleSignals: Bool = true, onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        loop.start()
        let config = config
        let cap = connections
        let deadlines = (header: TimeAmount.nanoseconds(Int64(config.headerTimeout * 1e9)),
                         body: TimeAmount.nanoseconds(Int64(config.bodyTimeout * 1e9)))
        let app = Application(
            router: makeRouter(),
            server: .http1(configuration: .init(additionalChannelHandlers: [
                ConnectionCapHandler(cap: cap), ReadDeadlineHandler(header: deadlines.header, body: deadlines.body),
            ])),
            configuration: .init(address: .hostname(config.host, port: config.port), serverName: "reckon"),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? config.port) },
            logger: logger)
        var groupConfig = ServiceGroupConfiguration(
            services: [app], gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [], logger: logger)
        // Past the deadline the server task is cancelled, which closes the stalled connections.
        groupConfig.maximumGracefulShutdownDuration = Duration.milliseconds(Int64(config.shutdownTimeout * 1000))
        let serviceGroup = ServiceGroup(configuration: groupConfig)
        await group.set(serviceGroup)
        do {
            try await serviceGroup.run()
        } catch {
            await loop.stop()
            throw error
        }
        // The HTTP server has answered everything it accepted; let the engine drain.
        await loop.stop()
    }

    /// Starts the graceful shutdown (what SIGTERM does).
    public func shutdown() async {
        await group.get()?.triggerGracefulShutdown()
    }
}

/// The running service group, for `shutdown()`.
private actor GroupBox {
    var group: ServiceGroup?
    func set(_ g: ServiceGroup) { group = g }
    func get() -> ServiceGroup? { group }
}
