/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FOC_PLATFORM_TEST_H
#define FOC_PLATFORM_TEST_H

#include <stddef.h>
#include <stdint.h>

struct foc_session;

/* Allocations that still succeed before every later one fails; -1 = never fail. */
extern long foc_test_fail_after;
/* Allocations not yet freed (leak check without a sanitizer). */
extern long foc_test_live_allocations;

/*
 * Run a command on a core session through the TA's command table, with the parameter types
 * the table expects: in = params[0], out (*out_len bytes) = params[2]; on return *out_len
 * and *msg_type hold params[2]'s size and params[1].value.a. Returns the TEE_Result.
 */
uint32_t foc_test_run(struct foc_session *s, uint32_t cmd, const void *in, size_t in_len, uint8_t *out,
		      size_t *out_len, uint32_t *msg_type);

#endif /* FOC_PLATFORM_TEST_H */
