/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enclave lifecycle (see foc_enclave.h). Key material only ever leaves this file in the
 * sealed objects (through foc_storage_*) and, for public keys, in the credentials.
 */
#include "foc_enclave.h"

#include <string.h>

#include "foc_platform.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define STR_LIMIT STR(FOC_MAX_IDENTIFIER)

#define SEALED_VERSION 1u
/* Largest enclave object: keys, four identifiers, credentials (attested data + evidence). */
#define MAX_CONFIG_INPUT (4 + 4 * (4 + FOC_MAX_IDENTIFIER) + 1)
#define MAX_ATTESTED (4 + 4 * (4 + FOC_MAX_IDENTIFIER) + 2 * (4 + FOC_EC_POINT_SIZE))
#define MAX_CREDENTIALS (4 + 4 + MAX_ATTESTED + 4 + FOC_MAX_EVIDENCE)
#define MAX_ENCLAVE_OBJECT \
	(4 + 4 + FOC_EC_PRIVATE_SIZE + 4 + FOC_EC_POINT_SIZE + 4 * (4 + FOC_MAX_IDENTIFIER) + 4 + MAX_CREDENTIALS)
#define CHAINCODE_OBJECT_SIZE (4 + 4 + FOC_EC_PRIVATE_SIZE + 4 + FOC_EC_POINT_SIZE + 4 + FOC_AES_KEY_SIZE)

struct ident {
	const uint8_t *data;
	uint32_t len;
};

struct enclave_config {
	struct ident chaincode_id, version, channel_id, host;
	uint8_t force;
};

void foc_wipe(void *p, size_t len)
{
	volatile uint8_t *b = p;

	while (len--)
		*b++ = 0;
}

static void render_error(struct foc_writer *w, uint32_t *msg_type, uint32_t code, const char *message)
{
	foc_write_u32(w, code);
	foc_write_bytes(w, (const uint8_t *)message, (uint32_t)strlen(message));
	*msg_type = FOC_MSG_ERROR;
}

static void hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
}

/* bytes of exactly `size` bytes, copied into dst. */
static bool read_fixed(struct foc_reader *r, uint8_t *dst, uint32_t size)
{
	const uint8_t *p = NULL;
	uint32_t n = 0;

	if (foc_read_bytes(r, size, &p, &n) != FOC_READ_OK || n != size)
		return false;
	memcpy(dst, p, size);
	return true;
}

static bool read_ident(struct foc_reader *r, struct ident *id)
{
	return foc_read_bytes(r, FOC_MAX_IDENTIFIER, &id->data, &id->len) == FOC_READ_OK && id->len > 0;
}

/* ---------------------------------------------------------------- sealed objects */

static bool decode_chaincode_object(const uint8_t *buf, size_t len, struct foc_enclave_keys *k)
{
	struct foc_reader r;
	uint32_t version = 0;

	foc_reader_init(&r, buf, len);
	return foc_read_u32(&r, &version) == FOC_READ_OK && version == SEALED_VERSION &&
	       read_fixed(&r, k->chaincode_priv, FOC_EC_PRIVATE_SIZE) &&
	       read_fixed(&r, k->chaincode_pub, FOC_EC_POINT_SIZE) &&
	       read_fixed(&r, k->state_key, FOC_AES_KEY_SIZE) && foc_reader_at_end(&r);
}

/* Decode the enclave object; *credentials points into buf. */
static bool decode_enclave_object(const uint8_t *buf, size_t len, struct foc_enclave_keys *k,
				  struct ident *credentials)
{
	struct foc_reader r;
	struct ident chaincode_id, version, channel, host;
	uint32_t v = 0;

	foc_reader_init(&r, buf, len);
	if (foc_read_u32(&r, &v) != FOC_READ_OK || v != SEALED_VERSION ||
	    !read_fixed(&r, k->sign_priv, FOC_EC_PRIVATE_SIZE) || !read_fixed(&r, k->sign_pub, FOC_EC_POINT_SIZE) ||
	    !read_ident(&r, &chaincode_id) || !read_ident(&r, &version) || !read_ident(&r, &channel) ||
	    !read_ident(&r, &host) ||
	    foc_read_bytes(&r, MAX_CREDENTIALS, &credentials->data, &credentials->len) != FOC_READ_OK ||
	    !foc_reader_at_end(&r))
		return false;
	memcpy(k->chaincode_id, chaincode_id.data, chaincode_id.len);
	k->chaincode_id_len = chaincode_id.len;
	memcpy(k->channel_id, channel.data, channel.len);
	k->channel_id_len = channel.len;
	return true;
}

