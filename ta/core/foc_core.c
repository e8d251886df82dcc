/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Trusted core: request decoding, deterministic re-execution of the chaincode with a
 * per-session read cache, write-set tracking and response encoding. No OP-TEE headers.
 */
#include "foc_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <foc_ta.h>

#include "foc_codec.h"
#include "foc_crypto.h"
#include "foc_enclave.h"
#include "foc_platform.h"
#include "foc_stub.h"

#define STR_(x) #x
#define STR(x) STR_(x)
#define LIMIT_MSG(name, what) "limit " #name " (" STR(name) ") exceeded: " what

#define FOC_ERR_LAST FOC_ERR_INCONSISTENT

/* A byte string owned by the core (data == NULL when len == 0). */
struct foc_blob {
	uint8_t *data;
	uint32_t len;
};

struct foc_cached_read {
	struct foc_blob key;
	struct foc_blob value;     /* plaintext (decrypted in confidential mode) */
	bool found;
	uint32_t answer_len;       /* bytes counted against FOC_MAX_CACHE_BYTES (stored bytes) */
	uint8_t stored_hash[FOC_HASH_SIZE]; /* confidential: SHA-256 of the stored bytes as read */
};

#define REQUEST_LABEL "FOC/v1/request"
#define STATE_LABEL "FOC/v1/state"
#define RESERVED_PREFIX "~foc/"
#define LABEL_LEN(l) (sizeof(l) - 1)

struct foc_session {
	bool in_flight;
	uint8_t *request; /* private copy: the arguments point into it */
	uint32_t request_len;
	struct foc_slice args[FOC_MAX_ARGS];
	uint32_t nargs;
	struct foc_cached_read cache[FOC_MAX_READS]; /* values fetched so far, in fetch order */
	uint32_t ncache;
	size_t cache_bytes;
	struct foc_blob pending_key; /* the key of the last GET_STATE, while in flight */
	/* Confidential invocation: request is the decrypted plaintext, keys the sealed keys. */
	bool confidential;
	struct foc_enclave_keys *keys;
	uint8_t request_hash[FOC_HASH_SIZE];
	uint8_t response_key[FOC_AES_KEY_SIZE];
	char message[FOC_MAX_KEY + 64]; /* formatted error messages naming a key */
};

struct foc_write {
	struct foc_blob key;
	struct foc_blob value;
	bool is_delete;
};

/* State of one run of the chaincode; rebuilt from scratch on every re-execution. */
struct foc_stub {
	struct foc_session *session;
	foc_status outcome;          /* FOC_OK until a stub call fixes it (FOC_NEED_STATE or FOC_ERR_*) */
	struct foc_blob needed_key;  /* with FOC_NEED_STATE */
	uint32_t reads[FOC_MAX_READS]; /* cache indices, first-read order */
	uint32_t nreads;
	struct foc_write writes[FOC_MAX_WRITES];
	uint32_t nwrites;
	size_t write_bytes;
	struct foc_blob payload;
	foc_status error_code;
	char message[FOC_MAX_ERROR_MESSAGE];
	uint32_t message_len;
};

/* ---------------------------------------------------------------- blobs and slices */

static bool blob_copy(struct foc_blob *dst, const uint8_t *data, uint32_t len)
{
	dst->data = NULL;
	dst->len = 0;
	if (len == 0)
		return true;
	dst->data = foc_platform_alloc(len);
	if (!dst->data)
		return false;
	memcpy(dst->data, data, len);
	dst->len = len;
	return true;
}

static void blob_free(struct foc_blob *b)
{
	if (b->data)
		foc_wipe(b->data, b->len);
	foc_platform_free(b->data);
	b->data = NULL;
	b->len = 0;
}

static struct foc_slice blob_slice(const struct foc_blob *b)
{
	struct foc_slice s = { b->data, b->len };

	return s;
}

struct foc_slice foc_slice_of(const char *nul_terminated)
{
	struct foc_slice s = { (const uint8_t *)nul_terminated, 0 };

	if (nul_terminated)
		s.len = (uint32_t)strlen(nul_terminated);
	return s;
}

bool foc_slice_equals(struct foc_slice a, struct foc_slice b)
{
	if (a.len != b.len)
		return false;
	return a.len == 0 || memcmp(a.data, b.data, a.len) == 0;
}

/* ---------------------------------------------------------------- session */

struct foc_session *foc_session_new(void)
{
	return foc_platform_alloc(sizeof(struct foc_session));
}

void foc_session_abort(struct foc_session *s)
{
	uint32_t i;

	for (i = 0; i < s->ncache; i++) {
		blob_free(&s->cache[i].key);
		blob_free(&s->cache[i].value);
	}
	s->ncache = 0;
	s->cache_bytes = 0;
	blob_free(&s->pending_key);
	if (s->request)
		foc_wipe(s->request, s->request_len);
	foc_platform_free(s->request);
	s->request = NULL;
	s->request_len = 0;
	s->nargs = 0;
	s->in_flight = false;
	if (s->keys) {
		foc_wipe(s->keys, sizeof(*s->keys));
		foc_platform_free(s->keys);
		s->keys = NULL;
	}
	foc_wipe(s->response_key, sizeof(s->response_key));
	s->confidential = false;
}

void foc_session_free(struct foc_session *s)
{
	if (!s)
		return;
	foc_session_abort(s);
	foc_platform_free(s);
}

/* ---------------------------------------------------------------- stub: arguments */

struct foc_slice foc_stub_function(const struct foc_stub *stub)
{
	return stub->session->args[0];
}

uint32_t foc_stub_arg_count(const struct foc_stub *stub)
{
	return stub->session->nargs - 1;
}

struct foc_slice foc_stub_arg(const struct foc_stub *stub, uint32_t index)
{
	struct foc_slice empty = { NULL, 0 };

