/* SPDX-License-Identifier: Apache-2.0 */
/*
 * probe_*: small functions in the coffee TA's dispatch that exercise the chaincode API's calls
 * for the identity, transient data and range reads (issue 12), so FOC's tests run them on the
 * product's own TA and trusted core, on the host-native build and on real OP-TEE. Not part of
 * FOC's coffee chaincode; a chaincode of one's own uses the same calls (foc_chaincode.h).
 *
 *   probe_creator()                       -> "<msp id>\n<certificate>"; NOT_FOUND without a creator
 *   probe_transient(name)                 -> the transient value of name; NOT_FOUND if absent
 *   probe_range(start, end[, out_key])    -> "<key>=<value>\n" per entry; with out_key, writes the
 *                                            entry count (decimal) to out_key
 *   probe_partial(type, attr...)          -> "<type>/<attr>/...=<value>\n" per entry of the partial
 *                                            composite key query (keys split back into their parts)
 *   probe_put_composite(type, attr..., value)  writes value under the composite key -> the key's length
 */
#include <stdio.h>
#include <string.h>

#include <foc_chaincode.h>

#include "probe.h"

#define PROBE_PARTS 8

/* The text of a range's entries; composite keys split back into type/attr/... */
static foc_status list(struct foc_stub *stub, const struct foc_state_entry *entries, uint32_t count)
{
	static char text[FOC_MAX_PAYLOAD];
	struct foc_slice parts[PROBE_PARTS], type;
	uint32_t used = 0, i, k, nparts;
	foc_status rc;
	int n;

	for (i = 0; i < count; i++) {
		struct foc_slice key = entries[i].key, value = entries[i].value;

		if (key.len && key.data[0] == 0) {
			rc = foc_split_composite_key(stub, key, &type, parts, PROBE_PARTS, &nparts);
			if (rc != FOC_OK)
				return rc;
			n = snprintf(text + used, sizeof(text) - used, "%.*s", (int)type.len, (const char *)type.data);
			for (k = 0; k < nparts && n >= 0; k++)
				n += snprintf(text + used + (uint32_t)n, sizeof(text) - used - (uint32_t)n, "/%.*s",
					      (int)parts[k].len, (const char *)parts[k].data);
		} else {
			n = snprintf(text + used, sizeof(text) - used, "%.*s", (int)key.len, (const char *)key.data);
		}
		if (n >= 0)
			n += snprintf(text + used + (uint32_t)n, sizeof(text) - used - (uint32_t)n, "=%.*s\n",
				      (int)value.len, (const char *)value.data);
		if (n < 0 || (size_t)n >= sizeof(text) - used)
			return foc_error(stub, FOC_ERR_LIMIT, "the listing does not fit a payload");
		used += (uint32_t)n;
	}
	return foc_success(stub, (struct foc_slice){ (const uint8_t *)text, used });
}

foc_status foc_probe_creator(struct foc_stub *stub)
{
	static uint8_t text[FOC_MAX_MSP_ID + 1 + FOC_MAX_CERTIFICATE];
	struct foc_slice msp, cert;
	foc_status rc = foc_get_creator(stub, &msp, &cert);

	if (rc == FOC_ERR_NOT_FOUND)
		return foc_error(stub, rc, "this invocation carries no creator");
	if (rc != FOC_OK)
		return rc;
	memcpy(text, msp.data, msp.len);
	text[msp.len] = '\n';
	memcpy(text + msp.len + 1, cert.data, cert.len);
	return foc_success(stub, (struct foc_slice){ text, msp.len + 1 + cert.len });
}

foc_status foc_probe_transient(struct foc_stub *stub)
{
	struct foc_slice value;
	bool found;
	foc_status rc;

	if (foc_stub_arg_count(stub) != 1)
		return foc_error(stub, FOC_ERR_ARG_COUNT, "expected 1 argument (transient key)");
	rc = foc_get_transient(stub, foc_stub_arg(stub, 0), &value, &found);
	if (rc != FOC_OK)
		return rc;
	if (!found)
		return foc_error(stub, FOC_ERR_NOT_FOUND, "no such transient key");
	return foc_success(stub, value);
}

foc_status foc_probe_range(struct foc_stub *stub)
{
	const struct foc_state_entry *entries;
	uint32_t count, n = foc_stub_arg_count(stub);
	char digits[16];
	foc_status rc;

	if (n != 2 && n != 3)
		return foc_error(stub, FOC_ERR_ARG_COUNT, "expected 2 or 3 arguments (start, end[, out_key])");
	rc = foc_get_state_by_range(stub, foc_stub_arg(stub, 0), foc_stub_arg(stub, 1), &entries, &count);
	if (rc == FOC_OK && n == 3) {
		snprintf(digits, sizeof(digits), "%u", count);
		rc = foc_put_state(stub, foc_stub_arg(stub, 2), foc_slice_of(digits));
	}
	return rc == FOC_OK ? list(stub, entries, count) : rc;
}

/* The arguments from `first` on (at most PROBE_PARTS) as composite key attributes. */
static uint32_t attributes(struct foc_stub *stub, uint32_t first, uint32_t end, struct foc_slice *parts)
{
	uint32_t i, n = 0;

	for (i = first; i < end && n < PROBE_PARTS; i++)
		parts[n++] = foc_stub_arg(stub, i);
	return n;
}

foc_status foc_probe_partial(struct foc_stub *stub)
{
	struct foc_slice parts[PROBE_PARTS];
	const struct foc_state_entry *entries;
	uint32_t count, n = foc_stub_arg_count(stub);
	foc_status rc;

	if (n < 1)
		return foc_error(stub, FOC_ERR_ARG_COUNT, "expected an object type and attributes");
	rc = foc_get_state_by_partial_composite_key(stub, foc_stub_arg(stub, 0), parts, attributes(stub, 1, n, parts),
						    &entries, &count);
	return rc == FOC_OK ? list(stub, entries, count) : rc;
}

foc_status foc_probe_put_composite(struct foc_stub *stub)
{
	uint8_t buffer[FOC_MAX_KEY];
	struct foc_slice parts[PROBE_PARTS], key;
	uint32_t n = foc_stub_arg_count(stub);
	char digits[16];
	foc_status rc;

	if (n < 2)
		return foc_error(stub, FOC_ERR_ARG_COUNT, "expected an object type, attributes and a value");
	rc = foc_create_composite_key(stub, foc_stub_arg(stub, 0), parts, attributes(stub, 1, n - 1, parts), buffer,
				      &key);
	if (rc == FOC_OK)
		rc = foc_put_state(stub, key, foc_stub_arg(stub, n - 1));
	if (rc != FOC_OK)
		return rc;
	snprintf(digits, sizeof(digits), "%u", key.len);
	return foc_success(stub, foc_slice_of(digits));
}
