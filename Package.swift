// swift-tools-version:6.0
import PackageDescription

// The layers, each a target, so that the compiler enforces them (nothing imports a target above it):
//   Engine  <-  NN  <-  Runs  <-  CharLM  <-  papers (Sources/Papers/*)  <-  Replicate (the CLI)
// ARCHITECTURE.md draws the picture and says where an op, an attention kind, a model and a paper go.

// Every Swift target is optimised in debug builds too (the tests train small models, 10-25x slower
// unoptimised) and exposes its generic bodies to the targets above it (cross-module optimisation), so that
// code generic over Float/Double is specialised across the layers as it was inside one module.
let optimised: [SwiftSetting] = [
    .swiftLanguageMode(.v5),
    .unsafeFlags(["-O"], .when(configuration: .debug)),
    .unsafeFlags(["-cross-module-optimization"]),
]

let package = Package(
    name: "replicate",
    products: [
        .executable(name: "replicate", targets: ["Replicate"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "NN", targets: ["NN"]),
        .library(name: "Runs", targets: ["Runs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // libhdf5 (Debian libhdf5-dev, serial flavour). The shim header turns HDF5's macros into functions.
        .systemLibrary(
            name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5-serial",
            providers: [.apt(["libhdf5-dev"])]),
        // OpenBLAS loaded at run time (dlopen) so that the kernel choice
        // (OPENBLAS_CORETYPE) is made from the CPU's features *before* the library reads it.
        .target(name: "CRuntime", path: "Sources/CRuntime", linkerSettings: [.linkedLibrary("dl")]),
        // libarchive (Debian libarchive-dev): zip (ZIP64 included), tar, tar.gz and friends, read as streams.
        .systemLibrary(name: "CArchive", path: "Sources/CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),

        // The git commit of the build (a prebuild plugin writes it), recorded in every run file.
        .plugin(name: "BuildInfoPlugin", capability: .buildTool(), path: "Plugins/BuildInfoPlugin"),
        .target(name: "BuildInfo", plugins: ["BuildInfoPlugin"]),
        // Tensors, the tape, ops with their backward kernels, BLAS, RNG, threads.
        .target(name: "Engine", dependencies: ["CRuntime"], swiftSettings: optimised),
        // Layers, attention kinds, models, optimizers and schedules.
        .target(name: "NN", dependencies: ["Engine", "CRuntime"], swiftSettings: optimised),
        // HDF5 store, run directories, the one trainer, checkpoints, provenance, gnuplot, the paper protocol.
        .target(
            name: "Runs",
            dependencies: ["NN", "Engine", "CRuntime", "CHDF5", "CArchive", "BuildInfo", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimised),
        // Character language modelling shared by the LM papers: corpora, the LM task, bits-per-character evaluation.
        .target(
            name: "CharLM",
            dependencies: ["Runs", "NN", "Engine", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimised),
        // One target per paper.
        .target(
            name: "PaperAlRfou2018", dependencies: ["CharLM", "Runs", "NN", "Engine",
                                                    .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Papers/AlRfou2018", swiftSettings: optimised),
        .target(
            name: "PaperFastWeights2016", dependencies: ["Runs", "NN", "Engine", "CRuntime",
                                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Papers/FastWeights2016", swiftSettings: optimised),
        .target(
            name: "PaperLinearAttention", dependencies: ["PaperAlRfou2018", "CharLM", "Runs", "NN", "Engine",
                                                         .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Papers/LinearAttention", swiftSettings: optimised),
        .target(
            name: "PaperBrebisson2016", dependencies: ["Runs", "NN", "Engine",
                                                       .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/Papers/Brebisson2016", swiftSettings: optimised),
        .executableTarget(
            name: "Replicate",
            dependencies: ["PaperAlRfou2018", "PaperFastWeights2016", "PaperLinearAttention", "PaperBrebisson2016", "CharLM", "Runs", "NN", "Engine",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: optimised),
        .testTarget(
            name: "CoreTests", dependencies: ["Engine", "NN", "Runs", "CharLM", "PaperAlRfou2018", "PaperFastWeights2016", "PaperLinearAttention", "PaperBrebisson2016", "CRuntime"],
            resources: [.copy("Fixtures")], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(
            name: "ReplicateTests", dependencies: ["Engine", "NN", "Runs", "CharLM", "PaperAlRfou2018", "PaperFastWeights2016", "PaperLinearAttention", "PaperBrebisson2016"],
            resources: [.copy("Fixtures")], swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
