/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Chaincode for the C unit tests: coffee's functions plus "script", whose arguments
 * are stub operations, so the tests can drive every path of the stub API:
 *   g:KEY          get KEY, append "KEY=VALUE;" or "KEY=-;" to the payload
 *   p:KEY=VALUE    put            d:KEY     delete
 *   G:N            get keys k0..k(N-1)
 *   P:N:SIZE       put keys w0..w(N-1), each with a SIZE-byte value
 *   S:SIZE         success with a SIZE-byte payload (instead of the collected text)
 *   E:CODE         return foc_error(CODE, "scripted")      X  return status 77
 *   N              return FOC_NEED_STATE without a read      Z:KEY  get KEY, ignore rc, succeed
 *   e              get with an empty key                    0  get a key holding a NUL byte
 *   R:CODE         return CODE without a message            f  append the function name
 *   M:CODE         set an error message but carry on
 *   L              fail with a 3000-byte message            Y  ignore a stub error, try to override it
 * The chaincode API of issue 12:
 *   c              the creator: "MSP|<certificate bytes>;" or "nocreator;"
 *   t:NAME         transient NAME: "NAME=VALUE;" or "NAME=-;"
 *   r:START:END    range read: "KEY=VALUE," per entry (keys via print_key), then ";"
 *   q:TYPE[:ATTR]  partial composite key read: "TYPE/ATTR/...=VALUE," per entry, then ";"
 *   k:TYPE[:ATTR]=VALUE  put VALUE under the composite key       K:TYPE[:ATTR]  get it ("=VALUE;"/"=-;")
 *   H:N            N distinct ranges h0..h0~, ..., then "H;"
 *   B:N            misuse N: 1 part with NUL, 2 part with U+10FFFF, 3 split a simple key, 4 split into a
 *                  short array, 5 composite range bound, 6 a type one byte too long, 7 get "\0x", 8 long transient key
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <foc_chaincode.h>

extern const struct foc_chaincode foc_coffee_chaincode;

#define SCRIPT_TEXT_MAX 8192
#define SCRIPT_PARTS 8
static uint8_t big[FOC_MAX_PAYLOAD + 16];

/* Split s at ':' into at most SCRIPT_PARTS slices (s is modified); returns the count. */
static uint32_t split_colon(char *s, struct foc_slice *parts)
{
	uint32_t n = 0;

	while (n < SCRIPT_PARTS) {
		char *colon = strchr(s, ':');

		if (colon)
			*colon = 0;
		parts[n++] = foc_slice_of(s);
		if (!colon)
			break;
		s = colon + 1;
	}
	return n;
}

/* A key as text: a composite key as TYPE/ATTR/..., a simple key as it is. */
static size_t print_key(struct foc_stub *stub, char *dst, size_t cap, struct foc_slice key, foc_status *rc)
{
	struct foc_slice type, attrs[SCRIPT_PARTS];
	uint32_t n = 0, i;
	size_t used;

	*rc = FOC_OK;
	if (!key.len || key.data[0] != 0)
		return (size_t)snprintf(dst, cap, "%.*s", (int)key.len, (const char *)key.data);
	*rc = foc_split_composite_key(stub, key, &type, attrs, SCRIPT_PARTS, &n);
	if (*rc != FOC_OK)
		return 0;
	used = (size_t)snprintf(dst, cap, "%.*s", (int)type.len, (const char *)type.data);
	for (i = 0; i < n && used < cap; i++)
		used += (size_t)snprintf(dst + used, cap - used, "/%.*s", (int)attrs[i].len, (const char *)attrs[i].data);
	return used;
}

