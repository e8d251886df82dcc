/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OP-TEE entry points of the FOC chaincode TA: parameter checks, per-session state,
 * and the platform hooks of the trusted core. All chaincode logic is in core/ and
 * chaincode/. Nothing here logs arguments, state values or outputs.
 */
#include <tee_internal_api.h>

#include <foc_ta.h>

#include "foc_core.h"
#include "foc_platform.h"
#include "foc_profile.h"

void *foc_platform_alloc(size_t size)
{
	return TEE_Malloc(size, TEE_MALLOC_FILL_ZERO);
}

void foc_platform_free(void *ptr)
{
	TEE_Free(ptr);
}

TEE_Result TA_CreateEntryPoint(void)
{
	return TEE_SUCCESS;
}

void TA_DestroyEntryPoint(void)
{
}

TEE_Result TA_OpenSessionEntryPoint(uint32_t param_types, TEE_Param params[4], void **sess_ctx)
{
	struct foc_session *s;

	(void)params;
	if (param_types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE,
					   TEE_PARAM_TYPE_NONE))
		return TEE_ERROR_BAD_PARAMETERS;
	s = foc_session_new();
	if (!s)
		return TEE_ERROR_OUT_OF_MEMORY;
	*sess_ctx = s;
	return TEE_SUCCESS;
}

void TA_CloseSessionEntryPoint(void *sess_ctx)
{
	foc_session_free(sess_ctx);
}

static TEE_Result run_command(struct foc_session *s, uint32_t cmd, uint32_t param_types, TEE_Param params[4])
{
	size_t out_len = 0;
	uint32_t msg_type = FOC_MSG_ERROR;

	/* FOC_CMD_ENCLAVE_CREDENTIALS has no input: params[0] is NONE. */
	uint32_t in_type = cmd == FOC_CMD_ENCLAVE_CREDENTIALS ? TEE_PARAM_TYPE_NONE : TEE_PARAM_TYPE_MEMREF_INPUT;
	void *in = NULL;
	size_t in_len = 0;

	/* Types first: no buffer is touched before they are known to be memrefs. */
	if (param_types != TEE_PARAM_TYPES(in_type, TEE_PARAM_TYPE_VALUE_OUTPUT, TEE_PARAM_TYPE_MEMREF_OUTPUT,
					   TEE_PARAM_TYPE_NONE))
		return TEE_ERROR_BAD_PARAMETERS;
	if (in_type == TEE_PARAM_TYPE_MEMREF_INPUT) {
		in = params[0].memref.buffer;
		in_len = params[0].memref.size;
	}
	if ((!in && in_len) || (!params[2].memref.buffer && params[2].memref.size))
		return TEE_ERROR_BAD_PARAMETERS;

	if (!foc_session_command(s, cmd, in, in_len, params[2].memref.buffer, params[2].memref.size, &out_len,
				 &msg_type)) {
		/* Nothing changed in the session: the proxy retries with this size. */
		params[2].memref.size = out_len;
		return TEE_ERROR_SHORT_BUFFER;
	}
	params[1].value.a = msg_type;
	params[1].value.b = (uint32_t)out_len;
	params[2].memref.size = out_len;
	return TEE_SUCCESS;
}

static TEE_Result invoke_command(void *sess_ctx, uint32_t cmd, uint32_t param_types, TEE_Param params[4]);

TEE_Result TA_InvokeCommandEntryPoint(void *sess_ctx, uint32_t cmd, uint32_t param_types, TEE_Param params[4])
{
#ifdef FOC_PROFILE
	uint64_t t0 = foc_prof_now_ms();
	TEE_Result res;

	if (cmd == FOC_CMD_PROFILE_CRYPTO) {
		if (param_types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
			return TEE_ERROR_BAD_PARAMETERS;
		foc_prof_crypto(params[0].value.a);
		return TEE_SUCCESS;
	}
	res = invoke_command(sess_ctx, cmd, param_types, params);
	foc_prof_report(cmd, t0);
	return res;
#else
	return invoke_command(sess_ctx, cmd, param_types, params);
#endif
}

static TEE_Result invoke_command(void *sess_ctx, uint32_t cmd, uint32_t param_types, TEE_Param params[4])
{
	const uint32_t none = TEE_PARAM_TYPES(TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE,
					      TEE_PARAM_TYPE_NONE);
	struct foc_session *s = sess_ctx;

	switch (cmd) {
	case FOC_CMD_INVOKE:
	case FOC_CMD_RESUME:
	case FOC_CMD_ENCLAVE_CREATE:
	case FOC_CMD_ENCLAVE_CREDENTIALS:
	case FOC_CMD_CONFIDENTIAL_INVOKE:
		return run_command(s, cmd, param_types, params);
	case FOC_CMD_ABORT:
		if (param_types != none)
			return TEE_ERROR_BAD_PARAMETERS;
		foc_session_abort(s);
		return TEE_SUCCESS;
	case FOC_CMD_INFO:
		if (param_types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_OUTPUT, TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
			return TEE_ERROR_BAD_PARAMETERS;
		params[0].value.a = FOC_ABI_VERSION;
		params[0].value.b = FOC_MAX_OUTPUT;
		return TEE_SUCCESS;
	case FOC_CMD_PANIC:
		if (param_types != none)
			return TEE_ERROR_BAD_PARAMETERS;
		TEE_Panic(FOC_CMD_PANIC);
		return TEE_ERROR_GENERIC; /* not reached */
	default:
		return TEE_ERROR_NOT_SUPPORTED;
	}
}
