import Foundation
import SandboxCore
import SandboxRuntime
import Testing

/// Builds tar archives byte by byte, so tests can write what no well-behaved tar tool would.
struct TarBuilder {
    private(set) var bytes: [UInt8] = []

    enum Kind: UInt8 {
        case file = 48  // '0'
        case hardLink = 49  // '1'
        case symlink = 50  // '2'
        case char = 51  // '3'
        case block = 52  // '4'
        case directory = 53  // '5'
        case fifo = 54  // '6'
        case pax = 120  // 'x'
        case gnuLongName = 76  // 'L'
    }

    mutating func add(_ name: String, _ kind: Kind = .file, content: [UInt8] = [], link: String = "", mode: Int = 0o644)
    {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ field: [UInt8], at offset: Int, width: Int) {
            for (i, b) in field.prefix(width).enumerated() { header[offset + i] = b }
        }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(Array(name.utf8), at: 0, width: 100)
        put(octal(mode, width: 8), at: 100, width: 8)
        put(octal(0, width: 8), at: 108, width: 8)
        put(octal(0, width: 8), at: 116, width: 8)
        put(octal(content.count, width: 12), at: 124, width: 12)
        put(octal(0, width: 12), at: 136, width: 12)
        header[156] = kind.rawValue
        put(Array(link.utf8), at: 157, width: 100)
        put(Array("ustar\u{0}00".utf8), at: 257, width: 8)
        put(Array(repeating: UInt8(ascii: " "), count: 8), at: 148, width: 8)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7) + [UInt8(ascii: " ")], at: 148, width: 8)
        bytes += header + content
        bytes += [UInt8](repeating: 0, count: (512 - content.count % 512) % 512)
    }

    mutating func addPaxPath(_ path: String, content: [UInt8]) {
        let record = " path=\(path)\n"
        var length = record.utf8.count + 1
        while "\(length)\(record)".utf8.count != length { length += 1 }
        add("PaxHeader", .pax, content: Array("\(length)\(record)".utf8))
        add("ignored-short-name", .file, content: content)
    }

    func finished() -> [UInt8] { bytes + [UInt8](repeating: 0, count: 1024) }
}

func makeScratchDirectory(_ prefix: String) throws -> String {
    var template = Array((NSTemporaryDirectory() + "/\(prefix)-XXXXXX").utf8CString)
    guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
        throw TestRegistry.Failed(description: "mkdtemp failed")
    }
    return String(cString: made)
}

@Suite("Layer extraction and cache")
struct LayerCacheTests {
    let files = FileManager.default

    /// True for an existing, empty directory.
    func isEmptyDirectory(_ path: String) -> Bool {
        (try? files.contentsOfDirectory(atPath: path))?.isEmpty == true
    }

    /// A scratch dir with `rootfs/` (the target), `outside/` (a stand-in for the host: must stay
    /// empty) and the layer files. Removed afterwards, also on failure.
    func withScratch(_ body: (String) throws -> Void) throws {
        let dir = try makeScratchDirectory("vn-s1-layers")
        defer { try? files.removeItem(atPath: dir) }
        try files.createDirectory(atPath: dir + "/rootfs", withIntermediateDirectories: false)
        try files.createDirectory(atPath: dir + "/outside", withIntermediateDirectories: false)
        try body(dir)
    }

    func write(_ tar: TarBuilder, _ path: String) throws {
        try Data(tar.finished()).write(to: URL(fileURLWithPath: path))
    }

    func extract(_ dir: String, _ layers: [TarBuilder]) throws(SandboxError) -> LayerExtractor.Report {
        var paths: [(path: String, compression: LayerCompression)] = []
        for (i, layer) in layers.enumerated() {
            let path = "\(dir)/layer\(i).tar"
            do { try write(layer, path) } catch { throw SandboxError(.internal, "\(error)") }
            paths.append((path, .plain))
        }
        return try LayerExtractor().extract(layers: paths, into: dir + "/rootfs")
    }

    func refusal(_ body: () throws -> Void) -> SandboxError? {
        do {
            try body()
            return nil
        } catch let error as SandboxError {
            return error
        } catch {
            return SandboxError(.internal, "unexpected error: \(error)")
        }
    }

    func mode(_ path: String) -> Int {
        var st = stat()
        return lstat(path, &st) == 0 ? Int(st.st_mode & 0o7777) : -1
    }

    func isSymlink(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK
    }

