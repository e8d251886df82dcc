/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plaintext protocol (foc_ta.h) as the core's envelope: the request is FOC_REQ_MAGIC and
 * an argument list (FOC_REQ2_MAGIC: followed by the context, creator and transient data),
 * state and range answers carry values in the clear, and the outcome is FOC_MSG_RESPONSE
 * (status, payload, read set, ranges, write set) or FOC_MSG_ERROR.
 */
#include "foc_core.h"

void foc_render_error(struct foc_writer *w, uint32_t *msg_type, foc_status code, struct foc_slice message)
{
	foc_write_u32(w, code);
	foc_write_bytes(w, message.data, message.len);
	*msg_type = FOC_MSG_ERROR;
}

foc_status foc_decode_args(struct foc_reader *rd, struct foc_request *req, const char **message)
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
		*message = FOC_LIMIT_MSG(FOC_MAX_ARGS, "too many arguments (including the function name)");
		return FOC_ERR_LIMIT;
	}
	for (i = 0; i < nargs; i++) {
		uint32_t max = i == 0 ? FOC_MAX_FUNCTION : FOC_MAX_VALUE;
		enum foc_read_result res = foc_read_bytes(&r, max, &req->args[i].data, &req->args[i].len);

		if (res == FOC_READ_TRUNCATED) {
			*message = "request ends inside an argument";
			return FOC_ERR_BAD_REQUEST;
		}
		if (res == FOC_READ_TOO_LONG) {
			*message = i == 0 ? FOC_LIMIT_MSG(FOC_MAX_FUNCTION, "function name too long")
					  : FOC_LIMIT_MSG(FOC_MAX_VALUE, "argument too long");
			return FOC_ERR_LIMIT;
		}
	}
	req->nargs = nargs;
	*rd = r;
	return FOC_OK;
}

/* A bytes field of at most max bytes; `what` names it in the message. */
static foc_status read_field(struct foc_reader *r, uint32_t max, struct foc_slice *out, const char *too_long,
			     const char **message)
{
	enum foc_read_result res = foc_read_bytes(r, max, &out->data, &out->len);

	if (res == FOC_READ_TRUNCATED) {
		*message = "request ends inside its context (creator, transient data)";
		return FOC_ERR_BAD_REQUEST;
	}
	if (res == FOC_READ_TOO_LONG) {
		*message = too_long;
		return FOC_ERR_LIMIT;
	}
	return FOC_OK;
}

foc_status foc_decode_context(struct foc_reader *rd, struct foc_request *req, const char **message)
{
	struct foc_reader r = *rd;
	uint32_t n = 0, i, k;
	foc_status rc;

	rc = read_field(&r, FOC_MAX_MSP_ID, &req->creator_msp_id,
			FOC_LIMIT_MSG(FOC_MAX_MSP_ID, "creator MSP id too long"), message);
	if (rc == FOC_OK)
		rc = read_field(&r, FOC_MAX_CERTIFICATE, &req->creator_certificate,
				FOC_LIMIT_MSG(FOC_MAX_CERTIFICATE, "creator certificate too long"), message);
	if (rc != FOC_OK)
		return rc;
	if (!req->creator_msp_id.len != !req->creator_certificate.len) {
		*message = "request: a creator needs both its MSP id and its certificate";
		return FOC_ERR_BAD_REQUEST;
	}
	if (foc_read_u32(&r, &n) != FOC_READ_OK) {
		*message = "request ends inside its context (creator, transient data)";
		return FOC_ERR_BAD_REQUEST;
	}
	if (n > FOC_MAX_TRANSIENT) {
		*message = FOC_LIMIT_MSG(FOC_MAX_TRANSIENT, "too many transient entries");
		return FOC_ERR_LIMIT;
	}
	for (i = 0; i < n && rc == FOC_OK; i++) {
		rc = read_field(&r, FOC_MAX_KEY, &req->transient_keys[i],
				FOC_LIMIT_MSG(FOC_MAX_KEY, "transient key too long"), message);
		if (rc == FOC_OK)
			rc = read_field(&r, FOC_MAX_VALUE, &req->transient_values[i],
					FOC_LIMIT_MSG(FOC_MAX_VALUE, "transient value too long"), message);
		if (rc == FOC_OK && !req->transient_keys[i].len) {
			*message = "request: a transient key is empty";
			rc = FOC_ERR_BAD_REQUEST;
		}
		for (k = 0; k < i && rc == FOC_OK; k++) {
			if (foc_slice_equals(req->transient_keys[k], req->transient_keys[i])) {
				*message = "request: a transient key appears twice";
				rc = FOC_ERR_BAD_REQUEST;
			}
		}
	}
	if (rc != FOC_OK)
		return rc;
	req->ntransient = n;
	*rd = r;
	return FOC_OK;
}

