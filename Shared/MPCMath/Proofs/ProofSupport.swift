import CryptoPrimitives
import Secp256k1

// The zero-knowledge proofs of CGGMP21 (R. Canetti, R. Gennaro, S. Goldfeder, N. Makriyannis,
// U. Peled, "UC Non-Interactive, Proactive, Threshold ECDSA with Identifiable Aborts", eprint
// 2021/060), made non-interactive by Fiat–Shamir over `Transcript`. This file holds what the
// seven proofs share: the size parameters, the error type, the canonical codec and the arithmetic
// helpers. Figure numbers follow the eprint version: Π^enc Fig. 14, Π^aff-g Fig. 15, Π^mod
// Fig. 16, Π^prm Fig. 17, Π^sch Fig. 22, Π^log* Fig. 25, Π^fac Fig. 28 (§C.5).
//
// Shape of every proof: `static func prove(statement…, witness…, [setup:], transcript: inout
// Transcript, rng:) throws -> Self`, `func verify(statement…, [setup:], transcript: inout
// Transcript) throws(ProofError)` (`isValid` for a Bool), `encode() -> [UInt8]`,
// `init(decoding:) throws(ProofError)`, and a public `challenge(…)` / `challenges(…)` that both
// sides use (exposed for audits, tests and the blame procedures). Fields are public `var`s: a
// proof is a message, and `verify` checks everything about it.
//
// Binding. The caller creates `Transcript(protocolTag:sessionID:partyIndex:)` with the *prover's*
// party index (and may append more context: round, recipient index) and passes it to `prove`;
// the verifier builds the same transcript. Each proof then absorbs its label, the setup (the
// verifier's ring-Pedersen parameters, where used), the whole statement and the first message
// before drawing its challenge, so a proof replayed under another session, party, protocol tag,
// statement or verifier fails.

/// The size parameters of the range proofs, instantiated for secp256k1 (q of 256 bits) as in
/// CGGMP21's concrete choice (§6 and the parameter table): ℓ = |q|, ℓ' = 5ℓ, ε = 2ℓ, statistical
/// security m = 80 for the repeated binary-challenge proofs.
///
///   ℓ  = 256   the range ±2^ℓ of the secrets proven about (k, γ, x: scalars taken as integers)
///   ℓ' = 1280  the range ±2^ℓ' of Bob's additive mask β' in MtA (Π^aff-g's y)
///   ε  = 512   the slack: responses must land in ±2^(ℓ+ε) (resp. ±2^(ℓ'+ε))
///   m  = 80    repetitions of Π^mod and Π^prm; proofs with any other count are refused
///   k  = 4     N-th roots in Π^mod, after trial division of N by every prime up to 2^20
///              (TSSHOCK forged a one-iteration dlnproof in tss-lib)
///
/// Correctness of MtA needs no wrap-around modulo N: |k·x + y| ≤ 2^(2(ℓ+ε)) + 2^(ℓ'+ε)
/// = 2^1536 + 2^1792 < 2^2046 ≤ N/2 for the 2048-bit minimum modulus.
public enum ProofParameters {
    /// ℓ = |q| = 256.
    public static let ell = 256
    /// ℓ' = 5ℓ = 1280.
    public static let ellPrime = 5 * 256
    /// ε = 2ℓ = 512.
    public static let epsilon = 2 * 256
    /// m = 80: the exact number of repetitions of Π^mod and Π^prm.
    public static let repetitions = 80
    /// k = ⌈m / 20⌉ = 4: the N-th roots Π^mod checks once the verifier has sieved N up to 2^20
    /// (each forged root succeeds with probability < 2^-20; see `ModulusProof`).
    public static let modulusRoots = (repetitions + SmallPrimeSieve.boundBits - 1) / SmallPrimeSieve.boundBits
    /// Moduli (N, N₀, N₁, Ñ) accepted in statements: 2048 … 8192 bits, as for Paillier keys.
    public static let minimumModulusBits = PaillierPublicKey.minimumModulusBits
    public static let maximumModulusBits = PaillierPublicKey.maximumModulusBits

    /// 2^ℓ.
    public static let twoToEll = try! BigNum.powerOfTwo(ell)
    /// 2^(ℓ+ε).
    public static let twoToEllPlusEpsilon = try! BigNum.powerOfTwo(ell + epsilon)
    /// 2^ℓ'.
    public static let twoToEllPrime = try! BigNum.powerOfTwo(ellPrime)
    /// 2^(ℓ'+ε).
    public static let twoToEllPrimePlusEpsilon = try! BigNum.powerOfTwo(ellPrime + epsilon)
    /// 2^(ℓ+ε+1): the size cap on the ring-Pedersen randomness responses (see `ringPedersenResponseBound`).
    static let twoToEllPlusEpsilonPlusOne = try! BigNum.powerOfTwo(ell + epsilon + 1)

