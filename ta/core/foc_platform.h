/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The only things the trusted core needs from its platform: memory and a way to die.
 * The TA glue implements these with TEE_Malloc/TEE_Free/TEE_Panic, the native build with
 * calloc/free (and the C tests with a version that can be told to fail).
 */
#ifndef FOC_PLATFORM_H
#define FOC_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* Zero-filled allocation of size > 0 bytes; NULL when memory is exhausted. */
void *foc_platform_alloc(size_t size);

/* Release memory from foc_platform_alloc; NULL is ignored. */
void foc_platform_free(void *ptr);

/* FOC_CMD_PANIC. OP-TEE: TEE_Panic(), does not return. Native: the instance and its sessions
 * die, returns TEE_ERROR_TARGET_DEAD. */
uint32_t foc_platform_panic(void);

/* Overwrite secrets in a way the compiler may not drop. */
static inline void foc_wipe(void *p, size_t len)
{
	volatile uint8_t *b = p;

	while (len--)
		*b++ = 0;
}

#endif /* FOC_PLATFORM_H */
