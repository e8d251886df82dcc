/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The confidential layer (docs/confidential-protocol.md): an envelope around the plaintext
 * core that opens the request once per invocation, opens and seals state values bound to
 * their key names, and seals and signs the response (foc_confidential.c); the enclave
 * lifecycle with the sealed objects "foc.enclave.v1" (signing key, config, credentials)
 * and "foc.chaincode.v1" (chaincode ECDH key pair, state key, key policy) (foc_enclave.c);
 * and key distribution between the enclaves of one chaincode on different devices
 * (foc_keydist.c).
 */
#ifndef FOC_CONFIDENTIAL_H
#define FOC_CONFIDENTIAL_H

#include "foc_core.h"
#include "foc_crypto.h"

#define FOC_ENCLAVE_OBJECT "foc.enclave.v1"
#define FOC_CHAINCODE_OBJECT "foc.chaincode.v1"

/* key_policy := u32 FKP1 u32 n { bytes device_key_id(32) }, ids strictly ascending, n <= 16 */
#define FOC_MAX_POLICY (4 + 4 + FOC_MAX_TRUSTED_DEVICES * (4 + FOC_HASH_SIZE))
/* enclave_config := u32 FEC2 bytes chaincode_id bytes version bytes channel_id bytes host u8 mode bytes key_policy */
#define FOC_MAX_CONFIG (4 + 4 * (4 + FOC_MAX_IDENTIFIER) + 1 + 4 + FOC_MAX_POLICY)
/* attested_data := u32 FAD2 4 x bytes identifier bytes enclave_pub bytes chaincode_pub bytes policy_digest;
 * join_data has the same shape (FJD1, with the transfer key in place of the chaincode key) */
#define FOC_MAX_ATTESTED (4 + 4 * (4 + FOC_MAX_IDENTIFIER) + 2 * (4 + FOC_EC_POINT_SIZE) + 4 + FOC_HASH_SIZE)
#define FOC_MAX_CREDENTIALS (4 + 4 + FOC_MAX_ATTESTED + 4 + FOC_MAX_EVIDENCE)

/* enclave_config's mode */
enum foc_create_mode {
	FOC_MODE_CREATE = 0,  /* FOC_ERR_EXISTS if this TA has an enclave */
	FOC_MODE_REPLACE = 1, /* new enclave key, the same chaincode keys (the same key policy) */
	FOC_MODE_REKEY = 2,   /* new enclave key and new chaincode keys (create), or replace them (join) */
};

struct foc_enclave_config {
	struct foc_slice chaincode_id, version, channel_id, host, policy;
	uint8_t mode;
};

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
	uint8_t policy[FOC_MAX_POLICY]; /* key_policy bytes, sealed with the chaincode keys */
	uint32_t policy_len;
};

/*
 * Load the sealed keys and config. Returns 0, FOC_ERR_NOT_FOUND (no enclave yet) or another
 * FOC_ERR_* with *message set (a static string without secrets).
 */
foc_status foc_enclave_load(struct foc_enclave_keys *keys, const char **message);

/* An identifier (chaincode id, version, channel id, host endpoint): bytes of 1..FOC_MAX_IDENTIFIER. */
bool foc_read_identifier(struct foc_reader *r, struct foc_slice *id);

/* Decode an enclave_config (slices point into buf); false with *message set. */
bool foc_decode_config(const uint8_t *buf, size_t len, struct foc_enclave_config *c, const char **message);
/* Write c's chaincode id, version, channel id and host endpoint as four `bytes`. */
void foc_write_identifiers(struct foc_writer *w, const struct foc_enclave_config *c);
/* A well-formed key_policy (foc_keydist.c). */
bool foc_policy_valid(struct foc_slice policy);

/* The sealed chaincode keys and key policy: FOC_OK, FOC_ERR_NOT_FOUND, or an error with *message. */
foc_status foc_load_chaincode_keys(struct foc_enclave_keys *k, const char **message);

/* The enclave object (*object: release with foc_enclave_free_object) and the chaincode keys;
 * *version and *credentials point into *object. */
foc_status foc_enclave_load_self(struct foc_enclave_keys *k, uint8_t **object, struct foc_slice *version,
				 struct foc_slice *credentials, const char **message);
void foc_enclave_free_object(uint8_t *object);

/* Evidence (FOC_MAX_EVIDENCE bytes at most) from the platform for nonce = SHA-256(statement). */
foc_status foc_attest(const uint8_t *statement, size_t len, uint8_t *evidence, size_t *evidence_len,
		      const char **message);

/*
 * Seal the enclave (signing key, config c, the credentials built here with fresh evidence and
 * written to w as FOC_MSG_RESPONSE) and, with store_chaincode, the chaincode keys and key policy
 * in k. Nothing is sealed when w is too small.
 */
foc_status foc_enclave_install(const struct foc_enclave_config *c, const struct foc_enclave_keys *k,
			       bool store_chaincode, struct foc_writer *w, uint32_t *msg_type, const char **message);

/* End a message command: on failure replace w's content by FOC_MSG_ERROR(rc, message). Returns
 * whether w is big enough (the command's return value). */
bool foc_command_finish(struct foc_writer *w, uint32_t *msg_type, foc_status rc, const char *message);

/*
 * FOC_CMD_ENCLAVE_CREATE (in = enclave_config) and FOC_CMD_ENCLAVE_CREDENTIALS (no input); no
 * session state is involved. When w is too small nothing was stored, so the same command
 * can be repeated with a larger buffer.
 */
foc_message_command foc_enclave_create, foc_enclave_credentials;

/* FOC_CMD_ENCLAVE_JOIN, FOC_CMD_KEY_EXPORT, FOC_CMD_KEY_IMPORT (foc_keydist.c). */
foc_message_command foc_enclave_join, foc_key_export, foc_key_import;

#endif /* FOC_CONFIDENTIAL_H */
