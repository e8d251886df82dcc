/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stub: the chaincode API (foc_chaincode.h) over one run of the chaincode. A run reads
 * through the invocation's read cache, buffers its writes and ends either for a read it
 * does not have (FOC_MSG_GET_STATE) or with an outcome the envelope encodes. It is rebuilt
 * from scratch for every re-execution (foc_session.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "foc_core.h"
#include "foc_platform.h"

#define FOC_ERR_LAST FOC_ERR_INCONSISTENT

struct foc_stub {
	const struct foc_invocation *inv;
	foc_status outcome;            /* FOC_OK until a stub call fixes it (FOC_NEED_STATE or FOC_ERR_*) */
	foc_status rc;                 /* what the chaincode function returned */
	struct foc_blob needed_key;    /* with FOC_NEED_STATE */
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

/* ---------------------------------------------------------------- arguments */

struct foc_slice foc_stub_function(const struct foc_stub *stub)
{
	return stub->inv->request.args[0];
}

uint32_t foc_stub_arg_count(const struct foc_stub *stub)
{
	return stub->inv->request.nargs - 1;
}

struct foc_slice foc_stub_arg(const struct foc_stub *stub, uint32_t index)
{
	struct foc_slice empty = { NULL, 0 };

	if (index >= foc_stub_arg_count(stub))
		return empty;
	return stub->inv->request.args[index + 1];
}

/* ---------------------------------------------------------------- outcome */

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
		return fail(stub, FOC_ERR_LIMIT, FOC_LIMIT_MSG(FOC_MAX_PAYLOAD, "response payload too long"));
	if (payload.len && !payload.data)
		return fail(stub, FOC_ERR_INTERNAL, "chaincode passed a payload without data");
	if (!foc_blob_copy(&copy, payload.data, payload.len))
		return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying the response payload");
	foc_blob_free(&stub->payload);
	stub->payload = copy;
	return FOC_OK;
}

foc_status foc_error(struct foc_stub *stub, foc_status code, const char *message)
{
	return foc_errorf(stub, code, "%s", message ? message : "");
}

foc_status foc_errorf(struct foc_stub *stub, foc_status code, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (stub->outcome != FOC_OK)
		return stub->outcome;
	stub->error_code = code;
	va_start(ap, fmt);
	n = vsnprintf(stub->message, sizeof(stub->message), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(stub->message))
		n = sizeof(stub->message) - 1;
	stub->message_len = (uint32_t)n;
	return code;
}

/* ---------------------------------------------------------------- state */

/* Well-formed UTF-8 (RFC 3629, Unicode 15 table 3-7): no overlong forms, no surrogates, nothing
 * above U+10FFFF. Fabric refuses keys that are not ("Key must be a valid UTF8 string"). */
static bool valid_utf8(const uint8_t *p, uint32_t n)
{
	uint32_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		uint32_t len = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 :
			       c >= 0xF0 && c <= 0xF4 ? 4 : 0;
		uint8_t lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
		uint8_t hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
		uint32_t k;

		if (!len || len > n - i)
			return false;
		for (k = 1; k < len; k++) {
			uint8_t b = p[i + k];

			if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
				return false;
		}
		i += len;
	}
	return true;
}

static foc_status check_key(struct foc_stub *stub, struct foc_slice key)
{
	if (key.len == 0)
		return fail(stub, FOC_ERR_BAD_ARGUMENT, "state key is empty");
	if (key.len > FOC_MAX_KEY)
		return fail(stub, FOC_ERR_LIMIT, FOC_LIMIT_MSG(FOC_MAX_KEY, "state key too long"));
	if (!key.data)
		return fail(stub, FOC_ERR_INTERNAL, "chaincode passed a key without data");
	if (memchr(key.data, 0, key.len))
		return fail(stub, FOC_ERR_BAD_ARGUMENT, "state key contains a NUL byte");
	if (!valid_utf8(key.data, key.len))
		return fail(stub, FOC_ERR_BAD_ARGUMENT, "state key is not valid UTF-8 (Fabric keys are text)");
	return FOC_OK;
}

