/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The chaincode API of FOC's trusted core ("the stub"): everything a chaincode may use.
 * A chaincode includes this header and nothing else of FOC (foc_ta.h, which it pulls in,
 * gives the FOC_ERR_* codes and the FOC_MAX_* limits).
 *
 * A chaincode function is ordinary sequential C:
 *
 *     static foc_status query(struct foc_stub *stub)
 *     {
 *             struct foc_slice value;
 *             bool found;
 *             foc_status rc = foc_get_state(stub, foc_stub_arg(stub, 0), &value, &found);
 *
 *             if (rc != FOC_OK)
 *                     return rc;            // includes FOC_NEED_STATE: return it unchanged
 *             ...
 *             return foc_success(stub, payload);
 *     }
 *
 * How reads work (deterministic re-execution): when foc_get_state() (or a range read) needs
 * a value the TA does not have yet it returns FOC_NEED_STATE; the function returns it, the TA asks
 * the normal world for the key, and when the answer arrives runs the function again
 * from the start. This time the read is served from the cache. So a function must be
 * deterministic: depend only on its arguments, its creator and transient data, and on what
 * the reads return.
 *
 * Once a stub call has returned FOC_NEED_STATE or an error, every later stub call
 * returns the same status and the outcome of the run is fixed (a chaincode cannot
 * swallow a missing read, a limit or an out-of-memory and answer success anyway).
 *
 * Writes (foc_put_state/foc_del_state) are buffered and leave the TA only in the final
 * response. A read of a key this run wrote returns the written value (or "not found"
 * after a delete) and is not part of the read set.
 *
 * Plaintext or confidential: the chaincode cannot tell and need not know. Arguments,
 * state values and payloads are plaintext here in both modes. In a confidential
 * invocation the TA's confidential layer has opened the request and each state value
 * before the chaincode sees them, and it seals the writes and the result afterwards.
 */
#ifndef FOC_CHAINCODE_H
#define FOC_CHAINCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <foc_ta.h>

/* 0 = success, FOC_ERR_* (foc_ta.h) = failure, FOC_NEED_STATE = the run must stop for a read. */
typedef uint32_t foc_status;
#define FOC_OK 0u
#define FOC_NEED_STATE 0x10000u

/* Longest error message kept; longer messages are truncated. */
#define FOC_MAX_ERROR_MESSAGE 1024

/* A byte string that is not owned by whoever holds the slice. */
struct foc_slice {
	const uint8_t *data;
	uint32_t len;
};

/* One run of the chaincode (opaque). */
struct foc_stub;

/* The function name (argument 0 of the request, 1..FOC_MAX_FUNCTION bytes). */
struct foc_slice foc_stub_function(const struct foc_stub *stub);
/* Number of arguments after the function name (0..FOC_MAX_ARGS - 1). */
uint32_t foc_stub_arg_count(const struct foc_stub *stub);
/* Argument i (0 = first after the function name, at most FOC_MAX_VALUE bytes); an empty
 * slice when i is out of range. Valid until the function returns. */
struct foc_slice foc_stub_arg(const struct foc_stub *stub, uint32_t index);

/* ---------------------------------------------------------------- state */

/*
 * Read a key. On FOC_OK, *found tells whether it exists and *value is its value (empty
 * if not found, at most FOC_MAX_VALUE bytes), valid until the function returns or writes
 * this key again. FOC_NEED_STATE: return it, the run ends here and starts again once the
 * value has arrived. Errors: a key must be 1..FOC_MAX_KEY bytes, either a simple key (valid
 * UTF-8 without NUL) or a composite key (foc_create_composite_key) (FOC_ERR_BAD_ARGUMENT,
 * FOC_ERR_LIMIT); at most FOC_MAX_READS distinct keys per invocation (FOC_ERR_LIMIT);
 * FOC_ERR_NO_MEMORY.
 */
foc_status foc_get_state(struct foc_stub *stub, struct foc_slice key, struct foc_slice *value, bool *found);
/*
 * Buffer a write of key = value (value 0..FOC_MAX_VALUE bytes). Keys as for foc_get_state.
 * Errors: FOC_ERR_LIMIT past FOC_MAX_WRITES distinct keys or FOC_MAX_WRITE_BYTES of keys
 * and values; FOC_ERR_NO_MEMORY. Keys starting with "~foc/" are reserved for FOC (the
 * validator's replay markers): confidential invocations refuse them (FOC_ERR_BAD_ARGUMENT).
 */
foc_status foc_put_state(struct foc_stub *stub, struct foc_slice key, struct foc_slice value);
/* Buffer a delete of key; keys, limits and errors as for foc_put_state. */
foc_status foc_del_state(struct foc_stub *stub, struct foc_slice key);

/* ---------------------------------------------------------------- who is calling */

/*
 * The transaction's creator: the MSP id (1..FOC_MAX_MSP_ID bytes) and the certificate
 * (1..FOC_MAX_CERTIFICATE bytes of Fabric's msp.SerializedIdentity.id_bytes: PEM for X.509
 * MSPs) of the identity that signed the proposal. Valid until the function returns.
 *   plaintext     as the peer reported it (plaintext mode trusts the peer);
 *   confidential  as the client put it inside its encrypted request. The TA refuses a request
 *                 whose creator is not the one the peer reports for the transaction, signs a
 *                 hash of it, and validation before commit refuses the result unless the
 *                 transaction's creator is that identity (docs/confidential-protocol.md).
 * FOC_ERR_NOT_FOUND when the invocation carries no creator (FOC's legacy protocol, a ledger
 * without identities); this does not fix the outcome of the run, so the chaincode may answer
 * with its own error.
 */
