/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C unit tests of confidential mode (docs/confidential-protocol.md) on the native platform:
 * enclave lifecycle, every wire format the TA produces, and the negative cases. The client
 * side is built here from the platform's crypto primitives plus OpenSSL for verification;
 * the independent Python implementation is exercised by tests/native/test_confidential.py.
 */
#define _GNU_SOURCE /* memmem */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <foc_ta.h>

#include "crypto_native.h"
#include "foc_codec.h"
#include "foc_commands.h"
#include "foc_crypto.h"
#include "platform_test.h"

static int passed, failed;

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (cond) {                                                                  \
			passed++;                                                            \
		} else {                                                                     \
			failed++;                                                            \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, \
				__func__, #cond);                                            \
		}                                                                            \
	} while (0)

#define CHANNEL "dev"
#define CHAINCODE "coffee"

static uint8_t out[FOC_MAX_OUTPUT];
static size_t out_len;
static uint32_t msg;

struct buf {
	uint8_t data[8192];
	size_t len;
};

static void put_u8(struct buf *b, uint8_t v)
{
	b->data[b->len++] = v;
}

static void put_u32(struct buf *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		put_u8(b, (uint8_t)(v >> (8 * i)));
}

static void put_bytes(struct buf *b, const void *p, uint32_t n)
{
	put_u32(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void put_str(struct buf *b, const char *s)
{
	put_bytes(b, s, (uint32_t)strlen(s));
}

/* A command through the TA's command table, as TA_InvokeCommandEntryPoint runs it. */
static bool run(struct foc_session *s, uint32_t cmd, const void *in, size_t len)
{
	out_len = sizeof(out);
	return foc_test_run(s, cmd, in, len, out, &out_len, &msg) == FOC_TEE_SUCCESS;
}

/* The FOC_ERR_* code of an error output (0 if the output is not an error) and its message. */
static uint32_t error_code(char *message, size_t cap)
{
	struct foc_reader r;
	uint32_t code = 0, n = 0;
	const uint8_t *p = NULL;

	if (msg != FOC_MSG_ERROR)
		return 0;
	foc_reader_init(&r, out, out_len);
	if (foc_read_u32(&r, &code) != FOC_READ_OK || foc_read_bytes(&r, 4096, &p, &n) != FOC_READ_OK)
		return 0;
	if (message) {
		snprintf(message, cap, "%.*s", (int)n, (const char *)p);
	}
	return code;
}

/* key_policy := u32 FKP1 u32 n { bytes id(32) }: the trusted device key ids, in the given order */
static struct buf key_policy(int n, const uint8_t (*ids)[FOC_HASH_SIZE])
{
	struct buf b = { .len = 0 };

	put_u32(&b, FOC_CONF_POLICY_MAGIC);
	put_u32(&b, (uint32_t)n);
	for (int i = 0; i < n; i++)
		put_bytes(&b, ids[i], FOC_HASH_SIZE);
	return b;
}

static struct buf config_with(const char *channel, const char *version, int mode, const struct buf *policy)
{
	struct buf b = { .len = 0 };

	put_u32(&b, FOC_CONF_CONFIG_MAGIC);
	put_str(&b, CHAINCODE);
	put_str(&b, version);
	put_str(&b, channel);
	put_str(&b, "native-1:7052");
	put_u8(&b, (uint8_t)mode);
	put_bytes(&b, policy->data, (uint32_t)policy->len);
	return b;
}

static struct buf config(const char *channel, const char *version, int mode)
{
	struct buf none = key_policy(0, NULL);

	return config_with(channel, version, mode, &none);
}

/* ------------------------------------------------------------------ credentials */

struct credentials {
	uint8_t raw[4096];
	size_t raw_len;
	const uint8_t *attested;
	uint32_t attested_len;
	uint8_t enclave_pub[FOC_EC_POINT_SIZE], chaincode_pub[FOC_EC_POINT_SIZE], policy_digest[FOC_HASH_SIZE];
	uint8_t measurement[FOC_HASH_SIZE];
	const uint8_t *kind, *sig;
	uint32_t kind_len, sig_len;
};

static bool read_fixed(struct foc_reader *r, uint8_t *dst, uint32_t size)
{
	const uint8_t *p = NULL;
	uint32_t n = 0;

	if (foc_read_bytes(r, size, &p, &n) != FOC_READ_OK || n != size)
		return false;
	memcpy(dst, p, size);
	return true;
}

static bool decode_credentials(struct credentials *c)
{
	struct foc_reader r, a, e;
	const uint8_t *ev = NULL, *p = NULL;
	uint32_t ev_len = 0, magic = 0, n = 0;
	int i;

	memcpy(c->raw, out, out_len);
	c->raw_len = out_len;
	foc_reader_init(&r, c->raw, c->raw_len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || magic != FOC_CONF_CREDENTIALS_MAGIC ||
	    foc_read_bytes(&r, 4096, &c->attested, &c->attested_len) != FOC_READ_OK ||
	    foc_read_bytes(&r, 4096, &ev, &ev_len) != FOC_READ_OK || !foc_reader_at_end(&r))
		return false;
	foc_reader_init(&a, c->attested, c->attested_len);
	if (foc_read_u32(&a, &magic) != FOC_READ_OK || magic != FOC_CONF_ATTESTED_MAGIC)
		return false;
	for (i = 0; i < 4; i++)
		if (foc_read_bytes(&a, 256, &p, &n) != FOC_READ_OK || n == 0)
			return false;
	if (!read_fixed(&a, c->enclave_pub, FOC_EC_POINT_SIZE) || !read_fixed(&a, c->chaincode_pub, FOC_EC_POINT_SIZE) ||
	    !read_fixed(&a, c->policy_digest, FOC_HASH_SIZE) || !foc_reader_at_end(&a))
		return false;
	foc_reader_init(&e, ev, ev_len);
	return foc_read_u32(&e, &magic) == FOC_READ_OK && magic == FOC_CONF_EVIDENCE_MAGIC &&
	       foc_read_bytes(&e, 64, &c->kind, &c->kind_len) == FOC_READ_OK &&
	       read_fixed(&e, c->measurement, FOC_HASH_SIZE) &&
	       foc_read_bytes(&e, 512, &c->sig, &c->sig_len) == FOC_READ_OK && foc_reader_at_end(&e);
}

/* RSA-PSS over SHA-256(SHA-256(attested) || measurement) with the published test key. */
static bool evidence_verifies(const struct credentials *c)
{
	uint8_t both[2 * FOC_HASH_SIZE], digest[FOC_HASH_SIZE];
	BIO *bio = BIO_new_mem_buf(foc_native_insecure_device_key_pem, -1);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	bool ok;

	foc_crypto_sha256(c->attested, c->attested_len, both);
	memcpy(both + FOC_HASH_SIZE, c->measurement, FOC_HASH_SIZE);
	foc_crypto_sha256(both, sizeof(both), digest);
	ok = EVP_PKEY_verify_init(ctx) == 1 && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) == 1 &&
	     EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, FOC_HASH_SIZE) == 1 &&
	     EVP_PKEY_verify(ctx, c->sig, c->sig_len, digest, sizeof(digest)) == 1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	BIO_free(bio);
	return ok;
}

static bool create(struct foc_session *s, int force, struct credentials *c)
{
	struct buf b = config(CHANNEL, "v1", force);

	return run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len) && msg == FOC_MSG_RESPONSE && decode_credentials(c);
}

static char storage_root[256]; /* $FOC_NATIVE_STORAGE of the tests */
static char storage_dir[256];  /* the TA's objects in it: storage_root/<TA uuid> */

