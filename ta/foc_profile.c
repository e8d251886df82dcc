/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Measurement build only (FOC_PROFILE=1, see foc_profile.h): phase accumulators, the
 * per-command log line and FOC_CMD_PROFILE_CRYPTO, which times each primitive of a
 * confidential transaction in a loop (keys are fresh random ones, never the enclave's).
 */
#include <string.h>

#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>

#include "foc_crypto.h"
#include "foc_p256.h"
#include "foc_profile.h"

static const char *const phase_names[FOC_PROF_PHASES] = {
	"storage", "sha256", "point_check", "ecdh", "hkdf", "gcm_open",
	"gcm_seal", "sign", "random", "keygen", "evidence",
};

static uint64_t phase_ms[FOC_PROF_PHASES];
static uint32_t phase_calls[FOC_PROF_PHASES];

uint64_t foc_prof_now_ms(void)
{
	TEE_Time t;

	TEE_GetSystemTime(&t);
	return (uint64_t)t.seconds * 1000u + t.millis;
}

void foc_prof_add(enum foc_prof_phase phase, uint64_t since_ms)
{
	phase_ms[phase] += foc_prof_now_ms() - since_ms;
	phase_calls[phase]++;
}

void foc_prof_report(uint32_t cmd, uint64_t since_ms)
{
	char line[512];
	size_t used = 0;
	int n;
	size_t i;

	n = snprintf(line, sizeof(line), "foc-profile cmd=%u total=%u", (unsigned int)cmd,
		     (unsigned int)(foc_prof_now_ms() - since_ms));
	used = n > 0 ? (size_t)n : 0;
	for (i = 0; i < FOC_PROF_PHASES && used < sizeof(line); i++) {
		if (!phase_calls[i])
			continue;
		n = snprintf(line + used, sizeof(line) - used, " %s=%u/%u", phase_names[i],
			     (unsigned int)phase_ms[i], (unsigned int)phase_calls[i]);
		used += n > 0 ? (size_t)n : 0;
	}
	IMSG("%s", line);
	memset(phase_ms, 0, sizeof(phase_ms));
	memset(phase_calls, 0, sizeof(phase_calls));
}

/*
 * The GP Internal Core API path the TA used before foc_p256.c (TEE_GenerateKey,
 * TEE_DeriveKey, TEE_AsymmetricSignDigest: OP-TEE core crypto), kept here to compare both in
 * one run.
 */
/* A big-endian attribute of `size` bytes, left-padded (the API drops leading zeros). */
static bool get_padded(TEE_ObjectHandle obj, uint32_t attr, uint8_t *out, size_t size)
{
	uint8_t buf[FOC_EC_PRIVATE_SIZE];
	size_t len = sizeof(buf);

	if (size > sizeof(buf) || TEE_GetObjectBufferAttribute(obj, attr, buf, &len) != TEE_SUCCESS || len > size)
		return false;
	memset(out, 0, size - len);
	memcpy(out + size - len, buf, len);
	foc_wipe(buf, sizeof(buf));
	return true;
}

static bool gp_ec_generate(uint8_t priv[FOC_EC_PRIVATE_SIZE], uint8_t pub[FOC_EC_POINT_SIZE])
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	TEE_Attribute curve;
	bool ok;

	if (TEE_AllocateTransientObject(TEE_TYPE_ECDSA_KEYPAIR, 256, &obj) != TEE_SUCCESS)
		return false;
	TEE_InitValueAttribute(&curve, TEE_ATTR_ECC_CURVE, TEE_ECC_CURVE_NIST_P256, 0);
	pub[0] = 0x04;
	ok = TEE_GenerateKey(obj, 256, &curve, 1) == TEE_SUCCESS &&
	     get_padded(obj, TEE_ATTR_ECC_PRIVATE_VALUE, priv, FOC_EC_PRIVATE_SIZE) &&
	     get_padded(obj, TEE_ATTR_ECC_PUBLIC_VALUE_X, pub + 1, 32) &&
	     get_padded(obj, TEE_ATTR_ECC_PUBLIC_VALUE_Y, pub + 33, 32);
	TEE_FreeTransientObject(obj);
	return ok;
}

/* A P-256 key pair object of `type` (ECDSA or ECDH) from raw parts. */
static TEE_ObjectHandle ec_keypair(uint32_t type, const uint8_t *priv, const uint8_t *pub)
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	TEE_Attribute attrs[4];

	if (TEE_AllocateTransientObject(type, 256, &obj) != TEE_SUCCESS)
		return TEE_HANDLE_NULL;
	TEE_InitRefAttribute(&attrs[0], TEE_ATTR_ECC_PRIVATE_VALUE, priv, FOC_EC_PRIVATE_SIZE);
	TEE_InitRefAttribute(&attrs[1], TEE_ATTR_ECC_PUBLIC_VALUE_X, pub + 1, 32);
	TEE_InitRefAttribute(&attrs[2], TEE_ATTR_ECC_PUBLIC_VALUE_Y, pub + 33, 32);
	TEE_InitValueAttribute(&attrs[3], TEE_ATTR_ECC_CURVE, TEE_ECC_CURVE_NIST_P256, 0);
	if (TEE_PopulateTransientObject(obj, attrs, 4) != TEE_SUCCESS) {
		TEE_FreeTransientObject(obj);
		return TEE_HANDLE_NULL;
	}
	return obj;
}

