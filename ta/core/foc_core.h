/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The plaintext protocol core as the code around it sees it: sessions, deterministic
 * re-execution of the chaincode over a read cache, the write set, and the envelope
 * interface through which a mode opens the request and the state values and encodes the
 * outcome. The core's own envelope is the plaintext protocol (foc_plaintext.c); the
 * confidential layer (ta/confidential/) is the other. No OP-TEE headers, no crypto.
 */
#ifndef FOC_CORE_H
#define FOC_CORE_H

#include <foc_chaincode.h>

#include "foc_codec.h"

#define FOC_STR_(x) #x
#define FOC_STR(x) FOC_STR_(x)
/* FOC_LIMIT_MSG(FOC_MAX_KEY, "state key too long"): "limit FOC_MAX_KEY (256) exceeded: state key too long" */
#define FOC_LIMIT_MSG(name, what) "limit " #name " (" FOC_STR(name) ") exceeded: " what

/* Fabric's response statuses (shim.OK, shim.ERROR). */
#define FOC_RESPONSE_OK 200u
#define FOC_RESPONSE_ERROR 500u

/* A byte string owned by the core (len == 0 may come with data == NULL); wiped when freed. */
struct foc_blob {
	uint8_t *data;
	uint32_t len;
};

bool foc_blob_copy(struct foc_blob *dst, const uint8_t *data, uint32_t len);
void foc_blob_free(struct foc_blob *b);
static inline struct foc_slice foc_blob_slice(const struct foc_blob *b)
{
	return (struct foc_slice){ b->data, b->len };
}

/* The FOC_ERR_* name without its prefix ("EXISTS"); "INTERNAL" for any other code. */
const char *foc_error_name(foc_status code);

/* FOC_MSG_ERROR := u32 code bytes message */
void foc_render_error(struct foc_writer *w, uint32_t *msg_type, foc_status code, struct foc_slice message);

/* The request in the clear: args[0] is the function name; creator and transient data (context). */
struct foc_request {
	struct foc_slice args[FOC_MAX_ARGS];
	uint32_t nargs;
	struct foc_slice creator_msp_id;      /* both empty: the request carries no creator */
	struct foc_slice creator_certificate;
	struct foc_slice transient_keys[FOC_MAX_TRANSIENT];
	struct foc_slice transient_values[FOC_MAX_TRANSIENT];
	uint32_t ntransient;
};

/* u32 nargs bytes[nargs], the argument list of both request formats, into req (pointing into r's buffer). */
foc_status foc_decode_args(struct foc_reader *r, struct foc_request *req, const char **message);
/* The context of both request formats (foc_ta.h): bytes creator_msp_id bytes creator_certificate
 * u32 ntransient { bytes key bytes value }, into req (pointing into r's buffer). */
foc_status foc_decode_context(struct foc_reader *r, struct foc_request *req, const char **message);

/*
 * A state key the TA accepts (foc_ta.h): a simple key (1..FOC_MAX_KEY bytes of UTF-8 without
 * NUL) or a composite key. FOC_OK, or FOC_ERR_BAD_ARGUMENT / FOC_ERR_LIMIT with a static message.
 */
foc_status foc_check_key(struct foc_slice key, const char **message);
/* Byte-order comparison (memcmp, then length), as Fabric orders keys: <0, 0, >0. */
int foc_compare(struct foc_slice a, struct foc_slice b);

/* Bytes of the envelope's digest of a stored value (the confidential layer's SHA-256). */
#define FOC_DIGEST_SIZE 32

/* A key fetched by the invocation (kept across re-executions): a GET_STATE answer or a range entry. */
struct foc_read {
	struct foc_blob key;
	struct foc_blob value;  /* in the clear */
	bool found;
	uint32_t stored_len;    /* bytes of the stored value as answered, counted against the limits */
	uint8_t digest[FOC_DIGEST_SIZE]; /* set by the envelope (confidential: SHA-256 of the stored bytes) */
};

/* A range fetched by the invocation: its bounds and its entries, ascending. */
struct foc_range_read {
	struct foc_blob start, end;      /* end empty: no upper bound */
	struct foc_read *entries;        /* nentries of them */
	struct foc_state_entry *view;    /* the same entries as the chaincode sees them */
	uint32_t nentries;
};

/* A buffered write: the last one for its key. */
struct foc_write {
	struct foc_blob key;
	struct foc_blob value;
	bool is_delete;
};

/* What a finished run produced, for the envelope to encode. */
struct foc_outcome {
	foc_status code;                /* FOC_OK or the FOC_ERR_* of the failure */
	struct foc_slice payload;       /* FOC_OK: the chaincode's payload */
	struct foc_slice message;       /* failure: what went wrong (no state values) */
	const uint32_t *reads;          /* indices into the read cache: distinct keys, first-read order */
	uint32_t nreads;
	const uint32_t *ranges;         /* indices into the range cache: distinct ranges, first-read order */
	uint32_t nranges;
	const struct foc_write *writes; /* distinct keys in first-write order; none after a failure */
	uint32_t nwrites;
};

