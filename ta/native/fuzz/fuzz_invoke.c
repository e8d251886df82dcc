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
 * Every output is checked to be a well-formed message of its type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <foc_ta.h>

#include "foc_codec.h"
#include "foc_native.h"

#define TEE_SUCCESS 0x00000000u
#define TEE_ERROR_SHORT_BUFFER 0xFFFF0010u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[FOC_MAX_OUTPUT];
/* op 3 turns a chunk of up to 65535 bytes into as many as 65536 arguments of 4 + n bytes */
static uint8_t msgbuf[8 + 5 * 65536];

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
		break;
	case FOC_MSG_ERROR:
		ok = foc_read_u32(&r, &n) == FOC_READ_OK && n >= FOC_ERR_BAD_REQUEST && n <= FOC_ERR_INCONSISTENT &&
		     foc_read_bytes(&r, FOC_MAX_PAYLOAD, &p, &n) == FOC_READ_OK;
		break;
	case FOC_MSG_RESPONSE:
		ok = foc_read_u32(&r, &n) == FOC_READ_OK && foc_read_bytes(&r, FOC_MAX_PAYLOAD, &p, &n) == FOC_READ_OK &&
		     foc_read_u32(&r, &count) == FOC_READ_OK && count <= FOC_MAX_READS;
		for (i = 0; ok && i < count; i++)
			ok = foc_read_bytes(&r, FOC_MAX_KEY, &p, &n) == FOC_READ_OK;
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

	if (cmd == FOC_CMD_INVOKE || cmd == FOC_CMD_RESUME)
		check_output(res, msg, len, cap);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct foc_native_session *s = foc_native_open();
	size_t pos = 0, cap = sizeof(out);

	if (!s)
		return 0;
	call(s, FOC_CMD_INVOKE, data, size, cap);
	while (pos + 3 <= size) {
		uint8_t op = data[pos];
		size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
		const uint8_t *chunk = data + pos + 3;

		pos += 3;
		if (len > size - pos)
			len = size - pos;
		pos += len;
		switch (op % 6) {
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
		default:
			cap = len >= 2 ? ((size_t)chunk[0] | (size_t)chunk[1] << 8) : sizeof(out);
			break;
		}
	}
	foc_native_close(s);
	return 0;
}