    /// The bound on responses of the form γ + e·m with γ ← ±2^(ℓ+ε)·Ñ and m ← ±2^ℓ·Ñ, e ∈ ±q:
    /// |γ + e·m| ≤ (2^(ℓ+ε) + 2^(2ℓ))·Ñ ≤ 2^(ℓ+ε+1)·Ñ. The papers leave these responses unbounded
    /// (the equations fix them); the cap costs honest provers nothing and bounds the exponent a
    /// peer can make us compute with.
    static func ringPedersenResponseBound(_ nHat: BigNum) -> BigNum { twoToEllPlusEpsilonPlusOne * nHat }
}

/// Why a proof was refused (or could not be made). No case carries a secret.
public enum ProofError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The bytes are not the canonical encoding of this proof: wrong tag or version, truncated,
    /// trailing bytes, an oversized or non-minimal integer, a bad point or scalar.
    case malformed(String)
    /// Π^mod / Π^prm: the proof does not have exactly `ProofParameters.repetitions` rounds.
    case wrongRepetitionCount(found: Int, required: Int)
    /// The public statement or setup is unusable: a modulus even, prime or out of size, a
    /// ciphertext outside Z*_{N²}, a point at infinity.
    case invalidStatement(String)
    /// A proof element outside its group: not in Z*_N, Z*_{N²} or Z*_Ñ, or a point at infinity.
    case notInGroup(String)
    /// A response outside its range (the text names the field and the bound).
    case outOfRange(String)
    /// A verification equation does not hold (the text names the figure and the check).
    case equationFailed(String)
    /// Prover side: the witness does not fit the statement (wrong factorisation, value out of
    /// range). A local bug, never a peer's fault.
    case invalidWitness(String)
    /// Arithmetic failed on values that passed the checks (hostile input or a bug).
    case arithmetic(String)

    public var description: String {
        switch self {
        case .malformed(let why): "malformed proof encoding: \(why)"
        case .wrongRepetitionCount(let found, let required):
            "proof has \(found) repetitions, exactly \(required) required"
        case .invalidStatement(let why): "invalid statement: \(why)"
        case .notInGroup(let field): "proof element \(field) is not in its group"
        case .outOfRange(let field): "proof element \(field) is out of range"
        case .equationFailed(let check): "verification failed: \(check)"
        case .invalidWitness(let why): "invalid witness: \(why)"
        case .arithmetic(let why): "arithmetic error: \(why)"
        }
    }
}

/// Runs `body`, passing `ProofError`s through and turning any other error (OpenSSL, `MPCMathError`)
/// into `.arithmetic`: the typed-throws boundary of the verifiers and decoders.
func withProofErrors<T>(_ body: () throws -> T) throws(ProofError) -> T {
    do {
        return try body()
    } catch let error as ProofError {
        throw error
    } catch {
        throw ProofError.arithmetic(String(describing: error))
    }
}

// MARK: Transcript framing

extension Transcript {
    /// The first item of every proof: its label (name and version), so proofs of different kinds
    /// never share a challenge even on one transcript.
    mutating func beginProof(_ label: String) {
        append("vn/zk/proof", bytes: Array(label.utf8))
    }
}

// MARK: Canonical codec

/// The first byte of each proof's encoding.
enum ProofTag: UInt8 {
    case schnorr = 0x01
    case modulus = 0x02
    case noSmallFactor = 0x03
    case ringPedersen = 0x04
    case encryption = 0x05
    case affineGroup = 0x06
    case logStar = 0x07
    case mulStar = 0x08
    case sigmaLogStar = 0x09
}

/// The codec version (the second byte).
let proofEncodingVersion: UInt8 = 1

/// Writes the canonical encoding: tag ‖ version ‖ fields, where
///   unsigned integer = u16 length ‖ minimal big-endian magnitude (zero: length 0)
///   signed integer   = sign byte (0 or 1) ‖ unsigned integer of the magnitude (no negative zero)
///   point            = 33-byte SEC 1 compressed (finite points only)
///   scalar           = 32 bytes big-endian, below q
///   count            = u16;  flags = one byte
/// Every encoded value is public (responses are declassified before they are stored). The writer
/// expects what a prover or a decoder produces: a negative value in an unsigned field (possible
/// only by editing a proof's fields by hand) is a programming error and traps.
struct ProofWriter {
    private(set) var bytes: [UInt8]

