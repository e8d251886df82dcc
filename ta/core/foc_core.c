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
	struct foc_blob value;
	bool found;
};

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
	foc_platform_free(s->request);
	s->request = NULL;
	s->request_len = 0;
	s->nargs = 0;
	s->in_flight = false;
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

/* Decode the session's private copy of the request into its argument table. */
static foc_status decode_request(struct foc_session *s, const char **message)
{
	struct foc_reader r;
	uint32_t magic = 0, nargs = 0, i;

	foc_reader_init(&r, s->request, s->request_len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || foc_read_u32(&r, &nargs) != FOC_READ_OK) {
		*message = "request shorter than its header";
		return FOC_ERR_BAD_REQUEST;
	}
	if (magic != FOC_REQ_MAGIC) {
		*message = "request does not start with FOC_REQ_MAGIC";
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
	if (!foc_reader_at_end(&r)) {
		*message = "trailing bytes after the last argument";
		return FOC_ERR_BAD_REQUEST;
	}
	s->nargs = nargs;
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

static bool command_invoke(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
			   uint32_t *msg_type)
{
	struct foc_blob needed_key = { NULL, 0 };
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

/* Decode a state answer (read once, field by field) and add it to the cache. */
static foc_status add_answer(struct foc_session *s, const uint8_t *in, size_t in_len, const char **message)
{
	struct foc_reader r;
	struct foc_cached_read *entry;
	const uint8_t *value = NULL;
	uint32_t value_len = 0;
	uint8_t found = 0;
	enum foc_read_result res;

	foc_reader_init(&r, in, in_len);
	if (foc_read_u8(&r, &found) != FOC_READ_OK) {
		*message = "state answer is empty";
		return FOC_ERR_BAD_REQUEST;
	}
	if (found > 1) {
		*message = "state answer: found must be 0 or 1";
		return FOC_ERR_BAD_REQUEST;
	}
	res = foc_read_bytes(&r, FOC_MAX_VALUE, &value, &value_len);
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
	if (!blob_copy(&entry->value, value, value_len)) {
		*message = "out of memory copying a state value";
		return FOC_ERR_NO_MEMORY;
	}
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
	s->cache_bytes -= entry->value.len;
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
	else if (cmd == FOC_CMD_RESUME)
		fits = command_resume(s, in, in_len, &w, msg_type);
	else {
		render_error_str(&w, msg_type, FOC_ERR_INTERNAL, "not an invocation command");
		fits = foc_writer_fits(&w);
	}
	*out_len = w.len;
	return fits;
}
