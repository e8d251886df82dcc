/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plaintext protocol (foc_ta.h) as the core's envelope: the request is FOC_REQ_MAGIC and
 * an argument list, state answers carry values in the clear, and the outcome is
 * FOC_MSG_RESPONSE (status, payload, read set, write set) or FOC_MSG_ERROR.
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

/* request := u32 FOC_REQ_MAGIC, u32 nargs, bytes[nargs], nothing after. */
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
	if (magic != FOC_REQ_MAGIC) {
		*message = "request does not start with FOC_REQ_MAGIC";
		return FOC_ERR_BAD_REQUEST;
	}
	rc = foc_decode_args(&r, &inv->request, message);
	if (rc == FOC_OK && !foc_reader_at_end(&r)) {
		*message = "trailing bytes after the last argument";
		return FOC_ERR_BAD_REQUEST;
	}
	return rc;
}

static foc_status open_state(struct foc_invocation *inv, uint32_t index, struct foc_slice stored,
			     const char **message)
{
	if (foc_blob_copy(&inv->cache[index].value, stored.data, stored.len))
		return FOC_OK;
	*message = "out of memory copying a state value";
	return FOC_ERR_NO_MEMORY;
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
