/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sessions and the invocation model (docs/ta.md): starting an invocation opens its request
 * through the mode's envelope and runs the chaincode; a read the TA does not have yet stops
 * the run and becomes FOC_MSG_GET_STATE; RESUME opens the answer into the read cache and
 * runs the chaincode again from the start; the envelope encodes the final outcome.
 */
#include <string.h>

#include "foc_core.h"
#include "foc_platform.h"

/* In flight while inv.pending is set: between a GET_STATE (or GET_STATE_BY_RANGE) and its RESUME. */
struct foc_session {
	struct foc_invocation inv;
};

bool foc_blob_copy(struct foc_blob *dst, const uint8_t *data, uint32_t len)
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

void foc_blob_free(struct foc_blob *b)
{
	if (b->data)
		foc_wipe(b->data, b->len);
	foc_platform_free(b->data);
	b->data = NULL;
	b->len = 0;
}

struct foc_session *foc_session_new(void)
{
	return foc_platform_alloc(sizeof(struct foc_session));
}

static void free_read(struct foc_read *read)
{
	foc_blob_free(&read->key);
	foc_blob_free(&read->value);
}

static void free_range(struct foc_range_read *range)
{
	uint32_t i;

	for (i = 0; i < range->nentries; i++)
		free_read(&range->entries[i]);
	foc_platform_free(range->entries);
	foc_platform_free(range->view);
	foc_blob_free(&range->start);
	foc_blob_free(&range->end);
	memset(range, 0, sizeof(*range));
}

void foc_session_abort(struct foc_session *s)
{
	struct foc_invocation *inv = &s->inv;
	uint32_t i;

	for (i = 0; i < inv->ncache; i++)
		free_read(&inv->cache[i]);
	for (i = 0; i < inv->nranges; i++)
		free_range(&inv->ranges[i]);
	foc_blob_free(&inv->pending_key);
	foc_blob_free(&inv->pending_end);
	foc_blob_free(&inv->request_bytes);
	if (inv->ctx)
		inv->envelope->release(inv->ctx);
	memset(inv, 0, sizeof(*inv));
}

void foc_session_free(struct foc_session *s)
{
	if (!s)
		return;
	foc_session_abort(s);
	foc_platform_free(s);
}

/* Undo the last answer (of the given kind): its output did not fit, so it stays pending. */
static void remove_answer(struct foc_invocation *inv, uint32_t kind)
{
	if (kind == FOC_MSG_GET_STATE) {
		struct foc_read *entry = &inv->cache[--inv->ncache];

		inv->cache_bytes -= entry->stored_len;
		foc_blob_free(&entry->value);
		inv->pending_key = entry->key;
		memset(entry, 0, sizeof(*entry));
	} else {
		struct foc_range_read *range = &inv->ranges[--inv->nranges];
		uint32_t i;

		for (i = 0; i < range->nentries; i++)
			inv->range_bytes -= range->entries[i].key.len + range->entries[i].stored_len;
		inv->pending_key = range->start;
		inv->pending_end = range->end;
		range->start.data = range->end.data = NULL;
		range->start.len = range->end.len = 0;
		free_range(range);
	}
	inv->pending = kind;
}

/*
 * Run the chaincode and commit the answer if it fits: stay in flight for a read, else end the
 * invocation. If it does not fit, undo the command (resumed: the answer of that kind just cached).
 */
static bool run(struct foc_session *s, struct foc_writer *w, uint32_t *msg_type, uint32_t resumed)
{
	struct foc_need need;

	memset(&need, 0, sizeof(need));
	foc_stub_run(&s->inv, w, msg_type, &need);
	if (!foc_writer_fits(w)) {
		foc_blob_free(&need.key);
		foc_blob_free(&need.end);
		if (resumed)
			remove_answer(&s->inv, resumed);
		else
			foc_session_abort(s);
		return false;
	}
	if (*msg_type == FOC_MSG_GET_STATE || *msg_type == FOC_MSG_GET_STATE_BY_RANGE) {
		/* empty until now: RESUME moved the last pending key (and end) to the cache */
		s->inv.pending = *msg_type;
		s->inv.pending_key = need.key;
		s->inv.pending_end = need.end;
	} else {
		foc_session_abort(s);
	}
	return true;
}

