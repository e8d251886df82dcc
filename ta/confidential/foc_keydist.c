/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Key distribution between the enclaves of one chaincode on different devices
 * (docs/confidential-protocol.md "Key distribution"; docs/confidential.md argues the design).
 *
 *   receiver  ENCLAVE_JOIN  -> key_request: join_data (its identifiers, enclave key, a fresh
 *                              transfer key, key policy digest) and evidence over it
 *   sender    KEY_EXPORT    <- key_request + the receiver's device key
 *                           -> key_package: the sender's credentials and the keys sealed to the
 *                              receiver's transfer key
 *   receiver  KEY_IMPORT    <- key_package + the sender's device key -> its credentials
 *
 * Each side trusts the other's statement (join_data, attested_data) only when its evidence
 * verifies under a device key listed in the chaincode's key policy, with this TA's own evidence
 * kind and measurement (the same TA code), over nonce = SHA-256(statement), and when it names
 * this TA's chaincode id, version, channel and key policy. The key policy is sealed with the
 * chaincode keys when they are created (foc_enclave.c) and attested by every enclave that holds
 * them, so the normal world cannot change whom a key holder trusts. The keys travel under
 * K = HKDF(ECDH(chaincode key, transfer key)): only a TA that attested the transfer key can
 * open them, and only a holder of the attested chaincode key can have sealed them.
 */
#include <string.h>

#include "foc_confidential.h"
#include "foc_platform.h"

#define TRANSFER_LABEL "FOC/v1/key-transfer"
#define LABEL_LEN (sizeof(TRANSFER_LABEL) - 1)
#define MAX_KIND 64
#define MAX_KEY_REQUEST (4 + 4 + FOC_MAX_ATTESTED + 4 + FOC_MAX_EVIDENCE)
#define MAX_KEYS_PLAINTEXT (4 + FOC_EC_PRIVATE_SIZE + 4 + FOC_AES_KEY_SIZE + 4 + FOC_MAX_POLICY)
#define MAX_KEY_PACKAGE \
	(4 + 4 + FOC_MAX_CREDENTIALS + 4 + FOC_GCM_NONCE_SIZE + 4 + MAX_KEYS_PLAINTEXT + FOC_GCM_TAG_SIZE)
#define MAX_TRANSFER_INPUT (4 + 4 + MAX_KEY_PACKAGE + 4 + FOC_MAX_DEVICE_KEY)

/* The receiver's side between ENCLAVE_JOIN and KEY_IMPORT, in the TA instance (gone with it). */
static struct pending_join {
	bool active;
	uint8_t sign_priv[FOC_EC_PRIVATE_SIZE], sign_pub[FOC_EC_POINT_SIZE];
	uint8_t transfer_priv[FOC_EC_PRIVATE_SIZE], transfer_pub[FOC_EC_POINT_SIZE];
	uint8_t join_hash[FOC_HASH_SIZE];
	uint8_t measurement[FOC_HASH_SIZE];
	uint8_t kind[MAX_KIND];
	uint32_t kind_len;
	uint8_t config[FOC_MAX_CONFIG];
	uint32_t config_len;
} pending;

/* A statement of the other enclave: attested_data (FAD2) or join_data (FJD1), same shape. */
struct statement {
	struct foc_slice chaincode_id, version, channel_id, host;
	const uint8_t *enclave_pub, *key, *policy_digest; /* key: chaincode key (FAD2) or transfer key (FJD1) */
};

/* What this TA compares the other side with. */
struct self {
	struct foc_slice chaincode_id, version, channel_id, policy, kind;
	const uint8_t *measurement;
};

bool foc_policy_valid(struct foc_slice policy)
{
	struct foc_reader r;
	uint32_t magic = 0, n = 0, i;
	const uint8_t *id = NULL, *previous = NULL;

	foc_reader_init(&r, policy.data, policy.len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || magic != FOC_CONF_POLICY_MAGIC ||
	    foc_read_u32(&r, &n) != FOC_READ_OK || n > FOC_MAX_TRUSTED_DEVICES)
		return false;
	for (i = 0; i < n; i++, previous = id)
		if (!foc_read_exact(&r, FOC_HASH_SIZE, &id) || (previous && memcmp(previous, id, FOC_HASH_SIZE) >= 0))
			return false;
	return foc_reader_at_end(&r);
}

