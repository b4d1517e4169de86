// swift-tools-version:6.2
import PackageDescription

// Settings for the project's own Swift targets; dependencies keep their own.
let ownTargetSettings: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    // SE-0335: `any` spelled out for existentials.
    .enableUpcomingFeature("ExistentialAny"),
    // SE-0444: a file sees only the modules it imports.
    .enableUpcomingFeature("MemberImportVisibility"),
    // SE-0409: imports are internal unless a public signature needs them.
    .enableUpcomingFeature("InternalImportsByDefault"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "failover",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "failoverctl", targets: ["failoverctl"]),
        .executable(name: "failoverd", targets: ["failoverd"]),
        .library(name: "Topology", targets: ["Topology"]),
        .library(name: "Postgres", targets: ["Postgres"]),
        .library(name: "Lab", targets: ["Lab"]),
        .library(name: "Reports", targets: ["Reports"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // C libraries from Debian, found through pkg-config.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CLibYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Typed wrappers for libcurl's variadic functions; Swift imports only this module.
        .target(
            name: "CCurlShim",
            dependencies: ["CCurl"],
            cSettings: [.treatAllWarnings(as: .error)]
        ),

        // The values the engine shares with everything that reports on it or routes by it: events,
        // operation records, plans, the routing table, the cluster state. It imports nothing of ours.
        .target(
            name: "Vocabulary",
            swiftSettings: ownTargetSettings
        ),
        .target(
            name: "Topology",
            dependencies: ["CLibYAML"],
            swiftSettings: ownTargetSettings
        ),
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ",
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: ownTargetSettings
        ),
        .target(
            name: "Lab",
            dependencies: ["Topology"],
            swiftSettings: ownTargetSettings
        ),
        .target(
            name: "Health",
            dependencies: [
                "Topology", "Postgres", "Vocabulary",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ownTargetSettings
        ),
        .target(
            name: "StateStore",
            dependencies: ["Vocabulary", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: ownTargetSettings
        ),
        .target(
            name: "Failover",
            dependencies: [
                "Vocabulary", "Topology", "Postgres", "Health", "StateStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ownTargetSettings
        ),
        .target(
            name: "Reports",
            dependencies: ["Vocabulary", "StateStore", "Topology", "Postgres"],
            swiftSettings: ownTargetSettings
        ),
        .target(
            name: "Alerting",
            dependencies: [
                "Topology", "Vocabulary", "StateStore", "CCurlShim",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: ownTargetSettings
        ),
        // The pure router: no I/O, no clock.
        .target(
            name: "Routing",
            dependencies: ["Topology", "Health", "Vocabulary"],
            swiftSettings: ownTargetSettings
        ),
        // The read/write TCP proxy on SwiftNIO, driven by the router; a separate proxy process follows
        // the daemon's routing table over HTTP through libcurl.
        .target(
            name: "Proxy",
            dependencies: [
                "Routing", "Topology", "Health", "Vocabulary", "CCurlShim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ownTargetSettings
        ),
        // The admin HTTP API, /metrics and the served OpenAPI document.
        .target(
            name: "AdminAPI",
            dependencies: [
                "Vocabulary", "Topology", "Postgres", "Health", "Failover", "StateStore", "Reports", "Proxy", "Routing",
                "Alerting",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: ownTargetSettings
        ),
        .executableTarget(
            name: "failoverd",
            dependencies: [
                "Vocabulary", "Topology", "Health", "Failover", "StateStore", "Alerting", "Proxy", "AdminAPI",
                "Routing",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ownTargetSettings
        ),
        .executableTarget(
            name: "failoverctl",
            dependencies: [
                "Topology", "Postgres", "Lab", "Reports", "Alerting", "StateStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: ownTargetSettings
        ),

        // What tests and benchmarks share: a real HTTP receiver, child processes stopped by PID, a
        // writer that records every acknowledged commit. Never linked into a shipped binary.
        .target(
            name: "TestSupport",
            dependencies: [
                "Postgres",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: ownTargetSettings
        ),

        // Benchmarks: real labs, numbers printed; not part of the test suite.
        .executableTarget(
            name: "failover-benchmark",
            dependencies: [
                "Lab", "Topology", "Health", "Failover", "Vocabulary", "StateStore", "Postgres", "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/FailoverBenchmark",
            swiftSettings: ownTargetSettings
        ),
        // Counts the calling thread's heap allocations (the router's allocations per pick).
        .target(
            name: "CMallocCounter",
            path: "Benchmarks/CMallocCounter",
            cSettings: [.treatAllWarnings(as: .error)]
        ),
        .executableTarget(
            name: "proxy-benchmark",
            dependencies: [
                "Lab", "Topology", "Health", "Failover", "Vocabulary", "Routing", "Proxy", "CMallocCounter",
                "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/ProxyBenchmark",
            swiftSettings: ownTargetSettings
        ),

        // Alert delivery to an HTTP receiver on 127.0.0.1 through the outbox and libcurl.
        .executableTarget(
            name: "alert-benchmark",
            dependencies: [
                "Alerting", "Vocabulary", "StateStore", "Topology", "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/AlertBenchmark",
            swiftSettings: ownTargetSettings
        ),

        // The chaos suite: fault-matrix trials on namespaced labs with failoverd as its own process,
        // writers inside every region, judged by an independent checker (docs/chaos.md).
        .executableTarget(
            name: "failover-chaos",
            dependencies: [
                "Postgres", "Topology", "TestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/Chaos",
            swiftSettings: ownTargetSettings
        ),

        // Unit tests: no database, no network.
        .testTarget(
            name: "TopologyTests",
            dependencies: ["Topology"],
            resources: [.copy("Fixtures")],
            swiftSettings: ownTargetSettings
        ),
        .testTarget(
            name: "HealthTests",
            dependencies: ["Health", "Topology", "Postgres", "Vocabulary"],
            swiftSettings: ownTargetSettings
        ),
        .testTarget(
            name: "FailoverTests",
            dependencies: ["Failover", "Vocabulary", "Health", "Topology", "Postgres", "StateStore"],
            swiftSettings: ownTargetSettings
        ),
        // The engine's state seam (ControlStateStore) on the SQLite store, in temporary files.
        .testTarget(
            name: "StateStoreTests",
            dependencies: ["StateStore", "Vocabulary"],
            swiftSettings: ownTargetSettings
        ),
        .testTarget(
            name: "ReportsTests",
            dependencies: ["Reports", "Vocabulary", "StateStore", "Topology"],
            swiftSettings: ownTargetSettings
        ),
        // Alert rules, payloads, the outbox and libcurl delivery to HTTP receivers the tests start on 127.0.0.1.
        .testTarget(
            name: "AlertingTests",
            dependencies: [
                "Alerting", "Topology", "Vocabulary", "StateStore", "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: ownTargetSettings
        ),
        .testTarget(
            name: "RoutingTests",
            dependencies: ["Routing", "Topology", "Health", "Vocabulary"],
            swiftSettings: ownTargetSettings
        ),
        // The admin API's route table against its OpenAPI document; no network.
        .testTarget(
            name: "AdminAPITests",
            dependencies: ["AdminAPI", "Topology"],
            swiftSettings: ownTargetSettings
        ),
        // Each C library called for real.
        .testTarget(
            name: "CLibraryTests",
            dependencies: ["CLibPQ", "CLibYAML", "CCurlShim"],
            swiftSettings: ownTargetSettings
        ),
        // Real PostgreSQL 15 servers on 127.0.0.1, started by the Lab harness.
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "Postgres", "Lab", "Topology", "Health", "Failover", "Vocabulary", "Routing", "TestSupport", "Proxy",
                "StateStore",
                "Reports",
                "AdminAPI", "Alerting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: ownTargetSettings
        ),
    ]
)
