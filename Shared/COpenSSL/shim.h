#pragma once
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/bn.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

// Static C strings for OSSL_PARAM names: OSSL_PARAM_construct_* keeps the pointer, so a
// Swift String bridged for the duration of one call is not enough (ENVIRONMENT.md).
static const char *const vn_ossl_kdf_param_digest = OSSL_KDF_PARAM_DIGEST;
static const char *const vn_ossl_kdf_param_key = OSSL_KDF_PARAM_KEY;
static const char *const vn_ossl_kdf_param_salt = OSSL_KDF_PARAM_SALT;
static const char *const vn_ossl_kdf_param_info = OSSL_KDF_PARAM_INFO;
static const char *const vn_ossl_kdf_param_password = OSSL_KDF_PARAM_PASSWORD;
static const char *const vn_ossl_kdf_param_scrypt_n = OSSL_KDF_PARAM_SCRYPT_N;
static const char *const vn_ossl_kdf_param_scrypt_r = OSSL_KDF_PARAM_SCRYPT_R;
static const char *const vn_ossl_kdf_param_scrypt_p = OSSL_KDF_PARAM_SCRYPT_P;
static const char *const vn_ossl_kdf_param_scrypt_maxmem = OSSL_KDF_PARAM_SCRYPT_MAXMEM;
static const char *const vn_ossl_mac_param_digest = OSSL_MAC_PARAM_DIGEST;
static const char *const vn_ossl_sha256 = "SHA256";

static inline int vn_BN_num_bytes(const BIGNUM *a) { return BN_num_bytes(a); }

// EC public-key import by EVP_PKEY_fromdata (OpenSSL 3): parameter names and the group name
// (static, see above).
static const char *const vn_ossl_pkey_param_group_name = OSSL_PKEY_PARAM_GROUP_NAME;
static const char *const vn_ossl_pkey_param_pub_key = OSSL_PKEY_PARAM_PUB_KEY;
static const char *const vn_ossl_secp256k1 = "secp256k1";
// EVP_PKEY_PUBLIC_KEY is a macro expression Swift cannot import.
static const int vn_EVP_PKEY_PUBLIC_KEY = EVP_PKEY_PUBLIC_KEY;