    init(_ tag: ProofTag) { bytes = [tag.rawValue, proofEncodingVersion] }

    mutating func unsigned(_ x: BigNum) {
        precondition(!x.isNegative, "unsigned field holds a negative value")
        let magnitude = x.magnitudeBytes()
        precondition(magnitude.count <= Int(UInt16.max), "integer too large to encode")
        count(magnitude.count)
        bytes += magnitude
    }

    mutating func signed(_ x: BigNum) {
        bytes.append(x.isNegative ? 1 : 0)
        unsigned(x.magnitude)
    }

    mutating func point(_ p: Point) { bytes += p.encoded }

    mutating func scalar(_ s: Scalar) { bytes += s.bytes }

    mutating func byte(_ b: UInt8) { bytes.append(b) }

    mutating func count(_ n: Int) {
        precondition(n >= 0 && n <= Int(UInt16.max), "count out of range")
        bytes += [UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
    }
}

/// Reads the canonical encoding written by `ProofWriter`, refusing anything else: each length is
/// checked against the field's cap *before* bytes are taken, integers must be minimal, points on
/// the curve and finite, scalars below q, and `finish()` refuses trailing bytes.
struct ProofReader {
    private let bytes: [UInt8]
    private var offset = 0

    init(_ bytes: [UInt8], tag: ProofTag) throws(ProofError) {
        guard bytes.count >= 2 else { throw .malformed("truncated header") }
        guard bytes[0] == tag.rawValue else { throw .malformed("wrong proof tag \(bytes[0])") }
        guard bytes[1] == proofEncodingVersion else { throw .malformed("unknown encoding version \(bytes[1])") }
        self.bytes = bytes
        offset = 2
    }

    private mutating func take(_ n: Int, _ field: String) throws(ProofError) -> ArraySlice<UInt8> {
        guard n >= 0, bytes.count - offset >= n else { throw .malformed("truncated at \(field)") }
        defer { offset += n }
        return bytes[offset..<offset + n]
    }

    mutating func count(_ field: String) throws(ProofError) -> Int {
        let raw = try take(2, field)
        return Int(raw[raw.startIndex]) << 8 | Int(raw[raw.startIndex + 1])
    }

    mutating func byte(_ field: String) throws(ProofError) -> UInt8 {
        try take(1, field).first!
    }

    /// A non-negative integer of at most `maxBits` bits.
    mutating func unsigned(_ field: String, maxBits: Int) throws(ProofError) -> BigNum {
        let length = try count(field)
        guard length <= (maxBits + 7) / 8 else { throw .malformed("\(field) too long") }
        let raw = try take(length, field)
        guard raw.first != 0 else { throw .malformed("\(field) has a leading zero byte") }
        let value = BigNum(bytes: raw)
        guard value.bitLength <= maxBits else { throw .malformed("\(field) too large") }
        return value
    }

    /// A signed integer with |x| < 2^maxBits.
    mutating func signed(_ field: String, maxBits: Int) throws(ProofError) -> BigNum {
        let sign = try byte(field)
        guard sign <= 1 else { throw .malformed("\(field) has sign byte \(sign)") }
        let magnitude = try unsigned(field, maxBits: maxBits)
        guard sign == 0 || !magnitude.isZero else { throw .malformed("\(field) is a negative zero") }
        return sign == 1 ? magnitude.negated() : magnitude
    }

    /// A finite point on the curve (the 33-zero-byte encoding of infinity is refused).
    mutating func point(_ field: String) throws(ProofError) -> Point {
        let raw = Array(try take(Point.encodedByteCount, field))
        guard let point = try? Point(compressed: raw) else { throw .malformed("\(field) is not a finite curve point") }
        return point
    }

    /// A scalar below q.
    mutating func scalar(_ field: String) throws(ProofError) -> Scalar {
        let raw = Array(try take(Scalar.byteCount, field))
        guard let scalar = try? Scalar(bytes: raw) else { throw .malformed("\(field) is not below the group order") }
        return scalar
    }

