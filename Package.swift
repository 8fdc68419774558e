// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "replicate",
    products: [
        .executable(name: "replicate", targets: ["Replicate"]),
        .library(name: "Core", targets: ["Core"]),
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
        // zlib (Debian zlib1g-dev): inflating text8.zip / enwik8.zip.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .target(
            name: "Core", dependencies: ["CHDF5", "CRuntime", "CZlib"],
            // Optimised in debug builds too: the tests train small models, 10-25x slower unoptimised.
            swiftSettings: [.swiftLanguageMode(.v5), .unsafeFlags(["-O"], .when(configuration: .debug))]),
        .executableTarget(
            name: "Replicate",
            dependencies: ["Core", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(
            name: "CoreTests", dependencies: ["Core"],
            resources: [.copy("Fixtures")], swiftSettings: [.swiftLanguageMode(.v5)]),
        .testTarget(
            name: "ReplicateTests", dependencies: ["Core"],
            resources: [.copy("Fixtures")], swiftSettings: [.swiftLanguageMode(.v5)]),
    ]
)
