/* SPDX-License-Identifier: Apache-2.0 */
/*
 * foc_crypto.h on the host with OpenSSL libcrypto (no primitive is implemented here). The P-256
 * operations (key generation, ECDH, ECDSA) are foc_p256.h's: OpenSSL (native/p256_openssl.c, the
 * default) or the TA's own mbedTLS build (ta/mbedtls/foc_p256.c, `make P256=mbedtls`).
 * Storage is a directory of plain files named by $FOC_NATIVE_STORAGE: NOT secure storage,
 * anyone with the directory has the keys. Evidence is "native-insecure-v1", signed with a
 * published test key: it proves nothing and verifiers refuse it unless a test allows it.
 */
#include "foc_crypto.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <foc_ta.h>

#include "crypto_native.h"
#include "foc_codec.h"
#include "foc_p256.h"

bool foc_crypto_random(uint8_t *buf, size_t len)
{
	return len <= INT32_MAX && RAND_bytes(buf, (int)len) == 1;
}

bool foc_crypto_sha256(const uint8_t *data, size_t len, uint8_t digest[FOC_HASH_SIZE])
{
	static const uint8_t empty;

	return EVP_Digest(len ? data : &empty, len, digest, NULL, EVP_sha256(), NULL) == 1;
}

bool foc_crypto_hkdf(const uint8_t ikm[FOC_AES_KEY_SIZE], const uint8_t *info, size_t info_len,
		     uint8_t key[FOC_AES_KEY_SIZE])
{
	EVP_PKEY_CTX *kdf = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t key_len = FOC_AES_KEY_SIZE;
	bool ok;

	/* salt "": HKDF then uses HashLen zero bytes, as RFC 5869 says */
	ok = kdf && info_len <= INT32_MAX && EVP_PKEY_derive_init(kdf) == 1 &&
	     EVP_PKEY_CTX_set_hkdf_md(kdf, EVP_sha256()) == 1 &&
	     EVP_PKEY_CTX_set1_hkdf_key(kdf, ikm, FOC_AES_KEY_SIZE) == 1 &&
	     EVP_PKEY_CTX_add1_hkdf_info(kdf, info, (int)info_len) == 1 && EVP_PKEY_derive(kdf, key, &key_len) == 1 &&
	     key_len == FOC_AES_KEY_SIZE;
	EVP_PKEY_CTX_free(kdf);
	return ok;
}

bool foc_crypto_ecdh_hkdf(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
			  const uint8_t peer[FOC_EC_POINT_SIZE], const uint8_t *info, size_t info_len,
			  uint8_t key[FOC_AES_KEY_SIZE])
{
	uint8_t secret[32];
	bool ok = foc_p256_ecdh(priv, peer, secret) && foc_crypto_hkdf(secret, info, info_len, key);

	(void)pub; /* as in the TA: the scalar is the whole key for ECDH */
	foc_wipe(secret, sizeof(secret));
	return ok;
}

bool foc_crypto_rsa_pss_verify(const uint8_t *spki, size_t spki_len, const uint8_t digest[FOC_HASH_SIZE],
			       const uint8_t *sig, size_t sig_len)
{
	const unsigned char *p = spki;
	EVP_PKEY *key = spki_len <= INT32_MAX ? d2i_PUBKEY(NULL, &p, (long)spki_len) : NULL;
	EVP_PKEY_CTX *ctx = key && p == spki + spki_len && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA &&
					    EVP_PKEY_get_bits(key) >= 2048 && EVP_PKEY_get_bits(key) <= 4096
				    ? EVP_PKEY_CTX_new(key, NULL)
				    : NULL;
	bool ok;

	ok = ctx && EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, FOC_HASH_SIZE) == 1 &&
	     EVP_PKEY_verify(ctx, sig, sig_len, digest, FOC_HASH_SIZE) == 1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok;
}

static bool gcm(bool seal, const uint8_t *key, const uint8_t *nonce, const uint8_t *aad, size_t aad_len,
		const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0;
	bool ok;

	if (len > INT32_MAX || aad_len > INT32_MAX)
		return false;
	ok = ctx && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce, seal ? 1 : 0) == 1 &&
	     (aad_len == 0 || EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) == 1) &&
	     (len == 0 || EVP_CipherUpdate(ctx, out, &n, in, (int)len) == 1) &&
	     (seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, FOC_GCM_TAG_SIZE, tag) == 1) &&
	     EVP_CipherFinal_ex(ctx, out + (len ? len : 0), &n) == 1 &&
	     (!seal || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, FOC_GCM_TAG_SIZE, tag) == 1);
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

bool foc_crypto_gcm_seal(const uint8_t key[FOC_AES_KEY_SIZE], const uint8_t nonce[FOC_GCM_NONCE_SIZE],
			 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out)
{
	return gcm(true, key, nonce, aad, aad_len, in, len, out, out + len);
}