static struct foc_write *find_write(struct foc_stub *stub, struct foc_slice key)
{
	uint32_t i;

	for (i = 0; i < stub->nwrites; i++)
		if (foc_slice_equals(foc_blob_slice(&stub->writes[i].key), key))
			return &stub->writes[i];
	return NULL;
}

static bool find_cached(const struct foc_invocation *inv, struct foc_slice key, uint32_t *index)
{
	uint32_t i;

	for (i = 0; i < inv->ncache; i++) {
		if (foc_slice_equals(foc_blob_slice(&inv->cache[i].key), key)) {
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
	const struct foc_invocation *inv = stub->inv;
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
			*value = foc_blob_slice(&w->value);
			*found = true;
		}
		return FOC_OK;
	}
	if (find_cached(inv, key, &index)) {
		note_read(stub, index);
		*value = foc_blob_slice(&inv->cache[index].value);
		*found = inv->cache[index].found;
		return FOC_OK;
	}
	if (inv->ncache >= FOC_MAX_READS)
		return fail(stub, FOC_ERR_LIMIT, FOC_LIMIT_MSG(FOC_MAX_READS, "too many distinct keys read"));
	if (!foc_blob_copy(&stub->needed_key, key.data, key.len))
		return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying a state key");
	stub->outcome = FOC_NEED_STATE;
	return FOC_NEED_STATE;
}

static foc_status buffer_write(struct foc_stub *stub, struct foc_slice key, struct foc_slice value, bool is_delete)
{
	const char *message = NULL;
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
		return fail(stub, FOC_ERR_LIMIT, FOC_LIMIT_MSG(FOC_MAX_VALUE, "state value too long"));
	if (value.len && !value.data)
		return fail(stub, FOC_ERR_INTERNAL, "chaincode passed a value without data");
	if (stub->inv->envelope->check_write) {
		rc = stub->inv->envelope->check_write(key, &message);
		if (rc != FOC_OK)
			return fail(stub, rc, message);
	}
	w = find_write(stub, key);
	if (w)
		total = stub->write_bytes - w->value.len + value.len;
	else
		total = stub->write_bytes + key.len + value.len;
	if (!w && stub->nwrites >= FOC_MAX_WRITES)
		return fail(stub, FOC_ERR_LIMIT, FOC_LIMIT_MSG(FOC_MAX_WRITES, "too many distinct keys written"));
	if (total > FOC_MAX_WRITE_BYTES)
		return fail(stub, FOC_ERR_LIMIT, FOC_LIMIT_MSG(FOC_MAX_WRITE_BYTES, "write set too large"));
	if (!foc_blob_copy(&copy, value.data, value.len))
		return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying a state value");
	if (!w) {
		w = &stub->writes[stub->nwrites];
		if (!foc_blob_copy(&w->key, key.data, key.len)) {
			foc_blob_free(&copy);
			return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying a state key");
		}
		stub->nwrites++;
	}
	foc_blob_free(&w->value);
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

/* ---------------------------------------------------------------- one run */

/* Name (FOC_ERR_ without its prefix) and default message of each error code. */
static const struct {
	const char *name, *message;
} errors[] = {
	[FOC_ERR_BAD_REQUEST] = { "BAD_REQUEST", "malformed request" },
	[FOC_ERR_UNKNOWN_FUNCTION] = { "UNKNOWN_FUNCTION", "unknown function" },
	[FOC_ERR_ARG_COUNT] = { "ARG_COUNT", "wrong number of arguments" },
	[FOC_ERR_BAD_ARGUMENT] = { "BAD_ARGUMENT", "bad argument" },
	[FOC_ERR_LIMIT] = { "LIMIT", "a limit was exceeded" },
	[FOC_ERR_EXISTS] = { "EXISTS", "already exists" },
	[FOC_ERR_NOT_FOUND] = { "NOT_FOUND", "not found" },
	[FOC_ERR_OVERFLOW] = { "OVERFLOW", "count overflow" },
	[FOC_ERR_SEQUENCE] = { "SEQUENCE", "command out of sequence" },
	[FOC_ERR_NO_MEMORY] = { "NO_MEMORY", "out of memory" },
	[FOC_ERR_INTERNAL] = { "INTERNAL", "internal error" },
	[FOC_ERR_INCONSISTENT] = { "INCONSISTENT", "inconsistent state answer" },
};

static bool is_error_code(foc_status code)
{
	return code >= FOC_ERR_BAD_REQUEST && code <= FOC_ERR_LAST;
}

const char *foc_error_name(foc_status code)
{
	return errors[is_error_code(code) ? code : FOC_ERR_INTERNAL].name;
}

static foc_status unknown_function(struct foc_stub *stub)
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
	return FOC_ERR_UNKNOWN_FUNCTION;
}

