import EVM
import PropertyBased
import Secp256k1
import Testing
import Wire

/// Signs with a fixed key but misbehaves on purpose, the way a faulty remote signer could.
struct MisbehavingSigner: TransactionSigner {
    enum Mode { case highS, noRecoveryID, wrongRecoveryID, otherKey, shortR }
    let key: PrivateKey
    let mode: Mode
    var address: Address { Address(publicKey: key.publicKey) }

    func sign(digest: [UInt8]) async throws -> SignatureParts {
        let other = try PrivateKey(bytes: [UInt8](repeating: 0x22, count: 32))
        let signature = try (mode == .otherKey ? other : key).signRecoverable(digest: digest).bytes65
        let r = Array(signature[0..<32]), s = Array(signature[32..<64]), v = signature[64]
        switch mode {
        case .highS:
            // s' = n − s with the parity flipped is the same signature (not low-s).
            let n = UInt256(bigEndian: hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"))!
            let high = n.subtractingReportingOverflow(UInt256(bigEndian: s)!).partialValue
            return SignatureParts(r: r, s: high.bigEndianBytes, recoveryID: v ^ 1)
        case .noRecoveryID: return SignatureParts(r: r, s: s, recoveryID: nil)
        case .wrongRecoveryID: return SignatureParts(r: r, s: s, recoveryID: v ^ 1)
        case .otherKey: return SignatureParts(r: r, s: s, recoveryID: v)
        case .shortR: return SignatureParts(r: Array(r.dropFirst()), s: s, recoveryID: v)
        }
    }
}

let key46 = try! PrivateKey(bytes: [UInt8](repeating: 0x46, count: 32))

@Suite("Transactions")
struct TransactionTests {
    // EIP-155 "Example": nonce 9, 20 gwei, 21000 gas, to 0x3535…, 1 ether, chain id 1.
    @Test func eip155Example() async throws {
        let tx = UnsignedTransaction.legacy(
            LegacyTransaction(
                nonce: 9, gasPrice: UInt256(20_000_000_000), gasLimit: 21000,
                to: address("0x" + String(repeating: "35", count: 20)),
                value: UInt256(decimal: "1000000000000000000")!, chainID: 1))
        #expect(
            tx.signingPayload
                == hex("0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080"))
        #expect(tx.signingHash == hash32("0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"))
        let signer = LocalKeySigner(privateKey: key46)
        let signed = try await tx.signed(by: signer)
        #expect(
            signed.signature.r
                == UInt256(decimal: "18515461264373351373200002665853028612451056578545711640558177340181847433846")!)
        #expect(
            signed.signature.s
                == UInt256(decimal: "46948507304638947509940763649030358759909902576025900602547168820602576006531")!)
        let published = hex(
            "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
        )
        #expect(signed.rawBytes == published)  // v = 37
        #expect(signed.sender == signer.address)
        let decoded = try SignedTransaction.decode(published, expectedChainID: 1)
        #expect(decoded == signed)
        #expect(decoded.sender.checksummed == "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F")
        #expect(throws: TransactionError.wrongChainID(expected: 5, got: 1)) {
            try SignedTransaction.decode(published, expectedChainID: 5)
        }
    }

    // ethereum/tests TransactionTests (Cancun): valid ones decode to the published sender and hash.
    @Test func ethereumValidTransactions() throws {
        let fixture = try fixtureJSON("transaction-tests.json")
        let valid = fixture["valid"]!.arrayValue!
        #expect(valid.count >= 40)
        for vector in valid {
            let name = vector["name"]!.stringValue!
            let raw = hex(vector["tx"]!.stringValue!)
            do {
                let tx = try SignedTransaction.decode(raw, expectedChainID: 1, allowUnprotected: true)
                #expect(tx.sender == address(vector["sender"]!.stringValue!), "\(name)")
                #expect(tx.hash == hash32(vector["hash"]!.stringValue!), "\(name)")
                #expect(tx.rawBytes == raw, "\(name)")
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }

    // … and the invalid ones are rejected (by the encoding rules, the signature rules, the chain
    // id, or the fee and nonce bounds).
    @Test func ethereumInvalidTransactions() throws {
        let fixture = try fixtureJSON("transaction-tests.json")
        let invalid = fixture["invalid"]!.arrayValue!
        #expect(invalid.count >= 100)
        for vector in invalid {
            let name = vector["name"]!.stringValue!
            let raw = hex(vector["tx"]!.stringValue!)
            #expect(throws: TransactionError.self, "\(name): \(vector["exception"]!.stringValue!)") {
                try SignedTransaction.decode(raw, expectedChainID: 1, allowUnprotected: true)
            }
        }
    }

    // Transactions signed by eth-account (an independent implementation): identical bytes.
    @Test func ethAccountVectors() async throws {
        let vectors = try fixtureJSON("eth-account-vectors.json")["vectors"]!.arrayValue!
        #expect(vectors.count == 5)
        for v in vectors {
            let name = v["name"]!.stringValue!
            let t = v["tx"]!
            let to = t["to"]!.stringValue! == "0x" ? nil : try Address(eip55: t["to"]!.stringValue!)
            let data = try EVMHex.data(t["data"]!.stringValue!)
            let unsigned: UnsignedTransaction
            if t["type"]?.intValue == 2 {
                let accessList = try t["accessList"]!.arrayValue!.map { entry in
                    AccessListEntry(
                        address: try Address(eip55: entry["address"]!.stringValue!),
                        storageKeys: try entry["storageKeys"]!.arrayValue!.map { try Hash32(hex: $0.stringValue!) })
                }
                unsigned = .eip1559(
                    EIP1559Transaction(
                        chainID: uint256(t["chainId"])!.uint64!, nonce: uint256(t["nonce"])!.uint64!,
                        maxPriorityFeePerGas: uint256(t["maxPriorityFeePerGas"])!,
                        maxFeePerGas: uint256(t["maxFeePerGas"])!,
                        gasLimit: uint256(t["gas"])!.uint64!, to: to, value: uint256(t["value"])!, data: data,
                        accessList: accessList))
            } else {
                unsigned = .legacy(
                    LegacyTransaction(
                        nonce: uint256(t["nonce"])!.uint64!, gasPrice: uint256(t["gasPrice"])!,
                        gasLimit: uint256(t["gas"])!.uint64!,
                        to: to, value: uint256(t["value"])!, data: data, chainID: uint256(t["chainId"])!.uint64!))
            }
            #expect(unsigned.signingHash == hash32(v["signingHash"]!.stringValue!), "\(name)")
            let signer = LocalKeySigner(privateKey: try PrivateKey(bytes: hex(v["privateKey"]!.stringValue!)))
            #expect(signer.address.checksummed == v["sender"]!.stringValue!, "\(name)")
            let signed = try await unsigned.signed(by: signer)
            #expect(signed.rawBytes == hex(v["raw"]!.stringValue!), "\(name)")
            #expect(signed.hash == hash32(v["hash"]!.stringValue!), "\(name)")
            let decoded = try SignedTransaction.decode(signed.rawBytes, expectedChainID: unsigned.chainID)
            #expect(decoded == signed, "\(name)")
        }
    }

    /// The signer is outside our trust boundary: its output is normalized or refused, never
    /// passed on unchecked.
    @Test func externalSignerOutputIsChecked() async throws {
        let tx = UnsignedTransaction.eip1559(
            EIP1559Transaction(
                chainID: 1337, nonce: 1, maxPriorityFeePerGas: 1, maxFeePerGas: 2, gasLimit: 21000,
                to: address("0x" + String(repeating: "11", count: 20))))
        let reference = try await tx.signed(by: LocalKeySigner(privateKey: key46))
        // A high s is folded to low s (parity flipped), giving the canonical signature.
        #expect(try await tx.signed(by: MisbehavingSigner(key: key46, mode: .highS)) == reference)
        // A missing recovery id is found by recovery.
        #expect(try await tx.signed(by: MisbehavingSigner(key: key46, mode: .noRecoveryID)) == reference)
        // A wrong recovery id, another key, a short r: refused, naming the signer.
        let me = Address(publicKey: key46.publicKey)
        await #expect(throws: TransactionError.self) {
            try await tx.signed(by: MisbehavingSigner(key: key46, mode: .wrongRecoveryID))
        }
        do {
            _ = try await tx.signed(by: MisbehavingSigner(key: key46, mode: .otherKey))
            Issue.record("a signature by another key was accepted")
        } catch let TransactionError.signerMismatch(expected, recovered) {
            #expect(expected == me && recovered != nil && recovered != me)
        }
        await #expect(throws: TransactionError.signerOutput("r, s must be 32 bytes")) {
            try await tx.signed(by: MisbehavingSigner(key: key46, mode: .shortR))
        }
    }

    @Test func decodingEnforcesSignatureRules() async throws {
        let tx = UnsignedTransaction.legacy(
            LegacyTransaction(nonce: 0, gasPrice: 1, gasLimit: 21000, to: nil, data: [0x60, 0x00], chainID: 7))
        let signed = try await tx.signed(by: LocalKeySigner(privateKey: key46))
        #expect(try SignedTransaction.decode(signed.rawBytes, expectedChainID: 7) == signed)
        // Rebuild the same list with high s (n − s) and the flipped v: EIP-2 refuses it.
        let n = UInt256(bigEndian: hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"))!
        let fields = try RLP.decode(signed.rawBytes).asList()
        let v = try fields[6].asUInt64()
        let highS = n.subtractingReportingOverflow(signed.signature.s).partialValue
        let tampered = RLP.encode(.list(Array(fields[0..<6]) + [.uint(v ^ 1), fields[7], .uint(highS)]))
        #expect(throws: TransactionError.highS) { try SignedTransaction.decode(tampered, expectedChainID: 7) }
        // r = 0, s = n, v = 29: out of range.
        let zeroR = RLP.encode(.list(Array(fields[0..<7]) + [.uint(0), fields[8]]))
        #expect(throws: TransactionError.invalidSignature) { try SignedTransaction.decode(zeroR, expectedChainID: 7) }
        let badV = RLP.encode(.list(Array(fields[0..<6]) + [.uint(29), fields[7], fields[8]]))
        #expect(throws: TransactionError.invalidV) { try SignedTransaction.decode(badV) }
        // Unprotected legacy transactions are refused when a chain id is expected, unless allowed.
        let unprotected = try await UnsignedTransaction.legacy(
            LegacyTransaction(nonce: 0, gasPrice: 1, gasLimit: 21000, to: nil, chainID: nil)
        ).signed(by: LocalKeySigner(privateKey: key46))
        #expect([27, 28].contains(try RLP.decode(unprotected.rawBytes).asList()[6].asUInt64()))
        #expect(throws: TransactionError.wrongChainID(expected: 7, got: nil)) {
            try SignedTransaction.decode(unprotected.rawBytes, expectedChainID: 7)
        }
        #expect(
            try SignedTransaction.decode(unprotected.rawBytes, expectedChainID: 7, allowUnprotected: true)
                == unprotected)
        // Type 1 (EIP-2930) and unknown envelopes are reported as such.
        #expect(throws: TransactionError.unsupportedType(1)) { try SignedTransaction.decode([0x01, 0xc0]) }
        #expect(throws: TransactionError.notATransaction) { try SignedTransaction.decode([0x80]) }
        #expect(throws: TransactionError.malformed(.empty)) { try SignedTransaction.decode([]) }
    }

    @Test func buildRulesAreChecked() async {
        let signer = LocalKeySigner(privateKey: key46)
        let cases: [(UnsignedTransaction, TransactionError)] = [
            (
                .eip1559(
                    EIP1559Transaction(
                        chainID: 1, nonce: 0, maxPriorityFeePerGas: 3, maxFeePerGas: 2, gasLimit: 1, to: nil)),
                .priorityFeeAboveMaxFee
            ),
            (
                .eip1559(
                    EIP1559Transaction(
                        chainID: 1, nonce: .max, maxPriorityFeePerGas: 0, maxFeePerGas: 2, gasLimit: 1, to: nil)),
                .nonceTooLarge
            ),
            (.legacy(LegacyTransaction(nonce: 0, gasPrice: .max, gasLimit: 2, to: nil, chainID: 1)), .feeOverflow),
            (.legacy(LegacyTransaction(nonce: 0, gasPrice: 1, gasLimit: 2, to: nil, chainID: .max)), .chainIDTooLarge),
        ]
        for (tx, error) in cases {
            await #expect(throws: error) { try await tx.signed(by: signer) }
        }
    }

    // Any transaction signed here decodes back to itself, recovers to the signer, and refuses
    // another chain id.
    @Test func signDecodeRecoverProperty() async {
        await propertyCheck(count: 60, input: Gen.uint64(), Gen.bool) { seed, dynamicFee in
            var rng = SplitMix64(seed: seed)
            guard let key = try? PrivateKey(bytes: rng.bytes(32)) else { return }
            let chainID = UInt64.random(in: 1...UnsignedTransaction.maxChainID, using: &rng)
            let to: Address? = Bool.random(using: &rng) ? nil : try! Address(bytes: rng.bytes(20))
            let fee = UInt256(bigEndian: rng.bytes(Int.random(in: 0...16, using: &rng)))!
            let data = rng.bytes(Int.random(in: 0...100, using: &rng))
            let tx: UnsignedTransaction
            if dynamicFee {
                let keys = (0..<Int.random(in: 0...2, using: &rng)).map { _ in try! Hash32(bytes: rng.bytes(32)) }
                tx = .eip1559(
                    EIP1559Transaction(
                        chainID: chainID, nonce: UInt64.random(in: 0..<UInt64.max, using: &rng),
                        maxPriorityFeePerGas: fee,
                        maxFeePerGas: fee, gasLimit: UInt64.random(in: 0...30_000_000, using: &rng), to: to,
                        value: UInt256(bigEndian: rng.bytes(12))!, data: data,
                        accessList: keys.isEmpty
                            ? [] : [AccessListEntry(address: try! Address(bytes: rng.bytes(20)), storageKeys: keys)]))
            } else {
                tx = .legacy(
                    LegacyTransaction(
                        nonce: UInt64.random(in: 0..<UInt64.max, using: &rng), gasPrice: fee,
                        gasLimit: UInt64.random(in: 0...30_000_000, using: &rng), to: to,
                        value: UInt256(bigEndian: rng.bytes(12))!,
                        data: data, chainID: chainID))
            }
            let signer = LocalKeySigner(privateKey: key)
            guard let signed = try? await tx.signed(by: signer) else {
                Issue.record("signing failed")
                return
            }
            #expect(signed.sender == signer.address)
            #expect(
                signed.signature.s <= UInt256(
                    bigEndian: hex("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0"))!)
            let decoded = try? SignedTransaction.decode(signed.rawBytes, expectedChainID: chainID)
            #expect(decoded == signed)
            #expect(decoded?.transaction == tx)
            let other = chainID == 1 ? 2 : chainID - 1
            #expect(throws: TransactionError.wrongChainID(expected: other, got: chainID)) {
                try SignedTransaction.decode(signed.rawBytes, expectedChainID: other)
            }
        }
    }
}
