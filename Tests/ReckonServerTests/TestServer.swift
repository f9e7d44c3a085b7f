import Foundation
import ReckonModel
import ReckonRuntime
@testable import ReckonServer

/// A real server on an ephemeral loopback port, serving a tiny random model.
final class TestServer: @unchecked Sendable {
    static let modelConfig = ModelConfig(dim: 16, nLayers: 2, nHeads: 4, nKVHeads: 2, hiddenDim: 24, maxSeqLen: 64)

    let server: ReckonHTTPServer
    let port: Int
    /// Holds or slows the engine's steps.
    let pace: Pace
    private let task: Task<Void, any Error>

    private init(server: ReckonHTTPServer, port: Int, pace: Pace, task: Task<Void, any Error>) {
        self.server = server; self.port = port; self.pace = pace; self.task = task
    }

    /// `model` and `text` default to a tiny random byte model.
    static func start(engine: EngineConfig? = nil, model: Transformer? = nil, text: ModelText = .bytes(),
                      configure: (inout ServerConfig) -> Void = { _ in }) async throws -> TestServer {
        var config = ServerConfig()
        config.port = 0
        config.modelName = "tiny"
        config.logLevel = "warning"
        configure(&config)
        let model = try model ?? Transformer(config: modelConfig, seed: 1)
        let pace = Pace()
        let server = try ReckonHTTPServer(model: model, engine: try engine ?? EngineConfig(slots: 4, maxPending: 32), config: config, text: text) {
            PacedBackend(base: try TransformerBackend(model: $0, slots: $1), pace: pace)
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let task = Task {
            try await server.run(handleSignals: false) { port in
                continuation.yield(port)
                continuation.finish()
            }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestError("the server did not start") }
        return TestServer(server: server, port: port, pace: pace, task: task)
    }

    /// Graceful shutdown, and waits for `run` to return.
    func stop() async throws {
        await server.shutdown()
        try await task.value
    }

    func post(_ path: String, _ json: String, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await HTTPTestClient.post(port: port, path: path, json: json, headers: headers)
    }

    func get(_ path: String, headers: [String: String] = [:]) async throws -> HTTPReply {
        try await HTTPTestClient.get(port: port, path: path, headers: headers)
    }

    /// Waits until `n` submissions sit in the engine loop's inbox (while a held step blocks it).
    func waitForInbox(_ n: Int) async throws {
        for _ in 0..<2000 {
            if server.loop.inboxCount >= n { return }
            try await Task.sleep(nanoseconds: 5_000_000)
        }
        throw TestError("only \(server.loop.inboxCount) of \(n) requests reached the engine loop")
    }
}