    func finish() throws(ProofError) {
        guard offset == bytes.count else { throw .malformed("\(bytes.count - offset) trailing bytes") }
    }
}

/// Size caps (in bits) used by the decoders, before the statement is known. The verifiers then
/// apply the exact ranges, which depend on the moduli.
enum FieldBits {
    /// An element of Z_N, Z_Ñ.
    static let modulus = ProofParameters.maximumModulusBits
    /// An element of Z_{N²}.
    static let modulusSquared = 2 * ProofParameters.maximumModulusBits
    /// A response in ±2^(ℓ+ε) (bit length at most ℓ+ε+1).
    static let ellPlusEpsilon = ProofParameters.ell + ProofParameters.epsilon + 1
    /// A response in ±2^(ℓ'+ε).
    static let ellPrimePlusEpsilon = ProofParameters.ellPrime + ProofParameters.epsilon + 1
    /// A ring-Pedersen randomness response in ±2^(ℓ+ε+1)·Ñ.
    static let ringPedersenResponse = ProofParameters.ell + ProofParameters.epsilon + 2 + modulus
}

// MARK: Arithmetic helpers

extension BigNum {
    /// |self| ≤ bound.
    func hasMagnitude(atMost bound: BigNum) -> Bool { magnitude <= bound }

    /// 0 < self < n and gcd(self, n) = 1 (public values).
    func isUnit(modulo n: BigNum) -> Bool {
        !isNegative && !isZero && self < n && isCoprime(to: n)
    }
}

/// Checks that every value is in Z*_n: each in (0, n), then one coprimality test on their
/// product mod n (a product of residues is a unit iff every factor is: a prime of n dividing one
/// factor divides the product). One inversion instead of one per value, for Π^mod's 160 and
/// Π^prm's 80 elements. On failure, names the first culprit.
func checkUnits(_ values: [(value: BigNum, name: String)], modulo n: BigNum) throws(ProofError) {
    for (value, name) in values where value.isNegative || value.isZero || value >= n {
        throw .notInGroup(name)
    }
    let product = try? values.reduce(BigNum.one) { try $0.modMul($1.value, n) }
    if let product, product.isCoprime(to: n) { return }
    for (value, name) in values where !value.isCoprime(to: n) { throw .notInGroup(name) }
    throw .arithmetic("unit check")
}

/// Membership checks of a verifier, batched: each value's range (0 < x < n, or 0 < c < N² for a
/// ciphertext) is checked at once, in the caller's order, and the coprimality tests are collected
/// and run by `finish()` as one inversion per distinct modulus on the product of that modulus's
/// values (a prime of n divides the product iff it divides a factor). A proof of Π^aff-g has eleven
/// such values under two or three moduli: two or three inversions instead of eleven. On a failure
/// the values are tested one by one, in order, and the first culprit's own error is thrown, so
/// a single bad field is named exactly as by separate checks.
struct UnitChecks {
    private var pending: [(value: BigNum, modulus: BigNum, error: ProofError)] = []

    /// A ciphertext of `key`: 0 < c < N² now, gcd(c, N) = 1 at `finish()`. Returns c.
    mutating func ciphertext(
        _ c: BigNum, _ key: PaillierPublicKey, _ field: String, statement: Bool
    ) throws(ProofError) -> BigNum {
        let error: ProofError =
            statement ? .invalidStatement("\(field) is not in Z*_{N^2}") : .notInGroup(field)
        guard !c.isNegative, !c.isZero, c < key.nSquared else { throw error }
        pending.append((c, key.n, error))
        return c
    }

    /// An element of Z*_n: 0 < x < n now, gcd(x, n) = 1 at `finish()`.
    mutating func element(_ x: BigNum, modulo n: BigNum, _ field: String) throws(ProofError) {
        guard !x.isNegative, !x.isZero, x < n else { throw .notInGroup(field) }
        pending.append((x, n, .notInGroup(field)))
    }

    /// Runs the collected coprimality tests.
    func finish() throws(ProofError) {
        var moduli: [BigNum] = []
        for item in pending where !moduli.contains(item.modulus) { moduli.append(item.modulus) }
        for n in moduli {
            let product = try? pending.filter { $0.modulus == n }.reduce(BigNum.one) { try $0.modMul($1.value, n) }
            if let product, product.isCoprime(to: n) { continue }
            for item in pending where item.modulus == n && !item.value.isCoprime(to: n) { throw item.error }
            throw .arithmetic("unit check")
        }
    }
}

/// Checks the shape of a modulus in a statement: odd, positive, within the accepted sizes.
func checkModulusShape(_ n: BigNum, _ name: String) throws(ProofError) {
    guard !n.isNegative, n.isOdd else { throw .invalidStatement("\(name) must be odd and positive") }
    guard n.bitLength >= ProofParameters.minimumModulusBits, n.bitLength <= ProofParameters.maximumModulusBits else {
        throw .invalidStatement("\(name) size out of range")
    }
}

extension PaillierPublicKey {
    /// (1 + N)^m · r^N mod N² for a public signed m (taken mod N) and a public r: the verifier's
    /// side of the Enc equations (no constant-time ladder needed, nothing here is secret).
    func publicEncryption(signed m: BigNum, randomness r: BigNum) throws -> BigNum {
        let gToM = BigNum.one + (try m.mod(n)) * n
        let rToN = try nSquaredContext.exp(r.declassified(), n)
        return try nSquaredContext.mul(gToM, rToN)
    }

