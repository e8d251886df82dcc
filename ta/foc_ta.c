/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OP-TEE entry points of the FOC chaincode TA: sessions, the platform hooks of the trusted
 * core, and TA_InvokeCommandEntryPoint over the command table (foc_commands.c). All
 * chaincode logic is in core/, confidential/ and chaincode/. Nothing here logs arguments,
 * state values or outputs.
 */
#include <stddef.h>
#include <string.h>
#include <tee_internal_api.h>

#include <foc_ta.h>

#include "foc_commands.h"
#include "foc_platform.h"
#include "foc_profile.h"

/* The table speaks GlobalPlatform's numbers and TEE_Param's layout; the dev kit is the reference. */
_Static_assert(FOC_PARAM_TYPES(FOC_PARAM_NONE, FOC_PARAM_VALUE_OUTPUT, FOC_PARAM_MEMREF_INPUT, FOC_PARAM_MEMREF_OUTPUT) ==
	       TEE_PARAM_TYPES(TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_VALUE_OUTPUT, TEE_PARAM_TYPE_MEMREF_INPUT,
			       TEE_PARAM_TYPE_MEMREF_OUTPUT), "GlobalPlatform parameter types");
_Static_assert(FOC_TEE_ERROR_BAD_PARAMETERS == TEE_ERROR_BAD_PARAMETERS && FOC_TEE_SUCCESS == TEE_SUCCESS &&
	       FOC_TEE_ERROR_NOT_SUPPORTED == TEE_ERROR_NOT_SUPPORTED && FOC_TEE_ERROR_SHORT_BUFFER == TEE_ERROR_SHORT_BUFFER,
	       "GlobalPlatform result codes");
_Static_assert(sizeof(union foc_param) == sizeof(TEE_Param) &&
	       offsetof(union foc_param, memref.size) == offsetof(TEE_Param, memref.size) &&
	       offsetof(union foc_param, value.b) == offsetof(TEE_Param, value.b), "TEE_Param layout");

void *foc_platform_alloc(size_t size)
{
	return TEE_Malloc(size, TEE_MALLOC_FILL_ZERO);
}

void foc_platform_free(void *ptr)
{
	TEE_Free(ptr);
}

uint32_t foc_platform_panic(void)
{
	TEE_Panic(FOC_CMD_PANIC);
	return TEE_ERROR_GENERIC; /* not reached */
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

TEE_Result TA_InvokeCommandEntryPoint(void *sess_ctx, uint32_t cmd, uint32_t param_types, TEE_Param params[4])
{
	union foc_param p[4];
	TEE_Result res;
#ifdef FOC_PROFILE
	uint64_t t0 = foc_prof_now_ms();

	if (cmd == FOC_CMD_PROFILE_CRYPTO) { /* measurement build only (foc_profile.h) */
		if (param_types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_VALUE_INPUT, TEE_PARAM_TYPE_NONE,
						   TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_NONE))
			return TEE_ERROR_BAD_PARAMETERS;
		foc_prof_crypto(params[0].value.a);
		return TEE_SUCCESS;
	}
#endif

	/* Same layout (checked above); copied, not cast, so no object is read through another type. */
	memcpy(p, params, sizeof(p));
	res = foc_command_run(sess_ctx, cmd, param_types, p);
	memcpy(params, p, sizeof(p));
#ifdef FOC_PROFILE
	foc_prof_report(cmd, t0);
#endif
	return res;
}