bool foc_session_invoke(struct foc_session *s, const struct foc_envelope *envelope, const uint8_t *in,
			size_t in_len, struct foc_writer *w, uint32_t *msg_type)
{
	const char *message = "out of memory copying the request";
	foc_status rc = FOC_ERR_NO_MEMORY;

	foc_session_abort(s);
	s->inv.envelope = envelope;
	if (in_len > FOC_MAX_REQUEST) {
		rc = FOC_ERR_LIMIT;
		message = FOC_LIMIT_MSG(FOC_MAX_REQUEST, "request too long");
	} else if (foc_blob_copy(&s->inv.request_bytes, in, (uint32_t)in_len)) {
		/* a private copy: the caller's buffer may change while the TA reads it */
		rc = envelope->open_request(&s->inv, &message);
	}
	if (rc != FOC_OK) {
		foc_render_error(w, msg_type, rc, foc_slice_of(message));
		foc_session_abort(s);
		return foc_writer_fits(w);
	}
	return run(s, w, msg_type, 0);
}

/* Copy a stored value out of the caller's buffer, so the envelope reads each byte once. */
static foc_status copy_stored(struct foc_blob *copy, struct foc_slice stored, const char **message)
{
	if (foc_blob_copy(copy, stored.data, stored.len))
		return FOC_OK;
	*message = "out of memory copying a state value";
	return FOC_ERR_NO_MEMORY;
}

/* Open a private copy of a stored value into read (the envelope may take the copy over). */
static foc_status open_stored(struct foc_invocation *inv, struct foc_read *read, struct foc_slice stored,
			      const char **message)
{
	struct foc_blob copy;
	foc_status rc = copy_stored(&copy, stored, message);

	read->stored_len = stored.len;
	if (rc == FOC_OK)
		rc = inv->envelope->open_state(inv, read, &copy, message);
	foc_blob_free(&copy);
	return rc;
}

/* Decode a state answer (read once, field by field) and open it into the read cache. */
static foc_status add_answer(struct foc_invocation *inv, const uint8_t *in, size_t in_len, const char **message)
{
	struct foc_reader r;
	struct foc_read *entry;
	struct foc_slice stored = { NULL, 0 };
	uint8_t found = 0;
	enum foc_read_result res;
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
	res = foc_read_bytes(&r, inv->envelope->max_stored_value, &stored.data, &stored.len);
	if (res == FOC_READ_TRUNCATED) {
		*message = "state answer ends inside its value";
		return FOC_ERR_BAD_REQUEST;
	}
	if (res == FOC_READ_TOO_LONG) {
		*message = FOC_LIMIT_MSG(FOC_MAX_VALUE, "state value too long");
		return FOC_ERR_LIMIT;
	}
	if (!foc_reader_at_end(&r)) {
		*message = "trailing bytes after the state value";
		return FOC_ERR_BAD_REQUEST;
	}
	if (!found && stored.len) {
		*message = "state answer says not found but carries a value";
		return FOC_ERR_INCONSISTENT;
	}
	if (inv->cache_bytes + stored.len > FOC_MAX_CACHE_BYTES) {
		*message = FOC_LIMIT_MSG(FOC_MAX_CACHE_BYTES, "too many bytes read");
		return FOC_ERR_LIMIT;
	}
	if (inv->ncache >= FOC_MAX_READS) { /* get_state refuses a miss at the limit */
		*message = "read cache full";
		return FOC_ERR_INTERNAL;
	}
	entry = &inv->cache[inv->ncache];
	entry->key = inv->pending_key; /* the envelope may bind the value to its key */
	entry->found = found == 1;
	rc = open_stored(inv, entry, stored, message);
	if (rc != FOC_OK) {
		foc_blob_free(&entry->value);
		memset(entry, 0, sizeof(*entry)); /* the key stays pending, no value was kept */
		return rc;
	}
	inv->pending_key.data = NULL; /* ownership moved to the cache */
	inv->pending_key.len = 0;
	inv->ncache++;
	inv->cache_bytes += stored.len;
	return FOC_OK;
}

