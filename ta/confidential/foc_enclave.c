/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enclave lifecycle (see foc_confidential.h). Key material only ever leaves this file in the
 * sealed objects (through foc_storage_*) and, for public keys, in the credentials.
 */
#include <string.h>

#include "foc_confidential.h"
#include "foc_platform.h"

#define STR_LIMIT FOC_STR(FOC_MAX_IDENTIFIER)

#define SEALED_VERSION 1u
#define CHAINCODE_V1 1u /* before key distribution: no key policy, read as the empty one */
#define CHAINCODE_V2 2u /* + key_policy */
/* Largest enclave object: keys, four identifiers, credentials (attested data + evidence). */
#define MAX_ENCLAVE_OBJECT \
	(4 + 4 + FOC_EC_PRIVATE_SIZE + 4 + FOC_EC_POINT_SIZE + 4 * (4 + FOC_MAX_IDENTIFIER) + 4 + FOC_MAX_CREDENTIALS)
#define MAX_CHAINCODE_OBJECT \
	(4 + 4 + FOC_EC_PRIVATE_SIZE + 4 + FOC_EC_POINT_SIZE + 4 + FOC_AES_KEY_SIZE + 4 + FOC_MAX_POLICY)

static const uint8_t empty_policy[8] = { 0x46, 0x4b, 0x50, 0x31, 0, 0, 0, 0 }; /* FKP1, no device */

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

	if (!foc_read_exact(r, size, &p))
		return false;
	memcpy(dst, p, size);
	return true;
}

bool foc_read_identifier(struct foc_reader *r, struct foc_slice *id)
{
	return foc_read_bytes(r, FOC_MAX_IDENTIFIER, &id->data, &id->len) == FOC_READ_OK && id->len > 0;
}

bool foc_command_finish(struct foc_writer *w, uint32_t *msg_type, foc_status rc, const char *message)
{
	if (rc != FOC_OK) {
		foc_writer_init(w, w->buf, w->cap);
		foc_render_error(w, msg_type, rc, foc_slice_of(message));
	}
	return foc_writer_fits(w);
}

/* ---------------------------------------------------------------- sealed objects */

static bool decode_chaincode_object(const uint8_t *buf, size_t len, struct foc_enclave_keys *k)
{
	struct foc_reader r;
	struct foc_slice policy = { empty_policy, sizeof(empty_policy) };
	uint32_t version = 0;

	foc_reader_init(&r, buf, len);
	if (foc_read_u32(&r, &version) != FOC_READ_OK || (version != CHAINCODE_V1 && version != CHAINCODE_V2) ||
	    !read_fixed(&r, k->chaincode_priv, FOC_EC_PRIVATE_SIZE) ||
	    !read_fixed(&r, k->chaincode_pub, FOC_EC_POINT_SIZE) || !read_fixed(&r, k->state_key, FOC_AES_KEY_SIZE))
		return false;
	if (version == CHAINCODE_V2 &&
	    (foc_read_bytes(&r, FOC_MAX_POLICY, &policy.data, &policy.len) != FOC_READ_OK || !foc_policy_valid(policy)))
		return false;
	memcpy(k->policy, policy.data, policy.len);
	k->policy_len = policy.len;
	return foc_reader_at_end(&r);
}

/* Decode the enclave object; *version and *credentials point into buf. */
static bool decode_enclave_object(const uint8_t *buf, size_t len, struct foc_enclave_keys *k,
				  struct foc_slice *version, struct foc_slice *credentials)
{
	struct foc_reader r;
	struct foc_slice chaincode_id, channel, host;
	uint32_t v = 0;

	foc_reader_init(&r, buf, len);
	if (foc_read_u32(&r, &v) != FOC_READ_OK || v != SEALED_VERSION ||
	    !read_fixed(&r, k->sign_priv, FOC_EC_PRIVATE_SIZE) || !read_fixed(&r, k->sign_pub, FOC_EC_POINT_SIZE) ||
	    !foc_read_identifier(&r, &chaincode_id) || !foc_read_identifier(&r, version) ||
	    !foc_read_identifier(&r, &channel) || !foc_read_identifier(&r, &host) ||
	    foc_read_bytes(&r, FOC_MAX_CREDENTIALS, &credentials->data, &credentials->len) != FOC_READ_OK ||
	    !foc_reader_at_end(&r))
		return false;
	memcpy(k->chaincode_id, chaincode_id.data, chaincode_id.len);
	k->chaincode_id_len = chaincode_id.len;
	memcpy(k->channel_id, channel.data, channel.len);
	k->channel_id_len = channel.len;
	return true;
}

/* Load one object into a fresh buffer (caller releases *buf with free_object). */
static foc_status load_object(const char *id, size_t cap, uint8_t **buf, size_t *len, const char **message)
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
	return FOC_OK;
}

