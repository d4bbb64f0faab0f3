import Foundation
import SandboxCore

#if canImport(Glibc)
    import Glibc
#endif

/// Unpacks image layers (tar, optionally gzip) into a root filesystem, safely (issue 7).
///
/// Why a tar reader of our own rather than GNU tar: the layers come from whoever published the
/// image, and the guarantees we need are easier to prove here, in one place, than as a
/// combination of GNU tar flags and versions:
/// - every path is resolved one component at a time with `openat(O_NOFOLLOW | O_DIRECTORY)` from a
///   descriptor of the rootfs, so no symlink (whether from the archive or from a lower layer) is
///   ever followed during extraction and nothing outside the rootfs can be reached; an entry whose
///   path goes through a symlink is refused;
/// - a `..` component refuses the layer; a leading `/` is stripped (as tar and docker do);
/// - files are created with `O_CREAT | O_EXCL | O_NOFOLLOW` after unlinking whatever was there, so
///   writing never goes through an existing link; hard links resolve their target inside the
///   rootfs the same way and `linkat` does not follow symlinks;
/// - device nodes and FIFOs are skipped (never created); ownership is never restored (everything
///   belongs to the executor's user); set-uid/set-gid bits are dropped; directories keep owner
///   rwx so the cache can always remove them;
/// - OCI whiteouts (`.wh.<name>`, `.wh..wh..opq`; image-spec `layer.md`) remove entries of lower
///   layers only, never the layer's own;
/// - decompressed bytes are capped (gzip bombs), as are header extensions and path lengths.
/// gzip itself runs as `gzip -dc` in a child process reading the (already digest-verified) blob:
/// decompression has no filesystem effects, and no inflate code of our own is needed.
public struct LayerExtractor: Sendable {
    /// Cap on the decompressed bytes of all layers together.
    public var maxUnpackedBytes: Int64
    /// Where gzip lives.
    public var gzipPath: String

    public init(maxUnpackedBytes: Int64 = 2 << 30, gzipPath: String = "/bin/gzip") {
        self.maxUnpackedBytes = maxUnpackedBytes
        self.gzipPath = gzipPath
    }

    /// What an extraction did.
    public struct Report: Sendable, Equatable {
        /// Bytes of regular files written plus a block per other entry (for the cache's accounting).
        public var bytes: Int64 = 0
        public var entries = 0
        /// Device nodes and FIFOs not created.
        public var skippedSpecial = 0
        public var whiteouts = 0
    }