/* Load one object into a fresh buffer (caller wipes and frees *buf). */
static uint32_t load_object(const char *id, size_t cap, uint8_t **buf, size_t *len, const char **message)
{
	enum foc_storage_result res;

	*buf = foc_platform_alloc(cap);
	if (!*buf) {
		*message = "out of memory loading sealed keys";
		return FOC_ERR_NO_MEMORY;
	}
	res = foc_storage_load(id, *buf, cap, len);
	if (res == FOC_STORAGE_NOT_FOUND) {
		*message = "no enclave has been created (FOC_CMD_ENCLAVE_CREATE)";
		return FOC_ERR_NOT_FOUND;
	}
	if (res != FOC_STORAGE_OK) {
		*message = "secure storage: cannot read a sealed object";
		return FOC_ERR_INTERNAL;
	}
	return 0;
}

static void free_object(uint8_t *buf, size_t cap)
{
	if (buf) {
		foc_wipe(buf, cap);
		foc_platform_free(buf);
	}
}

uint32_t foc_enclave_load(struct foc_enclave_keys *k, const char **message)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	struct ident credentials;
	uint8_t digest[FOC_HASH_SIZE];
	uint32_t rc;

	rc = load_object(FOC_ENCLAVE_OBJECT, MAX_ENCLAVE_OBJECT, &buf, &len, message);
	if (rc == 0 && !decode_enclave_object(buf, len, k, &credentials)) {
		*message = "secure storage: the sealed enclave object is corrupt";
		rc = FOC_ERR_INTERNAL;
	}
	free_object(buf, MAX_ENCLAVE_OBJECT);
	if (rc)
		return rc;
	rc = load_object(FOC_CHAINCODE_OBJECT, CHAINCODE_OBJECT_SIZE, &buf, &len, message);
	if (rc == 0 && !decode_chaincode_object(buf, len, k)) {
		*message = "secure storage: the sealed chaincode object is corrupt";
		rc = FOC_ERR_INTERNAL;
	}
	free_object(buf, CHAINCODE_OBJECT_SIZE);
	if (rc)
		return rc;
	if (!foc_crypto_sha256(k->sign_pub, FOC_EC_POINT_SIZE, digest)) {
		*message = "SHA-256 failed";
		return FOC_ERR_INTERNAL;
	}
	hex(digest, sizeof(digest), k->enclave_id);
	return 0;
}

/* ---------------------------------------------------------------- commands */

static bool decode_config(const uint8_t *buf, size_t len, struct enclave_config *c, const char **message)
{
	struct foc_reader r;
	uint32_t magic = 0;

	foc_reader_init(&r, buf, len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || magic != FOC_CONF_CONFIG_MAGIC) {
		*message = "enclave config does not start with the FEC1 magic";
		return false;
	}
	if (!read_ident(&r, &c->chaincode_id) || !read_ident(&r, &c->version) || !read_ident(&r, &c->channel_id) ||
	    !read_ident(&r, &c->host)) {
		*message = "enclave config: identifiers must be 1.." STR_LIMIT " bytes";
		return false;
	}
	if (foc_read_u8(&r, &c->force) != FOC_READ_OK || c->force > 1) {
		*message = "enclave config: force must be 0 or 1";
		return false;
	}
	if (!foc_reader_at_end(&r)) {
		*message = "enclave config: trailing bytes";
		return false;
	}
	return true;
}

static void write_ident(struct foc_writer *w, const struct ident *id)
{
	foc_write_bytes(w, id->data, id->len);
}

/* Chaincode keys: load them, or create them on first use (*created). */
static uint32_t chaincode_keys(struct foc_enclave_keys *k, bool *created, const char **message)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t rc = load_object(FOC_CHAINCODE_OBJECT, CHAINCODE_OBJECT_SIZE, &buf, &len, message);

	*created = false;
	if (rc == 0 && !decode_chaincode_object(buf, len, k)) {
		*message = "secure storage: the sealed chaincode object is corrupt";
		rc = FOC_ERR_INTERNAL;
	}
	free_object(buf, CHAINCODE_OBJECT_SIZE);
	if (rc != FOC_ERR_NOT_FOUND)
		return rc;
	if (!foc_crypto_ec_generate(k->chaincode_priv, k->chaincode_pub) ||
	    !foc_crypto_random(k->state_key, FOC_AES_KEY_SIZE)) {
		*message = "cannot generate the chaincode keys";
		return FOC_ERR_INTERNAL;
	}
	*created = true;
	return 0;
}

