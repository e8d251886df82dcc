/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test double of libteec for the host: the GP TEE Client API entry points that
 * foc.tee.libteec calls, implemented over the host-native trusted core (foc_native_*).
 * Written from the GP TEE Client API spec and OP-TEE's documented struct layouts; it lets
 * the ctypes binding (struct layouts, memrefs, value params, error codes) run on the host.
 * Not a TEE. Every command goes through the TA's own command table with the parameters
 * translated as libteec and the OP-TEE driver translate them, so each command's parameter
 * layout is checked here as it is on OP-TEE (see TEEC_InvokeCommand below).
 * FAKE_TEEC_MAX_OUTPUT (env) shrinks the INFO answer to force SHORT_BUFFER.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <foc_ta.h>

#include "foc_native.h"

typedef uint32_t TEEC_Result;

typedef struct {
	int fd;
	bool reg_mem;
	bool memref_null;
} TEEC_Context;

typedef struct {
	uint32_t timeLow;
	uint16_t timeMid;
	uint16_t timeHiAndVersion;
	uint8_t clockSeqAndNode[8];
} TEEC_UUID;

typedef struct {
	void *buffer;
	size_t size;
	uint32_t flags;
	int id;
	size_t alloced_size;
	void *shadow_buffer;
	int registered_fd;
	union {
		bool dummy;
		uint8_t flags;
	} internal;
} TEEC_SharedMemory;

typedef struct {
	void *buffer;
	size_t size;
} TEEC_TempMemoryReference;

typedef struct {
	TEEC_SharedMemory *parent;
	size_t size;
	size_t offset;
} TEEC_RegisteredMemoryReference;

typedef struct {
	uint32_t a;
	uint32_t b;
} TEEC_Value;

typedef union {
	TEEC_TempMemoryReference tmpref;
	TEEC_RegisteredMemoryReference memref;
	TEEC_Value value;
} TEEC_Parameter;

typedef struct {
	TEEC_Context *ctx;
	uint32_t session_id;
} TEEC_Session;

typedef struct {
	uint32_t started;
	uint32_t paramTypes;
	TEEC_Parameter params[4];
	TEEC_Session *session;
} TEEC_Operation;

#define OK 0x00000000u
#define BAD_PARAMETERS 0xFFFF0006u
#define BAD_STATE 0xFFFF0007u
#define ITEM_NOT_FOUND 0xFFFF0008u
#define OUT_OF_MEMORY 0xFFFF000Cu
#define SHORT_BUFFER 0xFFFF0010u
#define TARGET_DEAD 0xFFFF3024u
#define ORIGIN_API 1u
#define ORIGIN_TEE 3u
#define ORIGIN_TA 4u
#define TYPE_GET(types, i) (((types) >> (4 * (i))) & 0xfu)
/* GP TEE Client API parameter types (TEEC_*) and what the TA sees (TEE_PARAM_TYPE_*) */
#define TEEC_NONE 0x0u
#define TEEC_VALUE_INPUT 0x1u
#define TEEC_VALUE_OUTPUT 0x2u
#define TEEC_VALUE_INOUT 0x3u
#define TEEC_MEMREF_TEMP_INPUT 0x5u
#define TEEC_MEMREF_TEMP_OUTPUT 0x6u
#define TEEC_MEMREF_TEMP_INOUT 0x7u
#define TEEC_MEMREF_PARTIAL_INPUT 0xDu
#define TEEC_MEMREF_PARTIAL_OUTPUT 0xEu
#define TEEC_MEMREF_PARTIAL_INOUT 0xFu
#define TEE_NONE 0x0u
#define TEE_MEMREF_INPUT 0x5u
#define MEM_INPUT 1u
#define MEM_OUTPUT 2u
#define MAGIC_FD 4242
#define MAX_SESSIONS 64

static struct foc_native_session *sessions[MAX_SESSIONS];
static int open_sessions;
static int allocated_shm;

size_t fake_teec_sizeof(int which)
{
	switch (which) {
	case 0: return sizeof(TEEC_UUID);
	case 1: return sizeof(TEEC_Context);
	case 2: return sizeof(TEEC_Session);
	case 3: return sizeof(TEEC_SharedMemory);
	case 4: return sizeof(TEEC_Parameter);
	case 5: return sizeof(TEEC_Operation);
	default: return 0;
	}
}