static int count_files(void)
{
	char cmd[512];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A %s | wc -l", storage_dir);
	p = popen(cmd, "r");
	if (p) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static void clear_storage(void)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/" "foc.enclave.v1", storage_dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/" "foc.chaincode.v1", storage_dir);
	unlink(path);
}

static void test_lifecycle(void)
{
	struct foc_session *s = foc_session_new();
	struct credentials first, second;
	uint8_t label_hash[FOC_HASH_SIZE];
	char message[1100];
	struct buf b;

	clear_storage();
	CHECK(run(s, FOC_CMD_ENCLAVE_CREDENTIALS, NULL, 0) && error_code(message, sizeof(message)) == FOC_ERR_NOT_FOUND);
	CHECK(create(s, 0, &first));
	CHECK(first.kind_len == strlen(FOC_NATIVE_EVIDENCE_KIND) &&
	      memcmp(first.kind, FOC_NATIVE_EVIDENCE_KIND, first.kind_len) == 0);
	foc_crypto_sha256((const uint8_t *)FOC_NATIVE_MEASUREMENT_LABEL, strlen(FOC_NATIVE_MEASUREMENT_LABEL),
			  label_hash);
	CHECK(memcmp(first.measurement, label_hash, FOC_HASH_SIZE) == 0);
	CHECK(first.sig_len == 256 && evidence_verifies(&first));
	CHECK(first.enclave_pub[0] == 4 && first.chaincode_pub[0] == 4);
	/* evidence does not verify over other attested data */
	first.raw[first.attested - first.raw + 10] ^= 1;
	CHECK(!evidence_verifies(&first));
	first.raw[first.attested - first.raw + 10] ^= 1;

	CHECK(run(s, FOC_CMD_ENCLAVE_CREDENTIALS, NULL, 0) && msg == FOC_MSG_RESPONSE && out_len == first.raw_len &&
	      memcmp(out, first.raw, out_len) == 0);
	b = config(CHANNEL, "v1", 0);
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len) && error_code(message, sizeof(message)) == FOC_ERR_EXISTS);
	CHECK(strstr(message, "force") != NULL);
	CHECK(create(s, 1, &second));
	CHECK(memcmp(second.enclave_pub, first.enclave_pub, FOC_EC_POINT_SIZE) != 0);
	CHECK(memcmp(second.chaincode_pub, first.chaincode_pub, FOC_EC_POINT_SIZE) == 0);
	/* a "restart": a new session (nothing is cached) sees the same sealed credentials */
	foc_session_free(s);
	s = foc_session_new();
	CHECK(run(s, FOC_CMD_ENCLAVE_CREDENTIALS, NULL, 0) && msg == FOC_MSG_RESPONSE &&
	      out_len == second.raw_len && memcmp(out, second.raw, out_len) == 0);

	/* a short output buffer: nothing stored, the same command succeeds with room */
	clear_storage();
	b = config(CHANNEL, "v1", 0);
	out_len = 100;
	CHECK(foc_test_run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len, out, &out_len, &msg) == FOC_TEE_ERROR_SHORT_BUFFER);
	CHECK(out_len > 100 && count_files() == 0);
	CHECK(create(s, 0, &first));
	foc_session_free(s);
}

static void test_config_negative(void)
{
	struct foc_session *s = foc_session_new();
	struct buf b, long_id = { .len = 0 };
	char big[300];
	uint32_t code;

	clear_storage();
	b = config(CHANNEL, "v1", 0);
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len - 1) && error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	b.data[b.len++] = 0;
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len) && error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	b = config(CHANNEL, "v1", 3);
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len) && error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	b = config("", "v1", 0);
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len) && error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	b = config(CHANNEL, "v1", 0);
	b.data[0] ^= 1;
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len) && error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, NULL, 0) && error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	memset(big, 'x', 257);
	big[257] = 0;
	b = config(big, "v1", 0); /* one past FOC_MAX_IDENTIFIER */
	code = (run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len), error_code(NULL, 0));
	CHECK(code == FOC_ERR_BAD_REQUEST || code == FOC_ERR_LIMIT);
	big[256] = 0;
	b = config(big, "v1", 0); /* exactly at the limit: accepted */
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len) && msg == FOC_MSG_RESPONSE);
	clear_storage();
	memset(long_id.data, 'y', 4000);
	long_id.len = 4000;
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, long_id.data, long_id.len) && error_code(NULL, 0) == FOC_ERR_LIMIT);
	CHECK(count_files() == 0);
	foc_session_free(s);
}

/* ------------------------------------------------------------------ confidential invocations */

struct client {
	struct credentials creds;
	uint8_t request[8192];     /* the confidential_invocation (FCI1) the proxy would pass */
	size_t request_len;
	uint8_t request_hash[FOC_HASH_SIZE]; /* of the confidential_request (FCR2) inside it */
	uint8_t response_key[FOC_AES_KEY_SIZE];
	/* the context: the creator inside the request, the one the peer reports, transient data */
	const char *msp, *cert, *peer_msp, *peer_cert;
	const char *transient[4][2];
	uint32_t ntransient;
};

/* context := bytes msp bytes cert u32 n { bytes key bytes value } */
static void put_context(struct buf *b, const char *msp, const char *cert, const char *(*transient)[2],
			uint32_t n)
{
	uint32_t i;

	put_str(b, msp ? msp : "");
	put_str(b, cert ? cert : "");
	put_u32(b, n);
	for (i = 0; i < n; i++) {
		put_str(b, transient[i][0]);
		put_str(b, transient[i][1]);
	}
}

/* Encrypt (function, args...) for the enclave's chaincode key, on channel/chaincode. */
static void client_request(struct client *c, const char *channel, const char *chaincode, const char *function, ...)
{
	uint8_t priv[FOC_EC_PRIVATE_SIZE], pub[FOC_EC_POINT_SIZE], key[FOC_AES_KEY_SIZE];
	uint8_t info[14 + 2 * FOC_EC_POINT_SIZE], nonce[FOC_GCM_NONCE_SIZE];
	struct buf pt = { .len = 0 }, req = { .len = 0 };
	const char *args[8];
	uint32_t n = 0, i;
	va_list ap;

	args[n++] = function;
	va_start(ap, function);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
		args[n++] = a;
	va_end(ap);
	put_str(&pt, channel);
	put_str(&pt, chaincode);
	put_u32(&pt, n);
	for (i = 0; i < n; i++)
		put_str(&pt, args[i]);
	put_context(&pt, c->msp, c->cert, c->transient, c->ntransient);
	foc_crypto_random(c->response_key, sizeof(c->response_key));
	put_bytes(&pt, c->response_key, FOC_AES_KEY_SIZE);

	foc_crypto_ec_generate(priv, pub);
	memcpy(info, "FOC/v2/request", 14);
	memcpy(info + 14, pub, FOC_EC_POINT_SIZE);
	memcpy(info + 14 + FOC_EC_POINT_SIZE, c->creds.chaincode_pub, FOC_EC_POINT_SIZE);
	/* ECDH is symmetric: the client's (ephemeral, chaincode_pub) gives the TA's key */
	CHECK(foc_crypto_ecdh_hkdf(priv, pub, c->creds.chaincode_pub, info, sizeof(info), key));
	foc_crypto_random(nonce, sizeof(nonce));
	put_u32(&req, FOC_CONF_REQUEST_MAGIC);
	put_bytes(&req, pub, FOC_EC_POINT_SIZE);
	put_bytes(&req, nonce, FOC_GCM_NONCE_SIZE);
	put_u32(&req, (uint32_t)(pt.len + FOC_GCM_TAG_SIZE));
	CHECK(foc_crypto_gcm_seal(key, nonce, (const uint8_t *)"FOC/v2/request", 14, pt.data, pt.len,
				  req.data + req.len));
	req.len += pt.len + FOC_GCM_TAG_SIZE;
	foc_crypto_sha256(req.data, req.len, c->request_hash);
	/* confidential_invocation := FCI1 bytes request bytes peer_msp bytes peer_cert */
	pt.len = 0;
	put_u32(&pt, FOC_CONF_INVOKE_MAGIC);
	put_bytes(&pt, req.data, (uint32_t)req.len);
	put_str(&pt, c->peer_msp ? c->peer_msp : (c->msp ? c->msp : ""));
	put_str(&pt, c->peer_cert ? c->peer_cert : (c->cert ? c->cert : ""));
	memcpy(c->request, pt.data, pt.len);
	c->request_len = pt.len;
}

