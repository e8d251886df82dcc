/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The TA's commands (foc_ta.h) as one table, shared by the OP-TEE entry (ta/foc_ta.c) and
 * the host-native build (ta/native/foc_native.c). Each entry holds, as data, the parameter
 * types the command takes, in GlobalPlatform's encoding: both entries check them the same
 * way before any buffer is touched.
 */
#ifndef FOC_COMMANDS_H
#define FOC_COMMANDS_H

#include "foc_core.h"

/* GlobalPlatform TEE_Result values (TEE Internal Core API); ta/foc_ta.c checks them against OP-TEE's. */
#define FOC_TEE_SUCCESS 0x00000000u
#define FOC_TEE_ERROR_BAD_PARAMETERS 0xFFFF0006u
#define FOC_TEE_ERROR_NOT_SUPPORTED 0xFFFF000Au
#define FOC_TEE_ERROR_SHORT_BUFFER 0xFFFF0010u

/* GlobalPlatform parameter types and their TEE_PARAM_TYPES() packing. */
#define FOC_PARAM_NONE 0u
#define FOC_PARAM_VALUE_OUTPUT 2u
#define FOC_PARAM_MEMREF_INPUT 5u
#define FOC_PARAM_MEMREF_OUTPUT 6u
#define FOC_PARAM_TYPES(t0, t1, t2, t3) ((t0) | (t1) << 4 | (t2) << 8 | (t3) << 12)
#define FOC_PARAM_TYPE_GET(types, i) (((types) >> ((i) * 4)) & 0xfu)

/* One command parameter, as GlobalPlatform's TEE_Param. */
union foc_param {
	struct {
		void *buffer;
		size_t size;
	} memref;
	struct {
		uint32_t a, b;
	} value;
};

/*
 * One command. It answers with a FOC message (input in params[0] if that is MEMREF_INPUT,
 * message in params[2], its type and size in params[1]) when it has an envelope (it starts
 * an invocation in that mode) or a message function (false: params[2] is too small);
 * otherwise its direct function answers in the parameters and returns a TEE_Result.
 */
struct foc_command {
	uint32_t id;          /* FOC_CMD_* */
	uint32_t param_types; /* FOC_PARAM_TYPES(...) the caller must pass */
	const struct foc_envelope *envelope;
	foc_message_command *message;
	uint32_t (*direct)(struct foc_session *s, union foc_param params[4]);
};

/* The table entry of a FOC_CMD_*, NULL if there is none. */
const struct foc_command *foc_command_find(uint32_t id);

/*
 * Run a command as TA_InvokeCommandEntryPoint does: TEE_ERROR_NOT_SUPPORTED for an unknown id,
 * TEE_ERROR_BAD_PARAMETERS for other parameter types than the table's or a memref without a
 * buffer, TEE_ERROR_SHORT_BUFFER with params[2].memref.size = the size needed (the session
 * is unchanged: retry with the same input), else what the command returns.
 */
uint32_t foc_command_run(struct foc_session *s, uint32_t id, uint32_t param_types, union foc_param params[4]);

#endif /* FOC_COMMANDS_H */
