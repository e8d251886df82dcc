/* SPDX-License-Identifier: Apache-2.0 */
/* Platform hooks for the C unit tests: counts live allocations and can fail on demand. */
#include <stdlib.h>

#include "foc_commands.h"
#include "foc_platform.h"
#include "platform_test.h"

long foc_test_fail_after = -1;
long foc_test_live_allocations;

void *foc_platform_alloc(size_t size)
{
	void *p;

	/* The thread test allocates from several threads: keep the counters atomic. */
	if (__atomic_load_n(&foc_test_fail_after, __ATOMIC_SEQ_CST) == 0)
		return NULL;
	if (__atomic_load_n(&foc_test_fail_after, __ATOMIC_SEQ_CST) > 0)
		__atomic_sub_fetch(&foc_test_fail_after, 1, __ATOMIC_SEQ_CST);
	p = calloc(1, size);
	if (p)
		__atomic_add_fetch(&foc_test_live_allocations, 1, __ATOMIC_SEQ_CST);
	return p;
}

void foc_platform_free(void *ptr)
{
	if (ptr)
		__atomic_sub_fetch(&foc_test_live_allocations, 1, __ATOMIC_SEQ_CST);
	free(ptr);
}

uint32_t foc_test_run(struct foc_session *s, uint32_t cmd, const void *in, size_t in_len, uint8_t *out,
		      size_t *out_len, uint32_t *msg_type)
{
	union foc_param p[4] = { { { NULL, 0 } } };
	const struct foc_command *c = foc_command_find(cmd);
	uint32_t res;

	if (!c)
		return FOC_TEE_ERROR_NOT_SUPPORTED;
	p[0].memref.buffer = (void *)in;
	p[0].memref.size = in_len;
	p[2].memref.buffer = out;
	p[2].memref.size = *out_len;
	res = foc_command_run(s, cmd, c->param_types, p);
	*out_len = p[2].memref.size;
	*msg_type = p[1].value.a;
	return res;
}