static bool policy_lists(struct foc_slice policy, const uint8_t id[FOC_HASH_SIZE])
{
	struct foc_reader r;
	uint32_t magic = 0, n = 0, i;
	const uint8_t *entry = NULL;

	foc_reader_init(&r, policy.data, policy.len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || foc_read_u32(&r, &n) != FOC_READ_OK)
		return false;
	for (i = 0; i < n; i++)
		if (foc_read_exact(&r, FOC_HASH_SIZE, &entry) && memcmp(entry, id, FOC_HASH_SIZE) == 0)
			return true;
	return false;
}

static bool decode_statement(struct foc_slice in, uint32_t magic, struct statement *st)
{
	struct foc_reader r;
	uint32_t m = 0;

	foc_reader_init(&r, in.data, in.len);
	return foc_read_u32(&r, &m) == FOC_READ_OK && m == magic && foc_read_identifier(&r, &st->chaincode_id) &&
	       foc_read_identifier(&r, &st->version) && foc_read_identifier(&r, &st->channel_id) &&
	       foc_read_identifier(&r, &st->host) && foc_read_exact(&r, FOC_EC_POINT_SIZE, &st->enclave_pub) &&
	       foc_read_exact(&r, FOC_EC_POINT_SIZE, &st->key) &&
	       foc_read_exact(&r, FOC_HASH_SIZE, &st->policy_digest) && foc_reader_at_end(&r);
}

/* u32 magic bytes a bytes b, nothing else (a, b at most the given sizes) */
static bool decode_pair(struct foc_slice in, uint32_t magic, struct foc_slice *a, uint32_t a_max, struct foc_slice *b,
			uint32_t b_max)
{
	struct foc_reader r;
	uint32_t m = 0;

	foc_reader_init(&r, in.data, in.len);
	return foc_read_u32(&r, &m) == FOC_READ_OK && m == magic &&
	       foc_read_bytes(&r, a_max, &a->data, &a->len) == FOC_READ_OK &&
	       foc_read_bytes(&r, b_max, &b->data, &b->len) == FOC_READ_OK && foc_reader_at_end(&r);
}

/* evidence := u32 FEV1 bytes kind bytes measurement(32) bytes signature */
static bool decode_evidence(struct foc_slice in, struct foc_slice *kind, const uint8_t **measurement,
			    struct foc_slice *signature)
{
	struct foc_reader r;
	uint32_t m = 0;

	foc_reader_init(&r, in.data, in.len);
	return foc_read_u32(&r, &m) == FOC_READ_OK && m == FOC_CONF_EVIDENCE_MAGIC &&
	       foc_read_bytes(&r, MAX_KIND, &kind->data, &kind->len) == FOC_READ_OK &&
	       foc_read_exact(&r, FOC_HASH_SIZE, measurement) &&
	       foc_read_bytes(&r, FOC_MAX_EVIDENCE, &signature->data, &signature->len) == FOC_READ_OK &&
	       foc_reader_at_end(&r);
}

/*
 * The other enclave's statement is trusted when it names this TA's chaincode definition and key
 * policy, and its evidence (same kind, same measurement as this TA's) is signed by a device key
 * of the key policy over SHA-256(SHA-256(statement) || measurement).
 */
static foc_status verify_peer(const struct self *me, struct foc_slice statement, uint32_t magic,
			      struct foc_slice evidence, struct foc_slice device_key, struct statement *st,
			      const char **message)
{
	uint8_t device_id[FOC_HASH_SIZE], both[2 * FOC_HASH_SIZE], digest[FOC_HASH_SIZE], policy_digest[FOC_HASH_SIZE];
	struct foc_slice kind, signature;
	const uint8_t *measurement = NULL;

	if (!decode_statement(statement, magic, st) || !decode_evidence(evidence, &kind, &measurement, &signature)) {
		*message = "malformed statement or evidence of the other enclave";
		return FOC_ERR_BAD_REQUEST;
	}
	if (!foc_crypto_sha256(me->policy.data, me->policy.len, policy_digest) ||
	    !foc_crypto_sha256(device_key.data, device_key.len, device_id) ||
	    !foc_crypto_sha256(statement.data, statement.len, both)) {
		*message = "SHA-256 failed";
		return FOC_ERR_INTERNAL;
	}
	*message = "untrusted: the other enclave is for another chaincode id, version or channel";
	if (!foc_slice_equals(st->chaincode_id, me->chaincode_id) || !foc_slice_equals(st->version, me->version) ||
	    !foc_slice_equals(st->channel_id, me->channel_id))
		return FOC_ERR_UNTRUSTED;
	*message = "untrusted: the other enclave holds another key policy";
	if (memcmp(st->policy_digest, policy_digest, FOC_HASH_SIZE) != 0)
		return FOC_ERR_UNTRUSTED;
	*message = "untrusted: the other enclave's device key is not in this chaincode's key policy";
	if (!policy_lists(me->policy, device_id))
		return FOC_ERR_UNTRUSTED;
	*message = "untrusted: the other enclave runs another TA (its evidence kind or measurement is not this TA's)";
	if (!foc_slice_equals(kind, me->kind) || memcmp(measurement, me->measurement, FOC_HASH_SIZE) != 0)
		return FOC_ERR_UNTRUSTED;
	memcpy(both + FOC_HASH_SIZE, measurement, FOC_HASH_SIZE);
	*message = "untrusted: the evidence does not verify under the device key (altered, or for keys no TA chose)";
	if (!foc_crypto_sha256(both, sizeof(both), digest) ||
	    !foc_crypto_rsa_pss_verify(device_key.data, device_key.len, digest, signature.data, signature.len))
		return FOC_ERR_UNTRUSTED;
	return FOC_OK;
}

