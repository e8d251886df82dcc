/* SPDX-License-Identifier: Apache-2.0 */
/*
 * foc_crypto.h inside OP-TEE: GP TEE Internal Core API crypto (SHA-256, HKDF, AES-GCM),
 * TEE_STORAGE_PRIVATE persistent objects as sealed objects, and evidence from the
 * attestation PTA, which the TA calls itself with a nonce it computed (the normal world never
 * chooses it). The P-256 operations are in foc_p256.c (mbedTLS in the TA).
 */
#include <string.h>

#include <pta_attestation.h>
#include <tee_internal_api.h>
#include <tee_internal_api_extensions.h>

#include <foc_ta.h>

#include "foc_codec.h"
#include "foc_crypto.h"
#include "foc_p256.h"
#include "foc_profile.h"

#define EVIDENCE_KIND "optee-ta-memory-v1"
#define MAX_PTA_OUTPUT (FOC_HASH_SIZE + 512) /* measurement + RSA-4096 signature at most */

bool foc_crypto_random(uint8_t *buf, size_t len)
{
	FOC_PROF_START();
	TEE_GenerateRandom(buf, len);
	FOC_PROF_STOP(FOC_PROF_RANDOM);
	return true;
}

bool foc_crypto_sha256(const uint8_t *data, size_t len, uint8_t digest[FOC_HASH_SIZE])
{
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	size_t digest_len = FOC_HASH_SIZE;
	uint8_t empty = 0;
	bool ok;
	FOC_PROF_START();

	if (TEE_AllocateOperation(&op, TEE_ALG_SHA256, TEE_MODE_DIGEST, 0) != TEE_SUCCESS)
		return false;
	ok = TEE_DigestDoFinal(op, len ? data : &empty, len, digest, &digest_len) == TEE_SUCCESS &&
	     digest_len == FOC_HASH_SIZE;
	TEE_FreeOperation(op);
	FOC_PROF_STOP(FOC_PROF_SHA256);
	return ok;
}

bool foc_crypto_hkdf(const uint8_t ikm[FOC_AES_KEY_SIZE], const uint8_t *info, size_t info_len,
		     uint8_t key[FOC_AES_KEY_SIZE])
{
	TEE_ObjectHandle ikm_obj = TEE_HANDLE_NULL, okm = TEE_HANDLE_NULL;
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	TEE_Attribute attr, params[2];
	size_t len = FOC_AES_KEY_SIZE;
	bool ok = false;
	FOC_PROF_START();

	if (TEE_AllocateTransientObject(TEE_TYPE_HKDF_IKM, 256, &ikm_obj) != TEE_SUCCESS)
		goto out;
	TEE_InitRefAttribute(&attr, TEE_ATTR_HKDF_IKM, ikm, 32);
	if (TEE_PopulateTransientObject(ikm_obj, &attr, 1) != TEE_SUCCESS ||
	    TEE_AllocateTransientObject(TEE_TYPE_GENERIC_SECRET, FOC_AES_KEY_SIZE * 8, &okm) != TEE_SUCCESS ||
	    TEE_AllocateOperation(&op, TEE_ALG_HKDF_SHA256_DERIVE_KEY, TEE_MODE_DERIVE, 256) != TEE_SUCCESS ||
	    TEE_SetOperationKey(op, ikm_obj) != TEE_SUCCESS)
		goto out;
	/* No salt attribute: HKDF then uses HashLen zero bytes, identical to salt "". */
	TEE_InitRefAttribute(&params[0], __OPTEE_ATTR_HKDF_INFO, info, info_len);
	TEE_InitValueAttribute(&params[1], TEE_ATTR_HKDF_OKM_LENGTH, FOC_AES_KEY_SIZE, 0);
	TEE_DeriveKey(op, params, 2, okm);
	ok = TEE_GetObjectBufferAttribute(okm, TEE_ATTR_SECRET_VALUE, key, &len) == TEE_SUCCESS &&
	     len == FOC_AES_KEY_SIZE;
out:
	if (op != TEE_HANDLE_NULL)
		TEE_FreeOperation(op);
	if (okm != TEE_HANDLE_NULL)
		TEE_FreeTransientObject(okm);
	if (ikm_obj != TEE_HANDLE_NULL)
		TEE_FreeTransientObject(ikm_obj);
	FOC_PROF_STOP(FOC_PROF_HKDF);
	return ok;
}