	if (index >= foc_stub_arg_count(stub))
		return empty;
	return stub->session->args[index + 1];
}

/* ---------------------------------------------------------------- stub: outcome */

static void set_message(struct foc_stub *stub, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void set_message(struct foc_stub *stub, const char *fmt, va_list ap)
{
	int n = vsnprintf(stub->message, sizeof(stub->message), fmt, ap);

	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(stub->message))
		n = sizeof(stub->message) - 1;
	stub->message_len = (uint32_t)n;
}

/* A failure raised by the stub itself: it fixes the outcome of the run. */
static foc_status fail(struct foc_stub *stub, foc_status code, const char *message)
{
	stub->outcome = code;
	stub->error_code = code;
	stub->message_len = (uint32_t)strlen(message);
	if (stub->message_len >= sizeof(stub->message))
		stub->message_len = sizeof(stub->message) - 1;
	memcpy(stub->message, message, stub->message_len);
	return code;
}

foc_status foc_success(struct foc_stub *stub, struct foc_slice payload)
{
	struct foc_blob copy;

	if (stub->outcome != FOC_OK)
		return stub->outcome;
	if (payload.len > FOC_MAX_PAYLOAD)
		return fail(stub, FOC_ERR_LIMIT, LIMIT_MSG(FOC_MAX_PAYLOAD, "response payload too long"));
	if (payload.len && !payload.data)
		return fail(stub, FOC_ERR_INTERNAL, "chaincode passed a payload without data");
	if (!blob_copy(&copy, payload.data, payload.len))
		return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying the response payload");
	blob_free(&stub->payload);
	stub->payload = copy;
	return FOC_OK;
}

foc_status foc_error(struct foc_stub *stub, foc_status code, const char *message)
{
	if (stub->outcome != FOC_OK)
		return stub->outcome;
	return foc_errorf(stub, code, "%s", message ? message : "");
}

foc_status foc_errorf(struct foc_stub *stub, foc_status code, const char *fmt, ...)
{
	va_list ap;

	if (stub->outcome != FOC_OK)
		return stub->outcome;
	stub->error_code = code;
	va_start(ap, fmt);
	set_message(stub, fmt, ap);
	va_end(ap);
	return code;
}

/* ---------------------------------------------------------------- stub: state */

static foc_status check_key(struct foc_stub *stub, struct foc_slice key)
{
	if (key.len == 0)
		return fail(stub, FOC_ERR_BAD_ARGUMENT, "state key is empty");
	if (key.len > FOC_MAX_KEY)
		return fail(stub, FOC_ERR_LIMIT, LIMIT_MSG(FOC_MAX_KEY, "state key too long"));
	if (!key.data)
		return fail(stub, FOC_ERR_INTERNAL, "chaincode passed a key without data");
	if (memchr(key.data, 0, key.len))
		return fail(stub, FOC_ERR_BAD_ARGUMENT, "state key contains a NUL byte");
	return FOC_OK;
}

static struct foc_write *find_write(struct foc_stub *stub, struct foc_slice key)
{
	uint32_t i;

	for (i = 0; i < stub->nwrites; i++)
		if (foc_slice_equals(blob_slice(&stub->writes[i].key), key))
			return &stub->writes[i];
	return NULL;
}

static bool find_cached(const struct foc_session *s, struct foc_slice key, uint32_t *index)
{
	uint32_t i;

	for (i = 0; i < s->ncache; i++) {
		if (foc_slice_equals(blob_slice(&s->cache[i].key), key)) {
			*index = i;
			return true;
		}
	}
	return false;
}

static void note_read(struct foc_stub *stub, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < stub->nreads; i++)
		if (stub->reads[i] == index)
			return;
	/* reads are distinct cache indices, so there is always room */
	if (stub->nreads < FOC_MAX_READS)
		stub->reads[stub->nreads++] = index;
}

foc_status foc_get_state(struct foc_stub *stub, struct foc_slice key, struct foc_slice *value, bool *found)
{
	struct foc_session *s = stub->session;
	struct foc_write *w;
	uint32_t index;
	foc_status rc;

	value->data = NULL;
	value->len = 0;
	*found = false;
	if (stub->outcome != FOC_OK)
		return stub->outcome;
	rc = check_key(stub, key);
	if (rc != FOC_OK)
		return rc;

	w = find_write(stub, key); /* read-your-writes */
	if (w) {
		if (!w->is_delete) {
			*value = blob_slice(&w->value);
			*found = true;
		}
		return FOC_OK;
	}
	if (find_cached(s, key, &index)) {
		note_read(stub, index);
		*value = blob_slice(&s->cache[index].value);
		*found = s->cache[index].found;
		return FOC_OK;
	}
	if (s->ncache >= FOC_MAX_READS)
		return fail(stub, FOC_ERR_LIMIT, LIMIT_MSG(FOC_MAX_READS, "too many distinct keys read"));
	if (!blob_copy(&stub->needed_key, key.data, key.len))
		return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying a state key");
	stub->outcome = FOC_NEED_STATE;
	return FOC_NEED_STATE;
}

