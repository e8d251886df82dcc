/* SPDX-License-Identifier: Apache-2.0 */
/*
 * FOC chaincode TA: the ABI between the normal world (foc.proxy) and the TA.
 *
 * This header is the single source of truth. foc/tee/abi.py mirrors the numbers
 * and a unit test compares the two.
 *
 * Invocation model (deterministic re-execution, see docs/ta.md):
 *   FOC_CMD_INVOKE  starts an invocation in this session. The TA runs the chaincode
 *                   from the start with an empty read cache.
 *   FOC_CMD_RESUME  answers the TA's last GET_STATE request; the TA adds the value to
 *                   the session's read cache and re-runs the chaincode from the start.
 *   Each distinct key read costs one RESUME round trip; writes never leave the TA
 *   before the final response (they travel in its write set).
 *
 * Parameters of FOC_CMD_INVOKE and FOC_CMD_RESUME (checked before any buffer is touched):
 *   params[0] MEMREF_INPUT   request (INVOKE) or state answer (RESUME), encoded below
 *   params[1] VALUE_OUTPUT   a = message type (FOC_MSG_*), b = bytes written to params[2]
 *   params[2] MEMREF_OUTPUT  output buffer; if too small the TA returns
 *                            TEE_ERROR_SHORT_BUFFER and sets its size to the size needed
 *   params[3] NONE
 * Every other outcome, including chaincode failures, is TEE_SUCCESS with FOC_MSG_ERROR.
 * Wrong parameter types give TEE_ERROR_BAD_PARAMETERS.
 *
 * Encoding: all integers are unsigned little-endian; "bytes" is u32 length + data.
 * A decoder must consume the buffer exactly (trailing bytes are an error).
 *
 *   request       := u32 magic(FOC_REQ_MAGIC)  u32 nargs bytes[nargs]              (FOC1: no context)
 *                  | u32 magic(FOC_REQ2_MAGIC) u32 nargs bytes[nargs] context      (FOC2)
 *                    nargs in 1..FOC_MAX_ARGS; arg 0 is the function name
 *   context       := bytes creator_msp_id bytes creator_certificate                 (both empty = no creator)
 *                    u32 ntransient { bytes key bytes value }                       (distinct, non-empty keys)
 *   state answer  := u8 found(0|1) bytes value        (found=0 requires an empty value)
 *   range answer  := u32 nentries { bytes key bytes value }
 *                    keys strictly ascending in byte order, start <= key < end (end empty: no upper bound)
 *
 *   FOC_MSG_GET_STATE output          := bytes key
 *   FOC_MSG_GET_STATE_BY_RANGE output := bytes start bytes end    (start never empty; end empty = unbounded)
 *   FOC_MSG_RESPONSE output  := u32 status bytes payload
 *                               u32 nreads  { bytes key }                      (distinct keys, first-read order)
 *                               u32 nranges { bytes start bytes end }          (distinct ranges, first-read order)
 *                               u32 nwrites { bytes key u8 is_delete bytes value } (last write per key, key order
 *                                                                                  of first write; value empty if delete)
 *   FOC_MSG_ERROR output     := u32 code(FOC_ERR_*) bytes message
 *
 * State keys (docs/limits.md): a simple key is 1..FOC_MAX_KEY bytes of UTF-8 without NUL; a
 * composite key is Fabric's: U+0000, the object type, U+0000, then each attribute followed by
 * U+0000, every part UTF-8 without U+0000 and U+10FFFF. A range's bounds are simple keys, or a
 * composite key prefix P and P followed by U+10FFFF (a partial composite key query, as Fabric's shim).
 */
#ifndef FOC_TA_H
#define FOC_TA_H

/* FOC's original coffee-tracking chaincode UUID, kept so FOC's plaintext flow still works. */
#define FOC_TA_UUID_STR "6ceb95ba-e9b1-482a-a1bd-a1ebca0671b9"
#define FOC_TA_UUID                                        \
	{ 0x6ceb95ba, 0xe9b1, 0x482a,                      \
	  { 0xa1, 0xbd, 0xa1, 0xeb, 0xca, 0x06, 0x71, 0xb9 } }

#define FOC_ABI_VERSION 2 /* 2: FOC2 requests, ranges, FCI1 confidential invocations */