struct response {
	uint32_t status;
	char payload[2048];
	uint32_t nreads, nwrites, nranges;
	uint8_t creator_hash[FOC_HASH_SIZE];
	char read_keys[4][64];
	uint8_t read_found[4], read_hash[4][FOC_HASH_SIZE];
	char range_start[4][64], range_end[4][64];
	uint32_t range_start_len[4], range_end_len[4];
	uint8_t results_hash[4][FOC_HASH_SIZE];
	char write_keys[4][64];
	uint8_t stored[4][256];
	uint32_t stored_len[4];
};

static bool ecdsa_verifies(const uint8_t pub[FOC_EC_POINT_SIZE], const uint8_t *m, size_t len, const uint8_t *sig)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *key = NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	ECDSA_SIG *s = ECDSA_SIG_new();
	unsigned char *der = NULL;
	int der_len;
	bool ok;

	OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
	OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, FOC_EC_POINT_SIZE);
	params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_fromdata_init(ctx);
	EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
	ECDSA_SIG_set0(s, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
	der_len = i2d_ECDSA_SIG(s, &der);
	/* plain ECDSA-with-SHA-256 over the message, as the Python verifier does */
	ok = key && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	     EVP_DigestVerify(md, der, (size_t)der_len, m, len) == 1;
	OPENSSL_free(der);
	ECDSA_SIG_free(s);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	return ok;
}

/* Verify and decode FOC_MSG_CONFIDENTIAL_RESPONSE; false on any deviation from the contract. */
static bool open_response(const struct client *c, struct response *resp)
{
	struct foc_reader r, m, e;
	const uint8_t *signed_msg = NULL, *sig = NULL, *p = NULL, *nonce = NULL, *ct = NULL, *er = NULL;
	uint32_t signed_len = 0, sig_len = 0, n = 0, magic = 0, nonce_len = 0, ct_len = 0, er_len = 0, i;
	uint8_t digest[FOC_HASH_SIZE], plain[2048 + 8];
	char id[2 * FOC_HASH_SIZE + 1];

	memset(resp, 0, sizeof(*resp));
	if (msg != FOC_MSG_CONFIDENTIAL_RESPONSE)
		return false;
	foc_reader_init(&r, out, out_len);
	if (foc_read_bytes(&r, FOC_MAX_OUTPUT, &signed_msg, &signed_len) != FOC_READ_OK ||
	    foc_read_bytes(&r, 64, &sig, &sig_len) != FOC_READ_OK || sig_len != 64 || !foc_reader_at_end(&r))
		return false;
	if (!ecdsa_verifies(c->creds.enclave_pub, signed_msg, signed_len, sig))
		return false;
	foc_reader_init(&m, signed_msg, signed_len);
	foc_crypto_sha256(c->creds.enclave_pub, FOC_EC_POINT_SIZE, digest);
	for (i = 0; i < FOC_HASH_SIZE; i++)
		snprintf(id + 2 * i, 3, "%02x", digest[i]);
	if (foc_read_u32(&m, &magic) != FOC_READ_OK || magic != FOC_CONF_SIGNED_MAGIC ||
	    foc_read_bytes(&m, 64, &p, &n) != FOC_READ_OK || n != 64 || memcmp(p, id, 64) != 0 ||
	    foc_read_bytes(&m, 32, &p, &n) != FOC_READ_OK || n != 32 || memcmp(p, c->request_hash, 32) != 0 ||
	    !read_fixed(&m, resp->creator_hash, FOC_HASH_SIZE) ||
	    foc_read_u32(&m, &resp->nreads) != FOC_READ_OK || resp->nreads > 4)
		return false;
	for (i = 0; i < resp->nreads; i++) {
		if (foc_read_bytes(&m, 63, &p, &n) != FOC_READ_OK)
			return false;
		memcpy(resp->read_keys[i], p, n);
		if (foc_read_u8(&m, &resp->read_found[i]) != FOC_READ_OK ||
		    !read_fixed(&m, resp->read_hash[i], FOC_HASH_SIZE))
			return false;
	}
	if (foc_read_u32(&m, &resp->nranges) != FOC_READ_OK || resp->nranges > 4)
		return false;
	for (i = 0; i < resp->nranges; i++) {
		if (foc_read_bytes(&m, 63, &p, &resp->range_start_len[i]) != FOC_READ_OK)
			return false;
		memcpy(resp->range_start[i], p, resp->range_start_len[i]);
		if (foc_read_bytes(&m, 63, &p, &resp->range_end_len[i]) != FOC_READ_OK)
			return false;
		memcpy(resp->range_end[i], p, resp->range_end_len[i]);
		if (!read_fixed(&m, resp->results_hash[i], FOC_HASH_SIZE))
			return false;
	}
	if (foc_read_u32(&m, &resp->nwrites) != FOC_READ_OK || resp->nwrites > 4)
		return false;
	for (i = 0; i < resp->nwrites; i++) {
		uint8_t del = 0;

		if (foc_read_bytes(&m, 63, &p, &n) != FOC_READ_OK)
			return false;
		memcpy(resp->write_keys[i], p, n);
		if (foc_read_u8(&m, &del) != FOC_READ_OK || del ||
		    foc_read_bytes(&m, 256, &p, &resp->stored_len[i]) != FOC_READ_OK || resp->stored_len[i] < 40)
			return false;
		memcpy(resp->stored[i], p, resp->stored_len[i]);
	}
	if (foc_read_bytes(&m, 4096, &er, &er_len) != FOC_READ_OK || !foc_reader_at_end(&m))
		return false;
	foc_reader_init(&e, er, er_len);
	if (foc_read_bytes(&e, 12, &nonce, &nonce_len) != FOC_READ_OK || nonce_len != 12 ||
	    foc_read_bytes(&e, sizeof(plain) + 16, &ct, &ct_len) != FOC_READ_OK || ct_len < 24 ||
	    !foc_reader_at_end(&e) ||
	    !foc_crypto_gcm_open(c->response_key, nonce, c->request_hash, FOC_HASH_SIZE, ct, ct_len, plain))
		return false;
	foc_reader_init(&e, plain, ct_len - 16);
	if (foc_read_u32(&e, &resp->status) != FOC_READ_OK || foc_read_bytes(&e, 2047, &p, &n) != FOC_READ_OK ||
	    !foc_reader_at_end(&e))
		return false;
	memcpy(resp->payload, p, n);
	return true;
}

static void answer(struct foc_session *s, const uint8_t *stored, uint32_t len, int found)
{
	struct buf b = { .len = 0 };

	put_u8(&b, (uint8_t)found);
	put_bytes(&b, stored, len);
	CHECK(run(s, FOC_CMD_RESUME, b.data, b.len));
}

/* The sealed state key, read from the native (insecure) storage to check stored values. */
static bool state_key(uint8_t key[FOC_AES_KEY_SIZE])
{
	uint8_t buf[512];
	size_t len = 0;

	/* u32 version(2) bytes priv(32) bytes pub(65) bytes state_key(32) bytes key_policy */
	if (foc_storage_load("foc.chaincode.v1", buf, sizeof(buf), &len) != FOC_STORAGE_OK || len < 4 + 36 + 69 + 36)
		return false;
	memcpy(key, buf + 4 + 36 + 69 + 4, FOC_AES_KEY_SIZE);
	return true;
}