/* One entry of a range answer: copied, then checked on the copy (a key, in order, inside the range). */
static foc_status add_range_entry(struct foc_invocation *inv, struct foc_range_read *range, struct foc_reader *r,
				  size_t *bytes, const char **message)
{
	struct foc_read *entry = &range->entries[range->nentries];
	struct foc_slice key = { NULL, 0 }, stored = { NULL, 0 }, start = foc_blob_slice(&inv->pending_key);
	struct foc_slice end = foc_blob_slice(&inv->pending_end);
	enum foc_read_result res = foc_read_bytes(r, FOC_MAX_KEY, &key.data, &key.len);
	foc_status rc;

	if (res == FOC_READ_OK)
		res = foc_read_bytes(r, inv->envelope->max_stored_value, &stored.data, &stored.len);
	if (res == FOC_READ_TRUNCATED) {
		*message = "range answer ends inside an entry";
		return FOC_ERR_BAD_REQUEST;
	}
	if (res == FOC_READ_TOO_LONG) {
		*message = key.len > FOC_MAX_KEY ? FOC_LIMIT_MSG(FOC_MAX_KEY, "range answer: key too long")
						 : FOC_LIMIT_MSG(FOC_MAX_VALUE, "range answer: value too long");
		return FOC_ERR_LIMIT;
	}
	*bytes += key.len + stored.len;
	if (*bytes > FOC_MAX_RANGE_BYTES) {
		*message = FOC_LIMIT_MSG(FOC_MAX_RANGE_BYTES, "too many bytes in ranges");
		return FOC_ERR_LIMIT;
	}
	if (!foc_blob_copy(&entry->key, key.data, key.len)) {
		*message = "out of memory copying a range key";
		return FOC_ERR_NO_MEMORY;
	}
	key = foc_blob_slice(&entry->key); /* checked on the private copy */
	entry->found = true;
	range->nentries++; /* owned by the range from here on */
	if (foc_check_key(key, message) != FOC_OK) {
		*message = "range answer: an entry's key is not a valid state key";
		return FOC_ERR_INCONSISTENT;
	}
	if (foc_compare(key, start) < 0 || (end.len && foc_compare(key, end) >= 0)) {
		*message = "range answer: an entry's key is outside the range";
		return FOC_ERR_INCONSISTENT;
	}
	if (range->nentries > 1 && foc_compare(key, foc_blob_slice(&range->entries[range->nentries - 2].key)) <= 0) {
		*message = "range answer: keys are not strictly ascending";
		return FOC_ERR_INCONSISTENT;
	}
	rc = open_stored(inv, entry, stored, message);
	range->view[range->nentries - 1].key = key;
	range->view[range->nentries - 1].value = foc_blob_slice(&entry->value);
	return rc;
}

/* Decode a range answer (u32 n { bytes key bytes value }) and open it into the range cache. */
static foc_status add_range_answer(struct foc_invocation *inv, const uint8_t *in, size_t in_len,
				   const char **message)
{
	struct foc_range_read *range = &inv->ranges[inv->nranges];
	size_t bytes = inv->range_bytes;
	struct foc_reader r;
	uint32_t n = 0, i;
	foc_status rc = FOC_OK;

	foc_reader_init(&r, in, in_len);
	if (foc_read_u32(&r, &n) != FOC_READ_OK) {
		*message = "range answer is empty";
		return FOC_ERR_BAD_REQUEST;
	}
	if (n > FOC_MAX_RANGE_ENTRIES) {
		*message = FOC_LIMIT_MSG(FOC_MAX_RANGE_ENTRIES, "too many entries in a range");
		return FOC_ERR_LIMIT;
	}
	if (inv->nranges >= FOC_MAX_RANGES) { /* the stub refuses a new range at the limit */
		*message = "range cache full";
		return FOC_ERR_INTERNAL;
	}
	range->entries = foc_platform_alloc(n ? n * sizeof(*range->entries) : 1);
	range->view = foc_platform_alloc(n ? n * sizeof(*range->view) : 1);
	if (!range->entries || !range->view) {
		*message = "out of memory for a range answer";
		rc = FOC_ERR_NO_MEMORY;
	}
	for (i = 0; i < n && rc == FOC_OK; i++)
		rc = add_range_entry(inv, range, &r, &bytes, message);
	if (rc == FOC_OK && !foc_reader_at_end(&r)) {
		*message = "trailing bytes after the last range entry";
		rc = FOC_ERR_BAD_REQUEST;
	}
	if (rc != FOC_OK) {
		free_range(range); /* the range stays pending, nothing was kept */
		return rc;
	}
	range->start = inv->pending_key; /* ownership moved to the cache */
	range->end = inv->pending_end;
	memset(&inv->pending_key, 0, sizeof(inv->pending_key));
	memset(&inv->pending_end, 0, sizeof(inv->pending_end));
	inv->nranges++;
	inv->range_bytes = bytes;
	return FOC_OK;
}

bool foc_session_resume(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
			uint32_t *msg_type)
{
	const char *message = NULL;
	uint32_t kind = s->inv.pending;
	foc_status rc;

	if (!kind) {
		foc_render_error(w, msg_type, FOC_ERR_SEQUENCE,
				 foc_slice_of("RESUME without a pending GET_STATE or GET_STATE_BY_RANGE"));
		return foc_writer_fits(w);
	}
	rc = kind == FOC_MSG_GET_STATE ? add_answer(&s->inv, in, in_len, &message)
				       : add_range_answer(&s->inv, in, in_len, &message);
	if (rc != FOC_OK) {
		foc_render_error(w, msg_type, rc, foc_slice_of(message));
		if (!foc_writer_fits(w))
			return false;
		foc_session_abort(s);
		return true;
	}
	s->inv.pending = 0;
	return run(s, w, msg_type, kind);
}