static void run_function(struct foc_stub *stub)
{
	struct foc_slice name = stub->inv->request.args[0];
	size_t i;

	for (i = 0; i < foc_chaincode.function_count; i++) {
		if (foc_slice_equals(name, foc_slice_of(foc_chaincode.functions[i].name))) {
			stub->rc = foc_chaincode.functions[i].run(stub);
			return;
		}
	}
	stub->rc = unknown_function(stub);
}

/* The outcome of a run that did not stop for a read (valid until the stub is freed). */
static void get_outcome(const struct foc_stub *stub, struct foc_outcome *o)
{
	struct foc_slice message = { (const uint8_t *)stub->message, stub->message_len };

	memset(o, 0, sizeof(*o));
	o->reads = stub->reads;
	o->nreads = stub->nreads;
	if (stub->outcome != FOC_OK) { /* fixed by a stub call, which set the message */
		o->code = stub->outcome;
		o->message = message;
	} else if (stub->rc == FOC_OK) {
		o->payload = foc_blob_slice(&stub->payload);
		o->writes = stub->writes;
		o->nwrites = stub->nwrites;
	} else if (is_error_code(stub->rc)) {
		o->code = stub->rc;
		/* the message of foc_error(), if the function returned that error's code */
		o->message = stub->error_code == stub->rc && stub->message_len ? message
									       : foc_slice_of(errors[stub->rc].message);
	} else {
		o->code = FOC_ERR_INTERNAL;
		o->message = foc_slice_of("chaincode returned an invalid status");
	}
}

void foc_stub_run(const struct foc_invocation *inv, struct foc_writer *w, uint32_t *msg_type,
		  struct foc_blob *needed_key)
{
	struct foc_stub *stub = foc_platform_alloc(sizeof(*stub));
	struct foc_outcome outcome;
	uint32_t i;

	if (!stub) {
		foc_render_error(w, msg_type, FOC_ERR_NO_MEMORY, foc_slice_of("out of memory starting the chaincode"));
		return;
	}
	stub->inv = inv;
	run_function(stub);
	if (stub->outcome == FOC_NEED_STATE) {
		foc_write_bytes(w, stub->needed_key.data, stub->needed_key.len);
		*msg_type = FOC_MSG_GET_STATE;
		*needed_key = stub->needed_key;
		stub->needed_key.data = NULL;
		stub->needed_key.len = 0;
	} else {
		get_outcome(stub, &outcome);
		inv->envelope->render(inv, &outcome, w, msg_type);
	}
	for (i = 0; i < stub->nwrites; i++) {
		foc_blob_free(&stub->writes[i].key);
		foc_blob_free(&stub->writes[i].value);
	}
	foc_blob_free(&stub->payload);
	foc_blob_free(&stub->needed_key);
	foc_platform_free(stub);
}