static void test_invocations(void)
{
	struct foc_session *s = foc_session_new();
	struct client c = { .msp = NULL };
	struct response resp;
	uint8_t empty_hash[FOC_HASH_SIZE], h[FOC_HASH_SIZE], key[FOC_AES_KEY_SIZE], value[64];
	uint8_t alice[256], bad[256];
	uint32_t alice_len;
	char message[1100];
	struct buf big = { .len = 0 };

	clear_storage();
	CHECK(create(s, 0, &c.creds));
	foc_crypto_sha256(NULL, 0, empty_hash);

	/* create alice 3: GET_STATE alice, not found, then the signed, encrypted response */
	client_request(&c, CHANNEL, CHAINCODE, "create", "alice", "3", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) && msg == FOC_MSG_GET_STATE);
	answer(s, NULL, 0, 0);
	CHECK(open_response(&c, &resp));
	CHECK(resp.status == 200 && strcmp(resp.payload, "OK") == 0);
	CHECK(resp.nreads == 1 && strcmp(resp.read_keys[0], "alice") == 0 && resp.read_found[0] == 0 &&
	      memcmp(resp.read_hash[0], empty_hash, 32) == 0);
	CHECK(resp.nwrites == 1 && strcmp(resp.write_keys[0], "alice") == 0);
	alice_len = resp.stored_len[0];
	memcpy(alice, resp.stored[0], alice_len);
	/* stored_value = FCS1, nonce, AES-GCM(state key, "3", "FOC/v1/state" || "alice") */
	CHECK(alice_len == 40 + 1 && memcmp(alice, "FCS1", 4) == 0 && state_key(key));
	CHECK(foc_crypto_gcm_open(key, alice + 8, (const uint8_t *)"FOC/v1/statealice", 17, alice + 24, 17, value) &&
	      value[0] == '3');
	CHECK(!foc_crypto_gcm_open(key, alice + 8, (const uint8_t *)"FOC/v1/statebob", 15, alice + 24, 17, value));

	/* query alice: the read hash covers the stored bytes */
	client_request(&c, CHANNEL, CHAINCODE, "query", "alice", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) && msg == FOC_MSG_GET_STATE);
	answer(s, alice, alice_len, 1);
	CHECK(open_response(&c, &resp));
	foc_crypto_sha256(alice, alice_len, h);
	CHECK(resp.status == 200 && strcmp(resp.payload, "person: alice, number of consumed coffees: 3") == 0);
	CHECK(resp.nreads == 1 && resp.read_found[0] == 1 && memcmp(resp.read_hash[0], h, 32) == 0 &&
	      resp.nwrites == 0);

	/* chaincode error: status 500 "EXISTS: ...", signed, no writes, the read still recorded */
	client_request(&c, CHANNEL, CHAINCODE, "create", "alice", "1", NULL);
	run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len);
	answer(s, alice, alice_len, 1);
	CHECK(open_response(&c, &resp));
	CHECK(resp.status == 500 && strncmp(resp.payload, "EXISTS: ", 8) == 0 && resp.nwrites == 0 && resp.nreads == 1);

	/* alice's value served for bob: bound to its key, it fails authentication */
	client_request(&c, CHANNEL, CHAINCODE, "query", "bob", NULL);
	run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len);
	answer(s, alice, alice_len, 1);
	CHECK(error_code(message, sizeof(message)) == FOC_ERR_INCONSISTENT &&
	      strcmp(message, "state value for bob failed authentication") == 0);
	/* each byte of a stored value matters (magic, lengths, nonce, ciphertext, tag) */
	for (uint32_t i = 0; i < alice_len; i++) {
		memcpy(bad, alice, alice_len);
		bad[i] ^= 0x40;
		client_request(&c, CHANNEL, CHAINCODE, "query", "alice", NULL);
		run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len);
		answer(s, bad, alice_len, 1);
		CHECK(error_code(message, sizeof(message)) == FOC_ERR_INCONSISTENT && strstr(message, "alice"));
	}
	/* found with an empty value, or a truncated value: inconsistent */
	client_request(&c, CHANNEL, CHAINCODE, "query", "alice", NULL);
	run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len);
	answer(s, NULL, 0, 1);
	CHECK(error_code(NULL, 0) == FOC_ERR_INCONSISTENT);
	/* a state answer at the limit counts the ciphertext overhead; one more byte is refused */
	put_u8(&big, 1);
	put_u32(&big, FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD + 1);
	client_request(&c, CHANNEL, CHAINCODE, "query", "alice", NULL);
	run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len);
	{
		static uint8_t huge[1 + 4 + FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD + 1];

		memcpy(huge, big.data, big.len);
		CHECK(run(s, FOC_CMD_RESUME, huge, sizeof(huge)) && error_code(message, sizeof(message)) == FOC_ERR_LIMIT);
		client_request(&c, CHANNEL, CHAINCODE, "query", "alice", NULL);
		run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len);
		huge[1] = (uint8_t)(FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD);
		huge[2] = (uint8_t)((FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD) >> 8);
		huge[3] = (uint8_t)((FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD) >> 16);
		CHECK(run(s, FOC_CMD_RESUME, huge, sizeof(huge) - 1) && error_code(NULL, 0) == FOC_ERR_INCONSISTENT);
	}

	/* requests: wrong channel / chaincode, tampered bytes, truncated, trailing, wrong magic */
	client_request(&c, "other", CHAINCODE, "query", "alice", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) &&
	      error_code(message, sizeof(message)) == FOC_ERR_BAD_REQUEST && strstr(message, "another channel"));
	client_request(&c, CHANNEL, "tea", "query", "alice", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) &&
	      error_code(message, sizeof(message)) == FOC_ERR_BAD_REQUEST && strstr(message, "another chaincode"));
	client_request(&c, CHANNEL, CHAINCODE, "query", "alice", NULL);
	for (size_t i = 0; i < c.request_len; i += 7) {
		c.request[i] ^= 1;
		CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) &&
		      error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
		c.request[i] ^= 1;
	}
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len - 1) &&
	      error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	c.request[c.request_len] = 0;
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len + 1) &&
	      error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	/* after all of that the session still works */
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) && msg == FOC_MSG_GET_STATE);
	answer(s, alice, alice_len, 1);
	CHECK(open_response(&c, &resp) && resp.status == 200);
	/* a tampered response does not verify */
	out[40] ^= 1;
	CHECK(!open_response(&c, &resp));
	foc_session_free(s);
}

/* ------------------------------------------------------------------ the two layers */

/* Counted through the linker's --wrap (Makefile): key derivations and decryptions. */
static int ecdh_calls, gcm_open_calls;

bool __real_foc_crypto_ecdh_hkdf(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
				 const uint8_t peer[FOC_EC_POINT_SIZE], const uint8_t *info, size_t info_len,
				 uint8_t key[FOC_AES_KEY_SIZE]);
bool __wrap_foc_crypto_ecdh_hkdf(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
				 const uint8_t peer[FOC_EC_POINT_SIZE], const uint8_t *info, size_t info_len,
				 uint8_t key[FOC_AES_KEY_SIZE]);
bool __real_foc_crypto_gcm_open(const uint8_t key[FOC_AES_KEY_SIZE], const uint8_t nonce[FOC_GCM_NONCE_SIZE],
				const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *plain);
bool __wrap_foc_crypto_gcm_open(const uint8_t key[FOC_AES_KEY_SIZE], const uint8_t nonce[FOC_GCM_NONCE_SIZE],
				const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *plain);