struct foc_invocation;

/*
 * How one mode carries an invocation across the TA boundary. The core calls:
 *   open_request  once per invocation, with the private copy of the input in
 *                 inv->request_bytes: fills inv->request (pointing into inv->request_bytes,
 *                 which it may replace) and may set inv->ctx;
 *   open_state    once per stored value (a state answer, each entry of a range answer), before
 *                 it enters the cache: sets read->value (and read->digest) from the private copy
 *                 of the stored bytes, which it may take over (key and found are set);
 *   check_write   before each write is buffered (NULL: every valid key may be written);
 *   render        once, with the final outcome;
 *   release       when the invocation ends, if inv->ctx is set.
 * Failures return a FOC_ERR_* code and a message without secrets, which the core sends as
 * FOC_MSG_ERROR before it releases anything.
 */
struct foc_envelope {
	uint32_t max_stored_value; /* largest value a state answer may carry */
	foc_status (*open_request)(struct foc_invocation *inv, const char **message);
	foc_status (*open_state)(struct foc_invocation *inv, struct foc_read *read, struct foc_blob *stored,
				 const char **message);
	foc_status (*check_write)(struct foc_slice key, const char **message);
	void (*render)(const struct foc_invocation *inv, const struct foc_outcome *outcome, struct foc_writer *w,
		       uint32_t *msg_type);
	void (*release)(void *ctx);
};

/* The plaintext protocol (foc_ta.h): FOC_REQ_MAGIC request, FOC_MSG_RESPONSE. */
extern const struct foc_envelope foc_plaintext_envelope;

/* An invocation in flight: what survives from one run of the chaincode to the next. */
struct foc_invocation {
	const struct foc_envelope *envelope;
	void *ctx;                            /* the envelope's own state */
	struct foc_blob request_bytes;        /* the request in the clear; request.args point into it */
	struct foc_request request;
	struct foc_read cache[FOC_MAX_READS]; /* values fetched so far, in fetch order */
	uint32_t ncache;
	size_t cache_bytes;
	struct foc_range_read ranges[FOC_MAX_RANGES]; /* ranges fetched so far, in fetch order */
	uint32_t nranges;
	size_t range_bytes;
	uint32_t pending;                     /* 0, FOC_MSG_GET_STATE or FOC_MSG_GET_STATE_BY_RANGE in flight */
	struct foc_blob pending_key;          /* GET_STATE: the key; GET_STATE_BY_RANGE: the start */
	struct foc_blob pending_end;          /* GET_STATE_BY_RANGE: the end */
};

/* What a run stopped for: kind = FOC_MSG_GET_STATE (key) or FOC_MSG_GET_STATE_BY_RANGE (key = start, end). */
struct foc_need {
	uint32_t kind;
	struct foc_blob key, end;
};

/*
 * Run the chaincode once over inv (foc_stub.c) and encode the result into w: FOC_MSG_GET_STATE
 * or FOC_MSG_GET_STATE_BY_RANGE with *need set (the caller owns its blobs), or the envelope's
 * rendering of the outcome.
 */
void foc_stub_run(const struct foc_invocation *inv, struct foc_writer *w, uint32_t *msg_type, struct foc_need *need);

/* Sessions (foc_session.c): at most one invocation in flight each. */
struct foc_session;

/* A session with no invocation in flight; NULL when memory is exhausted. */
struct foc_session *foc_session_new(void);
/* Free a session and everything it holds; NULL is ignored. */
void foc_session_free(struct foc_session *s);
/* Drop the in-flight invocation, if any (FOC_CMD_ABORT). */
void foc_session_abort(struct foc_session *s);

/*
 * Start an invocation of the given mode (in = its request) or answer its last GET_STATE
 * (in = state answer), and encode the resulting message (FOC_MSG_*) into w.
 * Return false when w is too small: the command then had no effect on the session, except
 * that starting always drops a previous invocation, so repeating the same command with
 * the same input and a big enough buffer gives the same answer.
 */
bool foc_session_invoke(struct foc_session *s, const struct foc_envelope *envelope, const uint8_t *in,
			size_t in_len, struct foc_writer *w, uint32_t *msg_type);

/* A command that answers with a FOC message (foc_session_resume, the enclave commands): the
 * message goes into w; false when w is too small, and then nothing changed. */
typedef bool foc_message_command(struct foc_session *s, const uint8_t *in, size_t in_len, struct foc_writer *w,
				 uint32_t *msg_type);
foc_message_command foc_session_resume;

#endif /* FOC_CORE_H */
