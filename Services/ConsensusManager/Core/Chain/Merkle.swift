import CryptoPrimitives

/// A binary Merkle tree over SHA-256 in the shape of RFC 6962 §2.1 (Certificate Transparency),
/// which CometBFT also uses for its part sets and tx roots: leaves are hashed as
/// `SHA-256(0x00 ‖ leaf)`, inner nodes as `SHA-256(0x01 ‖ left ‖ right)`, and a list of n > 1
/// items splits at the largest power of two below n. The distinct prefixes keep a leaf from ever
/// being read as an inner node (the second-preimage attack on plain Merkle trees). The root of no
/// items is `SHA-256("")`.
public enum Merkle {
    public static let hashCount = 32

    public static func leafHash(_ leaf: some Collection<UInt8>) -> [UInt8] {
        var bytes = [UInt8]()
        bytes.reserveCapacity(leaf.count + 1)
        bytes.append(0)
        bytes.append(contentsOf: leaf)
        return SHA256.hash(bytes)
    }

    static func innerHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        SHA256.hash([1] + left + right)
    }

    /// The root over `items`.
    public static func root(_ items: [[UInt8]]) -> [UInt8] {
        rootOfLeafHashes(items.map { leafHash($0) })
    }

    /// The root over already hashed leaves.
    public static func rootOfLeafHashes(_ hashes: [[UInt8]]) -> [UInt8] {
        guard !hashes.isEmpty else { return SHA256.hash([UInt8]()) }
        return subtree(hashes[...])
    }

    private static func subtree(_ hashes: ArraySlice<[UInt8]>) -> [UInt8] {
        if hashes.count == 1 { return hashes[hashes.startIndex] }
        let k = splitPoint(hashes.count)
        let mid = hashes.startIndex + k
        return innerHash(subtree(hashes[..<mid]), subtree(hashes[mid...]))
    }

    /// The largest power of two strictly below `n` (n ≥ 2).
    static func splitPoint(_ n: Int) -> Int {
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// The audit path of leaf `index` among `count` leaves (RFC 6962 §2.1.1), bottom-up.
    public static func proof(_ hashes: [[UInt8]], index: Int) -> [[UInt8]] {
        precondition(hashes.indices.contains(index), "leaf \(index) outside 0..<\(hashes.count)")
        var path: [[UInt8]] = []
        func walk(_ slice: ArraySlice<[UInt8]>, _ i: Int) {
            guard slice.count > 1 else { return }
            let k = splitPoint(slice.count)
            let mid = slice.startIndex + k
            if i < k {
                walk(slice[..<mid], i)
                path.append(subtree(slice[mid...]))
            } else {
                walk(slice[mid...], i - k)
                path.append(subtree(slice[..<mid]))
            }
        }
        walk(hashes[...], index)
        return path
    }

    /// Whether `leafHash` is leaf `index` of `count` leaves under `root`, by `path`. Every
    /// malformed input (index out of range, a path of the wrong length or with hashes that are
    /// not 32 bytes) is simply false.
    public static func verify(leafHash: [UInt8], index: Int, count: Int, path: [[UInt8]], root: [UInt8]) -> Bool {
        guard count > 0, index >= 0, index < count, path.allSatisfy({ $0.count == hashCount }) else { return false }
        var remaining = path[...]
        func climb(_ i: Int, _ n: Int) -> [UInt8]? {
            guard n > 1 else { return leafHash }
            let k = splitPoint(n)
            if i < k {
                guard let left = climb(i, k), let sibling = remaining.popFirst() else { return nil }
                return innerHash(left, sibling)
            } else {
                guard let right = climb(i - k, n - k), let sibling = remaining.popFirst() else { return nil }
                return innerHash(sibling, right)
            }
        }
        guard let computed = climb(index, count), remaining.isEmpty else { return false }
        return computed == root
    }
}