bool __wrap_foc_crypto_ecdh_hkdf(const uint8_t priv[FOC_EC_PRIVATE_SIZE], const uint8_t pub[FOC_EC_POINT_SIZE],
				 const uint8_t peer[FOC_EC_POINT_SIZE], const uint8_t *info, size_t info_len,
				 uint8_t key[FOC_AES_KEY_SIZE])
{
	ecdh_calls++;
	return __real_foc_crypto_ecdh_hkdf(priv, pub, peer, info, info_len, key);
}

bool __wrap_foc_crypto_gcm_open(const uint8_t key[FOC_AES_KEY_SIZE], const uint8_t nonce[FOC_GCM_NONCE_SIZE],
				const uint8_t *aad, size_t aad_len, const uint8_t *in, size_t in_len, uint8_t *plain)
{
	gcm_open_calls++;
	return __real_foc_crypto_gcm_open(key, nonce, aad, aad_len, in, in_len, plain);
}

/* A plaintext request (FOC_REQ_MAGIC) of NUL-terminated strings ending with NULL. */
static struct buf plain_request(const char *function, ...)
{
	struct buf b = { .len = 0 }, args = { .len = 0 };
	uint32_t n = 1;
	va_list ap;

	put_str(&args, function);
	va_start(ap, function);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *), n++)
		put_str(&args, a);
	va_end(ap);
	put_u32(&b, FOC_REQ_MAGIC);
	put_u32(&b, n);
	memcpy(b.data + b.len, args.data, args.len);
	b.len += args.len;
	return b;
}

/* Answer every GET_STATE with "not found" and every range with no entries; the number of round trips. */
static int answer_not_found(struct foc_session *s)
{
	static const uint8_t no_entries[4] = { 0 };
	int trips = 0;

	while ((msg == FOC_MSG_GET_STATE || msg == FOC_MSG_GET_STATE_BY_RANGE) && trips++ < 100) {
		if (msg == FOC_MSG_GET_STATE)
			answer(s, NULL, 0, 0);
		else
			CHECK(run(s, FOC_CMD_RESUME, no_entries, sizeof(no_entries)));
	}
	return trips;
}

/* The same request in both modes: plaintext gives `code` (FOC_OK: payload) with `text`; the
 * confidential response carries the same, as status 500 "<name>: <text>" for an error. */
static void check_modes(struct foc_session *s, struct client *c, const struct buf *plain, uint32_t code,
			const char *name, const char *text, int trips)
{
	char message[2048], expected[2048];
	struct response resp;
	struct foc_reader r;
	const uint8_t *p = NULL;
	uint32_t status = 0, n = 0;

	CHECK(run(s, FOC_CMD_INVOKE, plain->data, plain->len) && answer_not_found(s) == trips);
	if (code == FOC_OK) {
		foc_reader_init(&r, out, out_len);
		CHECK(msg == FOC_MSG_RESPONSE && foc_read_u32(&r, &status) == FOC_READ_OK && status == 200 &&
		      foc_read_bytes(&r, FOC_MAX_PAYLOAD, &p, &n) == FOC_READ_OK && n == strlen(text) &&
		      memcmp(p, text, n) == 0);
	} else {
		CHECK(error_code(message, sizeof(message)) == code && strcmp(message, text) == 0);
	}
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c->request, c->request_len) && answer_not_found(s) == trips);
	snprintf(expected, sizeof(expected), "%s%s%s", name, code == FOC_OK ? "" : ": ", text);
	CHECK(open_response(c, &resp) && resp.status == (code == FOC_OK ? 200 : 500) &&
	      strcmp(resp.payload, expected) == 0);
	if (strcmp(resp.payload, expected) != 0)
		fprintf(stderr, "  expected \"%s\", got \"%s\"\n", expected, resp.payload);
}

/* A stored_value of value for key (key_len bytes), sealed with the enclave's state key as the TA seals it. */
static size_t stored_value_n(const void *key, size_t key_len, const char *value, uint8_t *stored)
{
	uint8_t state[FOC_AES_KEY_SIZE], nonce[FOC_GCM_NONCE_SIZE] = { 9 }, aad[12 + FOC_MAX_KEY];
	struct buf b = { .len = 0 };

	CHECK(state_key(state));
	memcpy(aad, "FOC/v1/state", 12);
	memcpy(aad + 12, key, key_len);
	put_u32(&b, FOC_CONF_STATE_MAGIC);
	put_bytes(&b, nonce, sizeof(nonce));
	put_u32(&b, (uint32_t)(strlen(value) + FOC_GCM_TAG_SIZE));
	CHECK(foc_crypto_gcm_seal(state, nonce, aad, 12 + key_len, (const uint8_t *)value, strlen(value),
				  b.data + b.len));
	b.len += strlen(value) + FOC_GCM_TAG_SIZE;
	memcpy(stored, b.data, b.len);
	return b.len;
}

static size_t stored_value(const char *key, const char *value, uint8_t *stored)
{
	return stored_value_n(key, strlen(key), value, stored);
}

/*
 * The chaincode sees the same in both modes (same arguments, reads, writes, payloads and
 * errors); the confidential layer opens the request once per invocation and each stored
 * value once, however often the chaincode runs again.
 */
static void test_layers(void)
{
	struct foc_session *s = foc_session_new();
	struct client c = { .msp = NULL };
	struct response resp;
	struct buf plain;
	uint8_t stored[256];
	const uint8_t *key = NULL;
	uint32_t key_len = 0;
	struct foc_reader r;
	char name[FOC_MAX_KEY + 1];
	int trips, ecdh, opens;

	clear_storage();
	CHECK(create(s, 0, &c.creds));
#define BOTH(...)                                                            \
	do {                                                                 \
		plain = plain_request(__VA_ARGS__, NULL);                    \
		client_request(&c, CHANNEL, CHAINCODE, __VA_ARGS__, NULL); \
	} while (0)
	BOTH("script", "f", "p:a=1", "g:a", "d:a", "g:a", "g:x", "p:a=2");
	check_modes(s, &c, &plain, FOC_OK, "", "script;a=1;a=-;x=-;", 1);
	BOTH("script", "E:6");
	check_modes(s, &c, &plain, FOC_ERR_EXISTS, "EXISTS", "scripted", 0);
	/* an error code returned without its message gets the code's default message in both */
	BOTH("script", "M:6", "R:7");
	check_modes(s, &c, &plain, FOC_ERR_NOT_FOUND, "NOT_FOUND", "not found", 0);
	BOTH("script", "X");
	check_modes(s, &c, &plain, FOC_ERR_INTERNAL, "INTERNAL", "chaincode returned an invalid status", 0);
	BOTH("script", "g:k", "Y");
	check_modes(s, &c, &plain, FOC_ERR_BAD_ARGUMENT, "BAD_ARGUMENT", "state key is empty", 1);
	BOTH("script", "r:a:c", "g:a", "q:t");
	check_modes(s, &c, &plain, FOC_OK, "", ";a=-;;", 3);
	BOTH("nope");
	check_modes(s, &c, &plain, FOC_ERR_UNKNOWN_FUNCTION, "UNKNOWN_FUNCTION",
		    "unknown function; coffee+script has: create, add, query, script", 0);
	/* the one documented difference: ~foc/ keys are the validator's in confidential mode */
	plain = plain_request("script", "p:~foc/x=1", NULL);
	CHECK(run(s, FOC_CMD_INVOKE, plain.data, plain.len) && msg == FOC_MSG_RESPONSE);
	client_request(&c, CHANNEL, CHAINCODE, "script", "p:~foc/x=1", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) && open_response(&c, &resp) &&
	      resp.status == 500 && strcmp(resp.payload, "BAD_ARGUMENT: state keys starting with ~foc/ are reserved") == 0);