bool foc_crypto_ecdh_hkdf(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
			  const uint8_t peer[FOC_EC_POINT_SIZE], const uint8_t *info, size_t info_len,
			  uint8_t key[FOC_AES_KEY_SIZE])
{
	uint8_t secret[32];
	bool ok = foc_p256_ecdh(priv, peer, secret) && foc_crypto_hkdf(secret, info, info_len, key);

	(void)pub;

	foc_wipe(secret, sizeof(secret));
	return ok;
}

static TEE_OperationHandle gcm_operation(const uint8_t *key, uint32_t mode)
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	TEE_Attribute attr;

	if (TEE_AllocateTransientObject(TEE_TYPE_AES, 256, &obj) != TEE_SUCCESS)
		return TEE_HANDLE_NULL;
	TEE_InitRefAttribute(&attr, TEE_ATTR_SECRET_VALUE, key, FOC_AES_KEY_SIZE);
	if (TEE_PopulateTransientObject(obj, &attr, 1) != TEE_SUCCESS ||
	    TEE_AllocateOperation(&op, TEE_ALG_AES_GCM, mode, 256) != TEE_SUCCESS ||
	    TEE_SetOperationKey(op, obj) != TEE_SUCCESS) {
		if (op != TEE_HANDLE_NULL)
			TEE_FreeOperation(op);
		op = TEE_HANDLE_NULL;
	}
	TEE_FreeTransientObject(obj); /* the operation keeps its own copy of the key */
	return op;
}

bool foc_crypto_gcm_seal(const uint8_t key[FOC_AES_KEY_SIZE], const uint8_t nonce[FOC_GCM_NONCE_SIZE],
			 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t len, uint8_t *out)
{
	FOC_PROF_START();
	TEE_OperationHandle op = gcm_operation(key, TEE_MODE_ENCRYPT);
	size_t out_len = len, tag_len = FOC_GCM_TAG_SIZE;
	uint8_t dummy = 0;
	bool ok;

	if (op == TEE_HANDLE_NULL)
		return false;
	ok = TEE_AEInit(op, nonce, FOC_GCM_NONCE_SIZE, FOC_GCM_TAG_SIZE * 8, aad_len, len) == TEE_SUCCESS;
	if (ok && aad_len)
		TEE_AEUpdateAAD(op, aad, aad_len);
	ok = ok && TEE_AEEncryptFinal(op, len ? in : &dummy, len, len ? out : &dummy, &out_len, out + len,
				      &tag_len) == TEE_SUCCESS &&
	     out_len == len && tag_len == FOC_GCM_TAG_SIZE;
	TEE_FreeOperation(op);
	FOC_PROF_STOP(FOC_PROF_GCM_SEAL);
	return ok;
}

bool foc_crypto_gcm_open(const uint8_t key[FOC_AES_KEY_SIZE], const uint8_t nonce[FOC_GCM_NONCE_SIZE],
			 const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *out)
{
	TEE_OperationHandle op;
	size_t len, out_len;
	uint8_t dummy = 0, tag[FOC_GCM_TAG_SIZE];
	bool ok;
	FOC_PROF_START();

	if (in_len < FOC_GCM_TAG_SIZE)
		return false;
	len = in_len - FOC_GCM_TAG_SIZE;
	memcpy(tag, in + len, FOC_GCM_TAG_SIZE);
	out_len = len;
	op = gcm_operation(key, TEE_MODE_DECRYPT);
	if (op == TEE_HANDLE_NULL)
		return false;
	ok = TEE_AEInit(op, nonce, FOC_GCM_NONCE_SIZE, FOC_GCM_TAG_SIZE * 8, aad_len, len) == TEE_SUCCESS;
	if (ok && aad_len)
		TEE_AEUpdateAAD(op, aad, aad_len);
	/* TEE_ERROR_MAC_INVALID when the tag does not match */
	ok = ok && TEE_AEDecryptFinal(op, len ? in : &dummy, len, len ? out : &dummy, &out_len, tag,
				      FOC_GCM_TAG_SIZE) == TEE_SUCCESS &&
	     out_len == len;
	TEE_FreeOperation(op);
	if (!ok && len)
		foc_wipe(out, len);
	FOC_PROF_STOP(FOC_PROF_GCM_OPEN);
	return ok;
}