    @Test func extractsFilesLinksAndModes() throws {
        try withScratch { dir in
            var tar = TarBuilder()
            tar.add("./", .directory, mode: 0o755)
            tar.add("./bin/", .directory, mode: 0o755)
            tar.add("./bin/busybox", content: Array("#!binary".utf8), mode: 0o755)
            tar.add("./bin/sh", .symlink, link: "busybox")
            tar.add("./bin/su", content: Array("setuid".utf8), mode: 0o4755)
            tar.add("./bin/hard", .hardLink, link: "./bin/busybox")
            tar.add("implicit/parent/file.txt", content: Array("deep".utf8), mode: 0o600)
            tar.add("readonly/", .directory, mode: 0o555)
            tar.add("readonly/f", content: [1])
            tar.addPaxPath(String(repeating: "long/", count: 30) + "name.txt", content: Array("pax".utf8))
            let report = try extract(dir, [tar])
            let root = dir + "/rootfs"
            #expect(files.contents(atPath: root + "/bin/busybox") == Data("#!binary".utf8))
            #expect(try files.destinationOfSymbolicLink(atPath: root + "/bin/sh") == "busybox")
            #expect(files.contents(atPath: root + "/bin/hard") == Data("#!binary".utf8))
            #expect(mode(root + "/bin/busybox") == 0o755)
            #expect(mode(root + "/bin/su") == 0o755)  // set-uid dropped
            #expect(mode(root + "/implicit/parent/file.txt") == 0o600)
            #expect(mode(root + "/readonly") == 0o755)  // owner rwx kept for the cache
            let long = root + "/" + String(repeating: "long/", count: 30) + "name.txt"
            #expect(files.contents(atPath: long) == Data("pax".utf8))
            #expect(!files.fileExists(atPath: root + "/ignored-short-name"))
            // /tmp made for runc, mode 1777.
            #expect(mode(root + "/tmp") == 0o1777)
            #expect(report.entries >= 10 && report.bytes > 0)
            var st = stat()
            #expect(lstat(root + "/bin/busybox", &st) == 0 && st.st_uid == getuid())  // ownership not restored
        }
    }

    @Test func dotDotEscapesAreRefused() throws {
        for (name, link, kind) in [
            ("../escaped", "", TarBuilder.Kind.file), ("a/../../escaped", "", .file), ("./../escaped", "", .file),
            ("hard", "../outside/target", .hardLink), ("hard", "a/../../../etc/passwd", .hardLink),
        ] {
            try withScratch { dir in
                var tar = TarBuilder()
                tar.add("a/", .directory, mode: 0o755)
                tar.add(name, kind, content: kind == .file ? Array("x".utf8) : [], link: link)
                let error = refusal { _ = try extract(dir, [tar]) }
                #expect(error?.kind == .invalidRequest && error?.message.contains("..") == true, "\(name)")
                #expect(isEmptyDirectory(dir + "/outside"))
                #expect(!files.fileExists(atPath: dir + "/escaped"))
            }
        }
    }

    @Test func absolutePathsStayInside() throws {
        try withScratch { dir in
            let hostTarget = dir + "/outside/abs.txt"
            var tar = TarBuilder()
            tar.add(hostTarget, content: Array("inside".utf8))
            tar.add("/etc/vn-s1-should-not-exist", content: Array("x".utf8))
            _ = try extract(dir, [tar])
            #expect(!files.fileExists(atPath: hostTarget))
            #expect(!files.fileExists(atPath: "/etc/vn-s1-should-not-exist"))
            #expect(files.contents(atPath: dir + "/rootfs" + hostTarget) == Data("inside".utf8))
            #expect(files.contents(atPath: dir + "/rootfs/etc/vn-s1-should-not-exist") == Data("x".utf8))
        }
    }

    @Test func symlinksAreNeverFollowed() throws {
        // A symlink out of the rootfs (absolute or relative), then an entry written through it.
        for target in ["OUTSIDE", "../outside", "../../outside", "/"] {
            try withScratch { dir in
                let linkTarget = target == "OUTSIDE" ? dir + "/outside" : target
                var tar = TarBuilder()
                tar.add("evil", .symlink, link: linkTarget)
                tar.add("evil/pwned", content: Array("gotcha".utf8))
                let error = refusal { _ = try extract(dir, [tar]) }
                #expect(error?.kind == .invalidRequest && error?.message.contains("symlink") == true, "\(target)")
                #expect(isEmptyDirectory(dir + "/outside"))
            }
        }
        // The symlink comes from a lower layer: same result.
        try withScratch { dir in
            var lower = TarBuilder()
            lower.add("etc", .symlink, link: dir + "/outside")
            var upper = TarBuilder()
            upper.add("etc/passwd", content: Array("root::0:0::/:/bin/sh".utf8))
            let error = refusal { _ = try extract(dir, [lower, upper]) }
            #expect(error?.kind == .invalidRequest)
            #expect(isEmptyDirectory(dir + "/outside"))
        }
        // A file entry over an existing symlink replaces the link; the link's target is untouched.
        try withScratch { dir in
            let victim = dir + "/outside/victim"
            try Data("original".utf8).write(to: URL(fileURLWithPath: victim))
            var lower = TarBuilder()
            lower.add("f", .symlink, link: victim)
            lower.add("g", .hardLink, link: "f")  // a hard link to the symlink itself, not its target
            var upper = TarBuilder()
            upper.add("f", content: Array("replaced".utf8))
            upper.add("g", content: Array("replaced too".utf8))
            _ = try extract(dir, [lower, upper])
            #expect(files.contents(atPath: victim) == Data("original".utf8))
            #expect(files.contents(atPath: dir + "/rootfs/f") == Data("replaced".utf8))
            #expect(!isSymlink(dir + "/rootfs/f"))
        }
    }

