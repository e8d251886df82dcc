/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Enclave lifecycle of confidential mode: FOC_CMD_ENCLAVE_CREATE / _CREDENTIALS and the
 * sealed objects "foc.enclave.v1" (signing key, config, credentials) and "foc.chaincode.v1"
 * (chaincode ECDH key pair, state key). Formats: docs/confidential-protocol.md.
 */
#ifndef FOC_ENCLAVE_H
#define FOC_ENCLAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <foc_ta.h>

#include "foc_codec.h"
#include "foc_crypto.h"

#define FOC_ENCLAVE_OBJECT "foc.enclave.v1"
#define FOC_CHAINCODE_OBJECT "foc.chaincode.v1"

/* Everything an invocation needs, loaded from the two sealed objects. Wipe after use. */
struct foc_enclave_keys {
	uint8_t sign_priv[FOC_EC_PRIVATE_SIZE];
	uint8_t sign_pub[FOC_EC_POINT_SIZE];
	char enclave_id[2 * FOC_HASH_SIZE]; /* lowercase hex of SHA-256(sign_pub), not NUL-terminated */
	uint8_t chaincode_priv[FOC_EC_PRIVATE_SIZE];
	uint8_t chaincode_pub[FOC_EC_POINT_SIZE];
	uint8_t state_key[FOC_AES_KEY_SIZE];
	uint8_t chaincode_id[FOC_MAX_IDENTIFIER];
	uint32_t chaincode_id_len;
	uint8_t channel_id[FOC_MAX_IDENTIFIER];
	uint32_t channel_id_len;
};

/*
 * Load the sealed keys and config. Returns 0, FOC_ERR_NOT_FOUND (no enclave yet) or another
 * FOC_ERR_* with *message set (a static string without secrets).
 */
uint32_t foc_enclave_load(struct foc_enclave_keys *keys, const char **message);

/*
 * FOC_CMD_ENCLAVE_CREATE (in = enclave_config) or FOC_CMD_ENCLAVE_CREDENTIALS (in ignored):
 * writes the message into w and its type into *msg_type. Returns false when w is too
 * small; nothing was then stored, so the same command can be repeated with a larger buffer.
 */
bool foc_enclave_command(uint32_t cmd, const uint8_t *in, size_t in_len, struct foc_writer *w,
			 uint32_t *msg_type);

#endif /* FOC_ENCLAVE_H */
