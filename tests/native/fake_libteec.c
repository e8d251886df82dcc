/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test double of libteec for the host: the GP TEE Client API entry points that
 * foc.tee.libteec calls, implemented over the host-native trusted core (foc_native_*).
 * Written from the GP TEE Client API spec and OP-TEE's documented struct layouts; it lets
 * the ctypes binding (struct layouts, memrefs, value params, error codes) run on the host.
 * Not a TEE. FAKE_TEEC_MAX_OUTPUT (env) shrinks the INFO answer to force SHORT_BUFFER.
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
#define TYPES(a, b, c, d) ((a) | ((b) << 4) | ((c) << 8) | ((d) << 12))
#define VALUE_OUTPUT 0x2u
#define PARTIAL_INPUT 0xDu
#define PARTIAL_OUTPUT 0xEu
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

static bool memref_ok(const TEEC_RegisteredMemoryReference *m, uint32_t dir)
{
	return m->parent && (m->parent->flags & dir) && m->offset <= m->parent->size &&
	       m->size <= m->parent->size - m->offset;
}

TEEC_Result TEEC_InvokeCommand(TEEC_Session *session, uint32_t cmd, TEEC_Operation *op, uint32_t *origin)
{
	struct foc_native_session *s;
	uint32_t types = op ? op->paramTypes : 0;
	uint32_t msg_type = 0, res;
	size_t out_len = 0;

	set_origin(origin, ORIGIN_API);
	if (!session || session->session_id >= MAX_SESSIONS || !sessions[session->session_id])
		return BAD_STATE;
	s = sessions[session->session_id];
	if (op)
		op->session = session;
	set_origin(origin, ORIGIN_TA);
	switch (cmd) {
	case FOC_CMD_INVOKE:
	case FOC_CMD_RESUME: {
		TEEC_RegisteredMemoryReference *in = &op->params[0].memref, *out = &op->params[2].memref;

		if (types != TYPES(PARTIAL_INPUT, VALUE_OUTPUT, PARTIAL_OUTPUT, 0))
			return BAD_PARAMETERS;
		if (!memref_ok(in, MEM_INPUT) || !memref_ok(out, MEM_OUTPUT))
			return BAD_PARAMETERS;
		out_len = out->size;
		res = foc_native_invoke(s, cmd, (uint8_t *)in->parent->buffer + in->offset, in->size,
					(uint8_t *)out->parent->buffer + out->offset, &out_len, &msg_type);
		if (res == SHORT_BUFFER) {
			out->size = out_len;
			return res;
		}
		if (res == OK) {
			op->params[1].value.a = msg_type;
			op->params[1].value.b = (uint32_t)out_len;
			out->size = out_len;
		}
		break;
	}
	case FOC_CMD_INFO: {
		const char *max = getenv("FAKE_TEEC_MAX_OUTPUT");

		if (types != TYPES(VALUE_OUTPUT, 0, 0, 0))
			return BAD_PARAMETERS;
		res = foc_native_invoke(s, cmd, NULL, 0, NULL, &out_len, &msg_type);
		if (res == OK) {
			op->params[0].value.a = msg_type;
			op->params[0].value.b = max ? (uint32_t)strtoul(max, NULL, 10) : (uint32_t)out_len;
		}
		break;
	}
	default:
		if (types != 0)
			return BAD_PARAMETERS;
		res = foc_native_invoke(s, cmd, NULL, 0, NULL, &out_len, &msg_type);
		break;
	}
	if (res == TARGET_DEAD)
		set_origin(origin, ORIGIN_TEE);
	return res;
}
