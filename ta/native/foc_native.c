/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host-native "TA instance" around the trusted core (see foc_native.h). Every command goes
 * through the TA's own command table (ta/foc_commands.c), so the commands, the parameter
 * checks and the TEE_Result codes are the TA's; like OP-TEE's single-instance TA it
 * serializes all calls with one mutex.
 */
#include "foc_native.h"

#include <pthread.h>
#include <stdbool.h>

#include <foc_chaincode.h>
#include <foc_ta.h>

#include "crypto_native.h"
#include "foc_commands.h"
#include "foc_platform.h"

#define TEE_ERROR_TARGET_DEAD 0xFFFF3024u /* GlobalPlatform TEE Client API */

struct foc_native_session {
	unsigned long instance; /* the TA instance this session belongs to */
	struct foc_session *core;
};

static pthread_mutex_t instance_lock = PTHREAD_MUTEX_INITIALIZER;
/* Bumped by FOC_CMD_PANIC: sessions of an older instance are dead. */
static unsigned long current_instance = 1;

/* TEE_Panic(): the instance and all its sessions die (called with instance_lock held). */
uint32_t foc_platform_panic(void)
{
	current_instance++;
	return TEE_ERROR_TARGET_DEAD;
}

struct foc_native_session *foc_native_open(void)
{
	struct foc_native_session *s = foc_platform_alloc(sizeof(*s));

	if (!s)
		return NULL;
	s->core = foc_session_new();
	if (!s->core) {
		foc_platform_free(s);
		return NULL;
	}
	pthread_mutex_lock(&instance_lock);
	s->instance = current_instance;
	pthread_mutex_unlock(&instance_lock);
	return s;
}

void foc_native_close(struct foc_native_session *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&instance_lock);
	foc_session_free(s->core);
	pthread_mutex_unlock(&instance_lock);
	foc_platform_free(s);
}

/*
 * Lay the arguments out as the TA's parameters of this command: `in` is its MEMREF_INPUT,
 * `out` (*out_len bytes) its MEMREF_OUTPUT, and its VALUE_OUTPUT comes back in *msg_type
 * (and *out_len when there is no output buffer). A NULL where the command has an output is
 * what the TA sees as wrong parameter types.
 */
static uint32_t invoke_locked(struct foc_native_session *s, uint32_t cmd, const uint8_t *in, size_t in_len,
			      uint8_t *out, size_t *out_len, uint32_t *msg_type)
{
	const struct foc_command *c = foc_command_find(cmd);
	union foc_param p[4] = { { { NULL, 0 } } };
	size_t i, output = 4, value = 4;
	uint32_t res;

	if (s->instance != current_instance)
		return TEE_ERROR_TARGET_DEAD;
	if (!c)
		return FOC_TEE_ERROR_NOT_SUPPORTED;
	for (i = 0; i < 4; i++) {
		switch (FOC_PARAM_TYPE_GET(c->param_types, i)) {
		case FOC_PARAM_MEMREF_INPUT:
			p[i].memref.buffer = (void *)in;
			p[i].memref.size = in_len;
			break;
		case FOC_PARAM_MEMREF_OUTPUT:
			if (!out_len)
				return FOC_TEE_ERROR_BAD_PARAMETERS;
			p[i].memref.buffer = out;
			p[i].memref.size = *out_len;
			output = i;
			break;
		case FOC_PARAM_VALUE_OUTPUT:
			if (!out_len || !msg_type)
				return FOC_TEE_ERROR_BAD_PARAMETERS;
			value = i;
			break;
		default:
			break;
		}
	}
	res = foc_command_run(s->core, cmd, c->param_types, p);
	if (output < 4 && (res == FOC_TEE_SUCCESS || res == FOC_TEE_ERROR_SHORT_BUFFER))
		*out_len = p[output].memref.size;
	if (value < 4 && res == FOC_TEE_SUCCESS) {
		*msg_type = p[value].value.a;
		if (output == 4)
			*out_len = p[value].value.b;
	}
	return res;
}

uint32_t foc_native_invoke_params(struct foc_native_session *s, uint32_t cmd, uint32_t param_types,
				  union foc_param params[4])
{
	uint32_t res;

	if (!s || !params)
		return FOC_TEE_ERROR_BAD_PARAMETERS;
	pthread_mutex_lock(&instance_lock);
	res = s->instance == current_instance ? foc_command_run(s->core, cmd, param_types, params)
					      : TEE_ERROR_TARGET_DEAD;
	pthread_mutex_unlock(&instance_lock);
	return res;
}

uint32_t foc_native_invoke(struct foc_native_session *s, uint32_t cmd, const uint8_t *in, size_t in_len,
			   uint8_t *out, size_t *out_len, uint32_t *msg_type)
{
	uint32_t res;

	if (!s)
		return FOC_TEE_ERROR_BAD_PARAMETERS;
	pthread_mutex_lock(&instance_lock);
	res = invoke_locked(s, cmd, in, in_len, out, out_len, msg_type);
	pthread_mutex_unlock(&instance_lock);
	return res;
}

const char *foc_native_ta_uuid(void)
{
	return FOC_NATIVE_TA_UUID;
}

const char *foc_native_chaincode_name(void)
{
	return foc_chaincode.name ? foc_chaincode.name : "";
}
