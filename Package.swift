// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Reckon",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Reckon", targets: ["ReckonCore", "ReckonModel", "ReckonTrain", "ReckonData", "ReckonEval", "ReckonCheckpoint", "ReckonRuntime", "ReckonAudit", "ReckonImport"]),
        .executable(name: "reckon", targets: ["reckon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    ],
    targets: [
        // C bindings: OpenBLAS and HDF5, found through pkg-config.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        // hiredis: the Redis client behind the shared budget store (docs/deployment.md).
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        // Open MPI: the gradient allreduce of `mpirun -n N reckon train` (docs/deployment.md).
        .systemLibrary(name: "CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),

        // Decode's AVX/FMA kernels (few-row product, attention over the cache) and the worker pool.
        .target(name: "CKernels", linkerSettings: [.linkedLibrary("pthread", .when(platforms: [.linux]))]),
        // Kernels (forward/backward pairs), RNG, FLOP accounting.
        .target(name: "ReckonCore", dependencies: ["CBLAS", "CKernels"]),
        // Config, parameter layout, transformer forward/backward, KV-cache decode, tokenizer, sampler.
        .target(name: "ReckonModel", dependencies: ["ReckonCore"]),
        // AdamW, LR schedules, recipes, the stage loop and its trainers (warm-up SFT, DeGRPO).
        .target(name: "ReckonTrain", dependencies: [
            "ReckonModel", "ReckonData", "ReckonCheckpoint", "CMPI", .product(name: "TOMLKit", package: "TOMLKit"),
        ]),
        // Evaluation: generation under a routing policy, verification, per-group tables.
        .target(name: "ReckonEval", dependencies: ["ReckonModel", "ReckonData", "ReckonRuntime"]),
        // Task generators, dialect renderers, verifiers, JSONL datasets.
        .target(name: "ReckonData", dependencies: ["ReckonCore"]),
        // Serving engine: continuous batching, routing at token 0, the global budget, clocks.
        .target(name: "ReckonRuntime", dependencies: ["ReckonModel", "CHiredis"]),
        // `reckon serve`: the OpenAI-compatible HTTP server around the runtime's engine.
        .target(name: "ReckonServer", dependencies: [
            "ReckonRuntime", "ReckonModel", "ReckonData",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
        ]),
        // Fairness audit: per-group metrics, bootstrap CIs, tests, verdicts, reports.
        .target(name: "ReckonAudit", dependencies: ["ReckonCore"]),
        // HDF5 wrapper and the checkpoint schema; depends on the model, not on training.
        .target(name: "ReckonCheckpoint", dependencies: ["CHDF5", "ReckonModel", .product(name: "Crypto", package: "swift-crypto")]),
        // Foreign formats: GGUF and safetensors readers, dequantisation, `reckon import`'s mapping.
        .target(name: "ReckonImport", dependencies: [
            "ReckonModel", "ReckonCheckpoint", .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // The CLI.
        .executableTarget(name: "reckon", dependencies: [
            "ReckonCore", "ReckonModel", "ReckonTrain", "ReckonData", "ReckonEval", "ReckonCheckpoint",
            "ReckonRuntime", "ReckonAudit", "ReckonServer", "ReckonImport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "ReckonCoreTests", dependencies: ["ReckonCore"]),
        // Fixtures/: tokenizer and chat-template golden files from tools/tokenizer_reference.py.
        .testTarget(name: "ReckonModelTests", dependencies: ["ReckonModel", "ReckonTrain", "ReckonEval"], exclude: ["Fixtures"]),
        .testTarget(name: "ReckonTrainTests", dependencies: ["ReckonTrain"]),
        .testTarget(name: "ReckonDataTests", dependencies: ["ReckonData"]),
        .testTarget(name: "ReckonEvalTests", dependencies: ["ReckonEval", "ReckonRuntime"]),
        .testTarget(name: "ReckonCheckpointTests", dependencies: ["ReckonCheckpoint", "ReckonTrain", "CHDF5"]),
        .testTarget(name: "ReckonImportTests", dependencies: ["ReckonImport", "ReckonCheckpoint", "ReckonModel", "ReckonCore", "ReckonRuntime"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "ReckonRuntimeTests", dependencies: ["ReckonRuntime"]),
        .testTarget(name: "ReckonAuditTests", dependencies: ["ReckonAudit"]),
        // Runs the built `reckon` binary.
        .testTarget(name: "ReckonCLITests", dependencies: ["reckon", "ReckonCheckpoint", "ReckonRuntime", "ReckonModel", "ReckonEval", "ReckonData"], exclude: ["Golden"]),
        .testTarget(name: "ReckonServerTests", dependencies: ["ReckonServer", "ReckonRuntime", "ReckonModel"]),
    ]
)
