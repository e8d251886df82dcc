/* SPDX-License-Identifier: Apache-2.0 */
/* Platform hooks for the C unit tests: counts live allocations and can fail on demand. */
#include <stdlib.h>

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