/* K = HKDF(ECDH(priv, peer), info = label || transfer_pub || chaincode_pub || SHA-256(join_data)) */
static bool transfer_key(const uint8_t *priv, const uint8_t *pub, const uint8_t *peer, const uint8_t *transfer_pub,
			 const uint8_t *chaincode_pub, const uint8_t join_hash[FOC_HASH_SIZE], uint8_t key[FOC_AES_KEY_SIZE])
{
	uint8_t info[LABEL_LEN + 2 * FOC_EC_POINT_SIZE + FOC_HASH_SIZE];

	memcpy(info, TRANSFER_LABEL, LABEL_LEN);
	memcpy(info + LABEL_LEN, transfer_pub, FOC_EC_POINT_SIZE);
	memcpy(info + LABEL_LEN + FOC_EC_POINT_SIZE, chaincode_pub, FOC_EC_POINT_SIZE);
	memcpy(info + LABEL_LEN + 2 * FOC_EC_POINT_SIZE, join_hash, FOC_HASH_SIZE);
	return foc_crypto_ecdh_hkdf(priv, pub, peer, info, sizeof(info), key);
}

/* A private copy of a command's input of at most max bytes. */
static foc_status copy_input(struct foc_blob *copy, const uint8_t *in, size_t in_len, size_t max,
			     const char **message)
{
	if (in_len > max) {
		*message = "key distribution message too long";
		return FOC_ERR_LIMIT;
	}
	*message = "out of memory";
	return foc_blob_copy(copy, in, (uint32_t)in_len) ? FOC_OK : FOC_ERR_NO_MEMORY;
}

typedef foc_status transfer_step(struct foc_slice input, struct foc_writer *w, uint32_t *msg_type,
				 const char **message);

/* KEY_EXPORT and KEY_IMPORT: run `step` on a private copy of the (shared memory) input, then
 * finish the command's answer (response, or error message) in w. */
static bool run_transfer_step(transfer_step *step, const uint8_t *in, size_t in_len, struct foc_writer *w,
			      uint32_t *msg_type)
{
	struct foc_blob copy = { NULL, 0 };
	const char *message = NULL;
	foc_status rc = copy_input(&copy, in, in_len, MAX_TRANSFER_INPUT, &message);
	bool fits;

	if (rc == FOC_OK)
		rc = step(foc_blob_slice(&copy), w, msg_type, &message);
	fits = foc_command_finish(w, msg_type, rc, message);
	foc_blob_free(&copy);
	return fits;
}

/* ---------------------------------------------------------------- ENCLAVE_JOIN */