/* Commands */
#define FOC_CMD_INVOKE 0
#define FOC_CMD_RESUME 1
#define FOC_CMD_ABORT 2 /* drop any in-flight invocation; all params NONE */
#define FOC_CMD_INFO 3  /* params[0] VALUE_OUTPUT a = FOC_ABI_VERSION, b = FOC_MAX_OUTPUT; rest NONE */
/*
 * Confidential mode (docs/confidential-protocol.md is the contract; formats there).
 *   FOC_CMD_ENCLAVE_CREATE       params as INVOKE; params[0] = enclave_config; output = credentials,
 *                                FOC_MSG_RESPONSE (or FOC_MSG_ERROR, e.g. FOC_ERR_EXISTS without force)
 *   FOC_CMD_ENCLAVE_CREDENTIALS  params[0] NONE, [1] VALUE_OUTPUT, [2] MEMREF_OUTPUT; stored credentials
 *                                (FOC_MSG_RESPONSE) or FOC_MSG_ERROR / FOC_ERR_NOT_FOUND
 *   FOC_CMD_CONFIDENTIAL_INVOKE  params as INVOKE; params[0] = confidential_invocation; then the same
 *                                GET_STATE / GET_STATE_BY_RANGE / RESUME cycle (answers carry stored
 *                                ciphertext), ending in FOC_MSG_CONFIDENTIAL_RESPONSE (confidential_response)
 *     confidential_invocation := u32 magic(FOC_CONF_INVOKE_MAGIC) bytes confidential_request
 *                                bytes creator_msp_id bytes creator_certificate
 *                                (the creator the peer reports for the transaction; the TA refuses a
 *                                request whose encrypted creator is another one)
 */
#define FOC_CMD_ENCLAVE_CREATE 4
#define FOC_CMD_ENCLAVE_CREDENTIALS 5
#define FOC_CMD_CONFIDENTIAL_INVOKE 6
/*
 * Key distribution between enclaves of one chaincode on different devices (formats in
 * docs/confidential-protocol.md, "Key distribution"); params as ENCLAVE_CREATE, output a FOC message:
 *   FOC_CMD_ENCLAVE_JOIN  params[0] = enclave_config (mode 0 or 2) of an enclave that has no
 *                         chaincode keys yet; output = key_request (its evidence binds a fresh
 *                         transfer key); the TA keeps the pending join in its instance
 *   FOC_CMD_KEY_EXPORT    on a TA that holds the keys: params[0] = key_export (a key_request and the
 *                         requester's device key); output = key_package, or FOC_ERR_UNTRUSTED
 *   FOC_CMD_KEY_IMPORT    on the joining TA: params[0] = key_import (a key_package and the sender's
 *                         device key); seals the keys; output = the new enclave's credentials
 */
#define FOC_CMD_ENCLAVE_JOIN 16
#define FOC_CMD_KEY_EXPORT 17
#define FOC_CMD_KEY_IMPORT 18
/* Calls TEE_Panic(). The normal world can always deny service, so this adds no power;
 * it lets the tests prove that the proxy survives a TA crash. All params NONE. */
#define FOC_CMD_PANIC 0x7f

/* Message types in params[1].value.a (FOC's numbers; 2 = PUT_STATE is no longer used) */
#define FOC_MSG_RESPONSE 0
#define FOC_MSG_GET_STATE 1
#define FOC_MSG_CONFIDENTIAL_RESPONSE 3
#define FOC_MSG_GET_STATE_BY_RANGE 4
#define FOC_MSG_ERROR 100

#define FOC_REQ_MAGIC 0x31434f46u /* "FOC1" little-endian */
#define FOC_REQ2_MAGIC 0x32434f46u /* "FOC2": FOC1 followed by the context (creator, transient data) */
#define FOC_CONF_INVOKE_MAGIC 0x31494346u      /* "FCI1" confidential_invocation */
#define FOC_CONF_REQUEST_MAGIC 0x32524346u     /* "FCR2" confidential_request (v2: creator, transient) */
#define FOC_CONF_STATE_MAGIC 0x31534346u       /* "FCS1" stored_value */
#define FOC_CONF_SIGNED_MAGIC 0x32525346u      /* "FSR2" signed_message (v2: creator hash, ranges) */
#define FOC_CONF_ATTESTED_MAGIC 0x32444146u    /* "FAD2" attested_data (v2: + key policy digest) */
#define FOC_CONF_EVIDENCE_MAGIC 0x31564546u    /* "FEV1" evidence */
#define FOC_CONF_CREDENTIALS_MAGIC 0x31444346u /* "FCD1" credentials */
#define FOC_CONF_CONFIG_MAGIC 0x32434546u      /* "FEC2" enclave_config (v2: mode, key policy) */
#define FOC_CONF_POLICY_MAGIC 0x31504b46u      /* "FKP1" key_policy */
#define FOC_CONF_JOIN_MAGIC 0x31444a46u        /* "FJD1" join_data */
#define FOC_CONF_KEY_REQUEST_MAGIC 0x31524b46u /* "FKR1" key_request */
#define FOC_CONF_KEY_EXPORT_MAGIC 0x31454b46u  /* "FKE1" key_export */
#define FOC_CONF_KEY_PACKAGE_MAGIC 0x31474b46u /* "FKG1" key_package */
#define FOC_CONF_KEY_IMPORT_MAGIC 0x31494b46u  /* "FKI1" key_import */