static foc_status buffer_write(struct foc_stub *stub, struct foc_slice key, struct foc_slice value, bool is_delete)
{
	struct foc_write *w;
	struct foc_blob copy;
	size_t total;
	foc_status rc;

	if (stub->outcome != FOC_OK)
		return stub->outcome;
	rc = check_key(stub, key);
	if (rc != FOC_OK)
		return rc;
	if (value.len > FOC_MAX_VALUE)
		return fail(stub, FOC_ERR_LIMIT, LIMIT_MSG(FOC_MAX_VALUE, "state value too long"));
	if (value.len && !value.data)
		return fail(stub, FOC_ERR_INTERNAL, "chaincode passed a value without data");

	/* The validator keeps its replay markers under ~foc/ (docs/confidential-protocol.md). */
	if (stub->session->confidential && key.len >= LABEL_LEN(RESERVED_PREFIX) &&
	    memcmp(key.data, RESERVED_PREFIX, LABEL_LEN(RESERVED_PREFIX)) == 0)
		return fail(stub, FOC_ERR_BAD_ARGUMENT, "state keys starting with ~foc/ are reserved");
	w = find_write(stub, key);
	if (w)
		total = stub->write_bytes - w->value.len + value.len;
	else
		total = stub->write_bytes + key.len + value.len;
	if (!w && stub->nwrites >= FOC_MAX_WRITES)
		return fail(stub, FOC_ERR_LIMIT, LIMIT_MSG(FOC_MAX_WRITES, "too many distinct keys written"));
	if (total > FOC_MAX_WRITE_BYTES)
		return fail(stub, FOC_ERR_LIMIT, LIMIT_MSG(FOC_MAX_WRITE_BYTES, "write set too large"));
	if (!blob_copy(&copy, value.data, value.len))
		return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying a state value");
	if (!w) {
		w = &stub->writes[stub->nwrites];
		if (!blob_copy(&w->key, key.data, key.len)) {
			blob_free(&copy);
			return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying a state key");
		}
		stub->nwrites++;
	}
	blob_free(&w->value);
	w->value = copy;
	w->is_delete = is_delete;
	stub->write_bytes = total;
	return FOC_OK;
}

foc_status foc_put_state(struct foc_stub *stub, struct foc_slice key, struct foc_slice value)
{
	return buffer_write(stub, key, value, false);
}

foc_status foc_del_state(struct foc_stub *stub, struct foc_slice key)
{
	struct foc_slice empty = { NULL, 0 };

	return buffer_write(stub, key, empty, true);
}

/* ---------------------------------------------------------------- running the chaincode */

static const char *default_message(foc_status code)
{
	switch (code) {
	case FOC_ERR_BAD_REQUEST: return "malformed request";
	case FOC_ERR_UNKNOWN_FUNCTION: return "unknown function";
	case FOC_ERR_ARG_COUNT: return "wrong number of arguments";
	case FOC_ERR_BAD_ARGUMENT: return "bad argument";
	case FOC_ERR_LIMIT: return "a limit was exceeded";
	case FOC_ERR_EXISTS: return "already exists";
	case FOC_ERR_NOT_FOUND: return "not found";
	case FOC_ERR_OVERFLOW: return "count overflow";
	case FOC_ERR_SEQUENCE: return "command out of sequence";
	case FOC_ERR_NO_MEMORY: return "out of memory";
	case FOC_ERR_INCONSISTENT: return "inconsistent state answer";
	case FOC_ERR_INTERNAL:
	default: return "internal error";
	}
}

static void render_error(struct foc_writer *w, uint32_t *msg_type, foc_status code, const char *message,
			 uint32_t message_len)
{
	foc_write_u32(w, code);
	foc_write_bytes(w, (const uint8_t *)message, message_len);
	*msg_type = FOC_MSG_ERROR;
}

static void render_error_str(struct foc_writer *w, uint32_t *msg_type, foc_status code, const char *message)
{
	render_error(w, msg_type, code, message, (uint32_t)strlen(message));
}

static void unknown_function(struct foc_stub *stub)
{
	size_t i;
	int n;
	size_t used;

	n = snprintf(stub->message, sizeof(stub->message), "unknown function; %s has:", foc_chaincode.name);
	used = n > 0 ? (size_t)n : 0;
	for (i = 0; i < foc_chaincode.function_count && used < sizeof(stub->message); i++) {
		n = snprintf(stub->message + used, sizeof(stub->message) - used, "%s %s", i ? "," : "",
			     foc_chaincode.functions[i].name);
		used += n > 0 ? (size_t)n : 0;
	}
	if (used >= sizeof(stub->message))
		used = sizeof(stub->message) - 1;
	stub->message_len = (uint32_t)used;
	stub->outcome = FOC_ERR_UNKNOWN_FUNCTION;
	stub->error_code = FOC_ERR_UNKNOWN_FUNCTION;
}

static void run_chaincode(struct foc_stub *stub, foc_status *rc)
{
	struct foc_slice name = stub->session->args[0];
	size_t i;

	for (i = 0; i < foc_chaincode.function_count; i++) {
		if (foc_slice_equals(name, foc_slice_of(foc_chaincode.functions[i].name))) {
			*rc = foc_chaincode.functions[i].run(stub);
			return;
		}
	}
	unknown_function(stub);
	*rc = FOC_ERR_UNKNOWN_FUNCTION;
}

static void render_response(struct foc_writer *w, uint32_t *msg_type, const struct foc_stub *stub)
{
	const struct foc_session *s = stub->session;
	uint32_t i;

	foc_write_u32(w, FOC_RESPONSE_OK);
	foc_write_bytes(w, stub->payload.data, stub->payload.len);
	foc_write_u32(w, stub->nreads);
	for (i = 0; i < stub->nreads; i++) {
		const struct foc_blob *key = &s->cache[stub->reads[i]].key;

		foc_write_bytes(w, key->data, key->len);
	}
	foc_write_u32(w, stub->nwrites);
	for (i = 0; i < stub->nwrites; i++) {
		const struct foc_write *wr = &stub->writes[i];

		foc_write_bytes(w, wr->key.data, wr->key.len);
		foc_write_u8(w, wr->is_delete ? 1 : 0);
		foc_write_bytes(w, wr->value.data, wr->value.len);
	}
	*msg_type = FOC_MSG_RESPONSE;
}

/* ---------------------------------------------------------------- confidential response */