/* request := u32 FOC_REQ_MAGIC, u32 nargs, bytes[nargs], nothing after; FOC_REQ2_MAGIC: then the context. */
static foc_status open_request(struct foc_invocation *inv, const char **message)
{
	struct foc_reader r;
	uint32_t magic = 0;
	foc_status rc;

	foc_reader_init(&r, inv->request_bytes.data, inv->request_bytes.len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK) {
		*message = "request shorter than its header";
		return FOC_ERR_BAD_REQUEST;
	}
	if (magic != FOC_REQ_MAGIC && magic != FOC_REQ2_MAGIC) {
		*message = "request does not start with FOC_REQ_MAGIC or FOC_REQ2_MAGIC";
		return FOC_ERR_BAD_REQUEST;
	}
	rc = foc_decode_args(&r, &inv->request, message);
	if (rc == FOC_OK && magic == FOC_REQ2_MAGIC)
		rc = foc_decode_context(&r, &inv->request, message);
	if (rc == FOC_OK && !foc_reader_at_end(&r)) {
		*message = "trailing bytes after the last argument";
		return FOC_ERR_BAD_REQUEST;
	}
	return rc;
}

/* The value is the stored bytes: take the private copy over. */
static foc_status open_state(struct foc_invocation *inv, struct foc_read *read, struct foc_blob *stored,
			     const char **message)
{
	(void)inv;
	(void)message;
	read->value = *stored;
	stored->data = NULL;
	stored->len = 0;
	return FOC_OK;
}

static void render(const struct foc_invocation *inv, const struct foc_outcome *o, struct foc_writer *w,
		   uint32_t *msg_type)
{
	uint32_t i;

	if (o->code != FOC_OK) {
		foc_render_error(w, msg_type, o->code, o->message);
		return;
	}
	foc_write_u32(w, FOC_RESPONSE_OK);
	foc_write_bytes(w, o->payload.data, o->payload.len);
	foc_write_u32(w, o->nreads);
	for (i = 0; i < o->nreads; i++) {
		const struct foc_blob *key = &inv->cache[o->reads[i]].key;

		foc_write_bytes(w, key->data, key->len);
	}
	foc_write_u32(w, o->nranges);
	for (i = 0; i < o->nranges; i++) {
		const struct foc_range_read *range = &inv->ranges[o->ranges[i]];

		foc_write_bytes(w, range->start.data, range->start.len);
		foc_write_bytes(w, range->end.data, range->end.len);
	}
	foc_write_u32(w, o->nwrites);
	for (i = 0; i < o->nwrites; i++) {
		const struct foc_write *wr = &o->writes[i];

		foc_write_bytes(w, wr->key.data, wr->key.len);
		foc_write_u8(w, wr->is_delete ? 1 : 0);
		foc_write_bytes(w, wr->value.data, wr->value.len);
	}
	*msg_type = FOC_MSG_RESPONSE;
}

const struct foc_envelope foc_plaintext_envelope = {
	.max_stored_value = FOC_MAX_VALUE,
	.open_request = open_request,
	.open_state = open_state,
	.check_write = NULL,
	.render = render,
	.release = NULL,
};
