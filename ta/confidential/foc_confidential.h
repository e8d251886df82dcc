/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The confidential layer (docs/confidential-protocol.md): an envelope around the plaintext
 * core that opens the request once per invocation, opens and seals state values bound to
 * their key names, and seals and signs the response (foc_confidential.c); and the enclave
 * lifecycle with the sealed objects "foc.enclave.v1" (signing key, config, credentials)
 * and "foc.chaincode.v1" (chaincode ECDH key pair, state key) (foc_enclave.c).
 */
#ifndef FOC_CONFIDENTIAL_H
#define FOC_CONFIDENTIAL_H

#include "foc_core.h"
#include "foc_crypto.h"

#define FOC_ENCLAVE_OBJECT "foc.enclave.v1"
#define FOC_CHAINCODE_OBJECT "foc.chaincode.v1"

/* FOC_CMD_CONFIDENTIAL_INVOKE's envelope. */
extern const struct foc_envelope foc_confidential_envelope;

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
foc_status foc_enclave_load(struct foc_enclave_keys *keys, const char **message);

/* An identifier (chaincode id, version, channel id, host endpoint): bytes of 1..FOC_MAX_IDENTIFIER. */
bool foc_read_identifier(struct foc_reader *r, struct foc_slice *id);

/*
 * FOC_CMD_ENCLAVE_CREATE (in = enclave_config) and FOC_CMD_ENCLAVE_CREDENTIALS (no input); no
 * session state is involved. When w is too small nothing was stored, so the same command
 * can be repeated with a larger buffer.
 */
foc_message_command foc_enclave_create, foc_enclave_credentials;

#endif /* FOC_CONFIDENTIAL_H */