    /// Applies `layers` (bottom first) to the directory `rootfs` (which must exist and should be
    /// empty), then creates `/tmp` with mode 1777 if the image has none (runc sets a tmpfs's mode
    /// from the directory it covers) and the mount points `/proc`, `/dev`, `/input`. Errors are `.invalidRequest` for a hostile or malformed layer
    /// and `.internal` for local failures.
    public func extract(
        layers: [(path: String, compression: LayerCompression)], into rootfs: String
    )
        throws(SandboxError) -> Report
    {
        let root = open(rootfs, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else { throw SandboxError(.internal, "cannot open rootfs: \(LayerFS.errnoText())") }
        defer { close(root) }
        var report = Report()
        var budget = maxUnpackedBytes
        for (index, layer) in layers.enumerated() {
            let stream = try LayerByteStream(path: layer.path, compression: layer.compression, gzipPath: gzipPath)
            do {
                var applier = LayerApplier(root: root, layerIndex: index)
                try applier.apply(TarReader(stream: stream, budget: budget))
                budget -= stream.consumed
                try stream.finish()
                report.bytes += applier.bytes
                report.entries += applier.entries
                report.skippedSpecial += applier.skippedSpecial
                report.whiteouts += applier.whiteouts
            } catch {
                stream.abort()
                throw error
            }
        }
        try ensureTmp(root)
        try ensureMountPoints(root)
        return report
    }

    /// The other mount points the runtimes cover (`/proc`, `/dev`, `/input`): created here (mode
    /// 0755) when the image has none, so that runc never has to create them in the shared, cached
    /// rootfs while a run uses it. An existing non-directory (or a symlink) there is refused.
    private func ensureMountPoints(_ root: Int32) throws(SandboxError) {
        for name in ["proc", "dev", "input"] {
            var st = stat()
            if fstatat(root, name, &st, AT_SYMLINK_NOFOLLOW) == 0 {
                guard (st.st_mode & S_IFMT) == S_IFDIR else {
                    throw SandboxError(.invalidRequest, "/\(name) in the image is not a directory")
                }
                continue
            }
            guard errno == ENOENT, mkdirat(root, name, 0o755) == 0 else {
                throw SandboxError(.internal, "cannot create /\(name) in the rootfs: \(LayerFS.errnoText())")
            }
        }
    }

    private func ensureTmp(_ root: Int32) throws(SandboxError) {
        var st = stat()
        if fstatat(root, "tmp", &st, AT_SYMLINK_NOFOLLOW) == 0 { return }
        guard errno == ENOENT, mkdirat(root, "tmp", 0o700) == 0 else {
            throw SandboxError(.internal, "cannot create /tmp in the rootfs: \(LayerFS.errnoText())")
        }
        let fd = openat(root, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw SandboxError(.internal, "cannot open /tmp: \(LayerFS.errnoText())") }
        defer { close(fd) }
        guard fchmod(fd, 0o1777) == 0 else { throw SandboxError(.internal, "chmod /tmp: \(LayerFS.errnoText())") }
    }
}

// MARK: - Byte stream (file or gzip child)

/// Sequential bytes of one layer: the blob file itself, or `gzip -dc` reading it.
final class LayerByteStream {
    private let fd: Int32
    private let process: Process?
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0
    private var end = 0
    private(set) var consumed: Int64 = 0
    private var eof = false
    private let fileFD: Int32

    init(path: String, compression: LayerCompression, gzipPath: String) throws(SandboxError) {
        fileFD = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fileFD >= 0 else { throw SandboxError(.internal, "cannot open layer blob: \(LayerFS.errnoText())") }
        switch compression {
        case .plain:
            fd = fileFD
            process = nil
        case .gzip:
            let process = Process()
            let pipe = Pipe()
            process.executableURL = URL(fileURLWithPath: gzipPath)
            process.arguments = ["-dc"]
            process.standardInput = FileHandle(fileDescriptor: fileFD, closeOnDealloc: false)
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                close(fileFD)
                throw SandboxError(.internal, "cannot run \(gzipPath): \(error)")
            }
            try? pipe.fileHandleForWriting.close()
            fd = pipe.fileHandleForReading.fileDescriptor
            self.process = process
            self.pipe = pipe
        }
    }

    private var pipe: Pipe? = nil

    deinit {
        if process?.isRunning == true { process?.terminate() }
        close(fileFD)
    }