/* stored_value := u32 FCS1 bytes nonce bytes AES-GCM(state_key, nonce, value, "FOC/v1/state" || key) */
static bool seal_state(const struct foc_session *s, const struct foc_write *wr, struct foc_blob *out)
{
	uint8_t aad[LABEL_LEN(STATE_LABEL) + FOC_MAX_KEY];
	uint8_t nonce[FOC_GCM_NONCE_SIZE];
	uint32_t ct_len = wr->value.len + FOC_GCM_TAG_SIZE;
	uint32_t len = 4 + 4 + FOC_GCM_NONCE_SIZE + 4 + ct_len;
	struct foc_writer w;

	out->data = foc_platform_alloc(len);
	out->len = 0;
	if (!out->data)
		return false;
	memcpy(aad, STATE_LABEL, LABEL_LEN(STATE_LABEL));
	memcpy(aad + LABEL_LEN(STATE_LABEL), wr->key.data, wr->key.len);
	if (!foc_crypto_random(nonce, sizeof(nonce)))
		return false;
	foc_writer_init(&w, out->data, len);
	foc_write_u32(&w, FOC_CONF_STATE_MAGIC);
	foc_write_bytes(&w, nonce, sizeof(nonce));
	foc_write_u32(&w, ct_len);
	out->len = len;
	return foc_crypto_gcm_seal(s->keys->state_key, nonce, aad, LABEL_LEN(STATE_LABEL) + wr->key.len,
				   wr->value.data, wr->value.len, out->data + w.len);
}

/* encrypted_response := bytes nonce bytes AES-GCM(response_key, nonce, u32 status bytes data, request_hash) */
static bool seal_response(const struct foc_session *s, uint32_t status, const uint8_t *data, uint32_t len,
			  struct foc_blob *out)
{
	uint32_t pt_len = 4 + 4 + len;
	uint32_t ct_len = pt_len + FOC_GCM_TAG_SIZE;
	uint8_t nonce[FOC_GCM_NONCE_SIZE];
	uint8_t *pt = foc_platform_alloc(pt_len);
	struct foc_writer w;
	bool ok = false;

	out->len = 4 + FOC_GCM_NONCE_SIZE + 4 + ct_len;
	out->data = foc_platform_alloc(out->len);
	if (pt && out->data && foc_crypto_random(nonce, sizeof(nonce))) {
		foc_writer_init(&w, pt, pt_len);
		foc_write_u32(&w, status);
		foc_write_bytes(&w, data, len);
		foc_writer_init(&w, out->data, out->len);
		foc_write_bytes(&w, nonce, sizeof(nonce));
		foc_write_u32(&w, ct_len);
		ok = foc_crypto_gcm_seal(s->response_key, nonce, s->request_hash, FOC_HASH_SIZE, pt, pt_len,
					 out->data + w.len);
	}
	if (pt) {
		foc_wipe(pt, pt_len);
		foc_platform_free(pt);
	}
	return ok;
}

static void write_signed_message(struct foc_writer *w, const struct foc_stub *stub, const struct foc_blob *stored,
				 uint32_t nwrites, const struct foc_blob *response)
{
	const struct foc_session *s = stub->session;
	uint32_t i;

	foc_write_u32(w, FOC_CONF_SIGNED_MAGIC);
	foc_write_bytes(w, (const uint8_t *)s->keys->enclave_id, sizeof(s->keys->enclave_id));
	foc_write_bytes(w, s->request_hash, FOC_HASH_SIZE);
	foc_write_u32(w, stub->nreads);
	for (i = 0; i < stub->nreads; i++) {
		const struct foc_cached_read *r = &s->cache[stub->reads[i]];

		foc_write_bytes(w, r->key.data, r->key.len);
		foc_write_u8(w, r->found ? 1 : 0);
		foc_write_bytes(w, r->stored_hash, FOC_HASH_SIZE);
	}
	foc_write_u32(w, nwrites);
	for (i = 0; i < nwrites; i++) {
		const struct foc_write *wr = &stub->writes[i];

		foc_write_bytes(w, wr->key.data, wr->key.len);
		foc_write_u8(w, wr->is_delete ? 1 : 0);
		foc_write_bytes(w, stored[i].data, stored[i].len);
	}
	foc_write_bytes(w, response->data, response->len);
}

/*
 * FOC_MSG_CONFIDENTIAL_RESPONSE: confidential_response := bytes signed_message bytes signature.
 * status 200 carries the payload and the write set; any other status carries the error
 * message and no writes (docs/confidential-protocol.md).
 */
static void render_confidential(struct foc_writer *out, uint32_t *msg_type, const struct foc_stub *stub,
				uint32_t status, const uint8_t *data, uint32_t len)
{
	const struct foc_session *s = stub->session;
	uint32_t nwrites = status == FOC_RESPONSE_OK ? stub->nwrites : 0;
	struct foc_blob stored[FOC_MAX_WRITES];
	struct foc_blob response = { NULL, 0 };
	uint8_t digest[FOC_HASH_SIZE], sig[FOC_SIGNATURE_SIZE];
	struct foc_writer w;
	uint8_t *message = NULL;
	bool ok = true;
	uint32_t i;

	memset(stored, 0, sizeof(stored));
	for (i = 0; i < nwrites && ok; i++)
		if (!stub->writes[i].is_delete)
			ok = seal_state(s, &stub->writes[i], &stored[i]);
	ok = ok && seal_response(s, status, data, len, &response);
	if (ok) {
		foc_writer_init(&w, NULL, 0); /* first pass: size */
		write_signed_message(&w, stub, stored, nwrites, &response);
		message = foc_platform_alloc(w.len);
		ok = message != NULL;
	}
	if (ok) {
		foc_writer_init(&w, message, w.len);
		write_signed_message(&w, stub, stored, nwrites, &response);
		ok = foc_crypto_sha256(message, w.len, digest) &&
		     foc_crypto_ecdsa_sign(s->keys->sign_priv, s->keys->sign_pub, digest, sig);
	}
	if (ok) {
		foc_write_bytes(out, message, (uint32_t)w.len);
		foc_write_bytes(out, sig, sizeof(sig));
		*msg_type = FOC_MSG_CONFIDENTIAL_RESPONSE;
	} else {
		render_error_str(out, msg_type, FOC_ERR_INTERNAL, "cannot encrypt or sign the confidential response");
	}
	for (i = 0; i < nwrites; i++)
		foc_platform_free(stored[i].data);
	foc_platform_free(response.data);
	foc_platform_free(message);
}