/* Append "KEY=VALUE," per entry, then ";". */
static foc_status print_entries(struct foc_stub *stub, char *text, size_t *used,
				const struct foc_state_entry *entries, uint32_t count)
{
	foc_status rc = FOC_OK;
	uint32_t i;

	for (i = 0; i < count && rc == FOC_OK && *used < SCRIPT_TEXT_MAX; i++) {
		*used += print_key(stub, text + *used, SCRIPT_TEXT_MAX - *used, entries[i].key, &rc);
		if (*used < SCRIPT_TEXT_MAX)
			*used += (size_t)snprintf(text + *used, SCRIPT_TEXT_MAX - *used, "=%.*s,",
						  (int)entries[i].value.len, (const char *)entries[i].value.data);
	}
	if (*used < SCRIPT_TEXT_MAX)
		*used += (size_t)snprintf(text + *used, SCRIPT_TEXT_MAX - *used, ";");
	return rc;
}

/* The script ops of issue 12's calls (see the list above); FOC_OK or the stub's status. */
static foc_status context_op(struct foc_stub *stub, char *buf, char *text, size_t *used)
{
	struct foc_slice parts[SCRIPT_PARTS], value, key, msp, cert;
	const struct foc_state_entry *entries;
	uint8_t keybuf[FOC_MAX_KEY];
	uint32_t n, count;
	bool found;
	foc_status rc = FOC_OK;
	char *eq;

	switch (buf[0]) {
	case 'c':
		rc = foc_get_creator(stub, &msp, &cert);
		if (rc == FOC_ERR_NOT_FOUND) {
			*used += (size_t)snprintf(text + *used, SCRIPT_TEXT_MAX - *used, "nocreator;");
			return FOC_OK;
		}
		if (rc == FOC_OK)
			*used += (size_t)snprintf(text + *used, SCRIPT_TEXT_MAX - *used, "%.*s|%.*s;", (int)msp.len,
						  (const char *)msp.data, (int)cert.len, (const char *)cert.data);
		return rc;
	case 't':
		rc = foc_get_transient(stub, foc_slice_of(buf + 2), &value, &found);
		if (rc == FOC_OK)
			*used += (size_t)snprintf(text + *used, SCRIPT_TEXT_MAX - *used, "%s=%.*s;", buf + 2,
						  found ? (int)value.len : 1, found ? (const char *)value.data : "-");
		return rc;
	case 'r':
		n = split_colon(buf + 2, parts);
		rc = foc_get_state_by_range(stub, parts[0], n > 1 ? parts[1] : foc_slice_of(""), &entries, &count);
		return rc == FOC_OK ? print_entries(stub, text, used, entries, count) : rc;
	case 'q':
		n = split_colon(buf + 2, parts);
		rc = foc_get_state_by_partial_composite_key(stub, parts[0], parts + 1, n - 1, &entries, &count);
		return rc == FOC_OK ? print_entries(stub, text, used, entries, count) : rc;
	case 'k':
	case 'K':
		eq = buf[0] == 'k' ? strchr(buf + 2, '=') : NULL;
		if (eq)
			*eq = 0;
		n = split_colon(buf + 2, parts);
		rc = foc_create_composite_key(stub, parts[0], parts + 1, n - 1, keybuf, &key);
		if (rc == FOC_OK && eq)
			return foc_put_state(stub, key, foc_slice_of(eq + 1));
		if (rc == FOC_OK)
			rc = foc_get_state(stub, key, &value, &found);
		if (rc == FOC_OK)
			*used += (size_t)snprintf(text + *used, SCRIPT_TEXT_MAX - *used, "=%.*s;",
						  found ? (int)value.len : 1, found ? (const char *)value.data : "-");
		return rc;
	case 'H':
		for (n = 0; n < (uint32_t)atoi(buf + 2) && rc == FOC_OK; n++) {
			char lo[16], hi[16];

			snprintf(lo, sizeof(lo), "h%u", n);
			snprintf(hi, sizeof(hi), "h%u~", n);
			rc = foc_get_state_by_range(stub, foc_slice_of(lo), foc_slice_of(hi), &entries, &count);
		}
		if (rc == FOC_OK)
			*used += (size_t)snprintf(text + *used, SCRIPT_TEXT_MAX - *used, "H;");
		return rc;
	default:
		return FOC_ERR_INTERNAL;
	}
}