static foc_status join(struct foc_writer *w, uint32_t *msg_type, const char **message)
{
	struct foc_enclave_config c;
	struct foc_enclave_keys *k = foc_platform_alloc(sizeof(*k));
	uint8_t data[FOC_MAX_ATTESTED], evidence[FOC_MAX_EVIDENCE], policy_digest[FOC_HASH_SIZE];
	struct foc_slice kind, signature;
	const uint8_t *measurement = NULL;
	size_t evidence_len = 0;
	struct foc_writer d;
	foc_status rc = FOC_ERR_BAD_REQUEST;

	if (!foc_decode_config(pending.config, pending.config_len, &c, message))
		goto out;
	*message = "join takes mode 0 (no chaincode keys in this TA yet) or 2 (replace them when the new ones arrive)";
	if (c.mode == FOC_MODE_REPLACE)
		goto out;
	rc = k ? foc_load_chaincode_keys(k, message) : FOC_ERR_NO_MEMORY;
	if (rc == FOC_OK && c.mode == FOC_MODE_CREATE) {
		*message = "this TA already holds chaincode keys (join with mode 2 replaces them)";
		rc = FOC_ERR_EXISTS;
		goto out;
	}
	if (rc != FOC_OK && rc != FOC_ERR_NOT_FOUND)
		goto out;
	rc = FOC_ERR_INTERNAL;
	*message = "cannot generate the enclave keys";
	if (!foc_crypto_ec_generate(pending.sign_priv, pending.sign_pub) ||
	    !foc_crypto_ec_generate(pending.transfer_priv, pending.transfer_pub) ||
	    !foc_crypto_sha256(c.policy.data, c.policy.len, policy_digest))
		goto out;
	foc_writer_init(&d, data, sizeof(data));
	foc_write_u32(&d, FOC_CONF_JOIN_MAGIC);
	foc_write_identifiers(&d, &c);
	foc_write_bytes(&d, pending.sign_pub, FOC_EC_POINT_SIZE);
	foc_write_bytes(&d, pending.transfer_pub, FOC_EC_POINT_SIZE);
	foc_write_bytes(&d, policy_digest, FOC_HASH_SIZE);
	rc = foc_attest(data, d.len, evidence, &evidence_len, message);
	if (rc != FOC_OK)
		goto out;
	if (!foc_crypto_sha256(data, d.len, pending.join_hash) ||
	    !decode_evidence((struct foc_slice){ evidence, (uint32_t)evidence_len }, &kind, &measurement, &signature)) {
		rc = FOC_ERR_INTERNAL;
		*message = "the platform's evidence is malformed";
		goto out;
	}
	memcpy(pending.kind, kind.data, kind.len);
	pending.kind_len = kind.len;
	memcpy(pending.measurement, measurement, FOC_HASH_SIZE);
	foc_write_u32(w, FOC_CONF_KEY_REQUEST_MAGIC);
	foc_write_bytes(w, data, (uint32_t)d.len);
	foc_write_bytes(w, evidence, (uint32_t)evidence_len);
	*msg_type = FOC_MSG_RESPONSE;
	pending.active = foc_writer_fits(w);
out:
	if (k) {
		foc_wipe(k, sizeof(*k));
		foc_platform_free(k);
	}
	return rc;
}

bool foc_enclave_join(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
		      uint32_t *msg_type)
{
	const char *message = "enclave config too long";
	foc_status rc = FOC_ERR_LIMIT;

	(void)s;
	foc_wipe(&pending, sizeof(pending)); /* a new join replaces any pending one */
	if (in_len <= sizeof(pending.config)) {
		memcpy(pending.config, in, in_len);
		pending.config_len = (uint32_t)in_len;
		rc = join(w, msg_type, &message);
	}
	if (!pending.active)
		foc_wipe(&pending, sizeof(pending));
	return foc_command_finish(w, msg_type, rc, message);
}

/* ---------------------------------------------------------------- KEY_EXPORT (sender) */