int fake_teec_open_sessions(void) { return open_sessions; }
int fake_teec_allocated_shm(void) { return allocated_shm; }

static void set_origin(uint32_t *origin, uint32_t value)
{
	if (origin)
		*origin = value;
}

TEEC_Result TEEC_InitializeContext(const char *name, TEEC_Context *ctx)
{
	if (name || !ctx)
		return BAD_PARAMETERS;
	ctx->fd = MAGIC_FD;
	ctx->reg_mem = true;
	ctx->memref_null = true;
	return OK;
}

void TEEC_FinalizeContext(TEEC_Context *ctx)
{
	if (ctx)
		ctx->fd = -1;
}

TEEC_Result TEEC_OpenSession(TEEC_Context *ctx, TEEC_Session *session, const TEEC_UUID *dest,
			     uint32_t method, const void *data, TEEC_Operation *op, uint32_t *origin)
{
	static const TEEC_UUID foc = FOC_TA_UUID;
	int slot;

	(void)data;
	set_origin(origin, ORIGIN_API);
	if (!ctx || ctx->fd != MAGIC_FD || !session || !dest || method != 0 || op)
		return BAD_PARAMETERS;
	set_origin(origin, ORIGIN_TEE);
	if (memcmp(dest, &foc, sizeof(foc)) != 0)
		return ITEM_NOT_FOUND;
	for (slot = 0; slot < MAX_SESSIONS && sessions[slot]; slot++)
		;
	if (slot == MAX_SESSIONS)
		return OUT_OF_MEMORY;
	sessions[slot] = foc_native_open();
	if (!sessions[slot])
		return OUT_OF_MEMORY;
	session->ctx = ctx;
	session->session_id = (uint32_t)slot;
	open_sessions++;
	return OK;
}

void TEEC_CloseSession(TEEC_Session *session)
{
	if (!session || session->session_id >= MAX_SESSIONS || !sessions[session->session_id])
		abort(); /* closing twice is a bug in the caller: fail loudly */
	foc_native_close(sessions[session->session_id]);
	sessions[session->session_id] = NULL;
	open_sessions--;
}

TEEC_Result TEEC_AllocateSharedMemory(TEEC_Context *ctx, TEEC_SharedMemory *shm)
{
	if (!ctx || ctx->fd != MAGIC_FD || !shm || !shm->flags || (shm->flags & ~(MEM_INPUT | MEM_OUTPUT)))
		return BAD_PARAMETERS;
	shm->buffer = malloc(shm->size ? shm->size : 1);
	if (!shm->buffer)
		return OUT_OF_MEMORY;
	shm->alloced_size = shm->size;
	shm->shadow_buffer = NULL;
	shm->registered_fd = -1;
	shm->id = 1;
	allocated_shm++;
	return OK;
}

void TEEC_ReleaseSharedMemory(TEEC_SharedMemory *shm)
{
	if (!shm || !shm->buffer)
		abort();
	free(shm->buffer);
	shm->buffer = NULL;
	shm->size = 0;
	allocated_shm--;
}

/*
 * TEEC_InvokeCommand as libteec and the OP-TEE driver do it, for every command: each TEEC
 * parameter becomes the TEE parameter the TA receives (TEEC_MEMREF_PARTIAL_* and TEMP_* ->
 * TEE_PARAM_TYPE_MEMREF_*, values as they are), a partial memref must lie inside its shared
 * memory and match its direction (else TEEC_ERROR_BAD_PARAMETERS from the API, before the
 * TA runs), and after the TA returns, output values and memref sizes are copied back (also
 * with SHORT_BUFFER). Which layout a command takes is left to the TA's own command table.
 */
static bool memref_ok(const TEEC_RegisteredMemoryReference *m, uint32_t dir)
{
	return m->parent && (m->parent->flags & dir) && m->offset <= m->parent->size &&
	       m->size <= m->parent->size - m->offset;
}

