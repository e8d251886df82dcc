/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: the request decoder and the full invoke path of the native instance.
 *
 * The whole input is first sent as a raw INVOKE request. Then it is read as a script of
 * operations, each `u8 op, u16 len, len bytes`:
 *   0 INVOKE raw bytes        1 RESUME raw bytes           2 ABORT
 *   3 INVOKE a well-formed request whose arguments are the chunk split at NUL bytes
 *   4 RESUME a well-formed answer: found = chunk[0] & 1, value = rest (empty if not found)
 *   5 set the output capacity to u16 from the chunk (exercises SHORT_BUFFER)
 *   6 chunk[0] % 5 = 0: CONFIDENTIAL_INVOKE, 1: ENCLAVE_CREATE, 2: ENCLAVE_JOIN, 3: KEY_EXPORT,
 *     4: KEY_IMPORT, each with the raw rest
 *   7 CONFIDENTIAL_INVOKE a request encrypted to the enclave's chaincode key, on its channel,
 *     whose arguments are the chunk split at NUL bytes
 *   8 RESUME a stored_value encrypting the chunk for the key of the last GET_STATE
 *     (chunk[0] bit 0: found; bit 1: seal it for another key)
 *   9 RESUME a range answer for the last GET_STATE_BY_RANGE: the chunk split at NUL bytes, each
 *     piece the suffix of a key after the range's start (in the chunk's order, so the TA also
 *     meets unsorted, duplicate and out-of-range keys), its value the piece itself
 *  10 INVOKE a FOC2 request: chunk[0] bytes of creator, chunk[1] transient entries, the rest split
 *     at NUL bytes into the arguments
 *  11 the range answer of op 9 with each value sealed for its key (chunk[0] bit 1: for another key)
 * An enclave is created once, in a temporary FOC_NATIVE_STORAGE directory. Confidential requests
 * carry the creator "Org1MSP"/"cert" and the same creator as the peer's (op 7 with a chunk ending
 * in 0xff: another peer creator, which the TA refuses).
 * Every output is checked to be a well-formed message of its type.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <foc_ta.h>

#include "crypto_native.h"
#include "foc_codec.h"
#include "foc_crypto.h"
#include "foc_native.h"

#define TEE_SUCCESS 0x00000000u
#define TEE_ERROR_SHORT_BUFFER 0xFFFF0010u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[FOC_MAX_OUTPUT];
/* op 3 turns a chunk of up to 65535 bytes into as many as 65536 arguments of 4 + n bytes */
static uint8_t msgbuf[8 + 5 * 65536];
static uint8_t plainbuf[8 + 5 * 65536 + 512];
static uint8_t pending_key[FOC_MAX_KEY], pending_end[FOC_MAX_KEY];
static uint32_t pending_key_len, pending_end_len;
static uint8_t chaincode_pub[FOC_EC_POINT_SIZE];
static uint8_t state_key[FOC_AES_KEY_SIZE];
static int have_enclave;

