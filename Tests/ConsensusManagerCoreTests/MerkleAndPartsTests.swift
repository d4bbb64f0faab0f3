import ConsensusManagerCore
import CryptoPrimitives
import Testing
import Wire

@Suite("Merkle tree and block parts")
struct MerkleAndPartsTests {
    @Test("RFC 6962 shapes: empty root, one leaf, leaf and inner prefixes")
    func rfc6962() {
        #expect(Hex.encode(Merkle.root([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // SHA-256(0x00): the hash of the empty leaf (RFC 6962 test vector).
        #expect(Hex.encode(Merkle.root([[]])) == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d")
        let a = bytes("a")
        let b = bytes("b")
        #expect(Merkle.root([a, b]) == SHA256.hash([1] + Merkle.leafHash(a) + Merkle.leafHash(b)))
        // A leaf never collides with the inner node over two leaves.
        #expect(Merkle.root([Merkle.leafHash(a) + Merkle.leafHash(b)]) != Merkle.root([a, b]))
    }

    @Test("every proof of trees of 1…33 leaves verifies, and fails for another leaf, index or root")
    func proofs() {
        for n in 1...33 {
            let leaves = (0..<n).map { Merkle.leafHash(bytes("leaf \($0)")) }
            let root = Merkle.rootOfLeafHashes(leaves)
            for i in 0..<n {
                let path = Merkle.proof(leaves, index: i)
                #expect(Merkle.verify(leafHash: leaves[i], index: i, count: n, path: path, root: root))
                #expect(
                    !Merkle.verify(leafHash: Merkle.leafHash(bytes("x")), index: i, count: n, path: path, root: root))
                if n > 1 {
                    #expect(!Merkle.verify(leafHash: leaves[i], index: (i + 1) % n, count: n, path: path, root: root))
                    #expect(
                        !Merkle.verify(
                            leafHash: leaves[i], index: i, count: n, path: Array(path.dropLast()), root: root))
                }
                #expect(!Merkle.verify(leafHash: leaves[i], index: i, count: n, path: path + [root], root: root))
                #expect(!Merkle.verify(leafHash: leaves[i], index: n, count: n, path: path, root: root))
            }
        }
    }

    @Test("split then assemble in any order gives the value back", arguments: [0, 1, 99, 100, 101, 1000, 4097])
    func roundTrip(size: Int) {
        let value = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let (header, parts) = PartSet.split(value, partSize: 100)
        #expect(Int(header.total) == max(1, (size + 99) / 100))
        var assembler = PartSetAssembler(header: header, partSize: 100, maxBytes: 10_000)
        var result: [UInt8]?
        for part in parts.reversed() {
            switch assembler.add(part) {
            case .complete(let v): result = v
            case .added: break
            case let other: Issue.record("unexpected \(other)")
            }
        }
        #expect(result == value)
        #expect(assembler.add(parts[0]) == .duplicate)
    }

    @Test("forged, misplaced, short, duplicate and oversized parts are refused")
    func hostileParts() {
        let value = [UInt8](repeating: 7, count: 350)
        let (header, parts) = PartSet.split(value, partSize: 100)
        var a = PartSetAssembler(header: header, partSize: 100, maxBytes: 10_000)
        let flipped = BlockPart(index: 1, bytes: parts[1].bytes.map { $0 ^ 1 }, proof: parts[1].proof)
        #expect(a.add(flipped) == .invalid("part 1 does not prove against the root"))
        let moved = BlockPart(index: 2, bytes: parts[1].bytes, proof: parts[1].proof)
        #expect(a.add(moved) == .invalid("part 2 does not prove against the root"))
        let short = BlockPart(index: 0, bytes: Array(parts[0].bytes.prefix(50)), proof: parts[0].proof)
        #expect(a.add(short) == .invalid("part 0 of 50 bytes is not full"))
        #expect(a.add(BlockPart(index: 9, bytes: [], proof: [])) == .invalid("part 9 of 4"))
        #expect(a.add(parts[0]) == .added(have: 1, of: 4))
        #expect(a.add(parts[0]) == .duplicate)
        // Parts from another value's set do not prove against this root.
        let (_, other) = PartSet.split([UInt8](repeating: 8, count: 350), partSize: 100)
        #expect(a.add(other[3]) == .invalid("part 3 does not prove against the root"))
        // A header announcing more than the receiver accepts.
        #expect(
            !PartSetAssembler.accepts(PartSetHeader(total: 1000, root: header.root), partSize: 100, maxBytes: 10_000))
        #expect(PartSetAssembler.accepts(header, partSize: 100, maxBytes: 10_000))
        // Assembled bytes above the cap are refused even when every part proves.
        var small = PartSetAssembler(header: header, partSize: 100, maxBytes: 300)
        for p in parts.dropLast() { _ = small.add(p) }
        #expect(small.add(parts[3]) == .invalid("value of 350 bytes > 300"))
    }
}