    /// Up to `count` bytes; fewer only at the end of the stream.
    func read(
        upTo count: Int, into body: (UnsafeRawBufferPointer) throws(SandboxError) -> Void
    )
        throws(SandboxError) -> Int
    {
        if start == end {
            guard !eof else { return 0 }
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { return try read(upTo: count, into: body) }
                throw SandboxError(.internal, "reading layer: \(LayerFS.errnoText())")
            }
            if n == 0 {
                eof = true
                return 0
            }
            start = 0
            end = n
        }
        let take = min(count, end - start)
        // `withUnsafeBytes` rethrows untyped errors: carry the typed one out by hand.
        let failure: SandboxError? = buffer.withUnsafeBytes { raw in
            do throws(SandboxError) {
                try body(UnsafeRawBufferPointer(rebasing: raw[start..<(start + take)]))
                return nil
            } catch {
                return error
            }
        }
        if let failure { throw failure }
        start += take
        consumed += Int64(take)
        return take
    }

    /// Exactly `count` bytes, or nil at a clean end of stream before the first byte.
    func readExactly(_ count: Int) throws(SandboxError) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        while out.count < count {
            let n = try read(upTo: count - out.count) { out.append(contentsOf: $0) }
            if n == 0 {
                if out.isEmpty { return nil }
                throw SandboxError(.invalidRequest, "layer: truncated tar archive")
            }
        }
        return out
    }

    /// After the end-of-archive marker: drain what gzip still sends and check its exit status
    /// (gzip verifies the CRC-32 and length trailer).
    func finish() throws(SandboxError) {
        while try read(upTo: 1 << 16, into: { _ in }) > 0 {}
        guard let process else { return }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw SandboxError(
                .invalidRequest, "layer: gzip stream is corrupt (gzip exit \(process.terminationStatus))")
        }
    }

    func abort() {
        guard let process else { return }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

// MARK: - Tar reader

/// One archive entry after extension headers are folded in.
struct TarEntry {
    enum Kind { case file, hardLink, symlink, directory, special }
    var kind: Kind
    var path: [UInt8]
    var linkTarget: [UInt8]
    var mode: UInt32
    var size: Int64
}

/// A POSIX ustar / pax / GNU tar reader (POSIX.1-2008 `pax` "ustar Interchange Format"; GNU
/// `L`/`K` long names and base-256 sizes). Anything else (sparse files, multi-volume) refuses the
/// layer rather than being half-understood.
struct TarReader {
    let stream: LayerByteStream
    let budget: Int64
    static let maxExtensionBytes = 1 << 20
    static let maxPathBytes = 4096

    func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "layer: \(why)") }

    /// The next entry, or nil at the end of the archive. The caller must consume exactly
    /// `entry.size` bytes of content with `readContent` before asking again.
    func next() throws(SandboxError) -> TarEntry? {
        var paxPath: [UInt8]? = nil
        var paxLink: [UInt8]? = nil
        var paxSize: Int64? = nil
        var longName: [UInt8]? = nil
        var longLink: [UInt8]? = nil
        while true {
            guard stream.consumed <= budget else { throw bad("unpacked size exceeds the cap of \(budget) bytes") }
            guard let header = try stream.readExactly(512) else {
                return nil  // EOF without the two zero blocks: tolerated, as GNU tar does
            }
            if header.allSatisfy({ $0 == 0 }) { return nil }
            try verifyChecksum(header)
            let type = header[156]
            var size = try number(header[124..<136], "size")
            let isUstar = header[257..<262].elementsEqual("ustar".utf8)
            switch type {
            case UInt8(ascii: "x"), UInt8(ascii: "g"), UInt8(ascii: "L"), UInt8(ascii: "K"):
                guard size <= Self.maxExtensionBytes else { throw bad("extension header too large") }
                let data = try content(Int(size))
                if type == UInt8(ascii: "x") {
                    for (key, value) in try paxRecords(data) {
                        switch key {
                        case "path": paxPath = value
                        case "linkpath": paxLink = value
                        case "size":
                            guard let s = Int64(String(decoding: value, as: UTF8.self)), s >= 0 else {
                                throw bad("bad pax size")
                            }
                            paxSize = s
                        default: break  // mtime, uid, xattrs, ...: not restored
                        }
                    }
                } else if type == UInt8(ascii: "L") {
                    longName = Array(data.prefix { $0 != 0 })
                } else if type == UInt8(ascii: "K") {
                    longLink = Array(data.prefix { $0 != 0 })
                }
                continue  // global headers ("g") only carry defaults we do not use
            default:
                break
            }
            if let paxSize { size = paxSize }
            var path = cString(header[0..<100])
            if isUstar, header[345] != 0 { path = cString(header[345..<500]) + Array("/".utf8) + path }
            if let longName { path = longName }
            if let paxPath { path = paxPath }
            var link = cString(header[157..<257])
            if let longLink { link = longLink }
            if let paxLink { link = paxLink }
            guard path.count <= Self.maxPathBytes, link.count <= Self.maxPathBytes else { throw bad("path too long") }
            guard !path.contains(0), !link.contains(0) else { throw bad("NUL in a path") }
            let mode = UInt32(truncatingIfNeeded: try number(header[100..<108], "mode"))
            let kind: TarEntry.Kind
            switch type {
            case 0, UInt8(ascii: "0"), UInt8(ascii: "7"):
                kind = path.last == UInt8(ascii: "/") ? .directory : .file
            case UInt8(ascii: "1"): kind = .hardLink
            case UInt8(ascii: "2"): kind = .symlink
            case UInt8(ascii: "3"), UInt8(ascii: "4"), UInt8(ascii: "6"): kind = .special
            case UInt8(ascii: "5"): kind = .directory
            default:
                throw bad("unsupported tar entry type '\(Character(Unicode.Scalar(type)))'")
            }
            // Only regular files carry data (a hard link's or directory's size field is ignored by
            // readers, but bytes announced must still be skipped to stay in step).
            return TarEntry(kind: kind, path: path, linkTarget: link, mode: mode, size: size)
        }
    }

    /// Reads `size` bytes of content plus the padding to the next 512-byte block.
    func readContent(
        _ size: Int64, _ sink: (UnsafeRawBufferPointer) throws(SandboxError) -> Void
    )
        throws(SandboxError)
    {
        var left = size
        while left > 0 {
            let n = try stream.read(upTo: Int(min(left, 1 << 16)), into: sink)
            guard n > 0 else { throw bad("truncated tar archive") }
            left -= Int64(n)
            guard stream.consumed <= budget else { throw bad("unpacked size exceeds the cap of \(budget) bytes") }
        }
        let padding = Int((512 - size % 512) % 512)
        if padding > 0 {
            guard try stream.readExactly(padding) != nil else { throw bad("truncated tar archive") }
        }
    }

    private func content(_ size: Int) throws(SandboxError) -> [UInt8] {
        var out: [UInt8] = []
        try readContent(Int64(size)) { out.append(contentsOf: $0) }
        return out
    }

    private func cString(_ field: ArraySlice<UInt8>) -> [UInt8] { Array(field.prefix { $0 != 0 }) }

    private func verifyChecksum(_ header: [UInt8]) throws(SandboxError) {
        let stored = try number(header[148..<156], "checksum")
        var sum: Int64 = 0
        for (i, b) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int64(b) }
        guard stored == sum else { throw bad("tar header checksum mismatch") }
    }

    /// An octal field (space or NUL terminated), or GNU base-256 when the high bit is set.
    private func number(_ field: ArraySlice<UInt8>, _ name: String) throws(SandboxError) -> Int64 {
        if let first = field.first, first & 0x80 != 0 {
            guard first == 0x80 else { throw bad("negative or oversized \(name)") }
            var value: Int64 = 0
            for b in field.dropFirst() {
                guard value < (Int64.max >> 8) else { throw bad("\(name) out of range") }
                value = value << 8 | Int64(b)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        var ended = false
        for b in field {
            if b == 0 || b == UInt8(ascii: " ") {
                if seenDigit { ended = true }
                continue
            }
            guard !ended, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "7") else { throw bad("malformed \(name) field") }
            guard value < (Int64.max >> 3) else { throw bad("\(name) out of range") }
            value = value << 3 | Int64(b - UInt8(ascii: "0"))
            seenDigit = true
        }
        return value
    }

    /// `"%d %s=%s\n"` records (POSIX pax extended header).
    private func paxRecords(_ data: [UInt8]) throws(SandboxError) -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        var i = 0
        while i < data.count {
            guard let space = data[i...].firstIndex(of: UInt8(ascii: " ")), space - i <= 8,
                let length = Int(String(decoding: data[i..<space], as: UTF8.self)), length > space - i,
                i + length <= data.count, data[i + length - 1] == UInt8(ascii: "\n")
            else { throw bad("malformed pax record") }
            let record = data[(space + 1)..<(i + length - 1)]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else { throw bad("malformed pax record") }
            out.append((String(decoding: record[..<equals], as: UTF8.self), Array(record[(equals + 1)...])))
            i += length
        }
        return out
    }
}

