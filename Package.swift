// swift-tools-version:6.0
import PackageDescription

// drctl runs on Linux only: it follows its child processes and its locks through /proc
// (Sources/DrctlCore/Support/Platform.swift stops the build elsewhere with that message).
let package = Package(
    name: "drctl",
    products: [
        .executable(name: "drctl", targets: ["drctl"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        .executableTarget(
            name: "drctl",
            dependencies: ["DrctlCommands"]
        ),
        .target(
            name: "DrctlCommands",
            dependencies: [
                "DrctlCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(
            name: "DrctlCore",
            dependencies: [
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "DrctlTestSupport",
            dependencies: ["DrctlCore"],
            path: "Tests/DrctlTestSupport"
        ),
        .testTarget(
            name: "DrctlCoreTests",
            dependencies: ["DrctlCore", "DrctlTestSupport"],
            // Golden files are read from the source tree (#filePath), not bundled.
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "DrctlCommandsTests",
            dependencies: ["DrctlCommands", "DrctlCore", "DrctlTestSupport"],
            // Golden files are read from the source tree (#filePath), not bundled.
            exclude: ["Golden"]
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["DrctlCore", "DrctlCommands", "DrctlTestSupport"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