static void free_object(uint8_t *buf, size_t cap)
{
	if (buf) {
		foc_wipe(buf, cap);
		foc_platform_free(buf);
	}
}

void foc_enclave_free_object(uint8_t *object)
{
	free_object(object, MAX_ENCLAVE_OBJECT);
}

/* The enclave object into *buf (free_object(*buf, MAX_ENCLAVE_OBJECT) after use), decoded. */
static foc_status load_enclave(struct foc_enclave_keys *k, uint8_t **buf, struct foc_slice *version,
			       struct foc_slice *credentials, const char **message)
{
	size_t len = 0;
	foc_status rc = load_object(FOC_ENCLAVE_OBJECT, MAX_ENCLAVE_OBJECT, buf, &len, message);

	if (rc == FOC_OK && !decode_enclave_object(*buf, len, k, version, credentials)) {
		*message = "secure storage: the sealed enclave object is corrupt";
		rc = FOC_ERR_INTERNAL;
	}
	return rc;
}

foc_status foc_load_chaincode_keys(struct foc_enclave_keys *k, const char **message)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	foc_status rc = load_object(FOC_CHAINCODE_OBJECT, MAX_CHAINCODE_OBJECT, &buf, &len, message);

	if (rc == FOC_OK && !decode_chaincode_object(buf, len, k)) {
		*message = "secure storage: the sealed chaincode object is corrupt";
		rc = FOC_ERR_INTERNAL;
	}
	free_object(buf, MAX_CHAINCODE_OBJECT);
	return rc;
}

foc_status foc_enclave_load_self(struct foc_enclave_keys *k, uint8_t **object, struct foc_slice *version,
				 struct foc_slice *credentials, const char **message)
{
	foc_status rc = load_enclave(k, object, version, credentials, message);

	return rc == FOC_OK ? foc_load_chaincode_keys(k, message) : rc;
}

foc_status foc_enclave_load(struct foc_enclave_keys *k, const char **message)
{
	uint8_t *buf = NULL;
	struct foc_slice version, credentials;
	uint8_t digest[FOC_HASH_SIZE];
	foc_status rc = foc_enclave_load_self(k, &buf, &version, &credentials, message);

	free_object(buf, MAX_ENCLAVE_OBJECT);
	if (rc != FOC_OK)
		return rc;
	if (!foc_crypto_sha256(k->sign_pub, FOC_EC_POINT_SIZE, digest)) {
		*message = "SHA-256 failed";
		return FOC_ERR_INTERNAL;
	}
	hex(digest, sizeof(digest), k->enclave_id);
	return FOC_OK;
}

/* ---------------------------------------------------------------- commands */

bool foc_decode_config(const uint8_t *buf, size_t len, struct foc_enclave_config *c, const char **message)
{
	struct foc_reader r;
	uint32_t magic = 0;

	foc_reader_init(&r, buf, len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || magic != FOC_CONF_CONFIG_MAGIC) {
		*message = "enclave config does not start with the FEC2 magic";
		return false;
	}
	if (!foc_read_identifier(&r, &c->chaincode_id) || !foc_read_identifier(&r, &c->version) ||
	    !foc_read_identifier(&r, &c->channel_id) || !foc_read_identifier(&r, &c->host)) {
		*message = "enclave config: identifiers must be 1.." STR_LIMIT " bytes";
		return false;
	}
	if (foc_read_u8(&r, &c->mode) != FOC_READ_OK || c->mode > FOC_MODE_REKEY) {
		*message = "enclave config: mode must be 0 (create), 1 (replace) or 2 (new chaincode keys)";
		return false;
	}
	if (foc_read_bytes(&r, FOC_MAX_POLICY, &c->policy.data, &c->policy.len) != FOC_READ_OK ||
	    !foc_policy_valid(c->policy)) {
		*message = "enclave config: malformed key policy (FKP1, at most " FOC_STR(
			FOC_MAX_TRUSTED_DEVICES) " device key ids of 32 bytes, strictly ascending)";
		return false;
	}
	if (!foc_reader_at_end(&r)) {
		*message = "enclave config: trailing bytes";
		return false;
	}
	return true;
}

/* chaincode id, version, channel id, host endpoint: in attested_data, join_data and the enclave object */
void foc_write_identifiers(struct foc_writer *w, const struct foc_enclave_config *c)
{
	foc_write_bytes(w, c->chaincode_id.data, c->chaincode_id.len);
	foc_write_bytes(w, c->version.data, c->version.len);
	foc_write_bytes(w, c->channel_id.data, c->channel_id.len);
	foc_write_bytes(w, c->host.data, c->host.len);
}