/* X coordinate of ECDH(priv, peer). */
static bool gp_ecdh(const uint8_t *priv, const uint8_t *pub, const uint8_t *peer, uint8_t secret[32])
{
	TEE_ObjectHandle key = ec_keypair(TEE_TYPE_ECDH_KEYPAIR, priv, pub);
	TEE_ObjectHandle shared = TEE_HANDLE_NULL;
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	TEE_Attribute point[2];
	bool ok = false;

	if (key == TEE_HANDLE_NULL)
		goto out;
	if (TEE_AllocateOperation(&op, TEE_ALG_ECDH_P256, TEE_MODE_DERIVE, 256) != TEE_SUCCESS ||
	    TEE_SetOperationKey(op, key) != TEE_SUCCESS ||
	    TEE_AllocateTransientObject(TEE_TYPE_GENERIC_SECRET, 256, &shared) != TEE_SUCCESS)
		goto out;
	TEE_InitRefAttribute(&point[0], TEE_ATTR_ECC_PUBLIC_VALUE_X, peer + 1, 32);
	TEE_InitRefAttribute(&point[1], TEE_ATTR_ECC_PUBLIC_VALUE_Y, peer + 33, 32);
	TEE_DeriveKey(op, point, 2, shared);
	ok = get_padded(shared, TEE_ATTR_SECRET_VALUE, secret, 32);
out:
	if (shared != TEE_HANDLE_NULL)
		TEE_FreeTransientObject(shared);
	if (op != TEE_HANDLE_NULL)
		TEE_FreeOperation(op);
	if (key != TEE_HANDLE_NULL)
		TEE_FreeTransientObject(key);
	return ok;
}

static bool gp_ecdsa_sign(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
			   const uint8_t digest[FOC_HASH_SIZE], uint8_t sig[FOC_SIGNATURE_SIZE])
{
	TEE_ObjectHandle key = ec_keypair(TEE_TYPE_ECDSA_KEYPAIR, priv, pub);
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	size_t sig_len = FOC_SIGNATURE_SIZE;
	bool ok = false;

	if (key == TEE_HANDLE_NULL)
		return false;
	/* The GP API signs a given digest and returns raw r || s for ECDSA. */
	if (TEE_AllocateOperation(&op, TEE_ALG_ECDSA_P256, TEE_MODE_SIGN, 256) == TEE_SUCCESS &&
	    TEE_SetOperationKey(op, key) == TEE_SUCCESS)
		ok = TEE_AsymmetricSignDigest(op, NULL, 0, digest, FOC_HASH_SIZE, sig, &sig_len) == TEE_SUCCESS &&
		     sig_len == FOC_SIGNATURE_SIZE;
	if (op != TEE_HANDLE_NULL)
		TEE_FreeOperation(op);
	TEE_FreeTransientObject(key);
	return ok;
}


static void report_loop(const char *what, uint32_t iterations, uint64_t t0, bool ok)
{
	uint64_t ms = foc_prof_now_ms() - t0;

	IMSG("foc-profile-crypto %s n=%u total_ms=%u per_op_us=%u ok=%d", what, (unsigned int)iterations,
	     (unsigned int)ms, (unsigned int)(ms * 1000u / (iterations ? iterations : 1)), ok ? 1 : 0);
}

void foc_prof_crypto(uint32_t iterations)
{
	uint8_t priv[32], pub[65], peer_priv[32], peer[65], key[32], digest[32] = { 1 }, sig[64], secret[32];
	uint8_t nonce[12] = { 0 };
	static uint8_t buf[1024 + 16], out[1024 + 16];
	bool ok;
	uint64_t t0;
	uint32_t i;

	ok = foc_crypto_ec_generate(priv, pub) && foc_crypto_ec_generate(peer_priv, peer);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations && ok; i++)
		ok = gp_ec_generate(peer_priv, peer);
	report_loop("gp_keygen", iterations, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations && ok; i++)
		ok = gp_ecdh(priv, pub, peer, secret);
	report_loop("gp_ecdh", iterations, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations && ok; i++)
		ok = gp_ecdsa_sign(priv, pub, digest, sig);
	report_loop("gp_ecdsa_sign", iterations, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations * 4 && ok; i++)
		ok = foc_crypto_ec_generate(peer_priv, peer);
	report_loop("ta_mbedtls_keygen", iterations * 4, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations * 4 && ok; i++)
		ok = foc_p256_valid_point(peer);
	report_loop("ta_mbedtls_point_check", iterations * 4, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations * 4 && ok; i++)
		ok = foc_p256_ecdh(priv, peer, secret);
	report_loop("ta_mbedtls_ecdh", iterations * 4, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations * 4 && ok; i++)
		ok = foc_crypto_ecdh_hkdf(priv, pub, peer, (const uint8_t *)"x", 1, key);
	report_loop("ta_point_check_ecdh_hkdf", iterations * 4, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations * 4 && ok; i++)
		ok = foc_crypto_ecdsa_sign(priv, pub, digest, sig);
	report_loop("ta_mbedtls_ecdsa_sign", iterations * 4, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations * 10 && ok; i++)
		ok = foc_crypto_sha256(buf, 1024, digest);
	report_loop("gp_sha256_1KiB", iterations * 10, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations * 10 && ok; i++)
		ok = foc_crypto_gcm_seal(key, nonce, digest, sizeof(digest), buf, 1024, out);
	report_loop("gp_gcm_seal_1KiB", iterations * 10, t0, ok);
	t0 = foc_prof_now_ms();
	for (i = 0; i < iterations * 10 && ok; i++)
		ok = foc_crypto_gcm_seal(key, nonce, digest, sizeof(digest), buf, 16, out);
	report_loop("gp_gcm_seal_16B", iterations * 10, t0, ok);
	foc_prof_report(FOC_CMD_PROFILE_CRYPTO, foc_prof_now_ms());
}