    /// c^e mod N² for a public signed exponent (c must be a unit when e < 0).
    func publicPower(_ c: BigNum, _ e: BigNum) throws -> BigNum {
        try nSquaredContext.expSigned(c, e)
    }

    func mulModNSquared(_ a: BigNum, _ b: BigNum) throws -> BigNum { try nSquaredContext.mul(a, b) }

    /// `c` as an element of Z*_{N²}, or `.invalidStatement` / `.notInGroup`.
    func checkedCiphertext(_ c: BigNum, _ field: String, statement: Bool) throws(ProofError) -> BigNum {
        guard !c.isNegative, !c.isZero, c < nSquared, c.isCoprime(to: n) else {
            if statement { throw .invalidStatement("\(field) is not in Z*_{N^2}") }
            throw .notInGroup(field)
        }
        return c
    }
}

extension RingPedersenParameters {
    func checkedElement(_ x: BigNum, _ field: String) throws(ProofError) {
        guard isUnit(x) else { throw .notInGroup(field) }
    }

    func mul(_ a: BigNum, _ b: BigNum) throws -> BigNum { try context.mul(a, b) }

    /// Absorbs (Ñ, s, t): every proof made against a verifier's setup is bound to it.
    func absorb(into transcript: inout Transcript) {
        transcript.append("setup.N", integer: n)
        transcript.append("setup.s", integer: s)
        transcript.append("setup.t", integer: t)
    }
}

/// Exponentiation modulo N = pq by the Chinese remainder theorem, for provers who know p and q
/// (Π^mod's roots, Π^prm's commitments): two half-size exponentiations instead of one, each on
/// the constant-time ladder (the exponents and the moduli are secret).
struct CRTContext {
    let p: BigNum
    let q: BigNum
    let pMinusOne: BigNum
    let qMinusOne: BigNum
    let pContext: MontgomeryContext
    let qContext: MontgomeryContext
    let qInverseModP: BigNum

    init(p: BigNum, q: BigNum) throws {
        self.p = p.withSecrecy(true)
        self.q = q.withSecrecy(true)
        pMinusOne = self.p - .one
        qMinusOne = self.q - .one
        pContext = try MontgomeryContext(modulus: self.p)
        qContext = try MontgomeryContext(modulus: self.q)
        qInverseModP = try self.q.modInverse(self.p)
    }

    /// x with x ≡ xp (mod p), x ≡ xq (mod q): x = xq + q·((xp − xq)·q⁻¹ mod p).
    func combine(_ xp: BigNum, _ xq: BigNum) throws -> BigNum {
        let h = try xp.modSub(xq, p).modMul(qInverseModP, p)
        return xq + h * q
    }

    /// base^e mod pq for a base coprime to pq, with e reduced mod p − 1 and q − 1 (Fermat).
    func exp(_ base: BigNum, _ e: BigNum) throws -> BigNum {
        try exp(base, ep: e.mod(pMinusOne), eq: e.mod(qMinusOne))
    }

    /// base^e mod pq given the exponents already reduced for each prime (both halves in one
    /// `expConstantTimePair`: OpenSSL interleaves two 1024-bit ladders on AVX-512 IFMA).
    func exp(_ base: BigNum, ep: BigNum, eq: BigNum) throws -> BigNum {
        let (xp, xq) = try expModPrimes(base, base, ep: ep, eq: eq)
        return try combine(xp, xq)
    }

    /// (a^ep mod p, b^eq mod q), constant time, as one pair.
    func expModPrimes(_ a: BigNum, _ b: BigNum, ep: BigNum, eq: BigNum) throws -> (BigNum, BigNum) {
        try MontgomeryContext.expConstantTimePair(
            pContext, a.withSecrecy(true).mod(p), ep, qContext, b.withSecrecy(true).mod(q), eq)
    }
}