static foc_status store_chaincode_keys(const struct foc_enclave_keys *k)
{
	uint8_t buf[MAX_CHAINCODE_OBJECT];
	struct foc_writer w;
	enum foc_storage_result res;

	foc_writer_init(&w, buf, sizeof(buf));
	foc_write_u32(&w, CHAINCODE_V2);
	foc_write_bytes(&w, k->chaincode_priv, FOC_EC_PRIVATE_SIZE);
	foc_write_bytes(&w, k->chaincode_pub, FOC_EC_POINT_SIZE);
	foc_write_bytes(&w, k->state_key, FOC_AES_KEY_SIZE);
	foc_write_bytes(&w, k->policy, k->policy_len);
	res = foc_storage_store(FOC_CHAINCODE_OBJECT, buf, w.len);
	foc_wipe(buf, sizeof(buf));
	return res == FOC_STORAGE_OK ? FOC_OK : FOC_ERR_INTERNAL;
}

foc_status foc_attest(const uint8_t *statement, size_t len, uint8_t *evidence, size_t *evidence_len,
		      const char **message)
{
	uint8_t nonce[FOC_HASH_SIZE];

	/* The nonce is computed here, inside the TA: the normal world never chooses it. */
	if (!foc_crypto_sha256(statement, len, nonce)) {
		*message = "SHA-256 failed";
		return FOC_ERR_INTERNAL;
	}
	if (!foc_platform_evidence(nonce, evidence, FOC_MAX_EVIDENCE, evidence_len) ||
	    *evidence_len > FOC_MAX_EVIDENCE) {
		*message = "attestation failed: no evidence from the platform";
		return FOC_ERR_INTERNAL;
	}
	return FOC_OK;
}

/* Build attested data (FAD2), evidence and credentials into creds (cap FOC_MAX_CREDENTIALS). */
static foc_status build_credentials(const struct foc_enclave_config *c, const struct foc_enclave_keys *k,
				    uint8_t *creds, size_t *creds_len, const char **message)
{
	uint8_t attested[FOC_MAX_ATTESTED];
	uint8_t evidence[FOC_MAX_EVIDENCE];
	uint8_t policy_digest[FOC_HASH_SIZE];
	size_t evidence_len = 0;
	struct foc_writer w, cw;
	foc_status rc;

	if (!foc_crypto_sha256(k->policy, k->policy_len, policy_digest)) {
		*message = "SHA-256 failed";
		return FOC_ERR_INTERNAL;
	}
	foc_writer_init(&w, attested, sizeof(attested));
	foc_write_u32(&w, FOC_CONF_ATTESTED_MAGIC);
	foc_write_identifiers(&w, c);
	foc_write_bytes(&w, k->sign_pub, FOC_EC_POINT_SIZE);
	foc_write_bytes(&w, k->chaincode_pub, FOC_EC_POINT_SIZE);
	foc_write_bytes(&w, policy_digest, FOC_HASH_SIZE);
	rc = foc_attest(attested, w.len, evidence, &evidence_len, message);
	if (rc != FOC_OK)
		return rc;
	foc_writer_init(&cw, creds, FOC_MAX_CREDENTIALS);
	foc_write_u32(&cw, FOC_CONF_CREDENTIALS_MAGIC);
	foc_write_bytes(&cw, attested, (uint32_t)w.len);
	foc_write_bytes(&cw, evidence, (uint32_t)evidence_len);
	*creds_len = cw.len;
	return FOC_OK;
}

static foc_status store_enclave(const struct foc_enclave_config *c, const struct foc_enclave_keys *k,
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
	foc_write_identifiers(&w, c);
	foc_write_bytes(&w, creds, (uint32_t)creds_len);
	res = foc_storage_store(FOC_ENCLAVE_OBJECT, buf, w.len);
	free_object(buf, MAX_ENCLAVE_OBJECT);
	return res == FOC_STORAGE_OK ? FOC_OK : FOC_ERR_INTERNAL;
}

foc_status foc_enclave_install(const struct foc_enclave_config *c, const struct foc_enclave_keys *k,
			       bool store_chaincode, struct foc_writer *w, uint32_t *msg_type, const char **message)
{
	uint8_t *creds = foc_platform_alloc(FOC_MAX_CREDENTIALS);
	size_t creds_len = 0;
	foc_status rc = creds ? build_credentials(c, k, creds, &creds_len, message) : FOC_ERR_NO_MEMORY;

	if (rc == FOC_OK) {
		foc_write_raw(w, creds, creds_len);
		*msg_type = FOC_MSG_RESPONSE;
		/* nothing is stored when the answer does not fit: the retry creates fresh keys */
		if (foc_writer_fits(w) && store_chaincode && store_chaincode_keys(k) != FOC_OK) {
			rc = FOC_ERR_INTERNAL;
			*message = "secure storage: cannot store the chaincode keys";
		} else if (foc_writer_fits(w) && store_enclave(c, k, creds, creds_len) != FOC_OK) {
			rc = FOC_ERR_INTERNAL;
			*message = "secure storage: cannot store the enclave";
		}
	} else if (!creds) {
		*message = "out of memory creating the enclave";
	}
	foc_platform_free(creds);
	return rc;
}