// MARK: - Applying a layer

/// Applies one layer's entries under the rootfs descriptor.
struct LayerApplier {
    let root: Int32
    let layerIndex: Int
    var bytes: Int64 = 0
    var entries = 0
    var skippedSpecial = 0
    var whiteouts = 0
    /// Paths this layer created: whiteouts in the same layer must not remove them.
    var created: Set<[UInt8]> = []

    init(root: Int32, layerIndex: Int) {
        self.root = root
        self.layerIndex = layerIndex
    }

    func bad(_ why: String) -> SandboxError { SandboxError(.invalidRequest, "layer \(layerIndex): \(why)") }

    mutating func apply(_ reader: TarReader) throws(SandboxError) {
        while let entry = try reader.next() {
            entries += 1
            let components = try normalize(entry.path)
            let payload = entry.kind == .file ? entry.size : 0
            if components.isEmpty {
                // The archive's "./" itself: the rootfs directory keeps its own mode.
                try reader.readContent(entry.size) { _ in }
                continue
            }
            let name = components[components.count - 1]
            let parentPath = Array(components.dropLast())
            if name.starts(with: ".wh.".utf8) {
                try reader.readContent(entry.size) { _ in }
                try whiteout(parentPath, name)
                continue
            }
            if entry.kind == .special {
                skippedSpecial += 1
                try reader.readContent(entry.size) { _ in }
                continue
            }
            let parent = try openDirectory(parentPath, create: true)
            defer { close(parent) }
            try removeExisting(parent, name, keepDirectory: entry.kind == .directory)
            switch entry.kind {
            case .directory:
                try reader.readContent(entry.size) { _ in }
                try makeDirectory(parent, name, mode: entry.mode)
            case .file:
                try writeFile(parent, name, mode: entry.mode, size: payload, reader: reader)
            case .symlink:
                try reader.readContent(entry.size) { _ in }
                guard !entry.linkTarget.isEmpty else { throw bad("symlink with an empty target") }
                let ok = (entry.linkTarget + [0]).withUnsafeBufferPointer { target in
                    (name + [0]).withUnsafeBufferPointer { n in
                        symlinkat(
                            UnsafeRawPointer(target.baseAddress!).assumingMemoryBound(to: CChar.self), parent,
                            UnsafeRawPointer(n.baseAddress!).assumingMemoryBound(to: CChar.self))
                    }
                }
                guard ok == 0 else { throw SandboxError(.internal, "symlink: \(LayerFS.errnoText())") }
                bytes += 512
            case .hardLink:
                try reader.readContent(entry.size) { _ in }
                try hardLink(parent, name, target: entry.linkTarget)
            case .special:
                break
            }
            created.insert(Array(components.joined(separator: [UInt8(ascii: "/")])))
        }
    }