#undef BOTH

	/* three reads: three round trips and four runs, yet one ECDH and one decryption per input */
	client_request(&c, CHANNEL, CHAINCODE, "script", "G:3", "g:k1", NULL);
	ecdh_calls = gcm_open_calls = 0;
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len));
	for (trips = 0; msg == FOC_MSG_GET_STATE && trips < 10; trips++) {
		foc_reader_init(&r, out, out_len);
		CHECK(foc_read_bytes(&r, FOC_MAX_KEY, &key, &key_len) == FOC_READ_OK);
		snprintf(name, sizeof(name), "%.*s", (int)key_len, (const char *)key);
		answer(s, stored, (uint32_t)stored_value(name, "v", stored), 1);
	}
	ecdh = ecdh_calls;
	opens = gcm_open_calls;
	CHECK(trips == 3 && ecdh == 1 && opens == 1 + 3);
	CHECK(open_response(&c, &resp) && resp.status == 200 && strcmp(resp.payload, "k1=v;") == 0 && resp.nreads == 3);
	foc_session_free(s);
}

/* ------------------------------------------------------------------ key distribution */

/* A simulated device: its own "sealed" storage and its own attestation key (NOT a TEE). */
struct device {
	char storage[300], key_file[300];
	uint8_t der[1024];
	size_t der_len;
	uint8_t id[FOC_HASH_SIZE]; /* SHA-256 of the DER SubjectPublicKeyInfo */
};

static void device_init(struct device *d, const char *root, const char *name)
{
	EVP_PKEY *key = EVP_RSA_gen(2048);
	unsigned char *p = d->der;
	FILE *f;

	snprintf(d->storage, sizeof(d->storage), "%s/%s", root, name);
	snprintf(d->key_file, sizeof(d->key_file), "%s/%s.pem", root, name);
	CHECK(mkdir(d->storage, 0700) == 0);
	f = fopen(d->key_file, "w");
	CHECK(f && PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1);
	if (f)
		fclose(f);
	d->der_len = (size_t)i2d_PUBKEY(key, &p);
	foc_crypto_sha256(d->der, d->der_len, d->id);
	EVP_PKEY_free(key);
}

static void use(const struct device *d)
{
	setenv(FOC_NATIVE_STORAGE_ENV, d->storage, 1);
	setenv(FOC_NATIVE_DEVICE_KEY_ENV, d->key_file, 1);
}

/* u32 magic bytes a bytes b */
static struct buf pair(uint32_t magic, const struct buf *a, const void *b, size_t b_len)
{
	struct buf p = { .len = 0 };

	put_u32(&p, magic);
	put_bytes(&p, a->data, (uint32_t)a->len);
	put_bytes(&p, b, (uint32_t)b_len);
	return p;
}

static struct buf output(void)
{
	struct buf b = { .len = out_len };

	memcpy(b.data, out, out_len);
	return b;
}

/* The command's FOC_ERR_* and whether its message contains `text`. */
static bool refused(struct foc_session *s, uint32_t cmd, const struct buf *in, uint32_t code, const char *text)
{
	char message[1100] = "";

	return run(s, cmd, in->data, in->len) && error_code(message, sizeof(message)) == code &&
	       strstr(message, text) != NULL;
}

/* ENCLAVE_JOIN on the current device; the key_request. */
static struct buf join(struct foc_session *s, const char *version, int mode, const struct buf *policy)
{
	struct buf cfg = config_with(CHANNEL, version, mode, policy);

	CHECK(run(s, FOC_CMD_ENCLAVE_JOIN, cfg.data, cfg.len) && msg == FOC_MSG_RESPONSE);
	return output();
}

/* The confidential "create who 1" on the current device, signed by creds' enclave. */
static bool create_person(struct foc_session *s, struct client *c, struct response *resp)
{
	run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c->request, c->request_len);
	if (msg == FOC_MSG_GET_STATE)
		answer(s, NULL, 0, 0);
	return open_response(c, resp) && resp->status == 200 && resp->nwrites == 1;
}