static void check_output(uint32_t res, uint32_t msg, size_t len, size_t cap)
{
	struct foc_reader r;
	const uint8_t *p;
	uint32_t n, i, count;
	uint8_t flag;
	int ok = 1;

	if (res == TEE_ERROR_SHORT_BUFFER) {
		if (len <= cap || len > FOC_MAX_OUTPUT)
			abort();
		return;
	}
	if (res != TEE_SUCCESS || len > cap)
		abort();
	foc_reader_init(&r, out, len);
	switch (msg) {
	case FOC_MSG_GET_STATE:
		ok = foc_read_bytes(&r, FOC_MAX_KEY, &p, &n) == FOC_READ_OK && n > 0;
		if (ok) {
			memcpy(pending_key, p, n);
			pending_key_len = n;
		}
		break;
	case FOC_MSG_GET_STATE_BY_RANGE:
		ok = foc_read_bytes(&r, FOC_MAX_KEY, &p, &n) == FOC_READ_OK && n > 0;
		if (ok) {
			memcpy(pending_key, p, n);
			pending_key_len = n;
			ok = foc_read_bytes(&r, FOC_MAX_KEY, &p, &n) == FOC_READ_OK;
		}
		if (ok) {
			memcpy(pending_end, p, n);
			pending_end_len = n;
		}
		break;
	case FOC_MSG_CONFIDENTIAL_RESPONSE:
		ok = foc_read_bytes(&r, FOC_MAX_OUTPUT, &p, &n) == FOC_READ_OK && n > 4 &&
		     foc_read_bytes(&r, 64, &p, &n) == FOC_READ_OK && n == 64;
		break;
	case FOC_MSG_ERROR:
		ok = foc_read_u32(&r, &n) == FOC_READ_OK && n >= FOC_ERR_BAD_REQUEST && n <= FOC_ERR_UNTRUSTED &&
		     foc_read_bytes(&r, FOC_MAX_PAYLOAD, &p, &n) == FOC_READ_OK;
		break;
	case FOC_MSG_RESPONSE:
		ok = foc_read_u32(&r, &n) == FOC_READ_OK && foc_read_bytes(&r, FOC_MAX_PAYLOAD, &p, &n) == FOC_READ_OK &&
		     foc_read_u32(&r, &count) == FOC_READ_OK && count <= FOC_MAX_READS;
		for (i = 0; ok && i < count; i++)
			ok = foc_read_bytes(&r, FOC_MAX_KEY, &p, &n) == FOC_READ_OK;
		ok = ok && foc_read_u32(&r, &count) == FOC_READ_OK && count <= FOC_MAX_RANGES;
		for (i = 0; ok && i < 2 * count; i++)
			ok = foc_read_bytes(&r, FOC_MAX_KEY, &p, &n) == FOC_READ_OK && (n > 0 || i % 2);
		ok = ok && foc_read_u32(&r, &count) == FOC_READ_OK && count <= FOC_MAX_WRITES;
		for (i = 0; ok && i < count; i++)
			ok = foc_read_bytes(&r, FOC_MAX_KEY, &p, &n) == FOC_READ_OK && foc_read_u8(&r, &flag) == FOC_READ_OK &&
			     flag <= 1 && foc_read_bytes(&r, FOC_MAX_VALUE, &p, &n) == FOC_READ_OK;
		break;
	default:
		ok = 0;
	}
	if (!ok || !foc_reader_at_end(&r))
		abort();
}