/* B:N, the misuses of issue 12's calls; returns the stub's status. */
static foc_status misuse(struct foc_stub *stub, int which)
{
	static const uint8_t with_nul[] = { 'a', 0, 'b' }, with_max[] = { 'a', 0xF4, 0x8F, 0xBF, 0xBF };
	static const uint8_t not_composite[] = { 0, 'x' };
	struct foc_slice parts[2], type, key, value;
	const struct foc_state_entry *entries;
	uint8_t keybuf[FOC_MAX_KEY];
	char long_text[FOC_MAX_KEY + 2];
	uint32_t n, count;
	bool found;

	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = 0;
	switch (which) {
	case 1:
		parts[0] = (struct foc_slice){ with_nul, sizeof(with_nul) };
		return foc_create_composite_key(stub, foc_slice_of("t"), parts, 1, keybuf, &key);
	case 2:
		return foc_create_composite_key(stub, (struct foc_slice){ with_max, sizeof(with_max) }, NULL, 0, keybuf,
						&key);
	case 3:
		return foc_split_composite_key(stub, foc_slice_of("simple"), &type, parts, 2, &n);
	case 4:
		foc_create_composite_key(stub, foc_slice_of("t"), (struct foc_slice[]){ foc_slice_of("a"),
			foc_slice_of("b"), foc_slice_of("c") }, 3, keybuf, &key);
		return foc_split_composite_key(stub, key, &type, parts, 2, &n);
	case 5:
		foc_create_composite_key(stub, foc_slice_of("t"), NULL, 0, keybuf, &key);
		return foc_get_state_by_range(stub, key, foc_slice_of(""), &entries, &count);
	case 6:
		long_text[FOC_MAX_KEY - 1] = 0; /* type + 2 NULs: one past FOC_MAX_KEY */
		return foc_create_composite_key(stub, foc_slice_of(long_text), NULL, 0, keybuf, &key);
	case 7:
		return foc_get_state(stub, (struct foc_slice){ not_composite, sizeof(not_composite) }, &value, &found);
	case 8:
		return foc_get_transient(stub, foc_slice_of(long_text), &value, &found);
	default:
		return FOC_ERR_INTERNAL;
	}
}

static foc_status by_name(struct foc_stub *stub, const char *name)
{
	size_t i;

	for (i = 0; i < foc_coffee_chaincode.function_count; i++)
		if (strcmp(foc_coffee_chaincode.functions[i].name, name) == 0)
			return foc_coffee_chaincode.functions[i].run(stub);
	return FOC_ERR_INTERNAL;
}

static foc_status create(struct foc_stub *stub) { return by_name(stub, "create"); }
static foc_status add(struct foc_stub *stub) { return by_name(stub, "add"); }
static foc_status query(struct foc_stub *stub) { return by_name(stub, "query"); }