bool foc_crypto_gcm_open(const uint8_t key[FOC_AES_KEY_SIZE], const uint8_t nonce[FOC_GCM_NONCE_SIZE],
			 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
	uint8_t tag[FOC_GCM_TAG_SIZE];
	size_t len;

	if (in_len < FOC_GCM_TAG_SIZE)
		return false;
	len = in_len - FOC_GCM_TAG_SIZE;
	memcpy(tag, in + len, FOC_GCM_TAG_SIZE);
	if (gcm(false, key, nonce, aad, aad_len, in, len, out, tag))
		return true;
	foc_wipe(out, len);
	return false;
}

/* ---------------------------------------------------------------- storage: plain files */

/* $FOC_NATIVE_STORAGE/<this TA's uuid>/<id>; with `create`, the TA's directory is made if absent. */
static bool object_path(const char *id, char *path, size_t cap, bool create)
{
	const char *dir = getenv(FOC_NATIVE_STORAGE_ENV);
	int n;

	if (!dir || !*dir)
		return false;
	n = snprintf(path, cap, "%s/%s", dir, FOC_NATIVE_TA_UUID);
	if (n <= 0 || (size_t)n >= cap)
		return false;
	if (create && mkdir(path, 0700) != 0 && errno != EEXIST)
		return false;
	n = snprintf(path, cap, "%s/%s/%s", dir, FOC_NATIVE_TA_UUID, id);
	return n > 0 && (size_t)n < cap;
}

enum foc_storage_result foc_storage_load(const char *id, uint8_t *buf, size_t cap, size_t *len)
{
	char path[4096];
	FILE *f;
	size_t n;
	int extra;

	if (!object_path(id, path, sizeof(path), false))
		return FOC_STORAGE_ERROR;
	f = fopen(path, "rb");
	if (!f)
		return errno == ENOENT ? FOC_STORAGE_NOT_FOUND : FOC_STORAGE_ERROR;
	n = fread(buf, 1, cap, f);
	extra = fgetc(f);
	if (ferror(f) || extra != EOF) {
		fclose(f);
		return FOC_STORAGE_ERROR;
	}
	fclose(f);
	*len = n;
	return FOC_STORAGE_OK;
}

enum foc_storage_result foc_storage_store(const char *id, const uint8_t *data, size_t len)
{
	char path[4096], tmp[4200];
	FILE *f;
	bool ok;

	if (!object_path(id, path, sizeof(path), true))
		return FOC_STORAGE_ERROR;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "wb");
	if (!f)
		return FOC_STORAGE_ERROR;
	ok = fwrite(data, 1, len, f) == len;
	ok = fclose(f) == 0 && ok;
	/* rename() replaces atomically, as the TEE's object replacement does */
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return FOC_STORAGE_ERROR;
	}
	return FOC_STORAGE_OK;
}

/* ---------------------------------------------------------------- evidence: INSECURE */

/*
 * The "device key": the PEM private key file named by $FOC_NATIVE_DEVICE_KEY (one per simulated
 * device, for the multi-device tests), else the published test key. Both are plain files or
 * public: NOT a device identity.
 */
static EVP_PKEY *device_key(void)
{
	const char *path = getenv(FOC_NATIVE_DEVICE_KEY_ENV);
	EVP_PKEY *key = NULL;
	BIO *bio;

	if (path && *path) {
		bio = BIO_new_file(path, "r");
	} else {
		bio = BIO_new_mem_buf(foc_native_insecure_device_key_pem, -1);
	}
	if (bio)
		key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return key;
}

bool foc_platform_evidence(const uint8_t nonce[FOC_HASH_SIZE], uint8_t *out, size_t cap, size_t *len)
{
	static const char label[] = FOC_NATIVE_MEASUREMENT_LABEL;
	static const char kind[] = FOC_NATIVE_EVIDENCE_KIND;
	uint8_t measurement[FOC_HASH_SIZE], both[2 * FOC_HASH_SIZE], digest[FOC_HASH_SIZE];
	uint8_t sig[512];
	size_t sig_len = sizeof(sig);
	EVP_PKEY *key = device_key();
	EVP_PKEY_CTX *ctx = key ? EVP_PKEY_CTX_new(key, NULL) : NULL;
	struct foc_writer w;
	bool ok;

	/* The same statement as OP-TEE's attestation PTA: RSA-PSS(SHA-256(nonce || measurement)). */
	ok = ctx && foc_crypto_sha256((const uint8_t *)label, sizeof(label) - 1, measurement);
	if (ok) {
		memcpy(both, nonce, FOC_HASH_SIZE);
		memcpy(both + FOC_HASH_SIZE, measurement, FOC_HASH_SIZE);
		ok = foc_crypto_sha256(both, sizeof(both), digest) && EVP_PKEY_sign_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
		     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		     EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) == 1 &&
		     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, FOC_HASH_SIZE) == 1 &&
		     EVP_PKEY_sign(ctx, sig, &sig_len, digest, sizeof(digest)) == 1;
	}
	if (ok) {
		foc_writer_init(&w, out, cap);
		foc_write_u32(&w, FOC_CONF_EVIDENCE_MAGIC);
		foc_write_bytes(&w, (const uint8_t *)kind, sizeof(kind) - 1);
		foc_write_bytes(&w, measurement, FOC_HASH_SIZE);
		foc_write_bytes(&w, sig, (uint32_t)sig_len);
		*len = w.len;
		ok = foc_writer_fits(&w);
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	return ok;
}