/* One TEEC parameter into the TA's parameter; false: libteec refuses it (BAD_PARAMETERS). */
static bool to_ta_param(uint32_t type, TEEC_Parameter *in, union foc_param *out, uint32_t *ta_type)
{
	switch (type) {
	case TEEC_NONE:
		*ta_type = TEE_NONE;
		return true;
	case TEEC_VALUE_INPUT:
	case TEEC_VALUE_OUTPUT:
	case TEEC_VALUE_INOUT:
		out->value.a = in->value.a;
		out->value.b = in->value.b;
		*ta_type = type; /* the same numbers on both sides */
		return true;
	case TEEC_MEMREF_TEMP_INPUT:
	case TEEC_MEMREF_TEMP_OUTPUT:
	case TEEC_MEMREF_TEMP_INOUT:
		if (!in->tmpref.buffer && in->tmpref.size)
			return false;
		out->memref.buffer = in->tmpref.buffer;
		out->memref.size = in->tmpref.size;
		*ta_type = type; /* TEEC_MEMREF_TEMP_* == TEE_PARAM_TYPE_MEMREF_* */
		return true;
	case TEEC_MEMREF_PARTIAL_INPUT:
	case TEEC_MEMREF_PARTIAL_OUTPUT:
	case TEEC_MEMREF_PARTIAL_INOUT: {
		uint32_t dir = type == TEEC_MEMREF_PARTIAL_INPUT    ? MEM_INPUT
			       : type == TEEC_MEMREF_PARTIAL_OUTPUT ? MEM_OUTPUT
								    : MEM_INPUT | MEM_OUTPUT;

		if (!memref_ok(&in->memref, dir) || (in->memref.parent->flags & dir) != dir)
			return false;
		out->memref.buffer = (uint8_t *)in->memref.parent->buffer + in->memref.offset;
		out->memref.size = in->memref.size;
		*ta_type = type - TEEC_MEMREF_PARTIAL_INPUT + TEE_MEMREF_INPUT;
		return true;
	}
	default: /* TEEC_MEMREF_WHOLE and unknown types: FOC never uses them */
		return false;
	}
}

/* Copy what the TA wrote back into the caller's operation (teec_post_process_operation). */
static void from_ta_param(uint32_t type, const union foc_param *ta, TEEC_Parameter *out)
{
	switch (type) {
	case TEEC_VALUE_OUTPUT:
	case TEEC_VALUE_INOUT:
		out->value.a = ta->value.a;
		out->value.b = ta->value.b;
		break;
	case TEEC_MEMREF_TEMP_OUTPUT:
	case TEEC_MEMREF_TEMP_INOUT:
		out->tmpref.size = ta->memref.size;
		break;
	case TEEC_MEMREF_PARTIAL_OUTPUT:
	case TEEC_MEMREF_PARTIAL_INOUT:
		out->memref.size = ta->memref.size;
		break;
	default:
		break;
	}
}

TEEC_Result TEEC_InvokeCommand(TEEC_Session *session, uint32_t cmd, TEEC_Operation *op, uint32_t *origin)
{
	union foc_param params[4];
	uint32_t types = op ? op->paramTypes : 0, ta_types = 0, ta_type, res, i;
	const char *max = getenv("FAKE_TEEC_MAX_OUTPUT");

	set_origin(origin, ORIGIN_API);
	if (!session || session->session_id >= MAX_SESSIONS || !sessions[session->session_id])
		return BAD_STATE;
	memset(params, 0, sizeof(params));
	for (i = 0; i < 4; i++) {
		if (!to_ta_param(TYPE_GET(types, i), op ? &op->params[i] : NULL, &params[i], &ta_type))
			return BAD_PARAMETERS;
		ta_types |= ta_type << (4 * i);
	}
	if (op)
		op->session = session;
	set_origin(origin, ORIGIN_TA);
	res = foc_native_invoke_params(sessions[session->session_id], cmd, ta_types, params);
	if (res == TARGET_DEAD)
		set_origin(origin, ORIGIN_TEE);
	if (!op || res == TARGET_DEAD)
		return res;
	if (cmd == FOC_CMD_INFO && max && res == OK)
		params[0].value.b = (uint32_t)strtoul(max, NULL, 10);
	for (i = 0; i < 4; i++)
		from_ta_param(TYPE_GET(types, i), &params[i], &op->params[i]);
	return res;
}