static foc_status script(struct foc_stub *stub)
{
	char text[SCRIPT_TEXT_MAX];
	size_t used = 0;
	uint32_t i, n = foc_stub_arg_count(stub);
	foc_status rc;

	for (i = 0; i < n; i++) {
		struct foc_slice op = foc_stub_arg(stub, i);
		char buf[512];
		size_t len = op.len < sizeof(buf) - 1 ? op.len : sizeof(buf) - 1;

		if (op.len)
			memcpy(buf, op.data, len);
		buf[len] = 0;
		if (buf[0] == 'g' || buf[0] == 'Z') {
			struct foc_slice value;
			bool found;

			rc = foc_get_state(stub, foc_slice_of(buf + 2), &value, &found);
			if (buf[0] == 'Z')
				return foc_success(stub, foc_slice_of("ignored"));
			if (rc != FOC_OK)
				return rc;
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s=%.*s;", buf + 2,
						 found ? (int)value.len : 1, found ? (const char *)value.data : "-");
		} else if (buf[0] == 'p') {
			char *eq = strchr(buf + 2, '=');
			struct foc_slice key = { (const uint8_t *)buf + 2, (uint32_t)(eq - (buf + 2)) };

			rc = foc_put_state(stub, key, foc_slice_of(eq + 1));
			if (rc != FOC_OK)
				return rc;
		} else if (buf[0] == 'd') {
			rc = foc_del_state(stub, foc_slice_of(buf + 2));
			if (rc != FOC_OK)
				return rc;
		} else if (buf[0] == 'G') {
			int k, count = atoi(buf + 2);

			for (k = 0; k < count; k++) {
				char key[32];
				struct foc_slice value;
				bool found;

				snprintf(key, sizeof(key), "k%d", k);
				rc = foc_get_state(stub, foc_slice_of(key), &value, &found);
				if (rc != FOC_OK)
					return rc;
			}
		} else if (buf[0] == 'P') {
			int k, count = atoi(buf + 2);
			long size = atol(strchr(buf + 2, ':') + 1);
			struct foc_slice value = { big, (uint32_t)size };

			memset(big, 'v', sizeof(big));
			for (k = 0; k < count; k++) {
				char key[32];

				snprintf(key, sizeof(key), "w%d", k);
				rc = foc_put_state(stub, foc_slice_of(key), value);
				if (rc != FOC_OK)
					return rc;
			}
		} else if (buf[0] == 'S') {
			struct foc_slice payload = { big, (uint32_t)atol(buf + 2) };

			memset(big, 's', sizeof(big));
			return foc_success(stub, payload);
		} else if (buf[0] == 'E') {
			return foc_error(stub, (foc_status)atoi(buf + 2), "scripted");
		} else if (buf[0] == 'M') {
			(void)foc_error(stub, (foc_status)atoi(buf + 2), "set but not returned");
		} else if (buf[0] == 'R') {
			return (foc_status)atoi(buf + 2); /* an error code without a message */
		} else if (buf[0] == 'f') {
			struct foc_slice name = foc_stub_function(stub);

			used += (size_t)snprintf(text + used, sizeof(text) - used, "%.*s;", (int)name.len,
						 (const char *)name.data);
		} else if (buf[0] == 'L') {
			char msg[3000];

			memset(msg, 'm', sizeof(msg) - 1);
			msg[sizeof(msg) - 1] = 0;
			return foc_error(stub, FOC_ERR_BAD_ARGUMENT, msg);
		} else if (buf[0] == 'Y') {
			struct foc_slice empty = { NULL, 0 }, value;
			bool found;

			/* ignore the stub's error and try to override it */
			(void)foc_get_state(stub, empty, &value, &found);
			(void)foc_put_state(stub, foc_slice_of("k"), foc_slice_of("v"));
			(void)foc_errorf(stub, FOC_ERR_EXISTS, "override %d", 1);
			return foc_success(stub, foc_slice_of("override"));
		} else if (strchr("ctrqkKH", buf[0]) && buf[0]) {
			rc = context_op(stub, buf, text, &used);
			if (rc != FOC_OK)
				return rc;
		} else if (buf[0] == 'B') {
			return misuse(stub, atoi(buf + 2));
		} else if (buf[0] == 'X') {
			return 77;
		} else if (buf[0] == 'N') {
			return FOC_NEED_STATE;
		} else if (buf[0] == 'e') {
			struct foc_slice empty = { NULL, 0 }, value;
			bool found;

			return foc_get_state(stub, empty, &value, &found);
		} else if (buf[0] == '0') {
			static const uint8_t nul_key[] = { 'a', 0, 'b' };
			struct foc_slice key = { nul_key, sizeof(nul_key) }, value;
			bool found;

			return foc_get_state(stub, key, &value, &found);
		}
	}
	{
		struct foc_slice payload = { (const uint8_t *)text, (uint32_t)used };

		return foc_success(stub, payload);
	}
}

static const struct foc_chaincode_function test_functions[] = {
	{ "create", create },
	{ "add", add },
	{ "query", query },
	{ "script", script },
};

const struct foc_chaincode foc_chaincode = {
	.name = "coffee+script",
	.functions = test_functions,
	.function_count = sizeof(test_functions) / sizeof(test_functions[0]),
};
