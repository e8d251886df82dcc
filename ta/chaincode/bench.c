/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_rw: the synthetic workload of `foc bench` (docs/performance.md), in the coffee TA's
 * dispatch so the benchmark measures the product's own TA and trusted core.
 *
 *   bench_rw(prefix, nreads, nwrites, value_size)
 *     reads  <prefix>/k0 .. <prefix>/k<nreads-1>    (each distinct read costs one GET_STATE round trip)
 *     writes <prefix>/k0 .. <prefix>/k<nwrites-1>   value_size bytes each
 *     -> "read <nreads> (<found> found, <bytes> bytes), wrote <nwrites>"
 *
 * nreads and nwrites are 0..FOC_MAX_READS / FOC_MAX_WRITES, value_size 0..FOC_MAX_VALUE; the
 * core's limits (bytes read and written per invocation) still apply and are reported as LIMIT.
 * Work per re-execution is one cache lookup per read already answered, so the latency of N
 * reads grows with the N round trips, not with N^2 chaincode work.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <foc_ta.h>

#include "bench.h"
#include <foc_chaincode.h>

#define BENCH_KEY_MAX 80

static uint8_t fill[FOC_MAX_VALUE]; /* the written value: a fixed pattern */

static foc_status parse_small(struct foc_stub *stub, struct foc_slice text, const char *what, uint32_t max,
			      uint32_t *out)
{
	uint32_t n = 0, i;

	if (text.len == 0 || text.len > 6)
		return foc_errorf(stub, FOC_ERR_BAD_ARGUMENT, "%s must be a decimal number 0..%u", what, max);
	for (i = 0; i < text.len; i++) {
		if (text.data[i] < '0' || text.data[i] > '9')
			return foc_errorf(stub, FOC_ERR_BAD_ARGUMENT, "%s must be a decimal number 0..%u", what, max);
		n = n * 10 + (uint32_t)(text.data[i] - '0');
	}
	if (n > max)
		return foc_errorf(stub, FOC_ERR_BAD_ARGUMENT, "%s must be a decimal number 0..%u", what, max);
	*out = n;
	return FOC_OK;
}

static struct foc_slice bench_key(struct foc_slice prefix, uint32_t i, char buf[BENCH_KEY_MAX])
{
	int n = snprintf(buf, BENCH_KEY_MAX, "%.*s/k%u", (int)prefix.len, (const char *)prefix.data, i);
	struct foc_slice key = { (const uint8_t *)buf, n > 0 && n < BENCH_KEY_MAX ? (uint32_t)n : 0 };

	return key;
}

foc_status foc_bench_rw(struct foc_stub *stub)
{
	struct foc_slice prefix = foc_stub_arg(stub, 0);
	struct foc_slice value = { fill, 0 };
	uint32_t nreads, nwrites, size, found = 0, i;
	uint64_t bytes = 0;
	char key[BENCH_KEY_MAX], text[96];
	foc_status rc;

	if (foc_stub_arg_count(stub) != 4)
		return foc_error(stub, FOC_ERR_ARG_COUNT, "expected 4 arguments (prefix, nreads, nwrites, value_size)");
	if (prefix.len == 0 || prefix.len > BENCH_KEY_MAX - 16)
		return foc_error(stub, FOC_ERR_BAD_ARGUMENT, "prefix must be 1..64 bytes");
	rc = parse_small(stub, foc_stub_arg(stub, 1), "nreads", FOC_MAX_READS, &nreads);
	if (rc == FOC_OK)
		rc = parse_small(stub, foc_stub_arg(stub, 2), "nwrites", FOC_MAX_WRITES, &nwrites);
	if (rc == FOC_OK)
		rc = parse_small(stub, foc_stub_arg(stub, 3), "value_size", FOC_MAX_VALUE, &size);
	if (rc != FOC_OK)
		return rc;
	for (i = 0; i < nreads; i++) {
		struct foc_slice got;
		bool present;

		rc = foc_get_state(stub, bench_key(prefix, i, key), &got, &present);
		if (rc != FOC_OK)
			return rc;
		found += present ? 1 : 0;
		bytes += got.len;
	}
	if (size && fill[0] == 0)
		memset(fill, 'v', sizeof(fill));
	value.len = size;
	for (i = 0; i < nwrites; i++) {
		rc = foc_put_state(stub, bench_key(prefix, i, key), value);
		if (rc != FOC_OK)
			return rc;
	}
	snprintf(text, sizeof(text), "read %u (%u found, %llu bytes), wrote %u", nreads, found,
		 (unsigned long long)bytes, nwrites);
	return foc_success(stub, foc_slice_of(text));
}