static const char *error_name(foc_status code)
{
	static const char *const names[] = { "BAD_REQUEST", "UNKNOWN_FUNCTION", "ARG_COUNT", "BAD_ARGUMENT",
					     "LIMIT", "EXISTS", "NOT_FOUND", "OVERFLOW", "SEQUENCE",
					     "NO_MEMORY", "INTERNAL", "INCONSISTENT" };

	if (code >= FOC_ERR_BAD_REQUEST && code <= FOC_ERR_LAST)
		return names[code - FOC_ERR_BAD_REQUEST];
	return "INTERNAL";
}

/* A failed run in confidential mode: status 500, payload "<CODE>: <message>", no writes. */
static void render_confidential_error(struct foc_writer *w, uint32_t *msg_type, const struct foc_stub *stub,
				      foc_status rc)
{
	char text[FOC_MAX_ERROR_MESSAGE + 32];
	foc_status code = stub->outcome != FOC_OK ? stub->outcome : rc;
	const char *message = default_message(code);
	int message_len = (int)strlen(message);
	int n;

	if (stub->outcome == FOC_OK && !(rc >= FOC_ERR_BAD_REQUEST && rc <= FOC_ERR_LAST)) {
		code = FOC_ERR_INTERNAL;
		message = "chaincode returned an invalid status";
		message_len = (int)strlen(message);
	} else if (stub->message_len) {
		message = stub->message;
		message_len = (int)stub->message_len;
	}
	n = snprintf(text, sizeof(text), "%s: %.*s", error_name(code), message_len, message);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(text))
		n = sizeof(text) - 1;
	render_confidential(w, msg_type, stub, FOC_RESPONSE_ERROR, (const uint8_t *)text, (uint32_t)n);
}

static void stub_free(struct foc_stub *stub)
{
	uint32_t i;

	for (i = 0; i < stub->nwrites; i++) {
		blob_free(&stub->writes[i].key);
		blob_free(&stub->writes[i].value);
	}
	blob_free(&stub->payload);
	blob_free(&stub->needed_key);
	foc_platform_free(stub);
}

/*
 * Run the chaincode once over the session's request and cache and encode the outcome.
 * With FOC_MSG_GET_STATE, *needed_key receives the key (owned by the caller).
 */
static void run_and_render(struct foc_session *s, struct foc_writer *w, uint32_t *msg_type,
			   struct foc_blob *needed_key)
{
	struct foc_stub *stub = foc_platform_alloc(sizeof(*stub));
	foc_status rc = FOC_OK;

	needed_key->data = NULL;
	needed_key->len = 0;
	if (!stub) {
		render_error_str(w, msg_type, FOC_ERR_NO_MEMORY, "out of memory starting the chaincode");
		return;
	}
	stub->session = s;
	run_chaincode(stub, &rc);

	if (stub->outcome == FOC_NEED_STATE) {
		foc_write_bytes(w, stub->needed_key.data, stub->needed_key.len);
		*msg_type = FOC_MSG_GET_STATE;
		*needed_key = stub->needed_key;
		stub->needed_key.data = NULL;
		stub->needed_key.len = 0;
	} else if (s->confidential) {
		/* After decryption every outcome goes to the client inside the signed, encrypted response. */
		if (stub->outcome == FOC_OK && rc == FOC_OK)
			render_confidential(w, msg_type, stub, FOC_RESPONSE_OK, stub->payload.data, stub->payload.len);
		else
			render_confidential_error(w, msg_type, stub, rc);
	} else if (stub->outcome != FOC_OK) {
		render_error(w, msg_type, stub->outcome, stub->message, stub->message_len);
	} else if (rc == FOC_OK) {
		render_response(w, msg_type, stub);
	} else if (rc >= FOC_ERR_BAD_REQUEST && rc <= FOC_ERR_LAST) {
		if (stub->error_code == rc && stub->message_len)
			render_error(w, msg_type, rc, stub->message, stub->message_len);
		else
			render_error_str(w, msg_type, rc, default_message(rc));
	} else {
		render_error_str(w, msg_type, FOC_ERR_INTERNAL, "chaincode returned an invalid status");
	}
	stub_free(stub);
}

/* ---------------------------------------------------------------- commands */

/* u32 nargs bytes[nargs] into the session's argument table (pointing into the reader's buffer). */
static foc_status decode_args(struct foc_session *s, struct foc_reader *rd, const char **message)
{
	struct foc_reader r = *rd;
	uint32_t nargs = 0, i;

	if (foc_read_u32(&r, &nargs) != FOC_READ_OK) {
		*message = "request shorter than its header";
		return FOC_ERR_BAD_REQUEST;
	}
	if (nargs == 0) {
		*message = "request has no function name";
		return FOC_ERR_BAD_REQUEST;
	}
	if (nargs > FOC_MAX_ARGS) {
		*message = LIMIT_MSG(FOC_MAX_ARGS, "too many arguments (including the function name)");
		return FOC_ERR_LIMIT;
	}
	for (i = 0; i < nargs; i++) {
		uint32_t max = i == 0 ? FOC_MAX_FUNCTION : FOC_MAX_VALUE;
		enum foc_read_result res = foc_read_bytes(&r, max, &s->args[i].data, &s->args[i].len);

		if (res == FOC_READ_TRUNCATED) {
			*message = "request ends inside an argument";
			return FOC_ERR_BAD_REQUEST;
		}
		if (res == FOC_READ_TOO_LONG) {
			*message = i == 0 ? LIMIT_MSG(FOC_MAX_FUNCTION, "function name too long")
					  : LIMIT_MSG(FOC_MAX_VALUE, "argument too long");
			return FOC_ERR_LIMIT;
		}
	}
	s->nargs = nargs;
	*rd = r;
	return FOC_OK;
}