static void test_key_distribution(void)
{
	char root[] = "/tmp/foc-keydist-tests-XXXXXX", cmd[300];
	struct device a, b, c;
	struct foc_session *s = foc_session_new();
	uint8_t ids[2][FOC_HASH_SIZE], digest[FOC_HASH_SIZE];
	struct buf policy, narrow, cfg, req, pkg, in, bad;
	bool a_first;
	struct credentials ca, cb, cc;
	struct client on_a, on_b;
	struct response ra, rb;

	CHECK(mkdtemp(root) != NULL);
	device_init(&a, root, "a");
	device_init(&b, root, "b");
	device_init(&c, root, "c");
	a_first = memcmp(a.id, b.id, FOC_HASH_SIZE) < 0;
	memcpy(ids[0], a_first ? a.id : b.id, FOC_HASH_SIZE);
	memcpy(ids[1], a_first ? b.id : a.id, FOC_HASH_SIZE);
	policy = key_policy(2, (const uint8_t (*)[FOC_HASH_SIZE])ids);
	narrow = key_policy(1, (const uint8_t (*)[FOC_HASH_SIZE])ids);

	/* A creates the chaincode keys, bound to the key policy {A, B} and attesting it */
	use(&a);
	cfg = config_with(CHANNEL, "v1", 0, &policy);
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, cfg.data, cfg.len) && msg == FOC_MSG_RESPONSE && decode_credentials(&ca));
	foc_crypto_sha256(policy.data, policy.len, digest);
	CHECK(memcmp(ca.policy_digest, digest, FOC_HASH_SIZE) == 0);
	/* the keys stay bound to that policy (a malformed policy is refused as such) */
	cfg = config(CHANNEL, "v1", 1);
	CHECK(refused(s, FOC_CMD_ENCLAVE_CREATE, &cfg, FOC_ERR_BAD_REQUEST, "bound to another key policy"));
	bad = policy;
	memcpy(bad.data + 12, ids[1], FOC_HASH_SIZE); /* not ascending */
	cfg = config_with(CHANNEL, "v1", 1, &bad);
	CHECK(refused(s, FOC_CMD_ENCLAVE_CREATE, &cfg, FOC_ERR_BAD_REQUEST, "malformed key policy"));
	cfg = config_with(CHANNEL, "v1", 0, &policy);
	CHECK(refused(s, FOC_CMD_ENCLAVE_JOIN, &cfg, FOC_ERR_EXISTS, "already holds chaincode keys"));

	/* B joins: request, export by A, import */
	use(&b);
	in = pair(FOC_CONF_KEY_IMPORT_MAGIC, &policy, b.der, b.der_len);
	CHECK(refused(s, FOC_CMD_KEY_IMPORT, &in, FOC_ERR_SEQUENCE, "no key request is pending"));
	cfg = config_with(CHANNEL, "v1", 1, &policy);
	CHECK(refused(s, FOC_CMD_ENCLAVE_JOIN, &cfg, FOC_ERR_BAD_REQUEST, "join takes mode 0"));
	req = join(s, "v1", 0, &policy);
	use(&a);
	in = pair(FOC_CONF_KEY_EXPORT_MAGIC, &req, b.der, b.der_len);
	CHECK(run(s, FOC_CMD_KEY_EXPORT, in.data, in.len) && msg == FOC_MSG_RESPONSE);
	pkg = output();
	use(&b);
	in = pair(FOC_CONF_KEY_IMPORT_MAGIC, &pkg, a.der, a.der_len);
	CHECK(run(s, FOC_CMD_KEY_IMPORT, in.data, in.len) && msg == FOC_MSG_RESPONSE && decode_credentials(&cb));
	CHECK(memcmp(cb.chaincode_pub, ca.chaincode_pub, FOC_EC_POINT_SIZE) == 0);
	CHECK(memcmp(cb.enclave_pub, ca.enclave_pub, FOC_EC_POINT_SIZE) != 0);
	CHECK(memcmp(cb.policy_digest, ca.policy_digest, FOC_HASH_SIZE) == 0);
	CHECK(refused(s, FOC_CMD_KEY_IMPORT, &in, FOC_ERR_SEQUENCE, "no key request is pending")); /* once */

	/* both run one request to the same signed write set (synthetic nonces), under their own keys */
	on_a.creds = ca;
	client_request(&on_a, CHANNEL, CHAINCODE, "create", "zed", "1", NULL);
	on_b = on_a;
	on_b.creds = cb;
	use(&a);
	CHECK(create_person(s, &on_a, &ra));
	use(&b);
	CHECK(create_person(s, &on_b, &rb));
	CHECK(ra.stored_len[0] == rb.stored_len[0] && memcmp(ra.stored[0], rb.stored[0], ra.stored_len[0]) == 0);
	client_request(&on_b, CHANNEL, CHAINCODE, "query", "zed", NULL);
	run(s, FOC_CMD_CONFIDENTIAL_INVOKE, on_b.request, on_b.request_len);
	answer(s, ra.stored[0], ra.stored_len[0], 1); /* B decrypts what A wrote: the same state key */
	CHECK(open_response(&on_b, &rb) && rb.status == 200 && strstr(rb.payload, "coffees: 1") != NULL);

	/* the sender refuses: a device outside the policy, altered statements or evidence, another policy,
	 * another version */
	use(&c);
	req = join(s, "v1", 0, &policy);
	use(&a);
	in = pair(FOC_CONF_KEY_EXPORT_MAGIC, &req, c.der, c.der_len);
	CHECK(refused(s, FOC_CMD_KEY_EXPORT, &in, FOC_ERR_UNTRUSTED, "not in this chaincode's key policy"));
	use(&b);
	req = join(s, "v1", 2, &policy);
	use(&a);
	in = pair(FOC_CONF_KEY_EXPORT_MAGIC, &req, a.der, a.der_len); /* another listed device's key */
	CHECK(refused(s, FOC_CMD_KEY_EXPORT, &in, FOC_ERR_UNTRUSTED, "does not verify"));
	bad = req;
	bad.data[4 + 4 + bad.len / 3] ^= 1; /* inside join_data: e.g. a transfer key the normal world chose */
	in = pair(FOC_CONF_KEY_EXPORT_MAGIC, &bad, b.der, b.der_len);
	CHECK(run(s, FOC_CMD_KEY_EXPORT, in.data, in.len) &&
	      (error_code(NULL, 0) == FOC_ERR_UNTRUSTED || error_code(NULL, 0) == FOC_ERR_BAD_REQUEST));
	bad = req;
	/* the measurement inside the evidence: 32 bytes before the 4-byte length of the 256-byte signature */
	bad.data[bad.len - 256 - 4 - 5] ^= 1;
	in = pair(FOC_CONF_KEY_EXPORT_MAGIC, &bad, b.der, b.der_len);
	CHECK(refused(s, FOC_CMD_KEY_EXPORT, &in, FOC_ERR_UNTRUSTED, "runs another TA"));
	use(&b);
	req = join(s, "v1", 2, &narrow);
	use(&a);
	in = pair(FOC_CONF_KEY_EXPORT_MAGIC, &req, b.der, b.der_len);
	CHECK(refused(s, FOC_CMD_KEY_EXPORT, &in, FOC_ERR_UNTRUSTED, "another key policy"));
	use(&b);
	req = join(s, "v2", 2, &policy);
	use(&a);
	in = pair(FOC_CONF_KEY_EXPORT_MAGIC, &req, b.der, b.der_len);
	CHECK(refused(s, FOC_CMD_KEY_EXPORT, &in, FOC_ERR_UNTRUSTED, "another chaincode id, version or channel"));

	/* the receiver refuses: a sender outside the policy, a package sealed for an earlier join, altered */
	use(&b);
	req = join(s, "v1", 2, &policy);
	use(&a);
	in = pair(FOC_CONF_KEY_EXPORT_MAGIC, &req, b.der, b.der_len);
	CHECK(run(s, FOC_CMD_KEY_EXPORT, in.data, in.len) && msg == FOC_MSG_RESPONSE);
	pkg = output();
	use(&b);
	in = pair(FOC_CONF_KEY_IMPORT_MAGIC, &pkg, c.der, c.der_len);
	CHECK(refused(s, FOC_CMD_KEY_IMPORT, &in, FOC_ERR_UNTRUSTED, "not in this chaincode's key policy"));
	bad = pkg;
	bad.data[bad.len - 3] ^= 1; /* the sealed keys */
	in = pair(FOC_CONF_KEY_IMPORT_MAGIC, &bad, a.der, a.der_len);
	CHECK(refused(s, FOC_CMD_KEY_IMPORT, &in, FOC_ERR_UNTRUSTED, "does not open"));
	join(s, "v1", 2, &policy); /* a new transfer key */
	in = pair(FOC_CONF_KEY_IMPORT_MAGIC, &pkg, a.der, a.der_len);
	CHECK(refused(s, FOC_CMD_KEY_IMPORT, &in, FOC_ERR_UNTRUSTED, "does not open"));

	/* an enclave whose keys have no key policy (the default) never exports them */
	use(&c);
	cfg = config(CHANNEL, "v1", 2);
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, cfg.data, cfg.len) && decode_credentials(&cc));
	use(&b);
	cfg = key_policy(0, NULL);
	req = join(s, "v1", 2, &cfg);
	use(&c);
	in = pair(FOC_CONF_KEY_EXPORT_MAGIC, &req, b.der, b.der_len);
	CHECK(refused(s, FOC_CMD_KEY_EXPORT, &in, FOC_ERR_UNTRUSTED, "not in this chaincode's key policy"));

	/* mode 2: new chaincode keys on A */
	use(&a);
	cfg = config(CHANNEL, "v1", 2);
	CHECK(run(s, FOC_CMD_ENCLAVE_CREATE, cfg.data, cfg.len) && decode_credentials(&cc));
	CHECK(memcmp(cc.chaincode_pub, ca.chaincode_pub, FOC_EC_POINT_SIZE) != 0);

	unsetenv(FOC_NATIVE_DEVICE_KEY_ENV);
	setenv(FOC_NATIVE_STORAGE_ENV, storage_root, 1);
	foc_session_free(s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
}

/* ------------------------------------------------------------------ creator, transient data, ranges */

/* SHA-256(bytes msp bytes cert): the creator hash the TA signs. */
static void creator_hash(const char *msp, const char *cert, uint8_t out_hash[FOC_HASH_SIZE])
{
	struct buf b = { .len = 0 };

	put_str(&b, msp);
	put_str(&b, cert);
	foc_crypto_sha256(b.data, b.len, out_hash);
}

/* A range answer entry: bytes key bytes stored_value(key, value), sealed for seal_key. */
static void put_entry(struct buf *b, const void *key, uint32_t key_len, const void *seal_key, uint32_t seal_len,
		      const char *value, struct buf *results)
{
	uint8_t stored[256], h[FOC_HASH_SIZE];
	size_t n = stored_value_n(seal_key, seal_len, value, stored);

	put_bytes(b, key, key_len);
	put_bytes(b, stored, (uint32_t)n);
	foc_crypto_sha256(stored, n, h);
	put_bytes(results, key, key_len);
	put_bytes(results, h, FOC_HASH_SIZE);
}

