/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the confidential layer needs from its platform: a few crypto primitives, sealed
 * storage and attestation evidence. No primitive is implemented in FOC's code.
 * Implementations:
 *   ta/foc_crypto_optee.c        GP TEE Internal Core API, TEE_STORAGE_PRIVATE, attestation PTA
 *   ta/native/crypto_native.c    OpenSSL libcrypto, files under $FOC_NATIVE_STORAGE (NOT secure
 *                                storage) and "native-insecure" evidence from a fixed test key;
 *                                P-256 from native/p256_openssl.c, or with `make P256=mbedtls`
 *                                the TA's own ta/mbedtls/foc_p256.c
 *
 * Keys cross this interface as raw bytes (P-256 private scalar, SEC1 uncompressed point,
 * AES key) so that sealing them is just storing bytes. Every function returns true on
 * success; false means the operation failed (bad key, failed authentication, no memory,
 * platform error) and output buffers hold nothing usable.
 */
#ifndef FOC_CRYPTO_H
#define FOC_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foc_platform.h" /* foc_wipe() */

#define FOC_EC_PRIVATE_SIZE 32 /* P-256 private scalar, big-endian */
#define FOC_EC_POINT_SIZE 65   /* 0x04 || X || Y */
#define FOC_SIGNATURE_SIZE 64  /* raw r || s */
#define FOC_HASH_SIZE 32       /* SHA-256 */
#define FOC_AES_KEY_SIZE 32    /* AES-256, and the HKDF output length */
#define FOC_GCM_NONCE_SIZE 12
#define FOC_GCM_TAG_SIZE 16
#define FOC_MAX_EVIDENCE 1024  /* encoded evidence (RSA-4096 signature at most) */

/* Fill buf with random bytes. */
bool foc_crypto_random(uint8_t *buf, size_t len);

/* SHA-256 of data. */
bool foc_crypto_sha256(const uint8_t *data, size_t len, uint8_t digest[FOC_HASH_SIZE]);

/* A fresh P-256 key pair (used for both ECDSA signing and ECDH). */
bool foc_crypto_ec_generate(uint8_t priv[FOC_EC_PRIVATE_SIZE], uint8_t pub[FOC_EC_POINT_SIZE]);

/*
 * key = HKDF-SHA256(ikm = X coordinate of ECDH(priv, peer), salt = "", info, L = 32).
 * Fails if peer is not a valid P-256 point.
 */
bool foc_crypto_ecdh_hkdf(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
			  const uint8_t peer[FOC_EC_POINT_SIZE], const uint8_t *info, size_t info_len,
			  uint8_t key[FOC_AES_KEY_SIZE]);

/* key = HKDF-SHA256(ikm, salt = "", info, L = 32). */
bool foc_crypto_hkdf(const uint8_t ikm[FOC_AES_KEY_SIZE], const uint8_t *info, size_t info_len,
		     uint8_t key[FOC_AES_KEY_SIZE]);

/*
 * RSASSA-PSS (MGF1-SHA256, salt length 32: how OP-TEE's attestation PTA signs) over a SHA-256
 * digest, under the RSA public key given as DER SubjectPublicKeyInfo (2048..4096 bits). False
 * for a malformed key as for a signature that does not verify.
 */
bool foc_crypto_rsa_pss_verify(const uint8_t *spki, size_t spki_len, const uint8_t digest[FOC_HASH_SIZE],
			       const uint8_t *sig, size_t sig_len);

/* AES-256-GCM: out = ciphertext || tag (len + FOC_GCM_TAG_SIZE bytes). */
bool foc_crypto_gcm_seal(const uint8_t key[FOC_AES_KEY_SIZE], const uint8_t nonce[FOC_GCM_NONCE_SIZE],
			 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out);

/* Inverse of seal: in = ciphertext || tag (in_len >= FOC_GCM_TAG_SIZE), out gets in_len - 16 bytes.
 * False when authentication fails. */
bool foc_crypto_gcm_open(const uint8_t key[FOC_AES_KEY_SIZE], const uint8_t nonce[FOC_GCM_NONCE_SIZE],
			 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out);

/* ECDSA P-256 over a SHA-256 digest, raw r || s. */
bool foc_crypto_ecdsa_sign(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
			   const uint8_t digest[FOC_HASH_SIZE], uint8_t sig[FOC_SIGNATURE_SIZE]);

/* Sealed objects, addressed by a short NUL-terminated id ("foc.enclave.v1"). */
enum foc_storage_result {
	FOC_STORAGE_OK = 0,
	FOC_STORAGE_NOT_FOUND,
	FOC_STORAGE_ERROR, /* includes an object larger than cap */
};

/* Read the whole object into buf[0..cap); *len = its size. */
enum foc_storage_result foc_storage_load(const char *id, uint8_t *buf, size_t cap, size_t *len);
/* Create or atomically replace the object. */
enum foc_storage_result foc_storage_store(const char *id, const uint8_t *data, size_t len);

/*
 * Evidence for nonce (encoded as docs/confidential-protocol.md `evidence`, at most
 * FOC_MAX_EVIDENCE bytes). The platform writes the whole FEV1 structure: the kind tells the
 * verifier what it is ("optee-ta-memory-v1" in the TA, "native-insecure-v1" natively).
 */
bool foc_platform_evidence(const uint8_t nonce[FOC_HASH_SIZE], uint8_t *out, size_t cap, size_t *len);

#endif /* FOC_CRYPTO_H */