/* 0 if no enclave exists, FOC_ERR_EXISTS if one does (even a corrupt one), else a storage error. */
static foc_status check_no_enclave(const char **message)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	foc_status rc = load_object(FOC_ENCLAVE_OBJECT, MAX_ENCLAVE_OBJECT, &buf, &len, message);

	free_object(buf, MAX_ENCLAVE_OBJECT);
	if (rc == FOC_ERR_NOT_FOUND)
		return FOC_OK;
	if (rc == FOC_OK) {
		*message = "an enclave already exists in this TA; set force to replace it";
		return FOC_ERR_EXISTS;
	}
	return rc;
}

/*
 * The chaincode keys of a create: new ones (none sealed yet, or mode REKEY) bound to the
 * config's key policy, else the sealed ones, whose key policy the config must repeat.
 */
static foc_status chaincode_keys(const struct foc_enclave_config *c, struct foc_enclave_keys *k, bool *created,
				 const char **message)
{
	foc_status rc = foc_load_chaincode_keys(k, message);

	*created = rc == FOC_ERR_NOT_FOUND || (rc == FOC_OK && c->mode == FOC_MODE_REKEY);
	if (!*created) {
		if (rc == FOC_OK && !foc_slice_equals((struct foc_slice){ k->policy, k->policy_len }, c->policy)) {
			*message = "the chaincode keys in this TA are bound to another key policy (mode 2 creates "
				   "new chaincode keys; their state is then lost to this device)";
			return FOC_ERR_BAD_REQUEST;
		}
		return rc;
	}
	if (!foc_crypto_ec_generate(k->chaincode_priv, k->chaincode_pub) ||
	    !foc_crypto_random(k->state_key, FOC_AES_KEY_SIZE)) {
		*message = "cannot generate the chaincode keys";
		return FOC_ERR_INTERNAL;
	}
	memcpy(k->policy, c->policy.data, c->policy.len);
	k->policy_len = c->policy.len;
	return FOC_OK;
}

bool foc_enclave_create(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
			uint32_t *msg_type)
{
	struct foc_enclave_config c;
	struct foc_enclave_keys *k = NULL;
	struct foc_blob copy = { NULL, 0 };
	const char *message = "out of memory creating the enclave";
	bool created = false, fits;
	foc_status rc = FOC_ERR_NO_MEMORY;

	(void)s;
	if (in_len > FOC_MAX_CONFIG)
		return foc_command_finish(w, msg_type, FOC_ERR_LIMIT,
					  "enclave config too long (identifiers are at most " STR_LIMIT " bytes)");
	k = foc_platform_alloc(sizeof(*k));
	/* a private copy: the caller's buffer may change while the TA reads it */
	if (!k || !foc_blob_copy(&copy, in, (uint32_t)in_len))
		goto out;
	rc = FOC_ERR_BAD_REQUEST;
	if (!foc_decode_config(copy.data, copy.len, &c, &message))
		goto out;
	rc = c.mode == FOC_MODE_CREATE ? check_no_enclave(&message) : FOC_OK;
	if (rc == FOC_OK)
		rc = chaincode_keys(&c, k, &created, &message);
	if (rc == FOC_OK && !foc_crypto_ec_generate(k->sign_priv, k->sign_pub)) {
		rc = FOC_ERR_INTERNAL;
		message = "cannot generate the enclave signing key";
	}
	if (rc == FOC_OK)
		rc = foc_enclave_install(&c, k, created, w, msg_type, &message);
out:
	fits = foc_command_finish(w, msg_type, rc, message);
	if (k) {
		foc_wipe(k, sizeof(*k));
		foc_platform_free(k);
	}
	foc_blob_free(&copy);
	return fits;
}

bool foc_enclave_credentials(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
			     uint32_t *msg_type)
{
	struct foc_enclave_keys *k = foc_platform_alloc(sizeof(*k));
	uint8_t *buf = NULL;
	struct foc_slice version, creds;
	const char *message = "out of memory reading the credentials";
	foc_status rc = k ? load_enclave(k, &buf, &version, &creds, &message) : FOC_ERR_NO_MEMORY;

	(void)s;
	(void)in;
	(void)in_len;
	if (rc == FOC_OK) {
		foc_write_raw(w, creds.data, creds.len);
		*msg_type = FOC_MSG_RESPONSE;
	}
	free_object(buf, MAX_ENCLAVE_OBJECT);
	if (k) {
		foc_wipe(k, sizeof(*k));
		foc_platform_free(k);
	}
	return foc_command_finish(w, msg_type, rc, message);
}
