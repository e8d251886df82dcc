/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Host-native build of the FOC trusted core ("native TEE"). NOT a TEE: the same
 * chaincode and trusted-core C code as the TA, linked into a host shared library
 * (libfoc_core.so) so the proxy and the tests can run without OP-TEE. Every command goes
 * through the TA's own command table (ta/foc_commands.c), so it behaves like the TA behind
 * TEEC_InvokeCommand, including its return codes:
 *   - one "TA instance" per process (the TA is single-instance, multi-session);
 *   - FOC_CMD_PANIC kills the instance: every session opened before it then returns
 *     TEE_ERROR_TARGET_DEAD (0xFFFF3024), as OP-TEE does; new sessions work again;
 *   - TEE_ERROR_BAD_PARAMETERS (0xFFFF0006) where the TA would get wrong param types;
 *   - TEE_ERROR_SHORT_BUFFER (0xFFFF0010) with *out_len = size needed.
 */
#ifndef FOC_NATIVE_H
#define FOC_NATIVE_H

#include <stddef.h>
#include <stdint.h>

#include "foc_commands.h" /* union foc_param */

struct foc_native_session;

/* Open a session (like TEEC_OpenSession). Returns NULL on allocation failure. */
struct foc_native_session *foc_native_open(void);

/* Close a session (like TEEC_CloseSession). NULL is ignored. */
void foc_native_close(struct foc_native_session *s);

/*
 * Invoke a FOC_CMD_* command (like TEEC_InvokeCommand with the parameter layout in
 * foc_ta.h). `in`/`in_len` is params[0]; `out` with capacity *out_len is params[2];
 * on return *out_len is the number of bytes written (or needed, with SHORT_BUFFER) and
 * *msg_type is params[1].value.a. For FOC_CMD_INFO, *msg_type = FOC_ABI_VERSION and
 * *out_len = FOC_MAX_OUTPUT. Returns a TEE_Result value (0 = TEE_SUCCESS).
 */
uint32_t foc_native_invoke(struct foc_native_session *s, uint32_t cmd, const uint8_t *in, size_t in_len,
			   uint8_t *out, size_t *out_len, uint32_t *msg_type);

/*
 * Which TA this library is: the uuid of the chaincode TA it was built as (the build's TA_UUID,
 * e.g. "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9" for FOC's coffee TA) and its chaincode's name
 * (struct foc_chaincode). Its sealed objects live in $FOC_NATIVE_STORAGE/<uuid>/, as OP-TEE keeps
 * each TA's secure storage apart. Static strings, never NULL.
 */
const char *foc_native_ta_uuid(void);
const char *foc_native_chaincode_name(void);

/*
 * Invoke a command exactly as OP-TEE calls TA_InvokeCommandEntryPoint: `param_types` in the
 * TEE_PARAM_TYPES() encoding (TEE_PARAM_TYPE_* values, not TEEC_*), the four parameters as
 * the TA receives them (union foc_param: TEE_Param's layout, foc_commands.h). The TA's command table checks the types and buffers; on return the
 * parameters hold what the TA wrote (output values, memref sizes, also with SHORT_BUFFER).
 * Returns a TEE_Result (TEE_ERROR_TARGET_DEAD for a session of a panicked instance).
 */
uint32_t foc_native_invoke_params(struct foc_native_session *s, uint32_t cmd, uint32_t param_types,
				  union foc_param params[4]);

#endif /* FOC_NATIVE_H */