bool foc_crypto_rsa_pss_verify(const uint8_t *spki, size_t spki_len, const uint8_t digest[FOC_HASH_SIZE],
			       const uint8_t *sig, size_t sig_len)
{
	TEE_ObjectHandle key = TEE_HANDLE_NULL;
	TEE_OperationHandle op = TEE_HANDLE_NULL;
	TEE_Attribute attrs[2], salt;
	const uint8_t *n = NULL, *e = NULL;
	size_t n_len = 0, e_len = 0;
	bool ok;

	/* 2048..4096-bit keys, the signature as long as the modulus: checked before OP-TEE sees them */
	if (!foc_rsa_spki(spki, spki_len, &n, &n_len, &e, &e_len) || n_len < 256 || n_len > 512 || e_len > 8 ||
	    sig_len != n_len)
		return false;
	TEE_InitRefAttribute(&attrs[0], TEE_ATTR_RSA_MODULUS, n, n_len);
	TEE_InitRefAttribute(&attrs[1], TEE_ATTR_RSA_PUBLIC_EXPONENT, e, e_len);
	TEE_InitValueAttribute(&salt, TEE_ATTR_RSA_PSS_SALT_LENGTH, FOC_HASH_SIZE, 0);
	ok = TEE_AllocateTransientObject(TEE_TYPE_RSA_PUBLIC_KEY, n_len * 8, &key) == TEE_SUCCESS &&
	     TEE_PopulateTransientObject(key, attrs, 2) == TEE_SUCCESS &&
	     TEE_AllocateOperation(&op, TEE_ALG_RSASSA_PKCS1_PSS_MGF1_SHA256, TEE_MODE_VERIFY, n_len * 8) ==
		     TEE_SUCCESS &&
	     TEE_SetOperationKey(op, key) == TEE_SUCCESS &&
	     TEE_AsymmetricVerifyDigest(op, &salt, 1, digest, FOC_HASH_SIZE, sig, sig_len) == TEE_SUCCESS;
	if (op != TEE_HANDLE_NULL)
		TEE_FreeOperation(op);
	if (key != TEE_HANDLE_NULL)
		TEE_FreeTransientObject(key);
	return ok;
}

/* ---------------------------------------------------------------- sealed objects */

/*
 * A write-through copy of each sealed object in the TA instance's private heap: reading an
 * object from REE FS secure storage costs ~70 ms under QEMU, and every confidential
 * invocation needs both. The copy dies with the instance (TEE_Panic, unload).
 */
#define CACHED_OBJECTS 2

static struct cached_object {
	char id[32];
	uint8_t *data;
	size_t len;
} cached[CACHED_OBJECTS];

static struct cached_object *cache_slot(const char *id, bool create)
{
	size_t i;

	for (i = 0; i < CACHED_OBJECTS; i++)
		if (cached[i].data && strcmp(cached[i].id, id) == 0)
			return &cached[i];
	if (!create || strlen(id) >= sizeof(cached[0].id))
		return NULL;
	for (i = 0; i < CACHED_OBJECTS; i++)
		if (!cached[i].data)
			return &cached[i];
	return NULL;
}

static void cache_put(const char *id, const uint8_t *data, size_t len)
{
	struct cached_object *slot = cache_slot(id, true);

	if (!slot)
		return;
	if (slot->data) {
		foc_wipe(slot->data, slot->len);
		TEE_Free(slot->data);
		slot->data = NULL;
	}
	slot->data = TEE_Malloc(len ? len : 1, TEE_MALLOC_FILL_ZERO);
	if (!slot->data)
		return; /* no copy: the next load reads storage again */
	memcpy(slot->data, data, len);
	slot->len = len;
	memcpy(slot->id, id, strlen(id) + 1);
}

static enum foc_storage_result load_from_storage(const char *id, uint8_t *buf, size_t cap, size_t *len);

enum foc_storage_result foc_storage_load(const char *id, uint8_t *buf, size_t cap, size_t *len)
{
	struct cached_object *slot = cache_slot(id, false);
	enum foc_storage_result res;
	FOC_PROF_START();

	if (slot) {
		if (slot->len > cap)
			return FOC_STORAGE_ERROR;
		memcpy(buf, slot->data, slot->len);
		*len = slot->len;
		return FOC_STORAGE_OK;
	}
	res = load_from_storage(id, buf, cap, len);
	if (res == FOC_STORAGE_OK)
		cache_put(id, buf, *len);
	FOC_PROF_STOP(FOC_PROF_STORAGE);
	return res;
}