static uint32_t store_chaincode_keys(const struct foc_enclave_keys *k)
{
	uint8_t buf[CHAINCODE_OBJECT_SIZE];
	struct foc_writer w;
	enum foc_storage_result res;

	foc_writer_init(&w, buf, sizeof(buf));
	foc_write_u32(&w, SEALED_VERSION);
	foc_write_bytes(&w, k->chaincode_priv, FOC_EC_PRIVATE_SIZE);
	foc_write_bytes(&w, k->chaincode_pub, FOC_EC_POINT_SIZE);
	foc_write_bytes(&w, k->state_key, FOC_AES_KEY_SIZE);
	res = foc_storage_store(FOC_CHAINCODE_OBJECT, buf, w.len);
	foc_wipe(buf, sizeof(buf));
	return res == FOC_STORAGE_OK ? 0 : FOC_ERR_INTERNAL;
}

/* Build attested data, evidence and credentials into creds (cap MAX_CREDENTIALS). */
static uint32_t build_credentials(const struct enclave_config *c, const struct foc_enclave_keys *k, uint8_t *creds,
				  size_t *creds_len, const char **message)
{
	uint8_t attested[MAX_ATTESTED];
	uint8_t evidence[FOC_MAX_EVIDENCE];
	uint8_t nonce[FOC_HASH_SIZE];
	size_t evidence_len = 0;
	struct foc_writer w;

	foc_writer_init(&w, attested, sizeof(attested));
	foc_write_u32(&w, FOC_CONF_ATTESTED_MAGIC);
	write_ident(&w, &c->chaincode_id);
	write_ident(&w, &c->version);
	write_ident(&w, &c->channel_id);
	write_ident(&w, &c->host);
	foc_write_bytes(&w, k->sign_pub, FOC_EC_POINT_SIZE);
	foc_write_bytes(&w, k->chaincode_pub, FOC_EC_POINT_SIZE);
	/* The nonce is computed here, inside the TA: the normal world never chooses it. */
	if (!foc_crypto_sha256(attested, w.len, nonce)) {
		*message = "SHA-256 failed";
		return FOC_ERR_INTERNAL;
	}
	if (!foc_platform_evidence(nonce, evidence, sizeof(evidence), &evidence_len) ||
	    evidence_len > FOC_MAX_EVIDENCE) {
		*message = "attestation failed: no evidence from the platform";
		return FOC_ERR_INTERNAL;
	}
	{
		struct foc_writer cw;

		foc_writer_init(&cw, creds, MAX_CREDENTIALS);
		foc_write_u32(&cw, FOC_CONF_CREDENTIALS_MAGIC);
		foc_write_bytes(&cw, attested, (uint32_t)w.len);
		foc_write_bytes(&cw, evidence, (uint32_t)evidence_len);
		*creds_len = cw.len;
	}
	return 0;
}

static uint32_t store_enclave(const struct enclave_config *c, const struct foc_enclave_keys *k,
			      const uint8_t *creds, size_t creds_len)
{
	uint8_t *buf = foc_platform_alloc(MAX_ENCLAVE_OBJECT);
	struct foc_writer w;
	enum foc_storage_result res;

	if (!buf)
		return FOC_ERR_NO_MEMORY;
	foc_writer_init(&w, buf, MAX_ENCLAVE_OBJECT);
	foc_write_u32(&w, SEALED_VERSION);
	foc_write_bytes(&w, k->sign_priv, FOC_EC_PRIVATE_SIZE);
	foc_write_bytes(&w, k->sign_pub, FOC_EC_POINT_SIZE);
	write_ident(&w, &c->chaincode_id);
	write_ident(&w, &c->version);
	write_ident(&w, &c->channel_id);
	write_ident(&w, &c->host);
	foc_write_bytes(&w, creds, (uint32_t)creds_len);
	res = foc_storage_store(FOC_ENCLAVE_OBJECT, buf, w.len);
	free_object(buf, MAX_ENCLAVE_OBJECT);
	return res == FOC_STORAGE_OK ? 0 : FOC_ERR_INTERNAL;
}

