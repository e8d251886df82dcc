/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mbedTLS configuration of the TA's P-256 (ECDH, ECDSA, key generation, point checks), built
 * from OP-TEE's bundled mbedTLS sources (the same 3.6 release the dev kit's libmbedtls.a is
 * built from) with the options that make the curve fast: native 64-bit limbs with the
 * aarch64 multiply-accumulate assembly, NIST fast reduction, and the fixed-base comb tables
 * kept in the TA instance. The dev kit's libmbedtls.a uses 32-bit limbs (it backs
 * TEE_BigInt), no assembly and generic reduction: ~2-3x slower (docs/performance.md).
 *
 * Side channels: mbedtls_ecp_mul is regular in the scalar (comb method with constant-time
 * table selection) and randomizes projective coordinates with the TA's RNG; ECDSA blinds
 * the modular inversion. Nothing here is home-made: only options of the library.
 */
#ifndef FOC_MBEDTLS_CONFIG_H
#define FOC_MBEDTLS_CONFIG_H

#define MBEDTLS_HAVE_ASM
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ASN1_PARSE_C /* prerequisites of ECDSA_C (its DER helpers; unused here) */
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_WINDOW_SIZE 4
#define MBEDTLS_ECP_FIXED_POINT_OPTIM 1

#endif /* FOC_MBEDTLS_CONFIG_H */
