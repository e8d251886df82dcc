/* SPDX-License-Identifier: Apache-2.0 */
/*
 * P-256 inside the TA with mbedTLS (ta/mbedtls/foc_mbedtls_config.h): the scalar
 * multiplications of foc_crypto.h. Keys are raw bytes as in foc_crypto.h. Every function
 * returns false on a bad key or point and on any library error.
 */
#ifndef FOC_P256_H
#define FOC_P256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The peer's point is on the curve (uncompressed, not infinity). */
bool foc_p256_valid_point(const uint8_t point[65]);

/* X coordinate of priv * peer; fails unless peer is a valid point and priv a valid scalar. */
bool foc_p256_ecdh(const uint8_t priv[32], const uint8_t peer[65], uint8_t secret[32]);

/*
 * The RSA public key in a DER SubjectPublicKeyInfo (rsaEncryption), parsed with mbedTLS's
 * asn1parse (ta/mbedtls/foc_rsa_key.c): modulus and exponent as unsigned big-endian bytes,
 * pointing into der.
 */
bool foc_rsa_spki(const uint8_t *der, size_t len, const uint8_t **n, size_t *n_len, const uint8_t **e,
		  size_t *e_len);

#endif /* FOC_P256_H */
