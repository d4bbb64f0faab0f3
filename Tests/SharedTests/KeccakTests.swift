import CryptoPrimitives
import Testing

@Suite("Keccak-256")
struct KeccakTests {
    // Keccak team KAT (KeccakKAT-3, ShortMsgKAT_256.txt: original pad10*1 padding, as Ethereum).
    static let exactBlock136 = """
        B32D95B0B9AAD2A8816DE6D06D1F86008505BD8C14124F6E9A163B5A2ADE55F835D0EC3880EF50700D3B25E42CC0AF05
        0CCD1BE5E555B23087E04D7BF9813622780C7313A1954F8740B6EE2D3F71F768DD417F520482BD3A08D4F222B4EE9DBD
        015447B33507DD50F3AB4247C5DE9A8ABD62A8DECEA01E3B87C8B927F5B08BEB37674C6F8E380C04
        """
    static let twoBlocks250 = """
        B3C5E74B69933C2533106C563B4CA20238F2B6E675E8681E34A389894785BDADE59652D4A73D80A5C85BD454FD1E9FFD
        AD1C3815F5038E9EF432AAC5C3C4FE840CC370CF86580A6011778BBEDAF511A51B56D1A2EB68394AA299E26DA9ADA6A2
        F39B9FAFF7FBA457689B9C1A577B2A1E505FDF75C7A0A64B1DF81B3A356001BF0DF4E02A1FC59F651C9D585EC6224BB2
        79C6BEBA2966E8882D68376081B987468E7AED1EF90EBD090AE825795CDCA1B4F09A979C8DFC21A48D8A53CDBB26C4DB
        547FC06EFE2F9850EDD2685A4661CB4911F165D4B63EF25B87D0A96D3DFF6AB0758999AAD214D07BD4F133A6734FDE44
        5FE474711B69A98F7E2B
        """

    static let vectors: [(input: [UInt8], digest: String)] = [
        ([], "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"),
        (bytes("abc"), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"),
        (hex("6b"), "f3d0adcb6a1c70832365e9da0a6b2f5199422f6a53c67cfad171114e3442aa0f"),
        (hex("1F877C"), "627d7bc1491b2ab127282827b8de2d276b13d7d70fb4c5957fdf20655bc7ac30"),
        (
            bytes("The quick brown fox jumps over the lazy dog"),
            "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"
        ),
        (hex(exactBlock136), "e717a7769448abbe5fef8187954a88ac56ded1d22e63940ab80d029585a21921"),
        (hex(twoBlocks250), "c6d86cc4ccef3bb70bf7bfddec6a9a04a0dd0a68fe1bf51c14648cf506a03e98"),
        // Around the block boundary (cross-checked with an independent implementation).
        (
            Array(repeating: UInt8(ascii: "a"), count: 135),
            "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446"
        ),
        (
            Array(repeating: UInt8(ascii: "a"), count: 137),
            "d869f639c7046b4929fc92a4d988a8b22c55fbadb802c0c66ebcd484f1915f39"
        ),
        (
            Array(repeating: UInt8(ascii: "a"), count: 272),
            "cf7fcd4f705ee749930d19ca84561a9bf62516bd90a471545fa2f49fdc7e63c8"
        ),
    ]

    @Test func publishedVectors() {
        #expect(hex(Self.exactBlock136).count == 136)
        #expect(hex(Self.twoBlocks250).count == 250)
        for (input, digest) in Self.vectors {
            #expect(hexString(Keccak256.hash(input)) == digest, "input length \(input.count)")
        }
    }

    @Test func isNotSHA3() {
        // FIPS 202 SHA3-256("abc") uses the 0x06 domain byte and differs.
        #expect(
            hexString(Keccak256.hash(bytes("abc")))
                != "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532")
    }

    @Test func incrementalMatchesOneShotForEverySplit() {
        let data = (0..<1024).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let expected = "5902e53903be0d0f9656bdbd5b9f0d8c2d815f865645d629eef77f5185f6cd7f"
        let pattern = (0..<256).map { UInt8($0) }
        #expect(hexString(Keccak256.hash(pattern + pattern + pattern + pattern)) == expected)
        let oneShot = Keccak256.hash(data)
        for split in [0, 1, 7, 8, 135, 136, 137, 271, 272, 273, 500, 1023, 1024] {
            var hasher = Keccak256.Hasher()
            hasher.update(data[..<split])
            hasher.update(data[split...])
            #expect(hasher.finalize() == oneShot, "split at \(split)")
        }
        // Byte at a time, from a non-contiguous collection.
        var hasher = Keccak256.Hasher()
        for b in data { hasher.update(CollectionOfOne(b)) }
        #expect(hasher.finalize() == oneShot)
        var fromLazy = Keccak256.Hasher()
        fromLazy.update(data.lazy.map { $0 })
        #expect(fromLazy.finalize() == oneShot)
    }

    @Test func finalizeDoesNotConsume() {
        var hasher = Keccak256.Hasher()
        hasher.update(bytes("ab"))
        #expect(hasher.finalize() == Keccak256.hash(bytes("ab")))
        hasher.update(bytes("c"))
        #expect(hasher.finalize() == Keccak256.hash(bytes("abc")))
    }
}