    /// Components of an entry path: leading "/" stripped, "." and empty components dropped; ".."
    /// refuses the layer.
    func normalize(_ path: [UInt8]) throws(SandboxError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for component in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if component.elementsEqual(".".utf8) { continue }
            if component.elementsEqual("..".utf8) {
                throw bad("entry '\(String(decoding: path, as: UTF8.self))' has a '..' component")
            }
            guard component.count <= 255 else { throw bad("a path component is longer than 255 bytes") }
            out.append(Array(component))
        }
        return out
    }

    /// Opens the directory at `components` below the root, one component at a time, never
    /// following a symlink; missing directories are created (0755) when `create`.
    func openDirectory(_ components: [[UInt8]], create: Bool) throws(SandboxError) -> Int32 {
        var current = dup(root)
        guard current >= 0 else { throw SandboxError(.internal, "dup: \(LayerFS.errnoText())") }
        for component in components {
            var next = LayerFS.at(current, component) {
                openat($0, $1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            }
            if next < 0, errno == ENOENT, create {
                guard LayerFS.at(current, component, { mkdirat($0, $1, 0o755) }) == 0 || errno == EEXIST else {
                    close(current)
                    throw SandboxError(.internal, "mkdir: \(LayerFS.errnoText())")
                }
                next = LayerFS.at(current, component) {
                    openat($0, $1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                }
                if next >= 0 { _ = fchmod(next, 0o755) }
            }
            let savedErrno = errno
            close(current)
            guard next >= 0 else {
                if savedErrno == ELOOP || savedErrno == ENOTDIR {
                    throw bad(
                        "a path goes through '\(String(decoding: component, as: UTF8.self))', which is a symlink or not a directory"
                    )
                }
                throw bad(
                    "cannot open '\(String(decoding: component, as: UTF8.self))': \(String(cString: strerror(savedErrno)))"
                )
            }
            current = next
        }
        return current
    }

    /// Removes `name` in `parent` unless it is a directory and `keepDirectory` (tar semantics: a
    /// directory entry over an existing directory merges).
    func removeExisting(_ parent: Int32, _ name: [UInt8], keepDirectory: Bool) throws(SandboxError) {
        var st = stat()
        guard LayerFS.at(parent, name, { fstatat($0, $1, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            if keepDirectory { return }
            try LayerFS.removeTree(parent, name)
        } else if LayerFS.at(parent, name, { unlinkat($0, $1, 0) }) != 0 {
            throw SandboxError(.internal, "unlink: \(LayerFS.errnoText())")
        }
    }

    mutating func makeDirectory(_ parent: Int32, _ name: [UInt8], mode: UInt32) throws(SandboxError) {
        if LayerFS.at(parent, name, { mkdirat($0, $1, 0o700) }) != 0, errno != EEXIST {
            throw SandboxError(.internal, "mkdir: \(LayerFS.errnoText())")
        }
        let fd = LayerFS.at(parent, name) { openat($0, $1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard fd >= 0 else { throw SandboxError(.internal, "open directory: \(LayerFS.errnoText())") }
        defer { close(fd) }
        // Keep the sticky bit (/tmp), drop set-uid/set-gid, and keep owner rwx (see the type comment).
        _ = fchmod(fd, mode_t(mode & 0o1777) | 0o700)
        bytes += 512
    }

    mutating func writeFile(
        _ parent: Int32, _ name: [UInt8], mode: UInt32, size: Int64, reader: TarReader
    )
        throws(SandboxError)
    {
        let fd = LayerFS.at(parent, name) {
            openat($0, $1, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        }
        guard fd >= 0 else { throw SandboxError(.internal, "create file: \(LayerFS.errnoText())") }
        defer { close(fd) }
        try reader.readContent(size) { chunk throws(SandboxError) in
            var offset = 0
            while offset < chunk.count {
                let n = Glibc.write(fd, chunk.baseAddress! + offset, chunk.count - offset)
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { throw SandboxError(.internal, "write: \(LayerFS.errnoText())") }
                offset += n
            }
        }
        // Permission bits only: no set-uid, set-gid or sticky on files.
        guard fchmod(fd, mode_t(mode & 0o777)) == 0 else {
            throw SandboxError(.internal, "chmod: \(LayerFS.errnoText())")
        }
        bytes += max(512, size)
    }

    mutating func hardLink(_ parent: Int32, _ name: [UInt8], target: [UInt8]) throws(SandboxError) {
        let components = try normalize(target)
        guard let targetName = components.last else { throw bad("hard link to the root") }
        let targetParent = try openDirectory(Array(components.dropLast()), create: false)
        defer { close(targetParent) }
        var st = stat()
        guard LayerFS.at(targetParent, targetName, { fstatat($0, $1, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else {
            throw bad("hard link to a missing file")
        }
        guard st.st_mode & S_IFMT != S_IFDIR else { throw bad("hard link to a directory") }
        let ok = (targetName + [0]).withUnsafeBufferPointer { t in
            (name + [0]).withUnsafeBufferPointer { n in
                linkat(
                    targetParent, UnsafeRawPointer(t.baseAddress!).assumingMemoryBound(to: CChar.self), parent,
                    UnsafeRawPointer(n.baseAddress!).assumingMemoryBound(to: CChar.self), 0)
            }
        }
        guard ok == 0 else { throw SandboxError(.internal, "link: \(LayerFS.errnoText())") }
        bytes += 512
    }

    /// `.wh.<name>` removes `<name>`; `.wh..wh..opq` empties the directory; both only touch what
    /// lower layers made. Other `.wh..wh.` names (aufs metadata) are ignored.
    mutating func whiteout(_ parentPath: [[UInt8]], _ name: [UInt8]) throws(SandboxError) {
        whiteouts += 1
        let prefix = Array(parentPath.joined(separator: [UInt8(ascii: "/")]))
        func key(_ child: [UInt8]) -> [UInt8] { prefix.isEmpty ? child : prefix + [UInt8(ascii: "/")] + child }
        if name.elementsEqual(".wh..wh..opq".utf8) {
            let dir = try openDirectory(parentPath, create: true)
            defer { close(dir) }
            for child in try LayerFS.list(dir) where !created.contains(key(child)) {
                try LayerFS.removeTree(dir, child)
            }
            return
        }
        if name.starts(with: ".wh..wh.".utf8) { return }
        let target = Array(name.dropFirst(4))
        guard !target.isEmpty, target != Array(".".utf8), target != Array("..".utf8) else {
            throw bad("malformed whiteout")
        }
        if created.contains(key(target)) { return }
        let dir: Int32
        do {
            dir = try openDirectory(parentPath, create: false)
        } catch {
            return  // the parent does not exist (or is not a directory): nothing to hide
        }
        defer { close(dir) }
        var st = stat()
        guard LayerFS.at(dir, target, { fstatat($0, $1, &st, AT_SYMLINK_NOFOLLOW) }) == 0 else { return }
        if st.st_mode & S_IFMT == S_IFDIR {
            try LayerFS.removeTree(dir, target)
        } else if LayerFS.at(dir, target, { unlinkat($0, $1, 0) }) != 0 {
            throw SandboxError(.internal, "unlink: \(LayerFS.errnoText())")
        }
    }
}

// MARK: - Directory helpers (no symlink is ever followed)

/// File-system steps by descriptor, none of which follows a symlink.
enum LayerFS {
    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Calls `body` with `name` as a C string.
    static func at<R>(_ fd: Int32, _ name: [UInt8], _ body: (Int32, UnsafePointer<CChar>) -> R) -> R {
        (name + [0]).withUnsafeBufferPointer { buffer in
            body(fd, UnsafeRawPointer(buffer.baseAddress!).assumingMemoryBound(to: CChar.self))
        }
    }

    /// The names in the directory `fd` (without "." and "..").
    static func list(_ fd: Int32) throws(SandboxError) -> [[UInt8]] {
        let copy = dup(fd)
        guard copy >= 0, let dir = fdopendir(copy) else {
            throw SandboxError(.internal, "cannot list a directory: \(errnoText())")
        }
        defer { closedir(dir) }
        rewinddir(dir)
        var names: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name == Array(".".utf8) || name == Array("..".utf8) { continue }
            names.append(name)
        }
        return names
    }

    /// Removes `name` under `parent` and everything below it; symlinks are removed, never followed.
    static func removeTree(_ parent: Int32, _ name: [UInt8]) throws(SandboxError) {
        if at(parent, name, { unlinkat($0, $1, 0) }) == 0 || errno == ENOENT { return }
        guard errno == EISDIR || errno == EPERM else { throw SandboxError(.internal, "unlink: \(errnoText())") }
        let dir = at(parent, name) { openat($0, $1, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) }
        guard dir >= 0 else { throw SandboxError(.internal, "open directory for removal: \(errnoText())") }
        // Owner rwx, so entries can be removed even when the archive made the directory read-only.
        _ = fchmod(dir, 0o700)
        do {
            for child in try list(dir) { try removeTree(dir, child) }
        } catch {
            close(dir)
            throw error
        }
        close(dir)
        guard at(parent, name, { unlinkat($0, $1, AT_REMOVEDIR) }) == 0 || errno == ENOENT else {
            throw SandboxError(.internal, "rmdir: \(errnoText())")
        }
    }

    /// Removes the directory tree at an absolute path (its last component must not be a symlink; a
    /// symlink there is removed itself).
    static func removeTree(path: String) throws(SandboxError) {
        let url = URL(fileURLWithPath: path)
        let parentPath = url.deletingLastPathComponent().path
        let parent = open(parentPath, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard parent >= 0 else {
            if errno == ENOENT { return }
            throw SandboxError(.internal, "open \(parentPath): \(errnoText())")
        }
        defer { close(parent) }
        try removeTree(parent, Array(url.lastPathComponent.utf8))
    }
}
