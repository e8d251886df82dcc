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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <foc_chaincode.h>

extern const struct foc_chaincode foc_coffee_chaincode;

#define SCRIPT_TEXT_MAX 8192
static uint8_t big[FOC_MAX_PAYLOAD + 16];

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
