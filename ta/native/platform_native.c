/* SPDX-License-Identifier: Apache-2.0 */
/* Platform hooks of the trusted core for the host-native library. */
#include <stdlib.h>

#include "foc_platform.h"

void *foc_platform_alloc(size_t size)
{
	return calloc(1, size);
}

void foc_platform_free(void *ptr)
{
	free(ptr);
}
