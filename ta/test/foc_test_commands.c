/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TEST-ONLY entry point of a TA built with FOC_TEST_COMMANDS=y (see foc_test_commands.h). The
 * build renames foc_ta.c's TA_InvokeCommandEntryPoint to foc_production_invoke_command
 * (ta/sub.mk); this one serves the test commands and passes every other command to it, so the
 * production code is compiled unchanged.
 */
#include <tee_internal_api.h>

#include <foc_ta.h>

#include "foc_codec.h"
#include "foc_confidential.h"
#include "foc_crypto.h"
#include "foc_test_commands.h"

#define OBJECT_CAP 4096u /* above the largest sealed object (foc_enclave.c) */

TEE_Result foc_production_invoke_command(void *sess_ctx, uint32_t cmd, uint32_t param_types, TEE_Param params[4]);

static bool put_object(struct foc_writer *w, const char *id, uint8_t *buf)
{
	size_t len = 0;

	if (foc_storage_load(id, buf, OBJECT_CAP, &len) != FOC_STORAGE_OK)
		return false;
	foc_write_bytes(w, buf, (uint32_t)len);
	return true;
}

static TEE_Result sealed_objects(uint32_t param_types, TEE_Param params[4])
{
	uint8_t *buf;
	struct foc_writer w;
	bool ok;

	if (param_types != TEE_PARAM_TYPES(TEE_PARAM_TYPE_NONE, TEE_PARAM_TYPE_VALUE_OUTPUT,
					   TEE_PARAM_TYPE_MEMREF_OUTPUT, TEE_PARAM_TYPE_NONE) ||
	    (!params[2].memref.buffer && params[2].memref.size))
		return TEE_ERROR_BAD_PARAMETERS;
	buf = TEE_Malloc(OBJECT_CAP, TEE_MALLOC_FILL_ZERO);
	if (!buf)
		return TEE_ERROR_OUT_OF_MEMORY;
	foc_writer_init(&w, params[2].memref.buffer, params[2].memref.size);
	ok = put_object(&w, FOC_ENCLAVE_OBJECT, buf) && put_object(&w, FOC_CHAINCODE_OBJECT, buf);
	TEE_MemFill(buf, 0, OBJECT_CAP);
	TEE_Free(buf);
	if (!ok)
		return TEE_ERROR_ITEM_NOT_FOUND;
	params[2].memref.size = w.len;
	if (!foc_writer_fits(&w))
		return TEE_ERROR_SHORT_BUFFER;
	params[1].value.a = FOC_MSG_RESPONSE;
	params[1].value.b = (uint32_t)w.len;
	return TEE_SUCCESS;
}

TEE_Result TA_InvokeCommandEntryPoint(void *sess_ctx, uint32_t cmd, uint32_t param_types, TEE_Param params[4])
{
	if (cmd == FOC_CMD_TEST_SEALED_OBJECTS)
		return sealed_objects(param_types, params);
	return foc_production_invoke_command(sess_ctx, cmd, param_types, params);
}
