// swift-tools-version:6.2
// The validator node suite: six cooperating services (DESIGN.md §2).
// Layout (fixed top-level folders): Protocol/ (wire format + RPC), Shared/ (C wrappers, node kit),
// Services/ (one folder per service), Deploy/ (devnet, compose, systemd), Tests/.
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .treatAllWarnings(as: .error),
]

let nio: [Target.Dependency] = [
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOPosix", package: "swift-nio"),
]

/// One service = a library (`<Name>`, the shell) + a thin executable.
func service(_ name: String, exe: String, folder: String, extra: [Target.Dependency] = []) -> [Target] {
    [
        .target(
            name: name,
            dependencies: ["NodeKit", "ServiceKit", "Wire", "RPC", "LevelDB"] + nio + extra,
            path: "Services/\(folder)/Service",
            swiftSettings: strict
        ),
        .executableTarget(
            name: exe,
            dependencies: [
                .init(stringLiteral: name), "NodeKit", "ServiceKit",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Services/\(folder)/Main",
            swiftSettings: strict
        ),
    ]
}

let package = Package(
    name: "validator-node",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "consensus-manager", targets: ["consensus-manager"]),
        .executable(name: "tss-signer", targets: ["tss-signer"]),
        .executable(name: "inbox-listener", targets: ["inbox-listener"]),
        .executable(name: "sandbox-executor", targets: ["sandbox-executor"]),
        .executable(name: "bridge-adapter", targets: ["bridge-adapter"]),
        .executable(name: "batch-proposer", targets: ["batch-proposer"]),
        .executable(name: "vn-bench", targets: ["vn-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/swiftwasm/WasmKit.git", from: "0.4.2"),
    ],
    targets: [
        // MARK: C libraries (each imported by exactly one Swift wrapper module below)
        .systemLibrary(
            name: "CSecp256k1", path: "Shared/CSecp256k1", pkgConfig: "libsecp256k1",
            providers: [.apt(["libsecp256k1-dev"])]),
        .systemLibrary(name: "CLevelDB", path: "Shared/CLevelDB", providers: [.apt(["libleveldb-dev"])]),
        .systemLibrary(
            name: "COpenSSL", path: "Shared/COpenSSL", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CGMP", path: "Shared/CGMP", providers: [.apt(["libgmp-dev"])]),
        .systemLibrary(
            name: "CCurl", path: "Shared/CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),

        // MARK: Shared wrappers
        .target(
            name: "CryptoPrimitives", dependencies: ["COpenSSL", "CGMP"], path: "Shared/CryptoPrimitives",
            swiftSettings: strict),
        .target(
            name: "Secp256k1", dependencies: ["CSecp256k1", "CryptoPrimitives"], path: "Shared/Secp256k1",
            swiftSettings: strict),
        .target(name: "LevelDB", dependencies: ["CLevelDB"], path: "Shared/LevelDB", swiftSettings: strict),
        .target(name: "HTTPFetch", dependencies: ["CCurl"], path: "Shared/HTTPFetch", swiftSettings: strict),
        // Pure math for threshold ECDSA (issue 3): Paillier, ring-Pedersen, Fiat–Shamir transcript.
        .target(
            name: "MPCMath", dependencies: ["CryptoPrimitives", "Secp256k1"], path: "Shared/MPCMath",
            swiftSettings: strict),
        // EVM chains (issue 6): RLP, ABI, transactions + external signer, JSON-RPC client over libcurl.
        .target(
            name: "EVM", dependencies: ["CryptoPrimitives", "Secp256k1", "HTTPFetch", "Wire", "JSON"],
            path: "Shared/EVM",
            swiftSettings: strict),

        // The one JSON value type (numbers kept as text), pure, no dependencies.
        .target(name: "JSON", path: "Shared/JSON", swiftSettings: strict),

        // MARK: Protocol (DESIGN §3)
        // Wire is pure Swift with no dependencies: codec, frames, messages, envelopes. The fuzzer
        // compiles its sources directly (see Makefile `fuzz`).
        .target(name: "Wire", path: "Protocol/Wire", swiftSettings: strict),
        .target(
            name: "RPC",
            dependencies: ["Wire", "Secp256k1", "CryptoPrimitives", .product(name: "Logging", package: "swift-log")]
                + nio,
            path: "Protocol/RPC", swiftSettings: strict),

        // MARK: Node kit: home layout, config, logging, metrics, HTTP endpoints, lifecycle, CLI.
        .target(
            name: "NodeKit",
            dependencies: [
                "Wire", "RPC", "Secp256k1", "CryptoPrimitives", "LevelDB", "JSON",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ] + nio,
            path: "Shared/NodeKit",
            swiftSettings: strict
        ),

        // MARK: Services
        // Every non-consensus service: dial, register with and heartbeat to the local consensus-manager.
        .target(
            name: "ServiceKit",
            dependencies: [
                "NodeKit", "Wire", "RPC", "LevelDB", "HTTPFetch", "Secp256k1",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ] + nio, path: "Shared/ServiceKit",
            swiftSettings: strict),
        .target(
            name: "ConsensusManagerCore", dependencies: ["Wire", "Tendermint", "CryptoPrimitives", "Secp256k1"],
            path: "Services/ConsensusManager/Core",
            swiftSettings: strict),
        // Pure GG20 threshold ECDSA protocol layer (issue 3): keygen, presign, sign state machines.
        .target(
            name: "TSSCore", dependencies: ["MPCMath", "CryptoPrimitives", "Secp256k1", "Wire"],
            path: "Services/TSSSigner/Core", swiftSettings: strict),
        // tss-signer key store (issue 4): sealed key shards and the pre-params pool in data/tss.db.
        .target(
            name: "TSSStore", dependencies: ["TSSCore", "LevelDB", "CryptoPrimitives", "Secp256k1", "Wire"],
            path: "Services/TSSSigner/Store", swiftSettings: strict),
        // Pure inbox-listener core (issue 6): request decoding, per-chain tracker (reorgs, confirmations).
        .target(
            name: "InboxListenerCore", dependencies: ["EVM", "Wire"], path: "Services/InboxListener/Core",
            swiftSettings: strict),
        // Pure Tendermint BFT core (issue 5): types, vote keeper, round state machine, driver.
        .target(
            name: "Tendermint", dependencies: ["Wire", "CryptoPrimitives"],
            path: "Services/ConsensusManager/Tendermint", swiftSettings: strict),
        // Pure sandbox-executor core (issue 7): URL policy, OCI references and manifests, the runc
        // bundle spec, job and result types, the result hash.
        .target(
            name: "SandboxCore", dependencies: ["Wire", "JSON", "CryptoPrimitives"],
            path: "Services/SandboxExecutor/Core", swiftSettings: strict),
        // sandbox-executor effects (issue 7): source fetching and registry pulls over libcurl, the layer
        // cache, runc / bubblewrap containers, WASM under WasmKit.
        .target(
            name: "SandboxRuntime",
            dependencies: [
                "SandboxCore", "HTTPFetch", "CryptoPrimitives", "JSON",
                .product(name: "WasmKit", package: "WasmKit"), .product(name: "WasmKitWASI", package: "WasmKit"),
                .product(name: "WASI", package: "WasmKit"), .product(name: "Logging", package: "swift-log"),
            ],
            path: "Services/SandboxExecutor/Runtime", swiftSettings: strict),
        // Consensus persistence (issue 5): WAL, last-signed guard and block store in data/consensus.
        .target(
            name: "ConsensusStore", dependencies: ["Tendermint", "LevelDB", "Wire", "CryptoPrimitives"],
            path: "Services/ConsensusManager/Store", swiftSettings: strict),
    ]
        + service(
            "ConsensusManager", exe: "consensus-manager", folder: "ConsensusManager",
            extra: ["ConsensusManagerCore", "Tendermint", "ConsensusStore", "Secp256k1", "CryptoPrimitives"])
        + service("TSSSigner", exe: "tss-signer", folder: "TSSSigner", extra: ["TSSCore", "TSSStore", "MPCMath"])
        + service(
            "InboxListener", exe: "inbox-listener", folder: "InboxListener",
            extra: ["InboxListenerCore", "EVM", "HTTPFetch"])
        + service(
            "SandboxExecutor", exe: "sandbox-executor", folder: "SandboxExecutor",
            extra: ["SandboxCore", "SandboxRuntime"])
        + service("BridgeAdapter", exe: "bridge-adapter", folder: "BridgeAdapter")
        + service("BatchProposer", exe: "batch-proposer", folder: "BatchProposer")
        + [
            // MARK: Tests, benchmarks
            .testTarget(
                name: "ConsensusTests",
                dependencies: [
                    "Tendermint", "ConsensusStore", "Wire",
                    .product(name: "PropertyBased", package: "swift-property-based"),
                ],
                path: "Tests/ConsensusTests",
                swiftSettings: strict
            ),
            .testTarget(
                name: "ConsensusManagerCoreTests",
                dependencies: [
                    "ConsensusManagerCore", "ConsensusManager", "ConsensusStore", "Tendermint", "Wire", "Secp256k1",
                    "CryptoPrimitives", "LevelDB", "RPC",
                ],
                path: "Tests/ConsensusManagerCoreTests",
                swiftSettings: strict
            ),
            .testTarget(
                name: "ConsensusStoreTests",
                dependencies: ["ConsensusStore", "Tendermint", "LevelDB", "Wire", "CryptoPrimitives"],
                path: "Tests/ConsensusStoreTests",
                swiftSettings: strict
            ),
            .target(
                name: "TestSupport", dependencies: ["Wire", "RPC", "NodeKit"], path: "Tests/TestSupport",
                swiftSettings: strict),
            .testTarget(
                name: "SharedTests",
                dependencies: [
                    "CryptoPrimitives", "Secp256k1", "LevelDB", "HTTPFetch", "TestSupport",
                    .product(name: "PropertyBased", package: "swift-property-based"),
                ],
                path: "Tests/SharedTests",
                swiftSettings: strict
            ),
            .testTarget(
                name: "ChainTests",
                dependencies: [
                    "EVM", "CryptoPrimitives", "Secp256k1", "HTTPFetch", "Wire",
                    .product(name: "PropertyBased", package: "swift-property-based"),
                ],
                path: "Tests/ChainTests",
                resources: [.copy("Fixtures")],
                swiftSettings: strict
            ),
            // Safe-prime fixtures and a seeded RandomSource for the MPC test targets.
            .target(
                name: "MPCTestSupport", dependencies: ["MPCMath", "CryptoPrimitives"], path: "Tests/MPCTestSupport",
                exclude: ["Fixtures/regenerate.sh"], resources: [.copy("Fixtures/mpc-safe-primes.json")],
                swiftSettings: strict),
            .testTarget(
                name: "MPCMathTests",
                dependencies: [
                    "MPCTestSupport",
                    "MPCMath", "CryptoPrimitives", "Secp256k1",
                    .product(name: "PropertyBased", package: "swift-property-based"),
                ],
                path: "Tests/MPCMathTests",
                swiftSettings: strict
            ),
            .testTarget(
                name: "TSSCoreTests",
                dependencies: [
                    "MPCTestSupport",
                    "TSSCore", "MPCMath", "CryptoPrimitives", "Secp256k1", "Wire",
                    .product(name: "PropertyBased", package: "swift-property-based"),
                ],
                path: "Tests/TSSCoreTests",
                swiftSettings: strict
            ),
            .testTarget(
                name: "TSSStoreTests",
                dependencies: [
                    "MPCTestSupport", "TSSStore", "TSSCore", "LevelDB", "CryptoPrimitives", "Secp256k1", "MPCMath",
                ],
                path: "Tests/TSSStoreTests",
                swiftSettings: strict
            ),
            .testTarget(
                name: "SandboxTests",
                dependencies: [
                    "SandboxCore", "SandboxRuntime", "HTTPFetch", "CryptoPrimitives", "JSON", "TestSupport",
                    .product(name: "WAT", package: "WasmKit"),
                ],
                path: "Tests/SandboxTests",
                swiftSettings: strict
            ),
            .testTarget(
                name: "InboxListenerCoreTests",
                dependencies: [
                    "InboxListenerCore", "EVM", "Wire",
                    .product(name: "PropertyBased", package: "swift-property-based"),
                ],
                path: "Tests/InboxListenerCoreTests",
                swiftSettings: strict
            ),
            .testTarget(
                name: "ProtocolTests",
                dependencies: [
                    "Wire", "RPC", "Secp256k1", "TestSupport",
                    .product(name: "PropertyBased", package: "swift-property-based"),
                    .product(name: "NIOTestUtils", package: "swift-nio"),
                ] + nio,
                path: "Tests/ProtocolTests",
                resources: [.copy("Fixtures")],
                swiftSettings: strict
            ),
            .testTarget(
                name: "NodeTests",
                dependencies: [
                    "NodeKit", "ServiceKit", "RPC", "Wire", "Secp256k1", "LevelDB", "ConsensusManager",
                    "ConsensusManagerCore", "TSSSigner", "TSSStore", "InboxListener",
                    "SandboxExecutor", "BridgeAdapter", "BatchProposer", "TestSupport", "TSSCore", "MPCTestSupport",
                    "CryptoPrimitives",
                ],
                path: "Tests/NodeTests",
                swiftSettings: strict
            ),
            .executableTarget(
                name: "vn-bench",
                dependencies: [
                    "Wire", "RPC", "EVM", "InboxListenerCore", "TSSCore", "MPCMath", "CryptoPrimitives", "Secp256k1",
                    "SandboxCore", "SandboxRuntime", .product(name: "WAT", package: "WasmKit"),
                    "ConsensusManager", "ConsensusManagerCore", "Tendermint", "JSON",
                    .product(name: "ArgumentParser", package: "swift-argument-parser"),
                    .product(name: "Logging", package: "swift-log"),
                ] + nio,
                path: "Tests/Benchmarks",
                swiftSettings: strict
            ),
        ]
)
