/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The confidential envelope (docs/confidential-protocol.md) around the plaintext core. The
 * chaincode and the stub only ever see plaintext; this layer
 *   - opens the confidential_request once per invocation (ECDH + HKDF to the chaincode key,
 *     AES-GCM), checks its channel and chaincode and that its creator is the one the peer
 *     reports for the transaction, keeps the request hash, creator hash and response key;
 *   - opens each stored_value once, when its state or range answer arrives, bound to its key
 *     name, and keeps the SHA-256 of the stored bytes for the read set;
 *   - refuses writes under ~foc/ (the validator's replay markers);
 *   - seals the final write set, seals the response to the client's key and signs both with
 *     the read set (keys with value hashes, ranges with the hash of their results) and the
 *     creator hash.
 */
#include <stdio.h>
#include <string.h>

#include "foc_confidential.h"
#include "foc_platform.h"

#define REQUEST_LABEL "FOC/v2/request"
#define STATE_LABEL "FOC/v1/state"
#define STATE_NONCE_LABEL "FOC/v1/state-nonce"
#define RESERVED_PREFIX "~foc/"
#define LABEL_LEN(l) (sizeof(l) - 1)

/* The envelope's state for one invocation (inv->ctx). */
struct confidential {
	struct foc_enclave_keys keys;
	uint8_t request_hash[FOC_HASH_SIZE];
	uint8_t creator_hash[FOC_HASH_SIZE]; /* SHA-256(bytes msp_id bytes certificate) of the request's creator */
	uint8_t response_key[FOC_AES_KEY_SIZE];
	char message[FOC_MAX_KEY + 64];      /* error messages naming a key */
};

_Static_assert(FOC_DIGEST_SIZE == FOC_HASH_SIZE, "the read digest is the confidential layer's SHA-256");

/* SHA-256 of what a writer callback produces (sized first, then written): a creator or a range's results. */
static bool hash_encoded(void (*encode)(struct foc_writer *w, const void *arg), const void *arg,
			 uint8_t out[FOC_HASH_SIZE])
{
	struct foc_writer w;
	uint8_t *buf;
	bool ok;

	foc_writer_init(&w, NULL, 0);
	encode(&w, arg);
	buf = foc_platform_alloc(w.len ? w.len : 1);
	if (!buf)
		return false;
	foc_writer_init(&w, buf, w.len);
	encode(&w, arg);
	ok = foc_crypto_sha256(buf, w.len, out);
	foc_platform_free(buf);
	return ok;
}

static void encode_creator(struct foc_writer *w, const void *arg)
{
	const struct foc_request *req = arg;

	foc_write_bytes(w, req->creator_msp_id.data, req->creator_msp_id.len);
	foc_write_bytes(w, req->creator_certificate.data, req->creator_certificate.len);
}

/* u32 n { bytes key bytes value_hash }: what a range returned, as results_hash covers it. */
static void encode_results(struct foc_writer *w, const void *arg)
{
	const struct foc_range_read *range = arg;
	uint32_t i;

	foc_write_u32(w, range->nentries);
	for (i = 0; i < range->nentries; i++) {
		foc_write_bytes(w, range->entries[i].key.data, range->entries[i].key.len);
		foc_write_bytes(w, range->entries[i].digest, FOC_HASH_SIZE);
	}
}

/*
 * confidential_invocation := u32 FCI1 bytes confidential_request bytes creator_msp_id bytes
 * creator_certificate (the transaction's creator as the peer reports it), with
 * confidential_request := u32 FCR2 bytes client_pub bytes nonce bytes ciphertext. On success
 * inv->request_bytes holds the plaintext and inv->request points into it.
 */
static foc_status open_request(struct foc_invocation *inv, const char **message)
{
	uint8_t info[LABEL_LEN(REQUEST_LABEL) + 2 * FOC_EC_POINT_SIZE];
	uint8_t key[FOC_AES_KEY_SIZE];
	const uint8_t *point = NULL, *nonce = NULL, *ct = NULL, *rkey = NULL;
	uint32_t ct_len = 0, magic = 0;
	struct foc_slice channel, chaincode, request = { NULL, 0 }, peer_msp = { NULL, 0 }, peer_cert = { NULL, 0 };
	struct foc_blob plain, outer = inv->request_bytes; /* freed at the end: peer_* point into it */
	struct confidential *c;
	struct foc_reader r;
	foc_status rc;
	bool opened;

	foc_reader_init(&r, outer.data, outer.len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || magic != FOC_CONF_INVOKE_MAGIC ||
	    foc_read_bytes(&r, FOC_MAX_REQUEST, &request.data, &request.len) != FOC_READ_OK ||
	    foc_read_bytes(&r, FOC_MAX_MSP_ID, &peer_msp.data, &peer_msp.len) != FOC_READ_OK ||
	    foc_read_bytes(&r, FOC_MAX_CERTIFICATE, &peer_cert.data, &peer_cert.len) != FOC_READ_OK ||
	    !foc_reader_at_end(&r)) {
		*message = "malformed confidential invocation (FCI1, request, creator MSP id and certificate)";
		return FOC_ERR_BAD_REQUEST;
	}
	foc_reader_init(&r, request.data, request.len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || magic != FOC_CONF_REQUEST_MAGIC) {
		*message = "confidential request does not start with the FCR2 magic (FCR1 is protocol v1)";
		return FOC_ERR_BAD_REQUEST;
	}
	if (!foc_read_exact(&r, FOC_EC_POINT_SIZE, &point) || !foc_read_exact(&r, FOC_GCM_NONCE_SIZE, &nonce) ||
	    foc_read_bytes(&r, FOC_MAX_REQUEST, &ct, &ct_len) != FOC_READ_OK || ct_len < FOC_GCM_TAG_SIZE ||
	    !foc_reader_at_end(&r)) {
		*message = "malformed confidential request (point 65 B, nonce 12 B, ciphertext >= 16 B, no trailing bytes)";
		return FOC_ERR_BAD_REQUEST;
	}
	c = foc_platform_alloc(sizeof(*c));
	if (!c) {
		*message = "out of memory loading the enclave keys";
		return FOC_ERR_NO_MEMORY;
	}
	inv->ctx = c;
	rc = foc_enclave_load(&c->keys, message);
	if (rc != FOC_OK)
		return rc;
	if (!foc_crypto_sha256(request.data, request.len, c->request_hash)) {
		*message = "SHA-256 failed";
		return FOC_ERR_INTERNAL;
	}
	memcpy(info, REQUEST_LABEL, LABEL_LEN(REQUEST_LABEL));
	memcpy(info + LABEL_LEN(REQUEST_LABEL), point, FOC_EC_POINT_SIZE);
	memcpy(info + LABEL_LEN(REQUEST_LABEL) + FOC_EC_POINT_SIZE, c->keys.chaincode_pub, FOC_EC_POINT_SIZE);
	if (!foc_crypto_ecdh_hkdf(c->keys.chaincode_priv, c->keys.chaincode_pub, point, info, sizeof(info), key)) {
		*message = "confidential request: the client key is not a P-256 point";
		return FOC_ERR_BAD_REQUEST;
	}
	plain.len = ct_len - FOC_GCM_TAG_SIZE;
	plain.data = foc_platform_alloc(plain.len ? plain.len : 1);
	if (!plain.data) {
		foc_wipe(key, sizeof(key));
		*message = "out of memory decrypting the request";
		return FOC_ERR_NO_MEMORY;
	}
	opened = foc_crypto_gcm_open(key, nonce, (const uint8_t *)REQUEST_LABEL, LABEL_LEN(REQUEST_LABEL), ct, ct_len,
				     plain.data);
	foc_wipe(key, sizeof(key));
	inv->request_bytes = plain; /* from here on the arguments point into the plaintext */
	rc = FOC_ERR_BAD_REQUEST;
	if (!opened) {
		*message = "confidential request failed authentication (altered, or not for this chaincode key)";
		goto out;
	}
	foc_reader_init(&r, plain.data, plain.len);
	if (!foc_read_identifier(&r, &channel) || !foc_read_identifier(&r, &chaincode)) {
		*message = "request plaintext: malformed channel or chaincode id";
		goto out;
	}
	rc = foc_decode_args(&r, &inv->request, message);
	if (rc == FOC_OK)
		rc = foc_decode_context(&r, &inv->request, message);
	if (rc != FOC_OK)
		goto out;
	rc = FOC_ERR_BAD_REQUEST;
	if (!foc_read_exact(&r, FOC_AES_KEY_SIZE, &rkey) || !foc_reader_at_end(&r)) {
		*message = "request plaintext: response key must be 32 bytes, then nothing";
		goto out;
	}
	if (channel.len != c->keys.channel_id_len || memcmp(channel.data, c->keys.channel_id, channel.len) != 0) {
		*message = "confidential request is for another channel than this enclave's";
		goto out;
	}
	if (chaincode.len != c->keys.chaincode_id_len || memcmp(chaincode.data, c->keys.chaincode_id, chaincode.len)) {
		*message = "confidential request is for another chaincode than this enclave's";
		goto out;
	}
	/* the identity inside the request must be the one that signed this transaction's proposal */
	if (!foc_slice_equals(inv->request.creator_msp_id, peer_msp) ||
	    !foc_slice_equals(inv->request.creator_certificate, peer_cert)) {
		*message = "the confidential request's creator is not the transaction's creator";
		goto out;
	}
	rc = FOC_ERR_INTERNAL;
	if (!hash_encoded(encode_creator, &inv->request, c->creator_hash)) {
		*message = "SHA-256 failed";
		goto out;
	}
	memcpy(c->response_key, rkey, FOC_AES_KEY_SIZE);
	rc = FOC_OK;
out:
	foc_blob_free(&outer);
	return rc;
}

/* "FOC/v1/state" || key, the associated data binding a stored_value to its key; returns its length. */
static size_t state_aad(uint8_t aad[LABEL_LEN(STATE_LABEL) + FOC_MAX_KEY], const struct foc_blob *key)
{
	memcpy(aad, STATE_LABEL, LABEL_LEN(STATE_LABEL));
	memcpy(aad + LABEL_LEN(STATE_LABEL), key->data, key->len);
	return LABEL_LEN(STATE_LABEL) + key->len;
}

/*
 * The answer carries a stored_value := u32 FCS1 bytes nonce bytes AES-GCM(state_key, nonce,
 * value, "FOC/v1/state" || key). Any failure (malformed, wrong key name, altered) is
 * FOC_ERR_INCONSISTENT naming the key.
 */
static foc_status open_state(struct foc_invocation *inv, struct foc_read *read, struct foc_blob *stored,
			     const char **message)
{
	struct confidential *c = inv->ctx;
	const struct foc_blob *key = &read->key;
	uint8_t aad[LABEL_LEN(STATE_LABEL) + FOC_MAX_KEY];
	const uint8_t *nonce = NULL, *ct = NULL;
	uint32_t ct_len = 0, magic = 0;
	struct foc_reader r;

	/* value_hash covers the stored bytes as read ("" if absent); read from the private copy */
	if (!foc_crypto_sha256(stored->data, stored->len, read->digest)) {
		*message = "SHA-256 failed";
		return FOC_ERR_INTERNAL;
	}
	if (!read->found)
		return FOC_OK;
	foc_reader_init(&r, stored->data, stored->len);
	if (foc_read_u32(&r, &magic) == FOC_READ_OK && magic == FOC_CONF_STATE_MAGIC &&
	    foc_read_exact(&r, FOC_GCM_NONCE_SIZE, &nonce) &&
	    foc_read_bytes(&r, FOC_MAX_VALUE + FOC_GCM_TAG_SIZE, &ct, &ct_len) == FOC_READ_OK &&
	    ct_len >= FOC_GCM_TAG_SIZE && foc_reader_at_end(&r) && key->len <= FOC_MAX_KEY) {
		read->value.len = ct_len - FOC_GCM_TAG_SIZE;
		read->value.data = foc_platform_alloc(read->value.len ? read->value.len : 1);
		if (!read->value.data) {
			read->value.len = 0;
			*message = "out of memory decrypting a state value";
			return FOC_ERR_NO_MEMORY;
		}
		if (foc_crypto_gcm_open(c->keys.state_key, nonce, aad, state_aad(aad, key), ct, ct_len, read->value.data))
			return FOC_OK;
		foc_blob_free(&read->value);
	}
	snprintf(c->message, sizeof(c->message), "state value for %.*s failed authentication", (int)key->len,
		 (const char *)key->data);
	*message = c->message;
	return FOC_ERR_INCONSISTENT;
}

static foc_status check_write(struct foc_slice key, const char **message)
{
	if (key.len >= LABEL_LEN(RESERVED_PREFIX) && memcmp(key.data, RESERVED_PREFIX, LABEL_LEN(RESERVED_PREFIX)) == 0) {
		*message = "state keys starting with ~foc/ are reserved";
		return FOC_ERR_BAD_ARGUMENT;
	}
	return FOC_OK;
}

/*
 * The nonce of a written value: the first 12 bytes of HKDF(state_key, "FOC/v1/state-nonce" ||
 * request_hash || SHA-256(key) || SHA-256(value)), a synthetic IV. Every enclave of the chaincode
 * that runs the same request to the same write produces the same stored_value, so a validator
 * can compare the write sets of several endorsements byte for byte; a different request, key or
 * value gives an unrelated nonce, so no nonce is used twice with different input.
 */
static bool state_nonce(const struct confidential *c, const struct foc_write *wr, uint8_t nonce[FOC_GCM_NONCE_SIZE])
{
	uint8_t info[LABEL_LEN(STATE_NONCE_LABEL) + 3 * FOC_HASH_SIZE], prk[FOC_AES_KEY_SIZE];
	uint8_t *p = info + LABEL_LEN(STATE_NONCE_LABEL);
	bool ok;

	memcpy(info, STATE_NONCE_LABEL, LABEL_LEN(STATE_NONCE_LABEL));
	memcpy(p, c->request_hash, FOC_HASH_SIZE);
	ok = foc_crypto_sha256(wr->key.data, wr->key.len, p + FOC_HASH_SIZE) &&
	     foc_crypto_sha256(wr->value.data, wr->value.len, p + 2 * FOC_HASH_SIZE) &&
	     foc_crypto_hkdf(c->keys.state_key, info, sizeof(info), prk);
	memcpy(nonce, prk, FOC_GCM_NONCE_SIZE);
	foc_wipe(prk, sizeof(prk));
	return ok;
}

/*
 * [u32 magic] bytes nonce bytes AES-GCM(key, nonce, in, aad): a stored_value (magic FCS1, the
 * nonce given) or an encrypted_response (no magic, nonce NULL: a fresh random one).
 */
static bool seal(const uint8_t key[FOC_AES_KEY_SIZE], uint32_t magic, const uint8_t *given_nonce,
		 const uint8_t *aad, size_t aad_len, const uint8_t *in, uint32_t len, struct foc_blob *out)
{
	uint8_t nonce[FOC_GCM_NONCE_SIZE];
	struct foc_writer w;

	out->len = (magic ? 4 : 0) + 4 + FOC_GCM_NONCE_SIZE + 4 + len + FOC_GCM_TAG_SIZE;
	out->data = foc_platform_alloc(out->len);
	if (given_nonce)
		memcpy(nonce, given_nonce, sizeof(nonce));
	if (!out->data || (!given_nonce && !foc_crypto_random(nonce, sizeof(nonce))))
		return false;
	foc_writer_init(&w, out->data, out->len);
	if (magic)
		foc_write_u32(&w, magic);
	foc_write_bytes(&w, nonce, sizeof(nonce));
	foc_write_u32(&w, len + FOC_GCM_TAG_SIZE);
	return foc_crypto_gcm_seal(key, nonce, aad, aad_len, in, len, out->data + w.len);
}

/* encrypted_response: AES-GCM(response_key, nonce, u32 status bytes data, aad = request_hash) */
static bool seal_response(const struct confidential *c, uint32_t status, struct foc_slice data,
			  struct foc_blob *out)
{
	uint32_t pt_len = 4 + 4 + data.len;
	uint8_t *pt = foc_platform_alloc(pt_len);
	struct foc_writer w;
	bool ok;

	if (!pt)
		return false;
	foc_writer_init(&w, pt, pt_len);
	foc_write_u32(&w, status);
	foc_write_bytes(&w, data.data, data.len);
	ok = seal(c->response_key, 0, NULL, c->request_hash, FOC_HASH_SIZE, pt, pt_len, out);
	foc_wipe(pt, pt_len);
	foc_platform_free(pt);
	return ok;
}

static void write_signed_message(struct foc_writer *w, const struct foc_invocation *inv,
				 const struct foc_outcome *o, const struct foc_blob *stored,
				 const uint8_t (*results_hash)[FOC_HASH_SIZE], const struct foc_blob *response)
{
	const struct confidential *c = inv->ctx;
	uint32_t i;

	foc_write_u32(w, FOC_CONF_SIGNED_MAGIC);
	foc_write_bytes(w, (const uint8_t *)c->keys.enclave_id, sizeof(c->keys.enclave_id));
	foc_write_bytes(w, c->request_hash, FOC_HASH_SIZE);
	foc_write_bytes(w, c->creator_hash, FOC_HASH_SIZE);
	foc_write_u32(w, o->nreads);
	for (i = 0; i < o->nreads; i++) {
		const struct foc_read *r = &inv->cache[o->reads[i]];

		foc_write_bytes(w, r->key.data, r->key.len);
		foc_write_u8(w, r->found ? 1 : 0);
		foc_write_bytes(w, r->digest, FOC_HASH_SIZE);
	}
	foc_write_u32(w, o->nranges);
	for (i = 0; i < o->nranges; i++) {
		const struct foc_range_read *range = &inv->ranges[o->ranges[i]];

		foc_write_bytes(w, range->start.data, range->start.len);
		foc_write_bytes(w, range->end.data, range->end.len);
		foc_write_bytes(w, results_hash[i], FOC_HASH_SIZE);
	}
	foc_write_u32(w, o->nwrites);
	for (i = 0; i < o->nwrites; i++) {
		foc_write_bytes(w, o->writes[i].key.data, o->writes[i].key.len);
		foc_write_u8(w, o->writes[i].is_delete ? 1 : 0);
		foc_write_bytes(w, stored[i].data, stored[i].len);
	}
	foc_write_bytes(w, response->data, response->len);
}

/*
 * FOC_MSG_CONFIDENTIAL_RESPONSE := bytes signed_message bytes signature. Every outcome after
 * decryption goes to the client inside it: status 200 with the payload and the write set,
 * or status 500 with "<CODE>: <message>" and no writes.
 */
static void render(const struct foc_invocation *inv, const struct foc_outcome *o, struct foc_writer *out,
		   uint32_t *msg_type)
{
	const struct confidential *c = inv->ctx;
	char text[FOC_MAX_ERROR_MESSAGE + 32];
	struct foc_slice data = o->payload;
	struct foc_blob stored[FOC_MAX_WRITES];
	struct foc_blob response = { NULL, 0 };
	uint8_t aad[LABEL_LEN(STATE_LABEL) + FOC_MAX_KEY], digest[FOC_HASH_SIZE], sig[FOC_SIGNATURE_SIZE];
	uint8_t nonce[FOC_GCM_NONCE_SIZE];
	uint8_t results_hash[FOC_MAX_RANGES][FOC_HASH_SIZE];
	struct foc_writer w;
	uint8_t *message = NULL;
	bool ok = true;
	uint32_t i;
	int n;

	if (o->code != FOC_OK) {
		n = snprintf(text, sizeof(text), "%s: %.*s", foc_error_name(o->code), (int)o->message.len,
			     (const char *)o->message.data);
		if (n < 0)
			n = 0;
		if ((size_t)n >= sizeof(text))
			n = sizeof(text) - 1;
		data.data = (const uint8_t *)text;
		data.len = (uint32_t)n;
	}
	memset(stored, 0, sizeof(stored));
	for (i = 0; i < o->nwrites && ok; i++) {
		const struct foc_write *wr = &o->writes[i];

		if (!wr->is_delete)
			ok = state_nonce(c, wr, nonce) && seal(c->keys.state_key, FOC_CONF_STATE_MAGIC, nonce, aad,
							       state_aad(aad, &wr->key), wr->value.data, wr->value.len,
							       &stored[i]);
	}
	for (i = 0; i < o->nranges && ok; i++)
		ok = hash_encoded(encode_results, &inv->ranges[o->ranges[i]], results_hash[i]);
	ok = ok && seal_response(c, o->code == FOC_OK ? FOC_RESPONSE_OK : FOC_RESPONSE_ERROR, data, &response);
	if (ok) {
		foc_writer_init(&w, NULL, 0); /* first pass: size */
		write_signed_message(&w, inv, o, stored, results_hash, &response);
		message = foc_platform_alloc(w.len);
		ok = message != NULL;
	}
	if (ok) {
		foc_writer_init(&w, message, w.len);
		write_signed_message(&w, inv, o, stored, results_hash, &response);
		ok = foc_crypto_sha256(message, w.len, digest) &&
		     foc_crypto_ecdsa_sign(c->keys.sign_priv, c->keys.sign_pub, digest, sig);
	}
	if (ok) {
		foc_write_bytes(out, message, (uint32_t)w.len);
		foc_write_bytes(out, sig, sizeof(sig));
		*msg_type = FOC_MSG_CONFIDENTIAL_RESPONSE;
	} else {
		foc_render_error(out, msg_type, FOC_ERR_INTERNAL,
				 foc_slice_of("cannot encrypt or sign the confidential response"));
	}
	for (i = 0; i < o->nwrites; i++)
		foc_platform_free(stored[i].data);
	foc_platform_free(response.data);
	foc_platform_free(message);
}

static void release(void *ctx)
{
	foc_wipe(ctx, sizeof(struct confidential));
	foc_platform_free(ctx);
}

const struct foc_envelope foc_confidential_envelope = {
	.max_stored_value = FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD,
	.open_request = open_request,
	.open_state = open_state,
	.check_write = check_write,
	.render = render,
	.release = release,
};
