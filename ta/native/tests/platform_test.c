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

	if (foc_test_fail_after == 0)
		return NULL;
	if (foc_test_fail_after > 0)
		foc_test_fail_after--;
	p = calloc(1, size);
	if (p)
		foc_test_live_allocations++;
	return p;
}

void foc_platform_free(void *ptr)
{
	if (ptr)
		foc_test_live_allocations--;
	free(ptr);
}
