// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Reckon",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "Reckon", targets: ["ReckonCore", "ReckonModel", "ReckonTrain", "ReckonData", "ReckonCheckpoint"]),
        .executable(name: "reckon", targets: ["reckon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // C bindings: OpenBLAS and HDF5, found through pkg-config.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),

        // Kernels (forward/backward pairs), RNG, FLOP accounting.
        .target(name: "ReckonCore", dependencies: ["CBLAS"]),
        // Config, parameter layout, transformer forward/backward, KV-cache decode, tokenizer, sampler.
        .target(name: "ReckonModel", dependencies: ["ReckonCore"]),
        // AdamW, LR schedules, training loops.
        .target(name: "ReckonTrain", dependencies: ["ReckonModel"]),
        // Task generators, dialect renderers, verifiers, JSONL datasets.
        .target(name: "ReckonData", dependencies: ["ReckonCore"]),
        // HDF5 wrapper and the checkpoint schema.
        .target(name: "ReckonCheckpoint", dependencies: ["CHDF5", "ReckonModel", "ReckonTrain"]),
        // The CLI.
        .executableTarget(name: "reckon", dependencies: [
            "ReckonCore", "ReckonModel", "ReckonTrain", "ReckonData", "ReckonCheckpoint",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "ReckonCoreTests", dependencies: ["ReckonCore"]),
        .testTarget(name: "ReckonModelTests", dependencies: ["ReckonModel", "ReckonTrain"]),
        .testTarget(name: "ReckonTrainTests", dependencies: ["ReckonTrain"]),
        .testTarget(name: "ReckonDataTests", dependencies: ["ReckonData"]),
        .testTarget(name: "ReckonCheckpointTests", dependencies: ["ReckonCheckpoint"]),
    ]
)
