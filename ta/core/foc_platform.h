/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The only things the trusted core needs from its platform: memory.
 * The TA glue implements these with TEE_Malloc/TEE_Free, the native build with
 * malloc/free (and the C tests with a version that can be told to fail).
 */
#ifndef FOC_PLATFORM_H
#define FOC_PLATFORM_H

#include <stddef.h>

/* Zero-filled allocation of size > 0 bytes; NULL when memory is exhausted. */
void *foc_platform_alloc(size_t size);

/* Release memory from foc_platform_alloc; NULL is ignored. */
void foc_platform_free(void *ptr);

#endif /* FOC_PLATFORM_H */
