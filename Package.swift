// swift-tools-version: 6.1
import PackageDescription

// Hot kernels are written with SIMD types; on x86-64 they are compiled for Haswell
// (AVX2 + FMA, any x86 server since 2013) in release builds. Set FEDLEDGER_TARGET_CPU to
// another LLVM CPU name ("skylake-avx512", "znver4", "x86-64" for the baseline) to change that.
#if arch(x86_64)
  let defaultCPU = "haswell"
#else
  let defaultCPU = ""
#endif
let targetCPU = Context.environment["FEDLEDGER_TARGET_CPU"] ?? defaultCPU
let kernelFlags: [SwiftSetting] =
  targetCPU.isEmpty
  ? [] : [.unsafeFlags(["-target-cpu", targetCPU], .when(configuration: .release))]

let package = Package(
  name: "FedLedger",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "fedledger", targets: ["fedledger"]),
    .executable(name: "fedledger-enclave", targets: ["fedledger-enclave"]),
    .library(name: "Learning", targets: ["Learning"]),
    .library(name: "Federation", targets: ["Federation"]),
    .library(name: "Ledger", targets: ["Ledger"]),
    .library(name: "Protection", targets: ["Protection"]),
    .library(name: "Attestation", targets: ["Attestation"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
    .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
    .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
  ],
  targets: [
    .systemLibrary(
      name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
      providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CGMP", path: "Sources/CGMP", pkgConfig: "gmp", providers: [.apt(["libgmp-dev"])]),
    .systemLibrary(
      name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
    .target(
      name: "Learning",
      dependencies: [
        .target(name: "CBLAS", condition: .when(platforms: [.linux])),
        "CZlib",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "CryptoExtras", package: "swift-crypto"),
      ],
      swiftSettings: kernelFlags),
    .target(
      name: "Federation",
      dependencies: ["Learning", "Aggregation", "Protection", "Records", "Canonical"],
      swiftSettings: kernelFlags),
    .target(name: "Canonical"),
    .target(
      name: "Records",
      dependencies: ["Canonical", .product(name: "Crypto", package: "swift-crypto")]),
    // The JSON forms of the records' values (hex hashes, keys, block signatures); hosts only.
    .target(name: "RecordsJSON", dependencies: ["Canonical", "Records"]),
    .target(
      name: "Aggregation", dependencies: ["Protection", "Records"], swiftSettings: kernelFlags),
    .target(
      name: "Attestation",
      dependencies: [
        "Canonical",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
      ]),
    // Reads DCAP collateral from PCCS JSON files and PCS directories; hosts only.
    .target(
      name: "CollateralFiles",
      dependencies: [
        "Attestation", "Canonical", .product(name: "X509", package: "swift-certificates"),
      ]),
    .target(
      name: "Protection",
      dependencies: ["Canonical", .product(name: "Crypto", package: "swift-crypto")],
      swiftSettings: kernelFlags),
    // Encodes a cluster's update payload and seals it to the group key; hosts only.
    .target(
      name: "UpdateSealing",
      dependencies: ["Canonical", "Protection", .product(name: "Crypto", package: "swift-crypto")]),
    .target(
      name: "Ledger",
      dependencies: [
        "Canonical",
        "Records",
        "RecordsJSON",
        "Attestation",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
      ]),
    .target(name: "Ordering", dependencies: ["Ledger", "Records", "Canonical"]),
    // A client of etcd's v3 API (generated from etcd's protos, committed: scripts/protos).
    .target(
      name: "Etcd",
      dependencies: [
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ]),
    // TLS certificates that a node's or cluster's ledger key vouches for (no CA).
    .target(
      name: "TransportIdentity",
      dependencies: [
        "Records", "Canonical", .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
      ]),
    // A ledger node's gRPC API (generated from Protos/fedledger, committed): the service over a
    // backend, its client, and mutual TLS between peers that genesis or the ledger vouches for.
    .target(
      name: "NodeAPI",
      dependencies: [
        "Records", "TransportIdentity",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "X509", package: "swift-certificates"),
      ]),
    // A ledger node as a network service: its replica ordered through etcd, served over gRPC.
    .target(
      name: "LedgerNode",
      dependencies: [
        "NodeAPI", "EtcdOrdering", "Etcd", "Ordering", "Ledger", "Records", "TransportIdentity",
        "Host", "Privacy", "Federation", "Learning", "Attestation", "EnclaveMessages",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]),
    // Free loopback ports and etcd members' command lines, for `devnet` and tests.
    .target(
      name: "LocalProcesses",
      dependencies: [
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
      ]),
    // Ordering a network's ledger through an etcd cluster's log.
    .target(
      name: "EtcdOrdering",
      dependencies: [
        "Etcd", "Ordering", "Ledger", "Records", "Canonical",
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .target(
      name: "EnclaveMessages",
      dependencies: [
        "Attestation", "Records", "Canonical", .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .target(
      name: "Enclave",
      dependencies: [
        "EnclaveMessages", "Attestation", "Protection", "Aggregation", "Records", "Canonical",
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: kernelFlags),
    .executableTarget(name: "fedledger-enclave", dependencies: ["Enclave", "EnclaveMessages"]),
    // The two halves of each privacy mode: what a cluster does to an update, what a node's
    // aggregator does with a closed round (the enclave half lives in Host, beside its client).
    .target(
      name: "Privacy",
      dependencies: [
        "Federation", "Learning", "Aggregation", "Protection", "UpdateSealing", "Records",
        "RecordsJSON", "Ledger", "SecAgg", .product(name: "Crypto", package: "swift-crypto"),
      ]),
    // A cluster's edge gateway towards the network: its key, its checks, its protected updates.
    .target(
      name: "Gateway",
      dependencies: [
        "Aggregation", "Federation", "Privacy", "Ledger", "Attestation", "Protection",
        "UpdateSealing", "Records", "RecordsJSON", "SecAgg",
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    // A cluster's gateway as a process: follows rounds through nodes, trains, submits.
    .target(
      name: "ClusterNode",
      dependencies: [
        "Gateway", "NodeAPI", "Federation", "Learning", "Ledger", "Records", "Attestation",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "Logging", package: "swift-log"),
      ]),
    // A ledger node's untrusted host: replica, blob exchange, aggregator, enclave client.
    .target(
      name: "Host",
      dependencies: [
        "Federation", "Privacy", "Ledger", "Records", "RecordsJSON", "Canonical",
        "EnclaveMessages", "Attestation",
      ]),
    // The in-process wiring `simulate` runs: the same roles, one process.
    .target(
      name: "Simulator",
      dependencies: [
        "Aggregation", "Federation", "Gateway", "Host", "Privacy", "Learning", "Ledger",
        "Ordering", "Records", "RecordsJSON", "Canonical", "Enclave", "Attestation",
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .target(
      name: "SecAgg",
      dependencies: [
        "CGMP", "Protection", "Canonical",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "CryptoExtras", package: "swift-crypto"),
      ]),
    .target(
      name: "FuzzTargets",
      dependencies: [
        "Canonical", "Records", "Protection", "UpdateSealing", "Ledger", "NodeAPI", "Attestation",
        "CollateralFiles", "Enclave", "EnclaveMessages", "Learning", "SecAgg",
        .product(name: "SwiftProtobuf", package: "swift-protobuf"),
      ]),
    .executableTarget(
      name: "fedledger",
      dependencies: [
        "FuzzTargets",
        "Aggregation",
        "Enclave",
        "EnclaveMessages",
        "Records",
        "RecordsJSON",
        "Canonical",
        "UpdateSealing",
        "Learning",
        "Federation",
        "Ledger",
        "Ordering",
        "Host",
        "Simulator",
        "Attestation",
        "CollateralFiles",
        "Protection",
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        "Etcd", "LedgerNode", "TransportIdentity", "NodeAPI", "LocalProcesses", "Privacy",
        "Gateway", "ClusterNode", "SecAgg",
        .product(name: "Logging", package: "swift-log"),
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
      ]),
    .testTarget(name: "LearningTests", dependencies: ["Learning"]),
    .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"]),
    .testTarget(
      name: "SecAggTests",
      dependencies: [
        "SecAgg", "Protection", "Canonical",
        .product(name: "CryptoExtras", package: "swift-crypto"),
      ]),
    .testTarget(
      name: "FederationTests", dependencies: ["Federation", "Learning", "Aggregation", "Records"]),
    .testTarget(
      name: "LedgerTests",
      dependencies: [
        "Ledger", "Ordering", "Attestation", "Records", "RecordsJSON", "Canonical",
        "SGXTestSupport",
      ]),
    .testTarget(name: "ProtectionTests", dependencies: ["Protection", "UpdateSealing"]),
    .testTarget(name: "CanonicalTests", dependencies: ["Canonical"]),
    .testTarget(name: "RecordsTests", dependencies: ["Records", "Canonical", "Ledger"]),
    .testTarget(
      name: "AggregationTests",
      dependencies: [
        "Aggregation", "Protection", "Records", .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .testTarget(
      name: "EnclaveTests",
      dependencies: [
        "Enclave", "EnclaveMessages", "Attestation", "Ledger", "Aggregation", "Protection",
        "UpdateSealing", "Records", "Canonical", "fedledger-enclave",
        "SGXTestSupport",
      ]),
    .testTarget(
      name: "AttestationTests",
      dependencies: ["Attestation", "CollateralFiles", "SGXTestSupport"],
      resources: [.copy("Fixtures")]),
    .target(
      name: "SGXTestSupport",
      dependencies: [
        "Attestation",
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "SwiftASN1", package: "swift-asn1"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      path: "Tests/SGXTestSupport"),
    .testTarget(
      name: "GatewayTests",
      dependencies: [
        "Gateway", "Federation", "Ledger", "Attestation", "Enclave", "Protection", "UpdateSealing",
        "Records", "RecordsJSON", .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .testTarget(
      name: "HostTests",
      dependencies: [
        "Host", "Privacy", "Ledger", "Ordering", "Records", "RecordsJSON", "Federation",
      ]),
    .testTarget(
      name: "OrderingTests", dependencies: ["Ordering", "Ledger", "Records", "RecordsJSON"]),
    .testTarget(
      name: "EtcdOrderingTests",
      dependencies: [
        "EtcdOrdering", "Etcd", "Ordering", "Ledger", "Records", "RecordsJSON", "LedgerNode",
        "NodeAPI", "TransportIdentity", "LocalProcesses", "ClusterNode", "Gateway", "Simulator",
        "Federation", "Learning", "Privacy", "Enclave", "Host", "Attestation",
        .product(name: "GRPCCore", package: "grpc-swift-2"),
        .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
        .product(name: "Logging", package: "swift-log"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .testTarget(
      name: "PrivacyTests",
      dependencies: [
        "Privacy", "Federation", "Learning", "Records", "RecordsJSON", "Ledger", "Protection",
        "UpdateSealing", "Aggregation", "SecAgg", .product(name: "Crypto", package: "swift-crypto"),
      ]),
    .testTarget(
      name: "SimulatorTests",
      dependencies: [
        "Simulator", "Host", "Gateway", "Privacy", "Ledger", "Ordering", "Federation", "Learning",
        "Enclave", "EnclaveMessages", "Records", "RecordsJSON", "Canonical", "UpdateSealing",
        "fedledger-enclave",
      ]),
  ],
  swiftLanguageModes: [.v6]
)

// `FEDLEDGER_FUZZ=1 swift build -c release --product fedledger-fuzz` builds the libFuzzer
// driver (scripts/fuzz, docs/fuzzing.md): the decoders' modules get coverage instrumentation
// and libFuzzer's main. Dependencies stay uninstrumented; they have fuzzers of their own.
if Context.environment["FEDLEDGER_FUZZ"] != nil {
  let fuzzed: Set<String> = [
    "FuzzTargets", "Canonical", "Records", "Protection", "UpdateSealing", "Ledger", "NodeAPI",
    "Attestation", "CollateralFiles", "Enclave", "EnclaveMessages", "Learning", "SecAgg",
  ]
  for target in package.targets where fuzzed.contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + [.unsafeFlags(["-sanitize=fuzzer"])]
  }
  package.targets += [
    .target(name: "CFuzzer", path: "Fuzz/CFuzzer"),
    .executableTarget(
      name: "fedledger-fuzz", dependencies: ["FuzzTargets", "CFuzzer"], path: "Fuzz/Driver",
      swiftSettings: [.unsafeFlags(["-sanitize=fuzzer"])],
      linkerSettings: [.unsafeFlags(["-sanitize=fuzzer", "-use-ld=lld"])]),
  ]
  package.products.append(.executable(name: "fedledger-fuzz", targets: ["fedledger-fuzz"]))
}