/* 0 if no enclave exists, FOC_ERR_EXISTS if one does (even a corrupt one), else a storage error. */
static uint32_t check_no_enclave(const char **message)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint32_t rc = load_object(FOC_ENCLAVE_OBJECT, MAX_ENCLAVE_OBJECT, &buf, &len, message);

	free_object(buf, MAX_ENCLAVE_OBJECT);
	if (rc == FOC_ERR_NOT_FOUND)
		return 0;
	if (rc == 0) {
		*message = "an enclave already exists in this TA; set force to replace it";
		return FOC_ERR_EXISTS;
	}
	return rc;
}

static bool command_create(const uint8_t *in, size_t in_len, struct foc_writer *w, uint32_t *msg_type)
{
	struct enclave_config c;
	struct foc_enclave_keys *k = NULL;
	uint8_t *copy = NULL, *creds = NULL;
	size_t creds_len = 0;
	const char *message = NULL;
	bool created = false;
	uint32_t rc = 0;
	bool fits = true;

	if (in_len > MAX_CONFIG_INPUT) {
		render_error(w, msg_type, FOC_ERR_LIMIT, "enclave config too long (identifiers are at most "
				 STR_LIMIT " bytes)");
		return foc_writer_fits(w);
	}
	copy = foc_platform_alloc(in_len ? in_len : 1); /* the caller's buffer may change under us */
	k = foc_platform_alloc(sizeof(*k));
	creds = foc_platform_alloc(MAX_CREDENTIALS);
	if (!copy || !k || !creds) {
		rc = FOC_ERR_NO_MEMORY;
		message = "out of memory creating the enclave";
		goto out;
	}
	if (in_len)
		memcpy(copy, in, in_len);
	if (!decode_config(copy, in_len, &c, &message)) {
		rc = FOC_ERR_BAD_REQUEST;
		goto out;
	}
	if (!c.force) {
		rc = check_no_enclave(&message);
		if (rc)
			goto out;
	}
	rc = chaincode_keys(k, &created, &message);
	if (rc)
		goto out;
	if (!foc_crypto_ec_generate(k->sign_priv, k->sign_pub)) {
		rc = FOC_ERR_INTERNAL;
		message = "cannot generate the enclave signing key";
		goto out;
	}
	rc = build_credentials(&c, k, creds, &creds_len, &message);
	if (rc)
		goto out;
	foc_write_raw(w, creds, creds_len);
	*msg_type = FOC_MSG_RESPONSE;
	if (!foc_writer_fits(w)) {
		fits = false; /* nothing stored: the retry creates fresh keys */
		goto out;
	}
	if (created && store_chaincode_keys(k) != 0) {
		rc = FOC_ERR_INTERNAL;
		message = "secure storage: cannot store the chaincode keys";
		goto out;
	}
	rc = store_enclave(&c, k, creds, creds_len);
	if (rc)
		message = "secure storage: cannot store the enclave";
out:
	if (rc) {
		foc_writer_init(w, w->buf, w->cap);
		render_error(w, msg_type, rc, message);
		fits = foc_writer_fits(w);
	}
	if (k) {
		foc_wipe(k, sizeof(*k));
		foc_platform_free(k);
	}
	foc_platform_free(creds);
	foc_platform_free(copy);
	return fits;
}

static bool command_credentials(struct foc_writer *w, uint32_t *msg_type)
{
	struct foc_enclave_keys *k = foc_platform_alloc(sizeof(*k));
	uint8_t *buf = NULL;
	size_t len = 0;
	struct ident creds;
	const char *message = NULL;
	uint32_t rc;

	if (!k) {
		render_error(w, msg_type, FOC_ERR_NO_MEMORY, "out of memory reading the credentials");
		return foc_writer_fits(w);
	}
	rc = load_object(FOC_ENCLAVE_OBJECT, MAX_ENCLAVE_OBJECT, &buf, &len, &message);
	if (rc == 0 && !decode_enclave_object(buf, len, k, &creds)) {
		rc = FOC_ERR_INTERNAL;
		message = "secure storage: the sealed enclave object is corrupt";
	}
	if (rc) {
		render_error(w, msg_type, rc, message);
	} else {
		foc_write_raw(w, creds.data, creds.len);
		*msg_type = FOC_MSG_RESPONSE;
	}
	free_object(buf, MAX_ENCLAVE_OBJECT);
	foc_wipe(k, sizeof(*k));
	foc_platform_free(k);
	return foc_writer_fits(w);
}

bool foc_enclave_command(uint32_t cmd, const uint8_t *in, size_t in_len, struct foc_writer *w, uint32_t *msg_type)
{
	if (cmd == FOC_CMD_ENCLAVE_CREATE)
		return command_create(in, in_len, w, msg_type);
	return command_credentials(w, msg_type);
}
