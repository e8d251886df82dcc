/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-session invocation state of the trusted core, driven by the platform glue
 * (ta/foc_ta.c in OP-TEE, ta/native/foc_native.c on the host).
 */
#ifndef FOC_CORE_H
#define FOC_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct foc_session;

/* A session with no invocation in flight; NULL when memory is exhausted. */
struct foc_session *foc_session_new(void);
/* Free a session and everything it holds; NULL is ignored. */
void foc_session_free(struct foc_session *s);
/* Drop the in-flight invocation, if any (FOC_CMD_ABORT). */
void foc_session_abort(struct foc_session *s);

/*
 * Run FOC_CMD_INVOKE (in = request) or FOC_CMD_RESUME (in = state answer) and encode
 * the resulting message (FOC_MSG_*) into out[0..out_cap).
 *
 * Returns true when the message fit: *out_len is its size, *msg_type its type.
 * Returns false when out_cap is too small: *out_len is the size needed and the command
 * had no effect on the session except that INVOKE always drops a previous invocation,
 * so repeating the same command with the same input and a big enough buffer gives the
 * same answer.
 */
bool foc_session_command(struct foc_session *s, uint32_t cmd, const uint8_t *in, size_t in_len, uint8_t *out,
			 size_t out_cap, size_t *out_len, uint32_t *msg_type);

#endif /* FOC_CORE_H */