static foc_status export_keys(struct foc_slice input, struct foc_writer *w, uint32_t *msg_type,
			      const char **message)
{
	struct foc_enclave_keys *k = foc_platform_alloc(sizeof(*k));
	uint8_t *object = NULL, plain[MAX_KEYS_PLAINTEXT], key[FOC_AES_KEY_SIZE], nonce[FOC_GCM_NONCE_SIZE];
	uint8_t sealed[MAX_KEYS_PLAINTEXT + FOC_GCM_TAG_SIZE], join_hash[FOC_HASH_SIZE];
	struct foc_slice request, device_key, join_data, evidence, credentials, own_attested, own_evidence, signature;
	struct self me;
	struct statement st;
	struct foc_writer p;
	foc_status rc = FOC_ERR_BAD_REQUEST;

	*message = "malformed key_export (FKE1 key_request device_key, key_request = FKR1 join_data evidence)";
	if (!decode_pair(input, FOC_CONF_KEY_EXPORT_MAGIC, &request, MAX_KEY_REQUEST, &device_key, FOC_MAX_DEVICE_KEY) ||
	    !decode_pair(request, FOC_CONF_KEY_REQUEST_MAGIC, &join_data, FOC_MAX_ATTESTED, &evidence,
			 FOC_MAX_EVIDENCE))
		goto out;
	rc = k ? foc_enclave_load_self(k, &object, &me.version, &credentials, message) : FOC_ERR_NO_MEMORY;
	if (rc != FOC_OK)
		goto out;
	rc = FOC_ERR_INTERNAL;
	*message = "secure storage: this enclave's own credentials are corrupt";
	if (!decode_pair(credentials, FOC_CONF_CREDENTIALS_MAGIC, &own_attested, FOC_MAX_ATTESTED, &own_evidence,
			 FOC_MAX_EVIDENCE) ||
	    !decode_evidence(own_evidence, &me.kind, &me.measurement, &signature))
		goto out;
	me.chaincode_id = (struct foc_slice){ k->chaincode_id, k->chaincode_id_len };
	me.channel_id = (struct foc_slice){ k->channel_id, k->channel_id_len };
	me.policy = (struct foc_slice){ k->policy, k->policy_len };
	rc = verify_peer(&me, join_data, FOC_CONF_JOIN_MAGIC, evidence, device_key, &st, message);
	if (rc != FOC_OK)
		goto out;
	rc = FOC_ERR_BAD_REQUEST;
	*message = "the requesting enclave's transfer key is not a P-256 point";
	if (!foc_crypto_sha256(join_data.data, join_data.len, join_hash) ||
	    !transfer_key(k->chaincode_priv, k->chaincode_pub, st.key, st.key, k->chaincode_pub, join_hash, key))
		goto out;
	foc_writer_init(&p, plain, sizeof(plain));
	foc_write_bytes(&p, k->chaincode_priv, FOC_EC_PRIVATE_SIZE);
	foc_write_bytes(&p, k->state_key, FOC_AES_KEY_SIZE);
	foc_write_bytes(&p, k->policy, k->policy_len);
	rc = FOC_ERR_INTERNAL;
	*message = "cannot seal the keys";
	if (!foc_crypto_random(nonce, sizeof(nonce)) ||
	    !foc_crypto_gcm_seal(key, nonce, (const uint8_t *)TRANSFER_LABEL, LABEL_LEN, plain, p.len, sealed))
		goto out;
	foc_write_u32(w, FOC_CONF_KEY_PACKAGE_MAGIC);
	foc_write_bytes(w, credentials.data, credentials.len);
	foc_write_bytes(w, nonce, sizeof(nonce));
	foc_write_bytes(w, sealed, (uint32_t)(p.len + FOC_GCM_TAG_SIZE));
	*msg_type = FOC_MSG_RESPONSE;
	rc = FOC_OK;
out:
	foc_wipe(plain, sizeof(plain));
	foc_wipe(key, sizeof(key));
	foc_enclave_free_object(object);
	if (k) {
		foc_wipe(k, sizeof(*k));
		foc_platform_free(k);
	}
	return rc;
}

bool foc_key_export(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
		    uint32_t *msg_type)
{
	(void)s;
	return run_transfer_step(export_keys, in, in_len, w, msg_type);
}

/* ---------------------------------------------------------------- KEY_IMPORT (receiver) */