/* Decode the session's private copy of the request into its argument table. */
static foc_status decode_request(struct foc_session *s, const char **message)
{
	struct foc_reader r;
	uint32_t magic = 0;
	foc_status rc;

	foc_reader_init(&r, s->request, s->request_len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK) {
		*message = "request shorter than its header";
		return FOC_ERR_BAD_REQUEST;
	}
	if (magic != FOC_REQ_MAGIC) {
		*message = "request does not start with FOC_REQ_MAGIC";
		return FOC_ERR_BAD_REQUEST;
	}
	rc = decode_args(s, &r, message);
	if (rc != FOC_OK)
		return rc;
	if (!foc_reader_at_end(&r)) {
		s->nargs = 0;
		*message = "trailing bytes after the last argument";
		return FOC_ERR_BAD_REQUEST;
	}
	return FOC_OK;
}

/* Commit a fitting outcome: stay in flight for GET_STATE, otherwise end the invocation. */
static void finish(struct foc_session *s, uint32_t msg_type, struct foc_blob *needed_key)
{
	if (msg_type == FOC_MSG_GET_STATE) {
		blob_free(&s->pending_key);
		s->pending_key = *needed_key;
		s->in_flight = true;
	} else {
		blob_free(needed_key);
		foc_session_abort(s);
	}
}

/* First run of a decoded request. */
static bool start(struct foc_session *s, struct foc_writer *w, uint32_t *msg_type)
{
	struct foc_blob needed_key = { NULL, 0 };

	s->in_flight = true;
	run_and_render(s, w, msg_type, &needed_key);
	if (!foc_writer_fits(w)) {
		blob_free(&needed_key);
		foc_session_abort(s);
		return false;
	}
	finish(s, *msg_type, &needed_key);
	return true;
}

static bool command_invoke(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
			   uint32_t *msg_type)
{
	const char *message = NULL;
	foc_status rc;

	foc_session_abort(s);
	if (in_len > FOC_MAX_REQUEST) {
		render_error_str(w, msg_type, FOC_ERR_LIMIT, LIMIT_MSG(FOC_MAX_REQUEST, "request too long"));
		return foc_writer_fits(w);
	}
	/* Decode a private copy: the caller's buffer may change under us. */
	if (in_len) {
		s->request = foc_platform_alloc(in_len);
		if (!s->request) {
			render_error_str(w, msg_type, FOC_ERR_NO_MEMORY, "out of memory copying the request");
			return foc_writer_fits(w);
		}
		memcpy(s->request, in, in_len);
		s->request_len = (uint32_t)in_len;
	}
	rc = decode_request(s, &message);
	if (rc != FOC_OK) {
		foc_session_abort(s);
		render_error_str(w, msg_type, rc, message);
		return foc_writer_fits(w);
	}
	return start(s, w, msg_type);
}

static bool read_ident(struct foc_reader *r, const uint8_t **data, uint32_t *len)
{
	return foc_read_bytes(r, FOC_MAX_IDENTIFIER, data, len) == FOC_READ_OK && *len > 0;
}

/*
 * Decrypt and decode a confidential_request (in = the session's private copy). On success
 * the session holds the plaintext (its arguments point into it), the keys, the request
 * hash and the response key. Errors name no secret.
 */