foc_status foc_get_creator(struct foc_stub *stub, struct foc_slice *msp_id, struct foc_slice *certificate);

/*
 * Transient data: the value of `key` in the proposal's transient map (Fabric's
 * ChaincodeProposalPayload.TransientMap), never written to the ledger. *found tells whether
 * the key is there; *value (at most FOC_MAX_VALUE bytes) is valid until the function returns.
 * At most FOC_MAX_TRANSIENT entries per request. In confidential mode the map travels inside
 * the encrypted request only. Errors: key 1..FOC_MAX_KEY bytes (FOC_ERR_BAD_ARGUMENT,
 * FOC_ERR_LIMIT).
 */
foc_status foc_get_transient(struct foc_stub *stub, struct foc_slice key, struct foc_slice *value, bool *found);

/* ---------------------------------------------------------------- range reads */

/* One entry of a range read: a key and its value, valid until the function returns. */
struct foc_state_entry {
	struct foc_slice key;
	struct foc_slice value;
};

/*
 * Read the committed entries with start <= key < end in byte order (Fabric's GetStateByRange):
 * *entries is an array of *count entries (0..FOC_MAX_RANGE_ENTRIES), ascending, valid until the
 * function returns. start and end are simple keys or empty: an empty start is the first simple
 * key, an empty end means no upper bound; composite keys are never in a simple range (as on
 * Fabric). Like foc_get_state, the first call for a range returns FOC_NEED_STATE (one round trip
 * per distinct range, then served from the cache). The result is committed state: it does not
 * include this run's own writes (as on Fabric).
 * The whole range is part of the read set: if a key is added to, changed in or removed from it
 * before commit, the transaction is refused (phantom read; plaintext: the ledger's MVCC,
 * confidential: MVCC_READ_CONFLICT at validation).
 * Errors: bounds that are not simple keys (FOC_ERR_BAD_ARGUMENT, FOC_ERR_LIMIT); more than
 * FOC_MAX_RANGES distinct ranges, a range with more than FOC_MAX_RANGE_ENTRIES entries, more
 * than FOC_MAX_RANGE_BYTES of keys and values in all ranges (FOC_ERR_LIMIT); FOC_ERR_NO_MEMORY.
 */
foc_status foc_get_state_by_range(struct foc_stub *stub, struct foc_slice start, struct foc_slice end,
				  const struct foc_state_entry **entries, uint32_t *count);

/*
 * The committed entries whose composite key starts with object_type and the given leading
 * attributes (Fabric's GetStateByPartialCompositeKey): the range from the composite key of
 * (object_type, attributes) to that key followed by U+10FFFF. Results, caching, validation and
 * limits as foc_get_state_by_range; the parts as foc_create_composite_key.
 */
foc_status foc_get_state_by_partial_composite_key(struct foc_stub *stub, struct foc_slice object_type,
						  const struct foc_slice *attributes, uint32_t nattributes,
						  const struct foc_state_entry **entries, uint32_t *count);

/* ---------------------------------------------------------------- composite keys */

/*
 * Fabric's composite key: U+0000, object_type, U+0000, then each attribute followed by U+0000,
 * written into buffer (FOC_MAX_KEY bytes); *key points into it. Every part must be valid UTF-8
 * without U+0000 and U+10FFFF (FOC_ERR_BAD_ARGUMENT), the key at most FOC_MAX_KEY bytes
 * (FOC_ERR_LIMIT). A composite key may be read, written and deleted like any other key.
 */
foc_status foc_create_composite_key(struct foc_stub *stub, struct foc_slice object_type,
				    const struct foc_slice *attributes, uint32_t nattributes,
				    uint8_t buffer[FOC_MAX_KEY], struct foc_slice *key);

/*
 * Split a composite key into its object type and attributes (slices into key). At most
 * max_attributes attributes (FOC_ERR_LIMIT); a key that is not a composite key is
 * FOC_ERR_BAD_ARGUMENT.
 */
foc_status foc_split_composite_key(struct foc_stub *stub, struct foc_slice key, struct foc_slice *object_type,
				   struct foc_slice *attributes, uint32_t max_attributes, uint32_t *nattributes);

/* ---------------------------------------------------------------- results */

/* Finish with success and this payload (copied; at most FOC_MAX_PAYLOAD bytes, else
 * FOC_ERR_LIMIT); returns FOC_OK. A function that returns FOC_OK without calling it
 * answers with an empty payload. */
foc_status foc_success(struct foc_stub *stub, struct foc_slice payload);
/* Finish with a structured error (code = FOC_ERR_*); returns code, so `return foc_error(...)`.
 * The message goes back to the caller: keep state values and secrets out of it. */
foc_status foc_error(struct foc_stub *stub, foc_status code, const char *message);
/* Same with a printf-style message (truncated to FOC_MAX_ERROR_MESSAGE - 1 bytes). */
foc_status foc_errorf(struct foc_stub *stub, foc_status code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Slice helpers. */
struct foc_slice foc_slice_of(const char *nul_terminated);
bool foc_slice_equals(struct foc_slice a, struct foc_slice b);

/* One chaincode function, dispatched by name. A status outside FOC_OK, FOC_NEED_STATE
 * and FOC_ERR_* becomes FOC_ERR_INTERNAL. */
struct foc_chaincode_function {
	const char *name;
	foc_status (*run)(struct foc_stub *stub);
};

/* The chaincode linked into this TA (ta/chaincode/); unknown names are answered by the
 * core with FOC_ERR_UNKNOWN_FUNCTION, listing the functions below. */
struct foc_chaincode {
	const char *name;
	const struct foc_chaincode_function *functions;
	size_t function_count;
};

extern const struct foc_chaincode foc_chaincode;

#endif /* FOC_CHAINCODE_H */
