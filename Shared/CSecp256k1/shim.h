#pragma once
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

// Flag macros as functions: Swift does not import every composite macro.
static inline unsigned int vn_secp256k1_context_none(void) { return SECP256K1_CONTEXT_NONE; }
static inline unsigned int vn_secp256k1_ec_compressed(void) { return SECP256K1_EC_COMPRESSED; }
static inline unsigned int vn_secp256k1_ec_uncompressed(void) { return SECP256K1_EC_UNCOMPRESSED; }

// Illegal-argument callback that returns instead of aborting: the API call then returns 0,
// which the Swift wrapper turns into an error. (The wrapper validates inputs first anyway.)
static inline void vn_secp256k1_illegal_noop(const char *message, void *data) { (void)message; (void)data; }
static inline void vn_secp256k1_install_quiet_illegal_callback(secp256k1_context *ctx) {
    secp256k1_context_set_illegal_callback(ctx, vn_secp256k1_illegal_noop, NULL);
}

// ECDH "hash" that returns the shared point itself: x ‖ y (64 bytes). With it, secp256k1_ecdh is a
// constant-time scalar multiplication k·P (secp256k1_ecmult_const), which tweak_mul is not.
static inline int vn_secp256k1_ecdh_copy_xy(unsigned char *output, const unsigned char *x32,
                                            const unsigned char *y32, void *data) {
    (void)data;
    for (int i = 0; i < 32; i++) { output[i] = x32[i]; output[32 + i] = y32[i]; }
    return 1;
}
static inline secp256k1_ecdh_hash_function vn_secp256k1_ecdh_xy(void) { return vn_secp256k1_ecdh_copy_xy; }
