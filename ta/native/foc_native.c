/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host-native "TA instance" around the trusted core (see foc_native.h). It mirrors
 * ta/foc_ta.c: same commands, same parameter checks, same TEE_Result codes, and like
 * OP-TEE's single-instance TA it serializes all calls with one mutex.
 */
#include "foc_native.h"

#include <pthread.h>
#include <stdbool.h>

#include <foc_ta.h>

#include "foc_core.h"
#include "foc_platform.h"

#define TEE_SUCCESS 0x00000000u
#define TEE_ERROR_BAD_PARAMETERS 0xFFFF0006u
#define TEE_ERROR_NOT_SUPPORTED 0xFFFF000Au
#define TEE_ERROR_SHORT_BUFFER 0xFFFF0010u
#define TEE_ERROR_TARGET_DEAD 0xFFFF3024u

struct foc_native_session {
	unsigned long instance; /* the TA instance this session belongs to */
	struct foc_session *core;
};

static pthread_mutex_t instance_lock = PTHREAD_MUTEX_INITIALIZER;
/* Bumped by FOC_CMD_PANIC: sessions of an older instance are dead. */
static unsigned long current_instance = 1;

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

static uint32_t invoke_locked(struct foc_native_session *s, uint32_t cmd, const uint8_t *in, size_t in_len,
			      uint8_t *out, size_t *out_len, uint32_t *msg_type)
{
	size_t needed = 0;

	if (s->instance != current_instance)
		return TEE_ERROR_TARGET_DEAD;

	switch (cmd) {
	case FOC_CMD_INVOKE:
	case FOC_CMD_RESUME:
	case FOC_CMD_ENCLAVE_CREATE:
	case FOC_CMD_ENCLAVE_CREDENTIALS: /* params[0] NONE in the TA: in is ignored */
	case FOC_CMD_CONFIDENTIAL_INVOKE:
		/* the TA's param_types check: input memref, value output, output memref */
		if (!out_len || !msg_type || (!in && in_len) || (!out && *out_len))
			return TEE_ERROR_BAD_PARAMETERS;
		if (!foc_session_command(s->core, cmd, in, in_len, out, *out_len, &needed, msg_type)) {
			*out_len = needed;
			return TEE_ERROR_SHORT_BUFFER;
		}
		*out_len = needed;
		return TEE_SUCCESS;
	case FOC_CMD_ABORT:
		foc_session_abort(s->core);
		return TEE_SUCCESS;
	case FOC_CMD_INFO:
		if (!out_len || !msg_type)
			return TEE_ERROR_BAD_PARAMETERS;
		*msg_type = FOC_ABI_VERSION;
		*out_len = FOC_MAX_OUTPUT;
		return TEE_SUCCESS;
	case FOC_CMD_PANIC:
		/* TEE_Panic(): the instance and all its sessions die. */
		current_instance++;
		return TEE_ERROR_TARGET_DEAD;
	default:
		return TEE_ERROR_NOT_SUPPORTED;
	}
}

uint32_t foc_native_invoke(struct foc_native_session *s, uint32_t cmd, const uint8_t *in, size_t in_len,
			   uint8_t *out, size_t *out_len, uint32_t *msg_type)
{
	uint32_t res;

	if (!s)
		return TEE_ERROR_BAD_PARAMETERS;
	pthread_mutex_lock(&instance_lock);
	res = invoke_locked(s, cmd, in, in_len, out, out_len, msg_type);
	pthread_mutex_unlock(&instance_lock);
	return res;
}
