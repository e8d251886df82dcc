/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FOC's coffee-tracking chaincode on the FOC chaincode API (foc_chaincode.h).
 *
 *   create(person, n)  person must not exist; stores n              -> "OK"
 *   add(person, n)     person must exist; stores old + n            -> "OK"
 *   query(person)      -> "person: <person>, number of consumed coffees: <n>"
 *   bench_rw(...)      the benchmark's synthetic function (bench.c), not part of FOC's chaincode
 *   probe_*(...)       the chaincode API's probes for FOC's tests (probe.c), not part of it either
 *
 * State: key = person (1..FOC_MAX_KEY bytes, no NUL), value = the count as ASCII decimal
 * (as FOC stored it). As in FOC, an empty stored value counts as "does not exist".
 * Counts are unsigned 64-bit, parsed strictly: 1..20 ASCII digits and nothing else.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <foc_chaincode.h>

#include "bench.h"
#include "probe.h"

#define COUNT_MAX_DIGITS 20

/* Parse a count. `what` names the value in messages ("count" or "stored count"). */
static foc_status parse_count(struct foc_stub *stub, struct foc_slice text, const char *what, foc_status bad_code,
			      uint64_t *count)
{
	uint64_t n = 0;
	uint32_t i;

	if (text.len == 0)
		return foc_errorf(stub, bad_code, "%s is empty (expected a decimal number)", what);
	for (i = 0; i < text.len; i++)
		if (text.data[i] < '0' || text.data[i] > '9')
			return foc_errorf(stub, bad_code, "%s is not a decimal number (digits 0-9 only)", what);
	if (text.len > COUNT_MAX_DIGITS)
		return foc_errorf(stub, FOC_ERR_OVERFLOW, "%s has more than %d digits", what, COUNT_MAX_DIGITS);
	for (i = 0; i < text.len; i++) {
		uint64_t digit = (uint64_t)(text.data[i] - '0');

		if (n > (UINT64_MAX - digit) / 10)
			return foc_errorf(stub, FOC_ERR_OVERFLOW, "%s is larger than 18446744073709551615", what);
		n = n * 10 + digit;
	}
	*count = n;
	return FOC_OK;
}

/* Decimal text of n into buf (at least COUNT_MAX_DIGITS bytes); returns the length. */
static uint32_t format_count(uint64_t n, uint8_t *buf)
{
	uint8_t rev[COUNT_MAX_DIGITS];
	uint32_t len = 0, i;

	do {
		rev[len++] = (uint8_t)('0' + n % 10);
		n /= 10;
	} while (n);
	for (i = 0; i < len; i++)
		buf[i] = rev[len - 1 - i];
	return len;
}

static foc_status expect_args(struct foc_stub *stub, uint32_t expected, const char *usage)
{
	uint32_t got = foc_stub_arg_count(stub);

	if (got != expected)
		return foc_errorf(stub, FOC_ERR_ARG_COUNT, "expected %u argument%s (%s), got %u", expected,
				  expected == 1 ? "" : "s", usage, got);
	return FOC_OK;
}

/* Read the person's count; *exists tells whether the person is known. */
static foc_status read_count(struct foc_stub *stub, struct foc_slice person, bool *exists, uint64_t *count)
{
	struct foc_slice value;
	bool found;
	foc_status rc = foc_get_state(stub, person, &value, &found);

	*exists = false;
	*count = 0;
	if (rc != FOC_OK)
		return rc;
	if (!found || value.len == 0)
		return FOC_OK;
	*exists = true;
	return parse_count(stub, value, "stored count", FOC_ERR_INCONSISTENT, count);
}

static foc_status write_count(struct foc_stub *stub, struct foc_slice person, uint64_t count)
{
	uint8_t text[COUNT_MAX_DIGITS];
	struct foc_slice value = { text, format_count(count, text) };

	return foc_put_state(stub, person, value);
}

/* create and add: (person, count) arguments, the count parsed, the person's current count read. */
static foc_status count_request(struct foc_stub *stub, uint64_t *n, bool *exists, uint64_t *old)
{
	foc_status rc = expect_args(stub, 2, "person, count");

	if (rc == FOC_OK)
		rc = parse_count(stub, foc_stub_arg(stub, 1), "count", FOC_ERR_BAD_ARGUMENT, n);
	if (rc == FOC_OK)
		rc = read_count(stub, foc_stub_arg(stub, 0), exists, old);
	return rc;
}

static foc_status create(struct foc_stub *stub)
{
	struct foc_slice person = foc_stub_arg(stub, 0);
	uint64_t n, old;
	bool exists;
	foc_status rc;

	rc = count_request(stub, &n, &exists, &old);
	if (rc != FOC_OK)
		return rc;
	if (exists)
		return foc_error(stub, FOC_ERR_EXISTS, "person already exists");
	rc = write_count(stub, person, n);
	if (rc != FOC_OK)
		return rc;
	return foc_success(stub, foc_slice_of("OK"));
}

static foc_status add(struct foc_stub *stub)
{
	struct foc_slice person = foc_stub_arg(stub, 0);
	uint64_t n, old;
	bool exists;
	foc_status rc;

	rc = count_request(stub, &n, &exists, &old);
	if (rc != FOC_OK)
		return rc;
	if (!exists)
		return foc_error(stub, FOC_ERR_NOT_FOUND, "person not found");
	if (n > UINT64_MAX - old)
		return foc_error(stub, FOC_ERR_OVERFLOW, "new count would exceed 18446744073709551615");
	rc = write_count(stub, person, old + n);
	if (rc != FOC_OK)
		return rc;
	return foc_success(stub, foc_slice_of("OK"));
}

static foc_status query(struct foc_stub *stub)
{
	static const char prefix[] = "person: ";
	static const char middle[] = ", number of consumed coffees: ";
	uint8_t text[sizeof(prefix) - 1 + FOC_MAX_KEY + sizeof(middle) - 1 + COUNT_MAX_DIGITS];
	struct foc_slice person = foc_stub_arg(stub, 0);
	struct foc_slice payload = { text, 0 };
	uint64_t n;
	bool exists;
	foc_status rc;

	rc = expect_args(stub, 1, "person");
	if (rc == FOC_OK)
		rc = read_count(stub, person, &exists, &n);
	if (rc != FOC_OK)
		return rc;
	if (!exists)
		return foc_error(stub, FOC_ERR_NOT_FOUND, "person not found");
	/* get_state accepted the key, so person.len <= FOC_MAX_KEY */
	memcpy(text, prefix, sizeof(prefix) - 1);
	payload.len = sizeof(prefix) - 1;
	memcpy(text + payload.len, person.data, person.len);
	payload.len += person.len;
	memcpy(text + payload.len, middle, sizeof(middle) - 1);
	payload.len += sizeof(middle) - 1;
	payload.len += format_count(n, text + payload.len);
	return foc_success(stub, payload);
}

static const struct foc_chaincode_function coffee_functions[] = {
	{ "create", create },
	{ "add", add },
	{ "query", query },
	{ "bench_rw", foc_bench_rw }, /* `foc bench`'s synthetic reads/writes (bench.c) */
	/* the chaincode API's probes for FOC's tests (probe.c) */
	{ "probe_creator", foc_probe_creator },
	{ "probe_transient", foc_probe_transient },
	{ "probe_range", foc_probe_range },
	{ "probe_partial", foc_probe_partial },
	{ "probe_put_composite", foc_probe_put_composite },
};

const struct foc_chaincode foc_chaincode = {
	.name = "coffee",
	.functions = coffee_functions,
	.function_count = sizeof(coffee_functions) / sizeof(coffee_functions[0]),
};
