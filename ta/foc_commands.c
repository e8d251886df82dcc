/* SPDX-License-Identifier: Apache-2.0 */
/* The command table (see foc_commands.h): which layer serves each FOC_CMD_*. */
#include "foc_commands.h"

#include "foc_confidential.h"
#include "foc_platform.h"

/* INVOKE-like: params[0] input (or NONE), [1] VALUE_OUTPUT (message type, size), [2] the message. */
#define MESSAGE_PARAMS(in) FOC_PARAM_TYPES(in, FOC_PARAM_VALUE_OUTPUT, FOC_PARAM_MEMREF_OUTPUT, FOC_PARAM_NONE)
#define NO_PARAMS FOC_PARAM_TYPES(FOC_PARAM_NONE, FOC_PARAM_NONE, FOC_PARAM_NONE, FOC_PARAM_NONE)

static uint32_t abort_invocation(struct foc_session *s, union foc_param params[4])
{
	(void)params;
	foc_session_abort(s);
	return FOC_TEE_SUCCESS;
}

static uint32_t info(struct foc_session *s, union foc_param params[4])
{
	(void)s;
	params[0].value.a = FOC_ABI_VERSION;
	params[0].value.b = FOC_MAX_OUTPUT;
	return FOC_TEE_SUCCESS;
}

static uint32_t panic(struct foc_session *s, union foc_param params[4])
{
	(void)s;
	(void)params;
	return foc_platform_panic();
}

static const struct foc_command commands[] = {
	{ FOC_CMD_INVOKE, MESSAGE_PARAMS(FOC_PARAM_MEMREF_INPUT), &foc_plaintext_envelope, NULL, NULL },
	{ FOC_CMD_CONFIDENTIAL_INVOKE, MESSAGE_PARAMS(FOC_PARAM_MEMREF_INPUT), &foc_confidential_envelope, NULL, NULL },
	{ FOC_CMD_RESUME, MESSAGE_PARAMS(FOC_PARAM_MEMREF_INPUT), NULL, foc_session_resume, NULL },
	{ FOC_CMD_ENCLAVE_CREATE, MESSAGE_PARAMS(FOC_PARAM_MEMREF_INPUT), NULL, foc_enclave_create, NULL },
	{ FOC_CMD_ENCLAVE_CREDENTIALS, MESSAGE_PARAMS(FOC_PARAM_NONE), NULL, foc_enclave_credentials, NULL },
	{ FOC_CMD_ENCLAVE_JOIN, MESSAGE_PARAMS(FOC_PARAM_MEMREF_INPUT), NULL, foc_enclave_join, NULL },
	{ FOC_CMD_KEY_EXPORT, MESSAGE_PARAMS(FOC_PARAM_MEMREF_INPUT), NULL, foc_key_export, NULL },
	{ FOC_CMD_KEY_IMPORT, MESSAGE_PARAMS(FOC_PARAM_MEMREF_INPUT), NULL, foc_key_import, NULL },
	{ FOC_CMD_ABORT, NO_PARAMS, NULL, NULL, abort_invocation },
	{ FOC_CMD_INFO, FOC_PARAM_TYPES(FOC_PARAM_VALUE_OUTPUT, FOC_PARAM_NONE, FOC_PARAM_NONE, FOC_PARAM_NONE), NULL,
	  NULL, info },
	{ FOC_CMD_PANIC, NO_PARAMS, NULL, NULL, panic },
};

const struct foc_command *foc_command_find(uint32_t id)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].id == id)
			return &commands[i];
	return NULL;
}

uint32_t foc_command_run(struct foc_session *s, uint32_t id, uint32_t param_types, union foc_param params[4])
{
	const struct foc_command *c = foc_command_find(id);
	uint32_t msg_type = FOC_MSG_ERROR, i, type;
	const uint8_t *in = NULL;
	size_t in_len = 0;
	struct foc_writer w;

	if (!c)
		return FOC_TEE_ERROR_NOT_SUPPORTED;
	/* Types first: no buffer is touched before they are known to be right. */
	if (param_types != c->param_types)
		return FOC_TEE_ERROR_BAD_PARAMETERS;
	for (i = 0; i < 4; i++) {
		type = FOC_PARAM_TYPE_GET(param_types, i);
		if ((type == FOC_PARAM_MEMREF_INPUT || type == FOC_PARAM_MEMREF_OUTPUT) && !params[i].memref.buffer &&
		    params[i].memref.size)
			return FOC_TEE_ERROR_BAD_PARAMETERS;
	}
	if (c->direct)
		return c->direct(s, params);
	if (FOC_PARAM_TYPE_GET(param_types, 0) == FOC_PARAM_MEMREF_INPUT) {
		in = params[0].memref.buffer;
		in_len = params[0].memref.size;
	}
	foc_writer_init(&w, params[2].memref.buffer, params[2].memref.size);
	if (c->envelope ? !foc_session_invoke(s, c->envelope, in, in_len, &w, &msg_type)
			: !c->message(s, in, in_len, &w, &msg_type)) {
		params[2].memref.size = w.len; /* the session is unchanged: the caller retries with this size */
		return FOC_TEE_ERROR_SHORT_BUFFER;
	}
	params[1].value.a = msg_type;
	params[1].value.b = (uint32_t)w.len;
	params[2].memref.size = w.len;
	return FOC_TEE_SUCCESS;
}
