/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OP-TEE's copy of mbedTLS (lib/libmbedtls/mbedtls, which the TA's P-256 is compiled from) can take
 * bignum temporaries from a libutils mempool when `mbedtls_mpi_mempool` is set. FOC never sets it
 * (in the TA nor here), so bignums use mbedtls_calloc; the one unconditional mempool call
 * (mbedtls_mpi_exp_mod, reached only by compressed points, which FOC never parses) gets an
 * allocation failure here, an error and never memory. These declarations only let the host-native
 * build of the same sources (`make -C ta/native P256=mbedtls`) compile without OP-TEE's libutils.
 */
#ifndef FOC_NATIVE_MEMPOOL_SHIM_H
#define FOC_NATIVE_MEMPOOL_SHIM_H

#include <stddef.h>

struct mempool;

static inline void *mempool_alloc(struct mempool *pool, size_t size)
{
	(void)pool;
	(void)size;
	return NULL;
}

static inline void *mempool_calloc(struct mempool *pool, size_t nmemb, size_t size)
{
	(void)pool;
	(void)nmemb;
	(void)size;
	return NULL;
}

static inline void mempool_free(struct mempool *pool, void *ptr)
{
	(void)pool;
	(void)ptr;
}

#endif /* FOC_NATIVE_MEMPOOL_SHIM_H */