static foc_status import_keys(struct foc_slice input, struct foc_writer *w, uint32_t *msg_type,
			      const char **message)
{
	struct foc_enclave_keys *k = foc_platform_alloc(sizeof(*k));
	struct foc_enclave_config c;
	struct foc_slice package, device_key, credentials, sealed, nonce, attested, evidence, policy;
	struct foc_slice chaincode_priv, state_key;
	uint8_t key[FOC_AES_KEY_SIZE], plain[MAX_KEYS_PLAINTEXT];
	struct self me;
	struct statement st;
	struct foc_reader r;
	uint32_t magic = 0;
	foc_status rc = k ? FOC_ERR_SEQUENCE : FOC_ERR_NO_MEMORY;

	*message = k ? "no key request is pending in this TA (FOC_CMD_ENCLAVE_JOIN first)" : "out of memory";
	if (!pending.active || !k)
		goto out;
	rc = FOC_ERR_BAD_REQUEST;
	*message = "malformed key_import (FKI1 key_package device_key, key_package = FKG1 credentials nonce sealed)";
	if (!decode_pair(input, FOC_CONF_KEY_IMPORT_MAGIC, &package, MAX_KEY_PACKAGE, &device_key, FOC_MAX_DEVICE_KEY))
		goto out;
	foc_reader_init(&r, package.data, package.len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || magic != FOC_CONF_KEY_PACKAGE_MAGIC ||
	    foc_read_bytes(&r, FOC_MAX_CREDENTIALS, &credentials.data, &credentials.len) != FOC_READ_OK ||
	    foc_read_bytes(&r, FOC_GCM_NONCE_SIZE, &nonce.data, &nonce.len) != FOC_READ_OK ||
	    nonce.len != FOC_GCM_NONCE_SIZE ||
	    foc_read_bytes(&r, sizeof(plain) + FOC_GCM_TAG_SIZE, &sealed.data, &sealed.len) != FOC_READ_OK ||
	    sealed.len < FOC_GCM_TAG_SIZE || !foc_reader_at_end(&r) ||
	    !decode_pair(credentials, FOC_CONF_CREDENTIALS_MAGIC, &attested, FOC_MAX_ATTESTED, &evidence,
			 FOC_MAX_EVIDENCE) ||
	    !foc_decode_config(pending.config, pending.config_len, &c, message))
		goto out;
	me = (struct self){ c.chaincode_id, c.version, c.channel_id, c.policy, { pending.kind, pending.kind_len },
			    pending.measurement };
	rc = verify_peer(&me, attested, FOC_CONF_ATTESTED_MAGIC, evidence, device_key, &st, message);
	if (rc != FOC_OK)
		goto out;
	rc = FOC_ERR_UNTRUSTED;
	*message = "untrusted: the key package does not open with this TA's transfer key";
	if (!transfer_key(pending.transfer_priv, pending.transfer_pub, st.key, pending.transfer_pub, st.key,
			  pending.join_hash, key) ||
	    !foc_crypto_gcm_open(key, nonce.data, (const uint8_t *)TRANSFER_LABEL, LABEL_LEN, sealed.data, sealed.len,
				 plain))
		goto out;
	foc_reader_init(&r, plain, sealed.len - FOC_GCM_TAG_SIZE);
	*message = "untrusted: the key package holds another key policy";
	if (foc_read_bytes(&r, FOC_EC_PRIVATE_SIZE, &chaincode_priv.data, &chaincode_priv.len) != FOC_READ_OK ||
	    chaincode_priv.len != FOC_EC_PRIVATE_SIZE ||
	    foc_read_bytes(&r, FOC_AES_KEY_SIZE, &state_key.data, &state_key.len) != FOC_READ_OK ||
	    state_key.len != FOC_AES_KEY_SIZE ||
	    foc_read_bytes(&r, FOC_MAX_POLICY, &policy.data, &policy.len) != FOC_READ_OK || !foc_reader_at_end(&r) ||
	    !foc_slice_equals(policy, c.policy))
		goto out;
	if (c.mode == FOC_MODE_CREATE && foc_load_chaincode_keys(k, message) != FOC_ERR_NOT_FOUND) {
		*message = "this TA holds chaincode keys now (join with mode 2 replaces them)";
		rc = FOC_ERR_EXISTS;
		goto out;
	}
	memcpy(k->sign_priv, pending.sign_priv, FOC_EC_PRIVATE_SIZE);
	memcpy(k->sign_pub, pending.sign_pub, FOC_EC_POINT_SIZE);
	memcpy(k->chaincode_priv, chaincode_priv.data, FOC_EC_PRIVATE_SIZE);
	memcpy(k->chaincode_pub, st.key, FOC_EC_POINT_SIZE);
	memcpy(k->state_key, state_key.data, FOC_AES_KEY_SIZE);
	memcpy(k->policy, policy.data, policy.len);
	k->policy_len = policy.len;
	rc = foc_enclave_install(&c, k, true, w, msg_type, message);
	if (rc == FOC_OK && foc_writer_fits(w))
		foc_wipe(&pending, sizeof(pending)); /* one import per join */
out:
	foc_wipe(plain, sizeof(plain));
	foc_wipe(key, sizeof(key));
	if (k) {
		foc_wipe(k, sizeof(*k));
		foc_platform_free(k);
	}
	return rc;
}

bool foc_key_import(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
		    uint32_t *msg_type)
{
	(void)s;
	return run_transfer_step(import_keys, in, in_len, w, msg_type);
}