static enum foc_storage_result load_from_storage(const char *id, uint8_t *buf, size_t cap, size_t *len)
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	TEE_ObjectInfo info;
	size_t count = 0;
	TEE_Result res;
	enum foc_storage_result out = FOC_STORAGE_ERROR;

	res = TEE_OpenPersistentObject(TEE_STORAGE_PRIVATE, id, strlen(id), TEE_DATA_FLAG_ACCESS_READ, &obj);
	if (res == TEE_ERROR_ITEM_NOT_FOUND)
		return FOC_STORAGE_NOT_FOUND;
	if (res != TEE_SUCCESS)
		return FOC_STORAGE_ERROR;
	if (TEE_GetObjectInfo1(obj, &info) == TEE_SUCCESS && info.dataSize <= cap &&
	    TEE_ReadObjectData(obj, buf, info.dataSize, &count) == TEE_SUCCESS && count == info.dataSize) {
		*len = count;
		out = FOC_STORAGE_OK;
	}
	TEE_CloseObject(obj);
	return out;
}

enum foc_storage_result foc_storage_store(const char *id, const uint8_t *data, size_t len)
{
	TEE_ObjectHandle obj = TEE_HANDLE_NULL;
	uint32_t flags = TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE | TEE_DATA_FLAG_ACCESS_WRITE_META |
			 TEE_DATA_FLAG_OVERWRITE;

	/* OVERWRITE replaces an existing object atomically. */
	if (TEE_CreatePersistentObject(TEE_STORAGE_PRIVATE, id, strlen(id), flags, TEE_HANDLE_NULL, data, len,
				       &obj) != TEE_SUCCESS)
		return FOC_STORAGE_ERROR;
	TEE_CloseObject(obj);
	cache_put(id, data, len);
	return FOC_STORAGE_OK;
}

/* ---------------------------------------------------------------- evidence */

bool foc_platform_evidence(const uint8_t nonce[FOC_HASH_SIZE], uint8_t *out, size_t cap, size_t *len)
{
	static const TEE_UUID pta = PTA_ATTESTATION_UUID;
	static const char kind[] = EVIDENCE_KIND;
	TEE_TASessionHandle sess = TEE_HANDLE_NULL;
	TEE_Param params[TEE_NUM_PARAMS];
	uint8_t nonce_copy[FOC_HASH_SIZE];
	uint8_t *pta_out = TEE_Malloc(MAX_PTA_OUTPUT, TEE_MALLOC_FILL_ZERO);
	uint32_t origin = 0;
	struct foc_writer w;
	bool ok = false;
	FOC_PROF_START();

	if (!pta_out)
		return false;
	memcpy(nonce_copy, nonce, sizeof(nonce_copy));
	if (TEE_OpenTASession(&pta, TEE_TIMEOUT_INFINITE, 0, NULL, &sess, &origin) != TEE_SUCCESS)
		goto out;
	memset(params, 0, sizeof(params));
	params[0].memref.buffer = nonce_copy;
	params[0].memref.size = sizeof(nonce_copy);
	params[1].memref.buffer = pta_out;
	params[1].memref.size = MAX_PTA_OUTPUT;
	/* out = measurement (32 B) || RSA-PSS signature over SHA-256(nonce || measurement) */
	if (TEE_InvokeTACommand(sess, TEE_TIMEOUT_INFINITE, PTA_ATTESTATION_HASH_TA_MEMORY,
				TEE_PARAM_TYPES(TEE_PARAM_TYPE_MEMREF_INPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT,
						TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE),
				params, &origin) != TEE_SUCCESS ||
	    params[1].memref.size <= FOC_HASH_SIZE || params[1].memref.size > MAX_PTA_OUTPUT)
		goto out;
	foc_writer_init(&w, out, cap);
	foc_write_u32(&w, FOC_CONF_EVIDENCE_MAGIC);
	foc_write_bytes(&w, (const uint8_t *)kind, sizeof(kind) - 1);
	foc_write_bytes(&w, pta_out, FOC_HASH_SIZE);
	foc_write_bytes(&w, pta_out + FOC_HASH_SIZE, (uint32_t)(params[1].memref.size - FOC_HASH_SIZE));
	*len = w.len;
	ok = foc_writer_fits(&w);
out:
	if (sess != TEE_HANDLE_NULL)
		TEE_CloseTASession(sess);
	TEE_Free(pta_out);
	FOC_PROF_STOP(FOC_PROF_EVIDENCE);
	return ok;
}
