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

/* In flight while inv.pending_key is set: between a GET_STATE and its RESUME. */
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

void foc_session_abort(struct foc_session *s)
{
	struct foc_invocation *inv = &s->inv;
	uint32_t i;

	for (i = 0; i < inv->ncache; i++) {
		foc_blob_free(&inv->cache[i].key);
		foc_blob_free(&inv->cache[i].value);
	}
	foc_blob_free(&inv->pending_key);
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

/* Undo the last answer's entry in the read cache (its output did not fit). */
static void remove_answer(struct foc_invocation *inv)
{
	struct foc_read *entry = &inv->cache[--inv->ncache];

	inv->cache_bytes -= entry->stored_len;
	foc_blob_free(&entry->value);
	inv->pending_key = entry->key;
	memset(entry, 0, sizeof(*entry));
}

/*
 * Run the chaincode and commit the answer if it fits: stay in flight for GET_STATE, else end
 * the invocation. If it does not fit, undo the command (resumed: the answer just cached).
 */
static bool run(struct foc_session *s, struct foc_writer *w, uint32_t *msg_type, bool resumed)
{
	struct foc_blob needed_key = { NULL, 0 };

	foc_stub_run(&s->inv, w, msg_type, &needed_key);
	if (!foc_writer_fits(w)) {
		foc_blob_free(&needed_key);
		if (resumed)
			remove_answer(&s->inv);
		else
			foc_session_abort(s);
		return false;
	}
	if (*msg_type == FOC_MSG_GET_STATE)
		s->inv.pending_key = needed_key; /* empty until now: RESUME moved it to the cache */
	else
		foc_session_abort(s);
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
	return run(s, w, msg_type, false);
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
	entry->stored_len = stored.len;
	rc = inv->envelope->open_state(inv, inv->ncache, stored, message);
	if (rc != FOC_OK) {
		memset(entry, 0, sizeof(*entry)); /* the key stays pending, no value was kept */
		return rc;
	}
	inv->pending_key.data = NULL; /* ownership moved to the cache */
	inv->pending_key.len = 0;
	inv->ncache++;
	inv->cache_bytes += stored.len;
	return FOC_OK;
}

bool foc_session_resume(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
			uint32_t *msg_type)
{
	const char *message = NULL;
	foc_status rc;

	if (!s->inv.pending_key.len) {
		foc_render_error(w, msg_type, FOC_ERR_SEQUENCE, foc_slice_of("RESUME without a pending GET_STATE"));
		return foc_writer_fits(w);
	}
	rc = add_answer(&s->inv, in, in_len, &message);
	if (rc != FOC_OK) {
		foc_render_error(w, msg_type, rc, foc_slice_of(message));
		if (!foc_writer_fits(w))
			return false;
		foc_session_abort(s);
		return true;
	}
	return run(s, w, msg_type, true);
}