/* Limits (documented in docs/limits.md; checked before every copy) */
#define FOC_MAX_ARGS 16              /* including the function name */
#define FOC_MAX_FUNCTION 64          /* bytes of the function name */
#define FOC_MAX_KEY 256              /* bytes of a state key (simple or composite, see above) */
#define FOC_MAX_VALUE 65536          /* bytes of one state value or argument */
#define FOC_MAX_REQUEST 131072       /* encoded request */
#define FOC_MAX_PAYLOAD 65536        /* response payload / error message */
#define FOC_MAX_READS 64             /* distinct keys read by one invocation */
#define FOC_MAX_WRITES 64            /* distinct keys written by one invocation */
#define FOC_MAX_CACHE_BYTES 131072   /* sum of cached read values in one invocation */
#define FOC_MAX_WRITE_BYTES 131072   /* sum of written keys + values in one invocation */
#define FOC_MAX_OUTPUT 393216        /* largest output any command produces */
#define FOC_MAX_IDENTIFIER 256       /* chaincode id, version, channel id, host endpoint (non-empty) */
#define FOC_MAX_TRUSTED_DEVICES 16   /* device keys in one chaincode's key policy */
#define FOC_MAX_DEVICE_KEY 1024      /* DER SubjectPublicKeyInfo of a device attestation key (RSA <= 4096) */
#define FOC_MAX_MSP_ID 256           /* bytes of the creator's MSP id */
#define FOC_MAX_CERTIFICATE 8192     /* bytes of the creator's certificate (SerializedIdentity.id_bytes) */
#define FOC_MAX_TRANSIENT 16         /* transient entries in one request (key 1..FOC_MAX_KEY, value <= FOC_MAX_VALUE) */
#define FOC_MAX_RANGES 8             /* distinct ranges read by one invocation */
#define FOC_MAX_RANGE_ENTRIES 64     /* entries in one range answer */
#define FOC_MAX_RANGE_BYTES 65536    /* sum of keys + values of all range answers in one invocation */
/* stored_value = plaintext + 40 bytes (magic, nonce, lengths, GCM tag). In confidential mode
 * FOC_MAX_VALUE bounds the plaintext; a state answer may carry FOC_MAX_VALUE + this, and
 * FOC_MAX_CACHE_BYTES counts the stored (encrypted) bytes. */
#define FOC_CONF_STATE_OVERHEAD 40

/* Structured error codes (FOC_MSG_ERROR). Names in foc/tee/abi.py. */
#define FOC_ERR_BAD_REQUEST 1      /* malformed encoding, wrong magic, trailing bytes */
#define FOC_ERR_UNKNOWN_FUNCTION 2
#define FOC_ERR_ARG_COUNT 3
#define FOC_ERR_BAD_ARGUMENT 4     /* e.g. not a decimal number */
#define FOC_ERR_LIMIT 5            /* a size or count limit above was exceeded */
#define FOC_ERR_EXISTS 6
#define FOC_ERR_NOT_FOUND 7
#define FOC_ERR_OVERFLOW 8         /* unsigned 64-bit count overflow */
#define FOC_ERR_SEQUENCE 9         /* RESUME without a pending GET_STATE, etc. */
#define FOC_ERR_NO_MEMORY 10
#define FOC_ERR_INTERNAL 11
#define FOC_ERR_INCONSISTENT 12    /* state answer does not fit the request (e.g. found=0 with a value) */
#define FOC_ERR_DENIED 13          /* the chaincode refuses this caller (foc_get_creator) or this operation now */
#define FOC_ERR_UNTRUSTED 14       /* key distribution: the other enclave's evidence or key policy does not verify (13 is FOC_ERR_DENIED of the chaincode API, issue 12) */

#endif /* FOC_TA_H */