static foc_status open_request(struct foc_session *s, const uint8_t *in, size_t in_len, const char **message)
{
	uint8_t info[LABEL_LEN(REQUEST_LABEL) + 2 * FOC_EC_POINT_SIZE];
	uint8_t key[FOC_AES_KEY_SIZE];
	const uint8_t *point = NULL, *nonce = NULL, *ct = NULL, *channel = NULL, *chaincode = NULL, *rkey = NULL;
	uint32_t point_len = 0, nonce_len = 0, ct_len = 0, channel_len = 0, chaincode_len = 0, rkey_len = 0;
	uint32_t magic = 0;
	struct foc_reader r;
	foc_status rc;
	bool opened;

	foc_reader_init(&r, in, in_len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || magic != FOC_CONF_REQUEST_MAGIC) {
		*message = "confidential request does not start with the FCR1 magic";
		return FOC_ERR_BAD_REQUEST;
	}
	if (foc_read_bytes(&r, FOC_EC_POINT_SIZE, &point, &point_len) != FOC_READ_OK ||
	    point_len != FOC_EC_POINT_SIZE ||
	    foc_read_bytes(&r, FOC_GCM_NONCE_SIZE, &nonce, &nonce_len) != FOC_READ_OK ||
	    nonce_len != FOC_GCM_NONCE_SIZE || foc_read_bytes(&r, FOC_MAX_REQUEST, &ct, &ct_len) != FOC_READ_OK ||
	    ct_len < FOC_GCM_TAG_SIZE || !foc_reader_at_end(&r)) {
		*message = "malformed confidential request (point 65 B, nonce 12 B, ciphertext >= 16 B, no trailing bytes)";
		return FOC_ERR_BAD_REQUEST;
	}
	s->keys = foc_platform_alloc(sizeof(*s->keys));
	if (!s->keys) {
		*message = "out of memory loading the enclave keys";
		return FOC_ERR_NO_MEMORY;
	}
	rc = foc_enclave_load(s->keys, message);
	if (rc != FOC_OK)
		return rc;
	if (!foc_crypto_sha256(in, in_len, s->request_hash)) {
		*message = "SHA-256 failed";
		return FOC_ERR_INTERNAL;
	}
	memcpy(info, REQUEST_LABEL, LABEL_LEN(REQUEST_LABEL));
	memcpy(info + LABEL_LEN(REQUEST_LABEL), point, FOC_EC_POINT_SIZE);
	memcpy(info + LABEL_LEN(REQUEST_LABEL) + FOC_EC_POINT_SIZE, s->keys->chaincode_pub, FOC_EC_POINT_SIZE);
	if (!foc_crypto_ecdh_hkdf(s->keys->chaincode_priv, s->keys->chaincode_pub, point, info, sizeof(info), key)) {
		*message = "confidential request: the client key is not a P-256 point";
		return FOC_ERR_BAD_REQUEST;
	}
	s->request_len = ct_len - FOC_GCM_TAG_SIZE;
	s->request = foc_platform_alloc(s->request_len ? s->request_len : 1);
	if (!s->request) {
		foc_wipe(key, sizeof(key));
		*message = "out of memory decrypting the request";
		return FOC_ERR_NO_MEMORY;
	}
	opened = foc_crypto_gcm_open(key, nonce, (const uint8_t *)REQUEST_LABEL, LABEL_LEN(REQUEST_LABEL), ct, ct_len,
				     s->request);
	foc_wipe(key, sizeof(key));
	if (!opened) {
		*message = "confidential request failed authentication (altered, or not for this chaincode key)";
		return FOC_ERR_BAD_REQUEST;
	}
	foc_reader_init(&r, s->request, s->request_len);
	if (!read_ident(&r, &channel, &channel_len) || !read_ident(&r, &chaincode, &chaincode_len)) {
		*message = "request plaintext: malformed channel or chaincode id";
		return FOC_ERR_BAD_REQUEST;
	}
	rc = decode_args(s, &r, message);
	if (rc != FOC_OK)
		return rc;
	if (foc_read_bytes(&r, FOC_AES_KEY_SIZE, &rkey, &rkey_len) != FOC_READ_OK || rkey_len != FOC_AES_KEY_SIZE ||
	    !foc_reader_at_end(&r)) {
		*message = "request plaintext: response key must be 32 bytes, then nothing";
		return FOC_ERR_BAD_REQUEST;
	}
	if (channel_len != s->keys->channel_id_len || memcmp(channel, s->keys->channel_id, channel_len) != 0) {
		*message = "confidential request is for another channel than this enclave's";
		return FOC_ERR_BAD_REQUEST;
	}
	if (chaincode_len != s->keys->chaincode_id_len || memcmp(chaincode, s->keys->chaincode_id, chaincode_len)) {
		*message = "confidential request is for another chaincode than this enclave's";
		return FOC_ERR_BAD_REQUEST;
	}
	memcpy(s->response_key, rkey, FOC_AES_KEY_SIZE);
	s->confidential = true;
	return FOC_OK;
}

static bool command_confidential_invoke(struct foc_session *s, const uint8_t *in, size_t in_len,
					struct foc_writer *w, uint32_t *msg_type)
{
	const char *message = NULL;
	uint8_t *copy;
	foc_status rc;

	foc_session_abort(s);
	if (in_len > FOC_MAX_REQUEST) {
		render_error_str(w, msg_type, FOC_ERR_LIMIT, LIMIT_MSG(FOC_MAX_REQUEST, "request too long"));
		return foc_writer_fits(w);
	}
	copy = foc_platform_alloc(in_len ? in_len : 1); /* the caller's buffer may change under us */
	if (!copy) {
		render_error_str(w, msg_type, FOC_ERR_NO_MEMORY, "out of memory copying the request");
		return foc_writer_fits(w);
	}
	if (in_len)
		memcpy(copy, in, in_len);
	rc = open_request(s, copy, in_len, &message);
	foc_platform_free(copy);
	if (rc != FOC_OK) {
		foc_session_abort(s);
		render_error_str(w, msg_type, rc, message);
		return foc_writer_fits(w);
	}
	return start(s, w, msg_type);
}

/*
 * Confidential mode: the answer carries a stored_value. Decrypt it bound to its key; any
 * failure (malformed, wrong key name, altered) is FOC_ERR_INCONSISTENT naming the key.
 */
static foc_status open_state(struct foc_session *s, const uint8_t *stored, uint32_t stored_len,
			     struct foc_blob *value, const char **message)
{
	uint8_t aad[LABEL_LEN(STATE_LABEL) + FOC_MAX_KEY];
	const uint8_t *nonce = NULL, *ct = NULL;
	uint32_t nonce_len = 0, ct_len = 0, magic = 0;
	struct foc_reader r;
	const struct foc_blob *key = &s->pending_key;

	value->data = NULL;
	value->len = 0;
	foc_reader_init(&r, stored, stored_len);
	if (foc_read_u32(&r, &magic) == FOC_READ_OK && magic == FOC_CONF_STATE_MAGIC &&
	    foc_read_bytes(&r, FOC_GCM_NONCE_SIZE, &nonce, &nonce_len) == FOC_READ_OK &&
	    nonce_len == FOC_GCM_NONCE_SIZE &&
	    foc_read_bytes(&r, FOC_MAX_VALUE + FOC_GCM_TAG_SIZE, &ct, &ct_len) == FOC_READ_OK &&
	    ct_len >= FOC_GCM_TAG_SIZE && foc_reader_at_end(&r) && key->len <= FOC_MAX_KEY) {
		value->len = ct_len - FOC_GCM_TAG_SIZE;
		value->data = foc_platform_alloc(value->len ? value->len : 1);
		if (!value->data) {
			value->len = 0;
			*message = "out of memory decrypting a state value";
			return FOC_ERR_NO_MEMORY;
		}
		memcpy(aad, STATE_LABEL, LABEL_LEN(STATE_LABEL));
		memcpy(aad + LABEL_LEN(STATE_LABEL), key->data, key->len);
		if (foc_crypto_gcm_open(s->keys->state_key, nonce, aad, LABEL_LEN(STATE_LABEL) + key->len, ct, ct_len,
					value->data)) {
			if (value->len == 0) { /* owned blobs of length 0 carry no data */
				foc_platform_free(value->data);
				value->data = NULL;
			}
			return FOC_OK;
		}
		blob_free(value);
	}
	snprintf(s->message, sizeof(s->message), "state value for %.*s failed authentication", (int)key->len,
		 (const char *)key->data);
	*message = s->message;
	return FOC_ERR_INCONSISTENT;
}

