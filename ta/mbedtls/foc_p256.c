/* SPDX-License-Identifier: Apache-2.0 */
/*
 * P-256 key generation, ECDH and ECDSA for foc_crypto.h with mbedTLS in the TA (see
 * foc_p256.h). OP-TEE's GP path (TEE_DeriveKey / TEE_AsymmetricSignDigest into the core's
 * libtomcrypt) took 0.6-1 s per scalar multiplication under QEMU; measurements and the
 * reasons are in docs/performance.md.
 *
 * The group, with the fixed-base comb table mbedTLS builds on first use, lives for the TA
 * instance (single instance: entry points never run concurrently). It holds no secret.
 * Platform-neutral: the host-native build compiles the same file with `make -C ta/native
 * P256=mbedtls` (foc bench's guest baseline), whose entry points are serialised the same way.
 */
#include <string.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>

#include "foc_crypto.h"
#include "../foc_p256.h"
#include "foc_profile.h"

static mbedtls_ecp_group group;
static bool group_loaded;

static mbedtls_ecp_group *p256(void)
{
	if (!group_loaded) {
		mbedtls_ecp_group_init(&group);
		if (mbedtls_ecp_group_load(&group, MBEDTLS_ECP_DP_SECP256R1) != 0) {
			mbedtls_ecp_group_free(&group);
			return NULL;
		}
		group_loaded = true;
	}
	return &group;
}

/* mbedTLS's f_rng: the platform's CSPRNG (ECDSA nonces, key generation, coordinate blinding):
 * TEE_GenerateRandom in the TA (foc_crypto_optee.c), OpenSSL's RAND_bytes natively. */
static int rng(void *ctx, unsigned char *buf, size_t len)
{
	(void)ctx;
	return foc_crypto_random(buf, len) ? 0 : MBEDTLS_ERR_ECP_RANDOM_FAILED;
}

static bool read_point(const mbedtls_ecp_group *grp, mbedtls_ecp_point *pt, const uint8_t point[65])
{
	return point[0] == 0x04 && mbedtls_ecp_point_read_binary(grp, pt, point, FOC_EC_POINT_SIZE) == 0 &&
	       mbedtls_ecp_check_pubkey(grp, pt) == 0;
}

static bool read_scalar(const mbedtls_ecp_group *grp, mbedtls_mpi *d, const uint8_t priv[32])
{
	return mbedtls_mpi_read_binary(d, priv, FOC_EC_PRIVATE_SIZE) == 0 && mbedtls_ecp_check_privkey(grp, d) == 0;
}

bool foc_p256_valid_point(const uint8_t point[65])
{
	mbedtls_ecp_group *grp = p256();
	mbedtls_ecp_point pt;
	bool ok;
	FOC_PROF_START();

	if (!grp)
		return false;
	mbedtls_ecp_point_init(&pt);
	ok = read_point(grp, &pt, point);
	mbedtls_ecp_point_free(&pt);
	FOC_PROF_STOP(FOC_PROF_POINT_CHECK);
	return ok;
}

bool foc_p256_ecdh(const uint8_t priv[32], const uint8_t peer[65], uint8_t secret[32])
{
	mbedtls_ecp_group *grp = p256();
	mbedtls_ecp_point q, r;
	mbedtls_mpi d;
	bool ok;
	FOC_PROF_START();

	if (!grp)
		return false;
	mbedtls_ecp_point_init(&q);
	mbedtls_ecp_point_init(&r);
	mbedtls_mpi_init(&d);
	ok = read_point(grp, &q, peer) && read_scalar(grp, &d, priv) &&
	     mbedtls_ecp_mul(grp, &r, &d, &q, rng, NULL) == 0 && mbedtls_mpi_write_binary(&r.MBEDTLS_PRIVATE(X), secret, 32) == 0;
	mbedtls_mpi_free(&d); /* zeroizes */
	mbedtls_ecp_point_free(&r);
	mbedtls_ecp_point_free(&q);
	FOC_PROF_STOP(FOC_PROF_ECDH);
	return ok;
}

bool foc_crypto_ec_generate(uint8_t priv[FOC_EC_PRIVATE_SIZE], uint8_t pub[FOC_EC_POINT_SIZE])
{
	mbedtls_ecp_group *grp = p256();
	mbedtls_ecp_point q;
	mbedtls_mpi d;
	size_t len = 0;
	bool ok;
	FOC_PROF_START();

	if (!grp)
		return false;
	mbedtls_ecp_point_init(&q);
	mbedtls_mpi_init(&d);
	ok = mbedtls_ecp_gen_keypair(grp, &d, &q, rng, NULL) == 0 &&
	     mbedtls_mpi_write_binary(&d, priv, FOC_EC_PRIVATE_SIZE) == 0 &&
	     mbedtls_ecp_point_write_binary(grp, &q, MBEDTLS_ECP_PF_UNCOMPRESSED, &len, pub, FOC_EC_POINT_SIZE) == 0 &&
	     len == FOC_EC_POINT_SIZE;
	mbedtls_mpi_free(&d);
	mbedtls_ecp_point_free(&q);
	if (!ok)
		foc_wipe(priv, FOC_EC_PRIVATE_SIZE);
	FOC_PROF_STOP(FOC_PROF_KEYGEN);
	return ok;
}

bool foc_crypto_ecdsa_sign(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
			   const uint8_t digest[FOC_HASH_SIZE], uint8_t sig[FOC_SIGNATURE_SIZE])
{
	mbedtls_ecp_group *grp = p256();
	mbedtls_mpi d, r, s;
	bool ok;
	FOC_PROF_START();

	(void)pub; /* the interface carries it for APIs that need the whole key pair */
	if (!grp)
		return false;
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	ok = read_scalar(grp, &d, priv) &&
	     mbedtls_ecdsa_sign(grp, &r, &s, &d, digest, FOC_HASH_SIZE, rng, NULL) == 0 &&
	     mbedtls_mpi_write_binary(&r, sig, 32) == 0 && mbedtls_mpi_write_binary(&s, sig + 32, 32) == 0;
	mbedtls_mpi_free(&s);
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&d);
	FOC_PROF_STOP(FOC_PROF_SIGN);
	return ok;
}
