import Foundation
import SandboxCore
import Testing

/// A real OCI registry for tests (issue 7): Debian's docker-registry on 127.0.0.1 (a free port),
/// storage in a temp dir, images built with umoci from busybox-static and pushed with skopeo, all
/// by `Tests/Integration/sandbox/registry.sh`. Use `withTestRegistry`, which always stops the
/// registry and removes its directory, also when the body throws.
final class TestRegistry: Sendable {
    /// Images `registry.sh push` can build.
    enum Image: String, Sendable {
        /// `/job/median.sh` (Entrypoint `/bin/sh /job/median.sh`): prints the median of the
        /// `"price"` values in `/input/*`.
        case priceMedian = "price-median"
        /// `/job/hello.txt`, `/job/nested/dir/file.txt` (Entrypoint `/bin/cat /job/hello.txt`).
        case files
    }

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    static let script: String = {
        // Tests/SandboxTests/TestRegistry.swift → Tests/Integration/sandbox/registry.sh
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Integration/sandbox/registry.sh").path
    }()

    let workDirectory: String
    let port: Int

    /// `127.0.0.1:<port>`, as image references name it.
    var registry: String { "127.0.0.1:\(port)" }
    /// The registry's storage root (distribution's filesystem driver layout).
    var storage: String { workDirectory + "/storage/docker/registry/v2" }

    private init(workDirectory: String, port: Int) {
        self.workDirectory = workDirectory
        self.port = port
    }

    static func start() throws -> TestRegistry {
        var template = Array((NSTemporaryDirectory() + "/vn-s1-registry-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw Failed(description: "mkdtemp failed")
        }
        let directory = String(cString: made)
        do {
            let output = try run(["start", directory])
            guard let port = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
                throw Failed(description: "registry.sh start printed \(output)")
            }
            return TestRegistry(workDirectory: directory, port: port)
        } catch {
            _ = try? run(["stop", directory])
            throw error
        }
    }

    /// Builds `image`, pushes it as `<repository>:latest` and returns the manifest digest.
    func push(_ image: Image, as repository: String) throws -> OCIDigest {
        let output = try Self.run(["push", workDirectory, image.rawValue, repository])
        return try OCIDigest(parsing: output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// `registry/repository@digest`.
    func reference(_ repository: String, _ digest: OCIDigest) throws -> ImageReference {
        try ImageReference.parse("\(registry)/\(repository)@\(digest)")
    }

    /// Where the registry keeps a blob's (or manifest's) bytes.
    func blobPath(_ digest: OCIDigest) -> String {
        "\(storage)/blobs/sha256/\(digest.hex.prefix(2))/\(digest.hex)/data"
    }

    /// The manifest of a pushed image as the registry stores it.
    func manifestBytes(_ digest: OCIDigest) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: blobPath(digest)) else {
            throw Failed(description: "no blob \(digest)")
        }
        return [UInt8](data)
    }

    /// Flips one byte of a stored blob (same length), as a compromised registry or disk would.
    func corrupt(_ digest: OCIDigest, at offset: Int = 100) throws {
        let path = blobPath(digest)
        guard var bytes = FileManager.default.contents(atPath: path).map({ [UInt8]($0) }), offset < bytes.count else {
            throw Failed(description: "cannot read blob \(digest)")
        }
        bytes[offset] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Replaces a stored blob's bytes (the registry keeps serving them under the old digest).
    func replace(_ digest: OCIDigest, with bytes: [UInt8]) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: blobPath(digest)))
    }

    func stop() {
        _ = try? Self.run(["stop", workDirectory])
    }

    /// Runs registry.sh; returns the last line of its output (stderr and stdout share one pipe, so
    /// nothing can fill up unread).
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [script] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw Failed(description: "registry.sh \(arguments.first ?? "") failed: \(text)")
        }
        return text.split(separator: "\n").last.map(String.init) ?? ""
    }
}

/// Runs `body` with a fresh registry and always stops it (and removes its files) afterwards.
func withTestRegistry<R>(_ body: (TestRegistry) async throws -> R) async throws -> R {
    let registry = try TestRegistry.start()
    defer { registry.stop() }
    return try await body(registry)
}