/* Decode a state answer (read once, field by field) and add it to the cache. */
static foc_status add_answer(struct foc_session *s, const uint8_t *in, size_t in_len, const char **message)
{
	struct foc_reader r;
	struct foc_cached_read *entry;
	const uint8_t *value = NULL;
	uint32_t value_len = 0;
	uint8_t found = 0;
	enum foc_read_result res;
	uint32_t max = s->confidential ? FOC_MAX_VALUE + FOC_CONF_STATE_OVERHEAD : FOC_MAX_VALUE;
	struct foc_blob plain = { NULL, 0 };
	foc_status rc;

	foc_reader_init(&r, in, in_len);
	if (foc_read_u8(&r, &found) != FOC_READ_OK) {
		*message = "state answer is empty";
		return FOC_ERR_BAD_REQUEST;
	}
	if (found > 1) {
		*message = "state answer: found must be 0 or 1";
		return FOC_ERR_BAD_REQUEST;
	}
	res = foc_read_bytes(&r, max, &value, &value_len);
	if (res == FOC_READ_TRUNCATED) {
		*message = "state answer ends inside its value";
		return FOC_ERR_BAD_REQUEST;
	}
	if (res == FOC_READ_TOO_LONG) {
		*message = LIMIT_MSG(FOC_MAX_VALUE, "state value too long");
		return FOC_ERR_LIMIT;
	}
	if (!foc_reader_at_end(&r)) {
		*message = "trailing bytes after the state value";
		return FOC_ERR_BAD_REQUEST;
	}
	if (!found && value_len) {
		*message = "state answer says not found but carries a value";
		return FOC_ERR_INCONSISTENT;
	}
	if (s->cache_bytes + value_len > FOC_MAX_CACHE_BYTES) {
		*message = LIMIT_MSG(FOC_MAX_CACHE_BYTES, "too many bytes read");
		return FOC_ERR_LIMIT;
	}
	if (s->ncache >= FOC_MAX_READS) { /* get_state refuses a miss at the limit */
		*message = "read cache full";
		return FOC_ERR_INTERNAL;
	}
	entry = &s->cache[s->ncache];
	if (s->confidential) {
		/* value_hash covers the stored bytes as read ("" if absent) */
		if (!foc_crypto_sha256(value, value_len, entry->stored_hash)) {
			*message = "SHA-256 failed";
			return FOC_ERR_INTERNAL;
		}
		if (found) {
			rc = open_state(s, value, value_len, &plain, message);
			if (rc != FOC_OK)
				return rc;
		}
		entry->value = plain;
	} else if (!blob_copy(&entry->value, value, value_len)) {
		*message = "out of memory copying a state value";
		return FOC_ERR_NO_MEMORY;
	}
	entry->answer_len = value_len;
	entry->found = found == 1;
	entry->key = s->pending_key; /* ownership moves to the cache */
	s->pending_key.data = NULL;
	s->pending_key.len = 0;
	s->ncache++;
	s->cache_bytes += value_len;
	return FOC_OK;
}

/* Undo add_answer (the answer's output did not fit). */
static void remove_answer(struct foc_session *s)
{
	struct foc_cached_read *entry = &s->cache[s->ncache - 1];

	s->ncache--;
	s->cache_bytes -= entry->answer_len;
	blob_free(&entry->value);
	s->pending_key = entry->key;
	entry->key.data = NULL;
	entry->key.len = 0;
}

static bool command_resume(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
			   uint32_t *msg_type)
{
	struct foc_blob needed_key = { NULL, 0 };
	const char *message = NULL;
	foc_status rc;

	if (!s->in_flight) {
		render_error_str(w, msg_type, FOC_ERR_SEQUENCE, "RESUME without a pending GET_STATE");
		return foc_writer_fits(w);
	}
	rc = add_answer(s, in, in_len, &message);
	if (rc != FOC_OK) {
		render_error_str(w, msg_type, rc, message);
		if (!foc_writer_fits(w))
			return false;
		foc_session_abort(s);
		return true;
	}
	run_and_render(s, w, msg_type, &needed_key);
	if (!foc_writer_fits(w)) {
		blob_free(&needed_key);
		remove_answer(s);
		return false;
	}
	finish(s, *msg_type, &needed_key);
	return true;
}

bool foc_session_command(struct foc_session *s, uint32_t cmd, const uint8_t *in, size_t in_len, uint8_t *out,
			 size_t out_cap, size_t *out_len, uint32_t *msg_type)
{
	struct foc_writer w;
	bool fits;

	foc_writer_init(&w, out, out_cap);
	if (!in)
		in_len = 0;
	if (cmd == FOC_CMD_INVOKE)
		fits = command_invoke(s, in, in_len, &w, msg_type);
	else if (cmd == FOC_CMD_CONFIDENTIAL_INVOKE)
		fits = command_confidential_invoke(s, in, in_len, &w, msg_type);
	else if (cmd == FOC_CMD_ENCLAVE_CREATE || cmd == FOC_CMD_ENCLAVE_CREDENTIALS)
		fits = foc_enclave_command(cmd, in, in_len, &w, msg_type);
	else if (cmd == FOC_CMD_RESUME)
		fits = command_resume(s, in, in_len, &w, msg_type);
	else {
		render_error_str(&w, msg_type, FOC_ERR_INTERNAL, "not an invocation command");
		fits = foc_writer_fits(&w);
	}
	*out_len = w.len;
	return fits;
}