static void test_context_and_ranges(void)
{
	static const char cert[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
	static const uint8_t tx[] = { 0, 't', 0, 'x', 0 };
	struct foc_session *s = foc_session_new();
	struct client c = { .msp = NULL };
	struct response resp;
	struct buf b = { .len = 0 }, results = { .len = 0 };
	uint8_t h[FOC_HASH_SIZE], results_hash[FOC_HASH_SIZE];
	char message[1100], expected[256];

	clear_storage();
	CHECK(create(s, 0, &c.creds));

	/* the creator inside the request, checked against the peer's, signed as a hash */
	c.msp = "Org1MSP";
	c.cert = cert;
	client_request(&c, CHANNEL, CHAINCODE, "script", "c", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) && open_response(&c, &resp));
	snprintf(expected, sizeof(expected), "Org1MSP|%s;", cert);
	creator_hash("Org1MSP", cert, h);
	CHECK(resp.status == 200 && strcmp(resp.payload, expected) == 0 && memcmp(resp.creator_hash, h, 32) == 0);
	c.peer_msp = "Org2MSP"; /* the peer reports another creator: refused before the chaincode runs */
	client_request(&c, CHANNEL, CHAINCODE, "script", "c", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) &&
	      error_code(message, sizeof(message)) == FOC_ERR_BAD_REQUEST &&
	      strstr(message, "not the transaction's creator"));
	c.peer_msp = NULL;
	c.peer_cert = "another certificate";
	client_request(&c, CHANNEL, CHAINCODE, "script", "c", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) &&
	      error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	c.msp = c.cert = NULL; /* a request without a creator where the peer reports one */
	c.peer_msp = "Org1MSP";
	c.peer_cert = cert;
	client_request(&c, CHANNEL, CHAINCODE, "script", "c", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) &&
	      error_code(NULL, 0) == FOC_ERR_BAD_REQUEST);
	c.peer_msp = c.peer_cert = NULL; /* neither: no creator, the hash of two empty fields */
	client_request(&c, CHANNEL, CHAINCODE, "script", "c", NULL);
	creator_hash("", "", h);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) && open_response(&c, &resp) &&
	      strcmp(resp.payload, "nocreator;") == 0 && memcmp(resp.creator_hash, h, 32) == 0);

	/* transient data travels inside the encrypted request only */
	c.transient[0][0] = "bid";
	c.transient[0][1] = "secret-bid-4711";
	c.ntransient = 1;
	client_request(&c, CHANNEL, CHAINCODE, "script", "t:bid", "t:other", NULL);
	CHECK(!memmem(c.request, c.request_len, "secret-bid-4711", 15));
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) && open_response(&c, &resp) &&
	      strcmp(resp.payload, "bid=secret-bid-4711;other=-;") == 0);
	c.ntransient = 0;

	/* a range: each entry's stored value opened bound to its key, the range signed with its results hash */
	client_request(&c, CHANNEL, CHAINCODE, "script", "r:a:z", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) && msg == FOC_MSG_GET_STATE_BY_RANGE);
	put_u32(&b, 2);
	put_u32(&results, 2);
	put_entry(&b, "a", 1, "a", 1, "1", &results);
	put_entry(&b, "b", 1, "b", 1, "2", &results);
	foc_crypto_sha256(results.data, results.len, results_hash);
	CHECK(run(s, FOC_CMD_RESUME, b.data, b.len) && open_response(&c, &resp));
	CHECK(resp.status == 200 && strcmp(resp.payload, "a=1,b=2,;") == 0 && resp.nreads == 0 && resp.nranges == 1);
	CHECK(resp.range_start_len[0] == 1 && resp.range_start[0][0] == 'a' && resp.range_end_len[0] == 1 &&
	      resp.range_end[0][0] == 'z' && memcmp(resp.results_hash[0], results_hash, 32) == 0);
	/* an entry sealed for another key fails authentication under its own */
	client_request(&c, CHANNEL, CHAINCODE, "script", "r:a:z", NULL);
	run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len);
	b.len = results.len = 0;
	put_u32(&b, 2);
	put_entry(&b, "a", 1, "a", 1, "1", &results);
	put_entry(&b, "b", 1, "a", 1, "2", &results);
	CHECK(run(s, FOC_CMD_RESUME, b.data, b.len) && error_code(message, sizeof(message)) == FOC_ERR_INCONSISTENT &&
	      strcmp(message, "state value for b failed authentication") == 0);
	/* a partial composite key: the composite key is the associated data, NULs and all */
	client_request(&c, CHANNEL, CHAINCODE, "script", "q:t", "k:t:y=Y", NULL);
	CHECK(run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len) && msg == FOC_MSG_GET_STATE_BY_RANGE);
	b.len = results.len = 0;
	put_u32(&b, 1);
	put_entry(&b, tx, sizeof(tx), tx, sizeof(tx), "X", &results);
	CHECK(run(s, FOC_CMD_RESUME, b.data, b.len) && open_response(&c, &resp));
	CHECK(resp.status == 200 && strcmp(resp.payload, "t/x=X,;") == 0 && resp.nranges == 1 && resp.nwrites == 1 &&
	      resp.range_start_len[0] == 3 && resp.range_end_len[0] == 7 && memcmp(resp.write_keys[0], "\0t\0y\0", 5) == 0);
	foc_session_free(s);
}

static void test_out_of_memory(void)
{
	long base = foc_test_live_allocations, fail_at;
	int ok = 0, refused = 0;
	struct client c = { .msp = NULL };
	struct response resp;
	struct foc_session *s = foc_session_new();

	clear_storage();
	CHECK(create(s, 0, &c.creds));
	foc_session_free(s);
	base = foc_test_live_allocations;
	for (fail_at = 0; fail_at < 40; fail_at++) {
		struct buf b = config(CHANNEL, "v1", 1);
		uint32_t code;

		s = foc_session_new();
		client_request(&c, CHANNEL, CHAINCODE, "create", "zed", "1", NULL);
		foc_test_fail_after = fail_at;
		run(s, FOC_CMD_CONFIDENTIAL_INVOKE, c.request, c.request_len);
		if (msg == FOC_MSG_GET_STATE)
			answer(s, NULL, 0, 0);
		foc_test_fail_after = -1;
		code = error_code(NULL, 0);
		if (open_response(&c, &resp) && (resp.status == 200 || strncmp(resp.payload, "NO_MEMORY", 9) == 0))
			ok++;
		else if (code == FOC_ERR_NO_MEMORY || code == FOC_ERR_INTERNAL)
			refused++;
		else
			CHECK(!"unexpected outcome under memory pressure");
		/* create under memory pressure: a clean error or success, never a leak */
		foc_test_fail_after = fail_at;
		run(s, FOC_CMD_ENCLAVE_CREATE, b.data, b.len);
		foc_test_fail_after = -1;
		CHECK(msg == FOC_MSG_RESPONSE || error_code(NULL, 0) != 0);
		if (msg == FOC_MSG_RESPONSE)
			decode_credentials(&c.creds);
		foc_session_free(s);
		CHECK(foc_test_live_allocations == base);
	}
	CHECK(ok > 0 && refused > 3);
}

int main(void)
{
	char tmpl[] = "/tmp/foc-conf-tests-XXXXXX";
	char cmd[300];

	if (!mkdtemp(tmpl))
		return 2;
	snprintf(storage_root, sizeof(storage_root), "%s", tmpl);
	setenv(FOC_NATIVE_STORAGE_ENV, storage_root, 1);
	/* the TA's sealed objects: in the storage directory's subdirectory named by its uuid */
	snprintf(storage_dir, sizeof(storage_dir), "%s/%s", tmpl, FOC_NATIVE_TA_UUID);
	if (mkdir(storage_dir, 0700) != 0)
		return 2;
	test_lifecycle();
	test_config_negative();
	test_invocations();
	test_layers();
	test_key_distribution();
	test_context_and_ranges();
	test_out_of_memory();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpl);
	printf("confidential: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
