/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The stub: the chaincode API (foc_chaincode.h) over one run of the chaincode. A run reads
 * through the invocation's read and range caches, buffers its writes and ends either for a
 * read it does not have (FOC_MSG_GET_STATE, FOC_MSG_GET_STATE_BY_RANGE) or with an outcome the
 * envelope encodes. It is rebuilt from scratch for every re-execution (foc_session.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "foc_core.h"
#include "foc_platform.h"

#define FOC_ERR_LAST FOC_ERR_DENIED

struct foc_stub {
	const struct foc_invocation *inv;
	foc_status outcome;            /* FOC_OK until a stub call fixes it (FOC_NEED_STATE or FOC_ERR_*) */
	foc_status rc;                 /* what the chaincode function returned */
	struct foc_need need;          /* with FOC_NEED_STATE */
	uint32_t reads[FOC_MAX_READS]; /* cache indices, first-read order */
	uint32_t nreads;
	uint32_t ranges[FOC_MAX_RANGES]; /* range cache indices, first-read order */
	uint32_t nranges;
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

/* U+10FFFF in UTF-8: Fabric's upper bound of a partial composite key range, never inside a part. */
static const uint8_t max_rune[4] = { 0xF4, 0x8F, 0xBF, 0xBF };

static bool has_max_rune(struct foc_slice s)
{
	uint32_t i;

	for (i = 0; i + sizeof(max_rune) <= s.len; i++)
		if (memcmp(s.data + i, max_rune, sizeof(max_rune)) == 0)
			return true;
	return false;
}

foc_status foc_check_key(struct foc_slice key, const char **message)
{
	if (key.len == 0) {
		*message = "state key is empty";
		return FOC_ERR_BAD_ARGUMENT;
	}
	if (key.len > FOC_MAX_KEY) {
		*message = FOC_LIMIT_MSG(FOC_MAX_KEY, "state key too long");
		return FOC_ERR_LIMIT;
	}
	if (!key.data) {
		*message = "chaincode passed a key without data";
		return FOC_ERR_INTERNAL;
	}
	/* Fabric's composite key: NUL, type, NUL, (attribute, NUL)*: UTF-8, no U+10FFFF. NUL is one
	 * byte of UTF-8, so checking the whole key checks each part. */
	if (key.data[0] == 0 && (key.len < 2 || key.data[key.len - 1] != 0 || has_max_rune(key))) {
		*message = "state key starts with NUL but is not a composite key";
		return FOC_ERR_BAD_ARGUMENT;
	}
	if (key.data[0] != 0 && memchr(key.data, 0, key.len)) {
		*message = "state key contains a NUL byte";
		return FOC_ERR_BAD_ARGUMENT;
	}
	if (!valid_utf8(key.data, key.len)) {
		*message = "state key is not valid UTF-8 (Fabric keys are text)";
		return FOC_ERR_BAD_ARGUMENT;
	}
	return FOC_OK;
}

int foc_compare(struct foc_slice a, struct foc_slice b)
{
	uint32_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.data, b.data, n) : 0;

	if (c)
		return c;
	return a.len < b.len ? -1 : a.len > b.len ? 1 : 0;
}

static foc_status check_key(struct foc_stub *stub, struct foc_slice key)
{
	const char *message = NULL;
	foc_status rc = foc_check_key(key, &message);

	return rc == FOC_OK ? FOC_OK : fail(stub, rc, message);
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
	if (!foc_blob_copy(&stub->need.key, key.data, key.len))
		return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying a state key");
	stub->need.kind = FOC_MSG_GET_STATE;
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

/* ---------------------------------------------------------------- creator, transient data */

foc_status foc_get_creator(struct foc_stub *stub, struct foc_slice *msp_id, struct foc_slice *certificate)
{
	const struct foc_request *req = &stub->inv->request;
	struct foc_slice empty = { NULL, 0 };

	*msp_id = empty;
	*certificate = empty;
	if (stub->outcome != FOC_OK)
		return stub->outcome;
	if (!req->creator_msp_id.len)
		return FOC_ERR_NOT_FOUND; /* not a stub failure: the chaincode decides what it means */
	*msp_id = req->creator_msp_id;
	*certificate = req->creator_certificate;
	return FOC_OK;
}

foc_status foc_get_transient(struct foc_stub *stub, struct foc_slice key, struct foc_slice *value, bool *found)
{
	const struct foc_request *req = &stub->inv->request;
	uint32_t i;

	value->data = NULL;
	value->len = 0;
	*found = false;
	if (stub->outcome != FOC_OK)
		return stub->outcome;
	if (key.len == 0)
		return fail(stub, FOC_ERR_BAD_ARGUMENT, "transient key is empty");
	if (key.len > FOC_MAX_KEY)
		return fail(stub, FOC_ERR_LIMIT, FOC_LIMIT_MSG(FOC_MAX_KEY, "transient key too long"));
	if (!key.data)
		return fail(stub, FOC_ERR_INTERNAL, "chaincode passed a key without data");
	for (i = 0; i < req->ntransient; i++) {
		if (foc_slice_equals(req->transient_keys[i], key)) {
			*value = req->transient_values[i];
			*found = true;
			break;
		}
	}
	return FOC_OK;
}

/* ---------------------------------------------------------------- composite keys, ranges */

/* Append a composite key part (UTF-8 without U+0000 and U+10FFFF) and its closing NUL. */
static foc_status append_part(struct foc_stub *stub, struct foc_slice part, uint8_t *buffer, uint32_t cap,
			      uint32_t *len)
{
	if (part.len && !part.data)
		return fail(stub, FOC_ERR_INTERNAL, "chaincode passed a composite key part without data");
	if (part.len > cap - *len || cap - *len - part.len < 1)
		return fail(stub, FOC_ERR_LIMIT, FOC_LIMIT_MSG(FOC_MAX_KEY, "composite key too long"));
	if ((part.len && memchr(part.data, 0, part.len)) || !valid_utf8(part.data, part.len) || has_max_rune(part))
		return fail(stub, FOC_ERR_BAD_ARGUMENT,
			    "a composite key part must be UTF-8 without U+0000 and U+10FFFF");
	if (part.len)
		memcpy(buffer + *len, part.data, part.len);
	*len += part.len;
	buffer[(*len)++] = 0;
	return FOC_OK;
}

/* NUL type NUL (attribute NUL)* into buffer (cap bytes). */
static foc_status build_composite(struct foc_stub *stub, struct foc_slice object_type,
				  const struct foc_slice *attributes, uint32_t nattributes, uint8_t *buffer,
				  uint32_t cap, struct foc_slice *key)
{
	uint32_t len = 0, i;
	foc_status rc;

	if (stub->outcome != FOC_OK)
		return stub->outcome;
	if (nattributes && !attributes)
		return fail(stub, FOC_ERR_INTERNAL, "chaincode passed attributes without data");
	buffer[len++] = 0;
	rc = append_part(stub, object_type, buffer, cap, &len);
	for (i = 0; i < nattributes && rc == FOC_OK; i++)
		rc = append_part(stub, attributes[i], buffer, cap, &len);
	if (rc != FOC_OK)
		return rc;
	key->data = buffer;
	key->len = len;
	return FOC_OK;
}

foc_status foc_create_composite_key(struct foc_stub *stub, struct foc_slice object_type,
				    const struct foc_slice *attributes, uint32_t nattributes,
				    uint8_t buffer[FOC_MAX_KEY], struct foc_slice *key)
{
	key->data = buffer;
	key->len = 0;
	return build_composite(stub, object_type, attributes, nattributes, buffer, FOC_MAX_KEY, key);
}

foc_status foc_split_composite_key(struct foc_stub *stub, struct foc_slice key, struct foc_slice *object_type,
				   struct foc_slice *attributes, uint32_t max_attributes, uint32_t *nattributes)
{
	uint32_t i, part = 1, n = 0;
	foc_status rc;

	object_type->data = NULL;
	object_type->len = 0;
	*nattributes = 0;
	if (stub->outcome != FOC_OK)
		return stub->outcome;
	rc = check_key(stub, key);
	if (rc != FOC_OK)
		return rc;
	if (key.data[0] != 0)
		return fail(stub, FOC_ERR_BAD_ARGUMENT, "not a composite key (it does not start with U+0000)");
	for (i = 1; i < key.len; i++) {
		struct foc_slice piece = { key.data + part, i - part };

		if (key.data[i] != 0)
			continue;
		if (part == 1) {
			*object_type = piece;
		} else {
			if (n >= max_attributes || !attributes)
				return fail(stub, FOC_ERR_LIMIT, "composite key has more attributes than the caller's array");
			attributes[n++] = piece;
		}
		part = i + 1;
	}
	*nattributes = n;
	return FOC_OK;
}

static void note_range(struct foc_stub *stub, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < stub->nranges; i++)
		if (stub->ranges[i] == index)
			return;
	if (stub->nranges < FOC_MAX_RANGES) /* distinct cache indices: always room */
		stub->ranges[stub->nranges++] = index;
}

/* A range by its exact bounds: from the cache, or stop the run for it. */
static foc_status read_range(struct foc_stub *stub, struct foc_slice start, struct foc_slice end,
			     const struct foc_state_entry **entries, uint32_t *count)
{
	const struct foc_invocation *inv = stub->inv;
	uint32_t i;

	for (i = 0; i < inv->nranges; i++) {
		const struct foc_range_read *range = &inv->ranges[i];

		if (foc_slice_equals(foc_blob_slice(&range->start), start) &&
		    foc_slice_equals(foc_blob_slice(&range->end), end)) {
			note_range(stub, i);
			*entries = range->view;
			*count = range->nentries;
			return FOC_OK;
		}
	}
	if (inv->nranges >= FOC_MAX_RANGES)
		return fail(stub, FOC_ERR_LIMIT, FOC_LIMIT_MSG(FOC_MAX_RANGES, "too many distinct ranges read"));
	if (!foc_blob_copy(&stub->need.key, start.data, start.len) || !foc_blob_copy(&stub->need.end, end.data, end.len))
		return fail(stub, FOC_ERR_NO_MEMORY, "out of memory copying a range");
	stub->need.kind = FOC_MSG_GET_STATE_BY_RANGE;
	stub->outcome = FOC_NEED_STATE;
	return FOC_NEED_STATE;
}

/* A range bound: empty, or a simple key (Fabric's shim refuses composite keys here). */
static foc_status check_bound(struct foc_stub *stub, struct foc_slice bound)
{
	foc_status rc;

	if (!bound.len)
		return FOC_OK;
	rc = check_key(stub, bound);
	if (rc == FOC_OK && bound.data[0] == 0)
		return fail(stub, FOC_ERR_BAD_ARGUMENT,
			    "a range bound must be a simple key (use foc_get_state_by_partial_composite_key)");
	return rc;
}

foc_status foc_get_state_by_range(struct foc_stub *stub, struct foc_slice start, struct foc_slice end,
				  const struct foc_state_entry **entries, uint32_t *count)
{
	static const uint8_t first_simple_key[1] = { 0x01 }; /* Fabric's shims' substitute for "" */
	foc_status rc;

	*entries = NULL;
	*count = 0;
	if (stub->outcome != FOC_OK)
		return stub->outcome;
	rc = check_bound(stub, start);
	if (rc == FOC_OK)
		rc = check_bound(stub, end);
	if (rc != FOC_OK)
		return rc;
	if (!start.len) {
		start.data = first_simple_key;
		start.len = sizeof(first_simple_key);
	}
	return read_range(stub, start, end, entries, count);
}

foc_status foc_get_state_by_partial_composite_key(struct foc_stub *stub, struct foc_slice object_type,
						  const struct foc_slice *attributes, uint32_t nattributes,
						  const struct foc_state_entry **entries, uint32_t *count)
{
	uint8_t start[FOC_MAX_KEY], end[FOC_MAX_KEY];
	struct foc_slice prefix = { NULL, 0 }, upper;
	foc_status rc;

	*entries = NULL;
	*count = 0;
	/* the end bound, prefix + U+10FFFF, must fit FOC_MAX_KEY too */
	rc = build_composite(stub, object_type, attributes, nattributes, start, FOC_MAX_KEY - sizeof(max_rune),
			     &prefix);
	if (rc != FOC_OK)
		return rc;
	memcpy(end, prefix.data, prefix.len);
	memcpy(end + prefix.len, max_rune, sizeof(max_rune));
	upper.data = end;
	upper.len = prefix.len + (uint32_t)sizeof(max_rune);
	return read_range(stub, prefix, upper, entries, count);
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
	[FOC_ERR_DENIED] = { "DENIED", "denied" },
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
	o->ranges = stub->ranges;
	o->nranges = stub->nranges;
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

void foc_stub_run(const struct foc_invocation *inv, struct foc_writer *w, uint32_t *msg_type, struct foc_need *need)
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
		foc_write_bytes(w, stub->need.key.data, stub->need.key.len);
		if (stub->need.kind == FOC_MSG_GET_STATE_BY_RANGE)
			foc_write_bytes(w, stub->need.end.data, stub->need.end.len);
		*msg_type = stub->need.kind;
		*need = stub->need;
		memset(&stub->need, 0, sizeof(stub->need));
	} else {
		get_outcome(stub, &outcome);
		inv->envelope->render(inv, &outcome, w, msg_type);
	}
	for (i = 0; i < stub->nwrites; i++) {
		foc_blob_free(&stub->writes[i].key);
		foc_blob_free(&stub->writes[i].value);
	}
	foc_blob_free(&stub->payload);
	foc_blob_free(&stub->need.key);
	foc_blob_free(&stub->need.end);
	foc_platform_free(stub);
}