    @Test func deviceNodesAndFIFOsAreSkipped() throws {
        try withScratch { dir in
            var tar = TarBuilder()
            tar.add("dev/", .directory, mode: 0o755)
            tar.add("dev/sda", .block)
            tar.add("dev/mem", .char)
            tar.add("dev/fifo", .fifo)
            tar.add("dev/ok", content: [1, 2, 3])
            let report = try extract(dir, [tar])
            #expect(report.skippedSpecial == 3)
            #expect(try files.contentsOfDirectory(atPath: dir + "/rootfs/dev") == ["ok"])
        }
    }

    @Test func whiteoutsRemoveLowerLayersOnly() throws {
        try withScratch { dir in
            var lower = TarBuilder()
            lower.add("a/b", content: [1])
            lower.add("a/c", content: [2])
            lower.add("d/x", content: [3])
            lower.add("d/sub/y", content: [4])
            lower.add("gone/deep/file", content: [5])
            var upper = TarBuilder()
            upper.add("a/.wh.b")
            upper.add("d/new", content: [6])  // the same layer's entry before the opaque marker stays
            upper.add("d/.wh..wh..opq")
            upper.add(".wh.gone")
            upper.add("n/kept", content: [7])
            upper.add("n/.wh.kept")  // a whiteout never hides its own layer's entry
            upper.add(".wh.never-existed")
            let report = try extract(dir, [lower, upper])
            let root = dir + "/rootfs"
            #expect(try files.contentsOfDirectory(atPath: root + "/a") == ["c"])
            #expect(try files.contentsOfDirectory(atPath: root + "/d") == ["new"])
            #expect(!files.fileExists(atPath: root + "/gone"))
            #expect(files.fileExists(atPath: root + "/n/kept"))
            #expect(report.whiteouts == 5)
            #expect(try files.contentsOfDirectory(atPath: root).filter { $0.hasPrefix(".wh.") }.isEmpty)
        }
    }

    @Test func gzipLayersAndCorruptArchives() throws {
        try withScratch { dir in
            var tar = TarBuilder()
            tar.add("hello.txt", content: Array("compressed".utf8))
            try write(tar, dir + "/layer.tar")
            let gzip = Process()
            gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
            gzip.arguments = ["-k", "-n", dir + "/layer.tar"]
            try gzip.run()
            gzip.waitUntilExit()
            _ = try LayerExtractor().extract(layers: [(dir + "/layer.tar.gz", .gzip)], into: dir + "/rootfs")
            #expect(files.contents(atPath: dir + "/rootfs/hello.txt") == Data("compressed".utf8))

            // Bad checksum, truncation, a corrupt gzip stream, a decompression cap.
            var bytes = tar.finished()
            bytes[10] ^= 1
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/bad.tar"))
            try Data(tar.finished().prefix(600)).write(to: URL(fileURLWithPath: dir + "/short.tar"))
            var gz = [UInt8](files.contents(atPath: dir + "/layer.tar.gz") ?? Data())
            gz[gz.count - 6] ^= 0xff  // the CRC-32 trailer
            try Data(gz).write(to: URL(fileURLWithPath: dir + "/bad.tar.gz"))
            for (name, compression) in [
                ("bad.tar", LayerCompression.plain), ("short.tar", .plain), ("bad.tar.gz", .gzip),
            ] {
                try files.removeItem(atPath: dir + "/rootfs")
                try files.createDirectory(atPath: dir + "/rootfs", withIntermediateDirectories: false)
                let error = refusal {
                    _ = try LayerExtractor().extract(layers: [(dir + "/" + name, compression)], into: dir + "/rootfs")
                }
                #expect(error?.kind == .invalidRequest, "\(name)")
            }
            var big = TarBuilder()
            big.add("big", content: [UInt8](repeating: 7, count: 100_000))
            try write(big, dir + "/big.tar")
            let capped = refusal {
                _ = try LayerExtractor(maxUnpackedBytes: 50_000).extract(
                    layers: [(dir + "/big.tar", .plain)], into: dir + "/rootfs")
            }
            #expect(capped?.kind == .invalidRequest && capped?.message.contains("cap") == true)
        }
    }
}
