import COpenSSL

extension MontgomeryContext {
    /// (a₁^e₁ mod m₁, a₂^e₂ mod m₂) with the constant-time ladder, both at once: OpenSSL's
    /// `BN_mod_exp_mont_consttime_x2` (the RSA-CRT path) interleaves the two on AVX-512 IFMA for
    /// equal-size moduli it supports and otherwise runs two constant-time exponentiations. For
    /// checking an equation modulo p and modulo q of one's own modulus. Results are secret.
    public static func expConstantTimePair(
        _ c1: MontgomeryContext, _ a1: BigNum, _ e1: BigNum, _ c2: MontgomeryContext, _ a2: BigNum, _ e2: BigNum
    ) throws -> (BigNum, BigNum) {
        guard !e1.isNegative, !e2.isNegative else { throw CryptoError.invalidParameter("negative exponent") }
        let b1 = a1.isNegative || a1 >= c1.modulus ? try a1.mod(c1.modulus) : a1
        let b2 = a2.isNegative || a2 >= c2.modulus ? try a2.mod(c2.modulus) : a2
        // The x2 routine wants constant-time operands throughout.
        let s1 = b1.withSecrecy(true)
        let s2 = b2.withSecrecy(true)
        let x1 = e1.withSecrecy(true)
        let x2 = e2.withSecrecy(true)
        let r2 = BigNum.make(secret: true)
        let r1 = try BigNum.make(secret: true, "BN_mod_exp_mont_consttime_x2") { r, ctx in
            BN_mod_exp_mont_consttime_x2(
                r, s1.bn, x1.bn, c1.modulus.bn, c1.mont, r2.bn, s2.bn, x2.bn, c2.modulus.bn, c2.mont, ctx)
        }
        return (r1, r2)
    }
}

extension BigNum {
    /// An empty BIGNUM for an OpenSSL routine with two outputs to fill (zero until then).
    static func make(secret: Bool) -> BigNum {
        BigNum(owning: BN_new()!, secret: secret)
    }

    /// Equality of two non-negative values below 2^(8·width) in time independent of their digits
    /// (CRYPTO_memcmp over fixed-width encodings): for comparing residues modulo a secret prime.
    public func constantTimeEquals(_ other: BigNum, width: Int) -> Bool {
        guard !isNegative, !other.isNegative, var x = try? bytes(paddedTo: width),
            var y = try? other.bytes(paddedTo: width)
        else { return false }
        defer {
            secureZero(&x)
            secureZero(&y)
        }
        return CryptoPrimitives.constantTimeEquals(x, y)
    }
}
