#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

@inline(__always) private func sysRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer?, _ n: Int) -> Int {
    read(fd, buf, n)
}

@inline(__always) private func sysWrite(_ fd: Int32, _ buf: UnsafeRawPointer?, _ n: Int) -> Int {
    write(fd, buf, n)
}

/// A failed file-system operation, naming the path and the system's reason.
public struct FileIOError: Error, Equatable, CustomStringConvertible {
    public let path: String
    public let operation: String
    public let errno: Int32

    public init(path: String, operation: String, errno: Int32) {
        self.path = path
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno)))"
    }

    public var isAlreadyExists: Bool { errno == EEXIST }
    public var isNotFound: Bool { errno == ENOENT }
}

/// Small POSIX file helpers: explicit permissions (never the umask's), durable and atomic writes.
public enum FileIO {
    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// The permission bits (`0o777` part) of `path`.
    public static func permissions(_ path: String) throws(FileIOError) -> UInt32 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileIOError(path: path, operation: "stat", errno: errno) }
        return UInt32(st.st_mode) & 0o7777
    }

    /// Creates `path` and missing parents with `mode`. Directories that already exist are left as
    /// they are (an operator may have chosen their permissions).
    public static func makeDirectory(_ path: String, mode: UInt32 = 0o700) throws(FileIOError) {
        if isDirectory(path) { return }
        let parent = parentDirectory(path)
        if !parent.isEmpty, parent != path, !isDirectory(parent) {
            try makeDirectory(parent, mode: mode)
        }
        if mkdir(path, mode_t(mode)) != 0 {
            let e = errno
            if e == EEXIST, isDirectory(path) { return }
            throw FileIOError(path: path, operation: "create directory", errno: e)
        }
        // mkdir applies the umask: set the exact mode.
        guard chmod(path, mode_t(mode)) == 0 else {
            throw FileIOError(path: path, operation: "chmod", errno: errno)
        }
    }

    public static func read(_ path: String, maxBytes: Int = 16 << 20) throws(FileIOError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(path: path, operation: "open", errno: errno) }
        defer { close(fd) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = chunk.withUnsafeMutableBytes { sysRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                let e = errno
                if e == EINTR { continue }
                throw FileIOError(path: path, operation: "read", errno: e)
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            guard out.count <= maxBytes else { throw FileIOError(path: path, operation: "read", errno: EFBIG) }
        }
        return out
    }

    public static func readString(_ path: String, maxBytes: Int = 16 << 20) throws(FileIOError) -> String {
        String(decoding: try read(path, maxBytes: maxBytes), as: UTF8.self)
    }

    /// Writes `bytes` to `path` atomically and durably: a temporary file in the same directory is
    /// created with exactly `mode`, written, fsynced, then moved into place (and the directory
    /// fsynced). With `overwrite: false` the final step fails with `EEXIST` if `path` exists, so
    /// an existing file (a key) is never clobbered, even by a concurrent writer.
    public static func writeAtomically(
        _ path: String, bytes: [UInt8], mode: UInt32, overwrite: Bool
    ) throws(FileIOError) {
        let dir = parentDirectory(path)
        let tmp = "\(path).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode_t(mode))
        guard fd >= 0 else { throw FileIOError(path: tmp, operation: "create", errno: errno) }
        var ok = false
        defer {
            if !ok { unlink(tmp) }
        }
        do {
            defer { close(fd) }
            guard fchmod(fd, mode_t(mode)) == 0 else { throw FileIOError(path: tmp, operation: "chmod", errno: errno) }
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { sysWrite(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 {
                    let e = errno
                    if e == EINTR { continue }
                    throw FileIOError(path: tmp, operation: "write", errno: e)
                }
                offset += n
            }
            guard fsync(fd) == 0 else { throw FileIOError(path: tmp, operation: "fsync", errno: errno) }
        }
        if overwrite {
            guard rename(tmp, path) == 0 else { throw FileIOError(path: path, operation: "rename into", errno: errno) }
        } else {
            if link(tmp, path) != 0 {
                let e = errno
                // File systems without hard links: fall back to check-then-rename (not race-free
                // against a concurrent writer, but never clobbers a file that already exists).
                guard e == EPERM || e == ENOTSUP || e == EOPNOTSUPP || e == EMLINK else {
                    throw FileIOError(path: path, operation: "create", errno: e)
                }
                guard !exists(path) else { throw FileIOError(path: path, operation: "create", errno: EEXIST) }
                guard rename(tmp, path) == 0 else {
                    throw FileIOError(path: path, operation: "rename into", errno: errno)
                }
            } else {
                unlink(tmp)
            }
        }
        ok = true
        syncDirectory(dir.isEmpty ? "." : dir)
    }

    public static func remove(_ path: String) throws(FileIOError) {
        guard unlink(path) == 0 else { throw FileIOError(path: path, operation: "remove", errno: errno) }
    }

    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    /// `"/a/b/c"` → `"/a/b"`, `"c"` → `""`, `"/c"` → `"/"`.
    public static func parentDirectory(_ path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        if slash == trimmed.startIndex { return "/" }
        return String(trimmed[..<slash])
    }

    /// `base` + `/` + `name`, without doubling slashes.
    public static func join(_ base: String, _ name: String) -> String {
        if base.isEmpty { return name }
        return base.hasSuffix("/") ? base + name : base + "/" + name
    }
}