static void call(struct foc_native_session *s, uint32_t cmd, const uint8_t *in, size_t in_len, size_t cap)
{
	size_t len = cap;
	uint32_t msg = 0;
	uint32_t res = foc_native_invoke(s, cmd, in, in_len, out, &len, &msg);

	if (cmd == FOC_CMD_INVOKE || cmd == FOC_CMD_RESUME || cmd == FOC_CMD_CONFIDENTIAL_INVOKE)
		check_output(res, msg, len, cap);
	else if (cmd != FOC_CMD_ABORT && res == TEE_SUCCESS && msg != FOC_MSG_RESPONSE && msg != FOC_MSG_ERROR)
		abort();
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static size_t build_request(const uint8_t *chunk, size_t len)
{
	size_t pos = 8, start = 0, i;
	uint32_t nargs = 0;

	put_u32(msgbuf, FOC_REQ_MAGIC);
	for (i = 0; i <= len; i++) {
		if (i == len || chunk[i] == 0) {
			put_u32(msgbuf + pos, (uint32_t)(i - start));
			memcpy(msgbuf + pos + 4, chunk + start, i - start);
			pos += 4 + (i - start);
			nargs++;
			start = i + 1;
		}
	}
	put_u32(msgbuf + 4, nargs);
	return pos;
}

static size_t put_bytes(uint8_t *p, const void *data, uint32_t len)
{
	put_u32(p, len);
	if (len)
		memcpy(p + 4, data, len);
	return 4 + len;
}

static char dir[] = "/tmp/foc-fuzz-XXXXXX";

static void remove_storage(void)
{
	char path[64];

	snprintf(path, sizeof(path), "%s/foc.enclave.v1", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/foc.chaincode.v1", dir);
	unlink(path);
	rmdir(dir);
}

/* Create the enclave once; remember its chaincode key and (from the insecure native storage) state key. */
static void setup_enclave(struct foc_native_session *s)
{
	struct foc_reader r, a;
	const uint8_t *p = NULL;
	uint8_t obj[512];
	uint32_t n = 0, magic = 0, i;
	size_t len = sizeof(out), pos = 4, obj_len = 0;
	uint32_t msg = 0;

	have_enclave = -1;
	if (!mkdtemp(dir) || setenv(FOC_NATIVE_STORAGE_ENV, dir, 1) != 0)
		return;
	atexit(remove_storage);
	put_u32(msgbuf, FOC_CONF_CONFIG_MAGIC);
	pos += put_bytes(msgbuf + pos, "coffee", 6);
	pos += put_bytes(msgbuf + pos, "v1", 2);
	pos += put_bytes(msgbuf + pos, "dev", 3);
	pos += put_bytes(msgbuf + pos, "fuzz", 4);
	msgbuf[pos++] = 1;                    /* mode: replace, keep the chaincode keys */
	pos += put_bytes(msgbuf + pos, "FKP1\0\0\0\0", 8); /* the empty key policy */
	if (foc_native_invoke(s, FOC_CMD_ENCLAVE_CREATE, msgbuf, pos, out, &len, &msg) != TEE_SUCCESS ||
	    msg != FOC_MSG_RESPONSE)
		abort();
	foc_reader_init(&r, out, len);
	if (foc_read_u32(&r, &magic) != FOC_READ_OK || foc_read_bytes(&r, 4096, &p, &n) != FOC_READ_OK)
		abort();
	foc_reader_init(&a, p, n);
	foc_read_u32(&a, &magic);
	for (i = 0; i < 5; i++)
		foc_read_bytes(&a, 256, &p, &n);
	if (foc_read_bytes(&a, FOC_EC_POINT_SIZE, &p, &n) != FOC_READ_OK || n != FOC_EC_POINT_SIZE)
		abort();
	memcpy(chaincode_pub, p, n);
	/* u32 version bytes priv(32) bytes pub(65) bytes state_key(32) bytes key_policy */
	if (foc_storage_load("foc.chaincode.v1", obj, sizeof(obj), &obj_len) != FOC_STORAGE_OK ||
	    obj_len < 4 + 36 + 69 + 36)
		abort();
	memcpy(state_key, obj + 4 + 36 + 69 + 4, FOC_AES_KEY_SIZE);
	have_enclave = 1;
}

/* confidential_request for the chunk's NUL-separated arguments, into msgbuf. */
static size_t build_confidential_request(const uint8_t *chunk, size_t len)
{
	uint8_t priv[FOC_EC_PRIVATE_SIZE], pub[FOC_EC_POINT_SIZE], key[FOC_AES_KEY_SIZE];
	uint8_t info[14 + 2 * FOC_EC_POINT_SIZE], nonce[FOC_GCM_NONCE_SIZE] = { 0 }, rkey[32] = { 0 };
	size_t plain = 0, args = build_request(chunk, len), pos = 0;

	int same_creator = !len || chunk[len - 1] != 0xff;

	plain += put_bytes(plainbuf + plain, "dev", 3);
	plain += put_bytes(plainbuf + plain, "coffee", 6);
	memcpy(plainbuf + plain, msgbuf + 4, args - 4); /* u32 nargs, bytes[nargs] */
	plain += args - 4;
	plain += put_bytes(plainbuf + plain, "Org1MSP", 7); /* context: creator, one transient entry */
	plain += put_bytes(plainbuf + plain, "cert", 4);
	put_u32(plainbuf + plain, 1);
	plain += 4;
	plain += put_bytes(plainbuf + plain, "bid", 3);
	plain += put_bytes(plainbuf + plain, "42", 2);
	plain += put_bytes(plainbuf + plain, rkey, sizeof(rkey));
	if (!foc_crypto_ec_generate(priv, pub))
		abort();
	memcpy(info, "FOC/v2/request", 14);
	memcpy(info + 14, pub, FOC_EC_POINT_SIZE);
	memcpy(info + 14 + FOC_EC_POINT_SIZE, chaincode_pub, FOC_EC_POINT_SIZE);
	if (!foc_crypto_ecdh_hkdf(priv, pub, chaincode_pub, info, sizeof(info), key))
		abort();
	/* confidential_invocation := FCI1 bytes confidential_request bytes msp bytes cert */
	put_u32(msgbuf, FOC_CONF_INVOKE_MAGIC);
	put_u32(msgbuf + 8, FOC_CONF_REQUEST_MAGIC);
	pos = 12 + put_bytes(msgbuf + 12, pub, FOC_EC_POINT_SIZE);
	pos += put_bytes(msgbuf + pos, nonce, sizeof(nonce));
	put_u32(msgbuf + pos, (uint32_t)(plain + FOC_GCM_TAG_SIZE));
	pos += 4;
	if (!foc_crypto_gcm_seal(key, nonce, (const uint8_t *)"FOC/v2/request", 14, plainbuf, plain, msgbuf + pos))
		abort();
	pos += plain + FOC_GCM_TAG_SIZE;
	put_u32(msgbuf + 4, (uint32_t)(pos - 8));
	pos += put_bytes(msgbuf + pos, same_creator ? "Org1MSP" : "Org2MSP", 7);
	pos += put_bytes(msgbuf + pos, "cert", 4);
	return pos;
}

/* FOC2: op 10's context from chunk[0..1], then the NUL-separated arguments of the rest. */
static size_t build_request2(const uint8_t *chunk, size_t len)
{
	uint32_t creator = len ? chunk[0] % 8 : 0, ntransient = len > 1 ? chunk[1] % (FOC_MAX_TRANSIENT + 2) : 0, i;
	size_t pos = len > 2 ? build_request(chunk + 2, len - 2) : build_request(chunk, 0);

	put_u32(msgbuf, FOC_REQ2_MAGIC);
	pos += put_bytes(msgbuf + pos, "Org1MSP", creator);
	pos += put_bytes(msgbuf + pos, "certificate", creator);
	put_u32(msgbuf + pos, ntransient);
	pos += 4;
	for (i = 0; i < ntransient; i++) {
		char key[8];

		snprintf(key, sizeof(key), "t%u", i % 10);
		pos += put_bytes(msgbuf + pos, key, (uint32_t)strlen(key));
		pos += put_bytes(msgbuf + pos, "v", 1);
	}
	return pos;
}

/* Ops 9 and 11: a range answer of the pending range's start + each NUL-separated piece. */
static size_t build_range_answer(const uint8_t *chunk, size_t len, int sealed, int other_key)
{
	size_t pos = 4, start = 0, i;
	uint32_t n = 0;

	for (i = 0; i <= len && pos < sizeof(msgbuf) - 2 * FOC_MAX_KEY - 128; i++) {
		uint8_t key[FOC_MAX_KEY + 1], aad[12 + FOC_MAX_KEY + 1], nonce[FOC_GCM_NONCE_SIZE] = { 2 };
		size_t piece = i - start, key_len;

		if (i < len && chunk[i] != 0)
			continue;
		if (piece > 64)
			piece = 64;
		key_len = pending_key_len + piece > FOC_MAX_KEY ? FOC_MAX_KEY : pending_key_len + piece;
		memcpy(key, pending_key, pending_key_len);
		memcpy(key + pending_key_len, chunk + start, key_len - pending_key_len);
		pos += put_bytes(msgbuf + pos, key, (uint32_t)key_len);
		if (!sealed) {
			pos += put_bytes(msgbuf + pos, chunk + start, (uint32_t)piece);
		} else {
			memcpy(aad, "FOC/v1/state", 12);
			memcpy(aad + 12, key, key_len);
			put_u32(msgbuf + pos, (uint32_t)(4 + 4 + FOC_GCM_NONCE_SIZE + 4 + piece + FOC_GCM_TAG_SIZE));
			put_u32(msgbuf + pos + 4, FOC_CONF_STATE_MAGIC);
			pos += 8;
			pos += put_bytes(msgbuf + pos, nonce, sizeof(nonce));
			put_u32(msgbuf + pos, (uint32_t)(piece + FOC_GCM_TAG_SIZE));
			pos += 4;
			/* for another key: the associated data without the key's last byte */
			if (!foc_crypto_gcm_seal(state_key, nonce, aad, 12 + key_len - (other_key ? 1 : 0), chunk + start,
						 piece, msgbuf + pos))
				abort();
			pos += piece + FOC_GCM_TAG_SIZE;
		}
		n++;
		start = i + 1;
	}
	put_u32(msgbuf, n);
	return pos;
}

/* State answer carrying a stored_value of the chunk for the pending key (or another key). */
static size_t build_stored_answer(const uint8_t *chunk, size_t len)
{
	uint8_t aad[12 + FOC_MAX_KEY + 1], nonce[FOC_GCM_NONCE_SIZE] = { 1 };
	uint8_t flags = len ? chunk[0] : 0;
	size_t value_len = len ? len - 1 : 0, pos = 5, aad_len = 12 + pending_key_len;

	memcpy(aad, "FOC/v1/state", 12);
	memcpy(aad + 12, pending_key, pending_key_len);
	if (flags & 2)
		aad[aad_len++] = 'x';
	msgbuf[0] = flags & 1;
	if (!(flags & 1)) {
		put_u32(msgbuf + 1, 0);
		return 5;
	}
	put_u32(msgbuf + pos, FOC_CONF_STATE_MAGIC);
	pos += 4;
	pos += put_bytes(msgbuf + pos, nonce, sizeof(nonce));
	put_u32(msgbuf + pos, (uint32_t)(value_len + FOC_GCM_TAG_SIZE));
	pos += 4;
	if (!foc_crypto_gcm_seal(state_key, nonce, aad, aad_len, len ? chunk + 1 : msgbuf, value_len, msgbuf + pos))
		abort();
	pos += value_len + FOC_GCM_TAG_SIZE;
	put_u32(msgbuf + 1, (uint32_t)(pos - 5));
	return pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct foc_native_session *s = foc_native_open();
	size_t pos = 0, cap = sizeof(out);

	if (!s)
		return 0;
	if (!have_enclave)
		setup_enclave(s);
	call(s, FOC_CMD_INVOKE, data, size, cap);
	while (pos + 3 <= size) {
		uint8_t op = data[pos];
		size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
		const uint8_t *chunk = data + pos + 3;

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		pos += len;
		switch (op % 12) {
		case 0:
			call(s, FOC_CMD_INVOKE, chunk, len, cap);
			break;
		case 1:
			call(s, FOC_CMD_RESUME, chunk, len, cap);
			break;
		case 2:
			call(s, FOC_CMD_ABORT, NULL, 0, cap);
			break;
		case 3:
			call(s, FOC_CMD_INVOKE, msgbuf, build_request(chunk, len), cap);
			break;
		case 4:
			msgbuf[0] = len ? (chunk[0] & 1) : 0;
			if (!msgbuf[0])
				len = 1;
			put_u32(msgbuf + 1, (uint32_t)(len - 1));
			if (len > 1)
				memcpy(msgbuf + 5, chunk + 1, len - 1);
			call(s, FOC_CMD_RESUME, msgbuf, 4 + len, cap);
			break;
		case 5:
			cap = len >= 2 ? ((size_t)chunk[0] | (size_t)chunk[1] << 8) : sizeof(out);
			break;
		case 6: {
			static const uint32_t raw_commands[] = { FOC_CMD_CONFIDENTIAL_INVOKE, FOC_CMD_ENCLAVE_CREATE,
								 FOC_CMD_ENCLAVE_JOIN, FOC_CMD_KEY_EXPORT,
								 FOC_CMD_KEY_IMPORT };

			call(s, raw_commands[len ? chunk[0] % 5 : 0], len ? chunk + 1 : chunk, len ? len - 1 : 0, cap);
			break;
		}
		case 7:
			if (have_enclave == 1)
				call(s, FOC_CMD_CONFIDENTIAL_INVOKE, msgbuf, build_confidential_request(chunk, len), cap);
			break;
		case 8:
			if (have_enclave == 1 && pending_key_len)
				call(s, FOC_CMD_RESUME, msgbuf, build_stored_answer(chunk, len), cap);
			break;
		case 9:
			if (pending_key_len)
				call(s, FOC_CMD_RESUME, msgbuf, build_range_answer(chunk, len, 0, 0), cap);
			break;
		case 10:
			call(s, FOC_CMD_INVOKE, msgbuf, build_request2(chunk, len), cap);
			break;
		default:
			if (have_enclave == 1 && pending_key_len)
				call(s, FOC_CMD_RESUME, msgbuf,
				     build_range_answer(len ? chunk + 1 : chunk, len ? len - 1 : 0, 1, len && (chunk[0] & 2)),
				     cap);
			break;
		}
	}
	foc_native_close(s);
	return 0;
}
