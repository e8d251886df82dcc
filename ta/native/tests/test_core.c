/* SPDX-License-Identifier: Apache-2.0 */
/*
 * C unit tests of the trusted core, the coffee chaincode and the native instance.
 * Plain checks; prints "N passed, M failed" and exits non-zero on any failure.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <foc_ta.h>

#include "foc_codec.h"
#include "foc_commands.h"
#include "foc_core.h"
#include "foc_native.h"
#include "platform_test.h"

#define TEE_SUCCESS 0x00000000u
#define TEE_ERROR_BAD_PARAMETERS 0xFFFF0006u
#define TEE_ERROR_NOT_SUPPORTED 0xFFFF000Au
#define TEE_ERROR_SHORT_BUFFER 0xFFFF0010u
#define TEE_ERROR_TARGET_DEAD 0xFFFF3024u

static int passed, failed;

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (cond) {                                                                  \
			passed++;                                                            \
		} else {                                                                     \
			failed++;                                                            \
			fprintf(stderr, "%s:%d: %s: CHECK(%s) failed\n", __FILE__, __LINE__, \
				__func__, #cond);                                            \
		}                                                                            \
	} while (0)

/* ------------------------------------------------------------------ encoding helpers */

struct buf {
	uint8_t data[FOC_MAX_REQUEST + 4096];
	size_t len;
};

static struct buf req, answer;

static void put_u32(struct buf *b, uint32_t v)
{
	b->data[b->len++] = (uint8_t)v;
	b->data[b->len++] = (uint8_t)(v >> 8);
	b->data[b->len++] = (uint8_t)(v >> 16);
	b->data[b->len++] = (uint8_t)(v >> 24);
}

static void put_bytes(struct buf *b, const void *p, uint32_t n)
{
	put_u32(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
}

/* Request from NUL-terminated strings, ending with NULL. */
static void request(const char *function, ...)
{
	const char *args[FOC_MAX_ARGS + 8];
	uint32_t n = 0, i;
	va_list ap;

	args[n++] = function;
	va_start(ap, function);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
		args[n++] = a;
	va_end(ap);
	req.len = 0;
	put_u32(&req, FOC_REQ_MAGIC);
	put_u32(&req, n);
	for (i = 0; i < n; i++)
		put_bytes(&req, args[i], (uint32_t)strlen(args[i]));
}

static void state_answer(int found, const void *value, uint32_t len)
{
	answer.len = 0;
	answer.data[answer.len++] = (uint8_t)found;
	put_bytes(&answer, value, len);
}

/* ------------------------------------------------------------------ calling the instance */

static uint8_t out[FOC_MAX_OUTPUT];
static size_t out_len;
static uint32_t msg;

static uint32_t call(struct foc_native_session *s, uint32_t cmd, const uint8_t *in, size_t in_len)
{
	out_len = sizeof(out);
	msg = 0xdead;
	return foc_native_invoke(s, cmd, in, in_len, out, &out_len, &msg);
}

/* Decoded outputs of the last call. */
static uint32_t err_code;
static char err_text[FOC_MAX_PAYLOAD + 1];
static char payload[FOC_MAX_PAYLOAD + 1];
static uint32_t payload_len, resp_status, nreads, nwrites;
static char reads_text[8192], writes_text[FOC_MAX_OUTPUT], ranges_text[8192];
static char need_key[FOC_MAX_KEY + 1], need_end[FOC_MAX_KEY + 1];
static uint32_t need_key_len, need_end_len, nranges;

static void copy_str(char *dst, const uint8_t *src, uint32_t n)
{
	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

/* Bytes as text for the checks: NUL as '|', 0x01 as '^', bytes above 0x7f as '~'; then `suffix`. */
static size_t printable(char *dst, size_t cap, const uint8_t *p, uint32_t n, const char *suffix)
{
	size_t used = 0;
	uint32_t i;

	for (i = 0; i < n && used + 1 < cap; i++)
		dst[used++] = p[i] == 0 ? '|' : p[i] == 1 ? '^' : p[i] > 0x7f ? '~' : (char)p[i];
	used += (size_t)snprintf(dst + used, cap - used, "%s", suffix);
	return used < cap ? used : cap - 1;
}

/* Decode `out` per msg; returns false if the TA produced a malformed message. */
static bool decode_output(void)
{
	struct foc_reader r;
	const uint8_t *p;
	uint32_t n, i;
	uint8_t del;

	foc_reader_init(&r, out, out_len);
	if (msg == FOC_MSG_ERROR) {
		if (foc_read_u32(&r, &err_code) || foc_read_bytes(&r, FOC_MAX_PAYLOAD, &p, &n))
			return false;
		copy_str(err_text, p, n);
	} else if (msg == FOC_MSG_GET_STATE) {
		if (foc_read_bytes(&r, FOC_MAX_KEY, &p, &need_key_len))
			return false;
		copy_str(need_key, p, need_key_len);
	} else if (msg == FOC_MSG_GET_STATE_BY_RANGE) {
		if (foc_read_bytes(&r, FOC_MAX_KEY, &p, &need_key_len) || !need_key_len)
			return false;
		copy_str(need_key, p, need_key_len);
		if (foc_read_bytes(&r, FOC_MAX_KEY, &p, &need_end_len))
			return false;
		copy_str(need_end, p, need_end_len);
	} else if (msg == FOC_MSG_RESPONSE) {
		size_t used = 0;

		if (foc_read_u32(&r, &resp_status) || foc_read_bytes(&r, FOC_MAX_PAYLOAD, &p, &payload_len))
			return false;
		copy_str(payload, p, payload_len);
		if (foc_read_u32(&r, &nreads))
			return false;
		reads_text[0] = 0;
		for (i = 0; i < nreads; i++) {
			if (foc_read_bytes(&r, FOC_MAX_KEY, &p, &n))
				return false;
			used += (size_t)snprintf(reads_text + used, sizeof(reads_text) - used, "%.*s;", (int)n,
						 (const char *)p);
		}
		if (foc_read_u32(&r, &nranges) || nranges > FOC_MAX_RANGES)
			return false;
		used = 0;
		ranges_text[0] = 0;
		for (i = 0; i < 2 * nranges; i++) { /* "start..end;" with printable() */
			if (foc_read_bytes(&r, FOC_MAX_KEY, &p, &n))
				return false;
			used += printable(ranges_text + used, sizeof(ranges_text) - used, p, n, i % 2 ? ";" : "..");
		}
		if (foc_read_u32(&r, &nwrites))
			return false;
		used = 0;
		writes_text[0] = 0;
		for (i = 0; i < nwrites; i++) {
			const uint8_t *k;
			uint32_t kn;

			if (foc_read_bytes(&r, FOC_MAX_KEY, &k, &kn) || foc_read_u8(&r, &del) ||
			    foc_read_bytes(&r, FOC_MAX_VALUE, &p, &n) || del > 1 || (del && n))
				return false;
			if (n > 64)
				n = 64; /* keep the text short for big values */
			used += (size_t)snprintf(writes_text + used, sizeof(writes_text) - used, "%.*s%s%.*s;",
						 (int)kn, (const char *)k, del ? "!" : "=", (int)n, (const char *)p);
		}
	} else {
		return false;
	}
	return foc_reader_at_end(&r);
}

/* A tiny ledger to answer GET_STATE and apply write sets. */
#define LEDGER_SIZE 256
struct entry {
	uint8_t key[FOC_MAX_KEY];
	uint32_t key_len;
	uint8_t *value;
	uint32_t len;
	bool used;
};
static struct entry ledger[LEDGER_SIZE];
static int round_trips;

static struct entry *ledger_find_n(const void *key, uint32_t key_len)
{
	int i;

	for (i = 0; i < LEDGER_SIZE; i++)
		if (ledger[i].used && ledger[i].key_len == key_len && memcmp(ledger[i].key, key, key_len) == 0)
			return &ledger[i];
	return NULL;
}

static struct entry *ledger_find(const char *key)
{
	return ledger_find_n(key, (uint32_t)strlen(key));
}

static void ledger_put_n(const void *key, uint32_t key_len, const void *value, uint32_t len)
{
	struct entry *e = ledger_find_n(key, key_len);
	int i;

	for (i = 0; !e && i < LEDGER_SIZE; i++)
		if (!ledger[i].used)
			e = &ledger[i];
	free(e->value);
	memcpy(e->key, key, key_len);
	e->key_len = key_len;
	e->value = malloc(len ? len : 1);
	memcpy(e->value, value, len);
	e->len = len;
	e->used = true;
}

static void ledger_put(const char *key, const void *value, uint32_t len)
{
	ledger_put_n(key, (uint32_t)strlen(key), value, len);
}

static int compare_bytes(const uint8_t *a, uint32_t an, const uint8_t *b, uint32_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c ? c : (an > bn) - (an < bn);
}

/* The range answer for [start, end) from the ledger: u32 n { bytes key bytes value }, ascending. */
static void range_answer(const uint8_t *start, uint32_t start_len, const uint8_t *end, uint32_t end_len)
{
	struct entry *picked[LEDGER_SIZE];
	int n = 0, i, k;

	for (i = 0; i < LEDGER_SIZE; i++) {
		struct entry *e = &ledger[i];

		if (!e->used || compare_bytes(e->key, e->key_len, start, start_len) < 0 ||
		    (end_len && compare_bytes(e->key, e->key_len, end, end_len) >= 0))
			continue;
		for (k = n++; k > 0 && compare_bytes(picked[k - 1]->key, picked[k - 1]->key_len, e->key, e->key_len) > 0;
		     k--)
			picked[k] = picked[k - 1];
		picked[k] = e;
	}
	answer.len = 0;
	put_u32(&answer, (uint32_t)n);
	for (i = 0; i < n; i++) {
		put_bytes(&answer, picked[i]->key, picked[i]->key_len);
		put_bytes(&answer, picked[i]->value, picked[i]->len);
	}
}

static void ledger_clear(void)
{
	int i;

	for (i = 0; i < LEDGER_SIZE; i++) {
		free(ledger[i].value);
		memset(&ledger[i], 0, sizeof(ledger[i]));
	}
}

static void apply_writes(void)
{
	struct foc_reader r;
	const uint8_t *p;
	uint32_t n, i, skip;
	uint8_t del;

	foc_reader_init(&r, out, out_len);
	foc_read_u32(&r, &skip);
	foc_read_bytes(&r, FOC_MAX_PAYLOAD, &p, &n);
	foc_read_u32(&r, &n);
	for (i = 0; i < n; i++)
		foc_read_bytes(&r, FOC_MAX_KEY, &p, &skip);
	foc_read_u32(&r, &n); /* ranges */
	for (i = 0; i < 2 * n; i++)
		foc_read_bytes(&r, FOC_MAX_KEY, &p, &skip);
	foc_read_u32(&r, &n);
	for (i = 0; i < n; i++) {
		const uint8_t *k, *v;
		uint32_t kn, vn;

		foc_read_bytes(&r, FOC_MAX_KEY, &k, &kn);
		foc_read_u8(&r, &del);
		foc_read_bytes(&r, FOC_MAX_VALUE, &v, &vn);
		if (del) {
			struct entry *e = ledger_find_n(k, kn);

			if (e) {
				free(e->value);
				memset(e, 0, sizeof(*e));
			}
		} else {
			ledger_put_n(k, kn, v, vn);
		}
	}
}

/* Run the current request to completion against the ledger; returns the final msg type. */
static uint32_t run(struct foc_native_session *s)
{
	uint32_t res = call(s, FOC_CMD_INVOKE, req.data, req.len);

	round_trips = 0;
	while (res == TEE_SUCCESS && (msg == FOC_MSG_GET_STATE || msg == FOC_MSG_GET_STATE_BY_RANGE) &&
	       round_trips < 1000) {
		struct entry *e;

		if (!decode_output())
			return 0xbad;
		if (msg == FOC_MSG_GET_STATE_BY_RANGE) {
			range_answer((const uint8_t *)need_key, need_key_len, (const uint8_t *)need_end, need_end_len);
		} else {
			e = ledger_find_n(need_key, need_key_len);
			state_answer(e != NULL, e ? e->value : NULL, e ? e->len : 0);
		}
		round_trips++;
		res = call(s, FOC_CMD_RESUME, answer.data, answer.len);
	}
	if (res != TEE_SUCCESS || !decode_output())
		return 0xbad;
	if (msg == FOC_MSG_RESPONSE)
		apply_writes();
	return msg;
}

static bool is_error(struct foc_native_session *s, uint32_t code, const char *text_part)
{
	uint32_t m = run(s);
	bool ok = m == FOC_MSG_ERROR && err_code == code && (!text_part || strstr(err_text, text_part));

	if (!ok)
		fprintf(stderr, "  expected error %u (%s), got msg %u code %u \"%s\"\n", code,
			text_part ? text_part : "", m, err_code, err_text);
	return ok;
}

static bool is_ok(struct foc_native_session *s, const char *expected_payload)
{
	uint32_t m = run(s);
	bool ok = m == FOC_MSG_RESPONSE && resp_status == FOC_RESPONSE_OK &&
		  (!expected_payload || strcmp(payload, expected_payload) == 0);

	if (!ok)
		fprintf(stderr, "  expected response \"%s\", got msg %u code %u \"%s\" payload \"%s\"\n",
			expected_payload ? expected_payload : "", m, err_code, err_text, payload);
	return ok;
}

/* ------------------------------------------------------------------ tests: codec */

static void test_reader(void)
{
	static const uint8_t data[] = { 7, 1, 0, 0, 0, 2, 0, 0, 0, 'h', 'i', 9 };
	struct foc_reader r;
	const uint8_t *p;
	uint32_t v, n;
	uint8_t b;

	foc_reader_init(&r, data, sizeof(data));
	CHECK(foc_read_u8(&r, &b) == FOC_READ_OK && b == 7);
	CHECK(foc_read_u32(&r, &v) == FOC_READ_OK && v == 1);
	CHECK(foc_read_bytes(&r, 1, &p, &n) == FOC_READ_TOO_LONG && n == 2);
	foc_reader_init(&r, data + 5, sizeof(data) - 5);
	CHECK(foc_read_bytes(&r, 2, &p, &n) == FOC_READ_OK && n == 2 && p[0] == 'h');
	CHECK(!foc_reader_at_end(&r));
	CHECK(foc_read_u32(&r, &v) == FOC_READ_TRUNCATED);
	CHECK(foc_read_u8(&r, &b) == FOC_READ_OK && b == 9);
	CHECK(foc_reader_at_end(&r));
	CHECK(foc_read_u8(&r, &b) == FOC_READ_TRUNCATED);

	/* a declared length beyond the buffer is truncation, even with a huge max */
	foc_reader_init(&r, data + 5, 5);
	CHECK(foc_read_bytes(&r, UINT32_MAX, &p, &n) == FOC_READ_TRUNCATED && n == 2);
	{
		static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 'x' };

		foc_reader_init(&r, huge, sizeof(huge));
		CHECK(foc_read_bytes(&r, UINT32_MAX, &p, &n) == FOC_READ_TRUNCATED && p == NULL);
	}
	foc_reader_init(&r, NULL, 100);
	CHECK(foc_reader_at_end(&r) && foc_read_u8(&r, &b) == FOC_READ_TRUNCATED);
}

static void test_writer(void)
{
	uint8_t buf[8];
	struct foc_writer w;

	memset(buf, 0xaa, sizeof(buf));
	foc_writer_init(&w, buf, 6);
	foc_write_u32(&w, 0x04030201);
	foc_write_u8(&w, 5);
	CHECK(foc_writer_fits(&w) && w.len == 5 && buf[0] == 1 && buf[3] == 4 && buf[4] == 5);
	foc_write_bytes(&w, (const uint8_t *)"abc", 3);
	CHECK(!foc_writer_fits(&w) && w.len == 12);
	CHECK(buf[5] == 0xaa && buf[6] == 0xaa); /* nothing written past a failed item or the capacity */
	foc_write_u8(&w, 1);
	CHECK(w.len == 13 && buf[5] == 0xaa);
	foc_writer_init(&w, NULL, 100);
	foc_write_u8(&w, 1);
	CHECK(!foc_writer_fits(&w) && w.len == 1);
}

/* ------------------------------------------------------------------ tests: requests */

static void test_request_decoding(struct foc_native_session *s)
{
	static char longstr[FOC_MAX_VALUE + 2];
	uint32_t i;

	req.len = 0;
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "header"));
	put_u32(&req, FOC_REQ_MAGIC);
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "header"));

	request("query", "peter", NULL);
	req.data[0] ^= 1;
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "FOC_REQ_MAGIC"));

	req.len = 0;
	put_u32(&req, FOC_REQ_MAGIC);
	put_u32(&req, 0);
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "no function"));

	request("query", "peter", NULL);
	req.data[req.len++] = 0;
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "trailing"));

	request("query", "peter", NULL);
	req.len -= 1;
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "inside an argument"));

	request("query", "peter", NULL);
	req.data[4] = 3; /* nargs says 3, only 2 present */
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "inside an argument"));

	/* argument count at and beyond FOC_MAX_ARGS */
	req.len = 0;
	put_u32(&req, FOC_REQ_MAGIC);
	put_u32(&req, FOC_MAX_ARGS);
	put_bytes(&req, "script", 6);
	for (i = 1; i < FOC_MAX_ARGS; i++)
		put_bytes(&req, "g:a", 3);
	CHECK(is_ok(s, "a=-;a=-;a=-;a=-;a=-;a=-;a=-;a=-;a=-;a=-;a=-;a=-;a=-;a=-;a=-;"));
	CHECK(round_trips == 1 && nreads == 1);
	req.len = 0;
	put_u32(&req, FOC_REQ_MAGIC);
	put_u32(&req, FOC_MAX_ARGS + 1);
	for (i = 0; i < FOC_MAX_ARGS + 1; i++)
		put_bytes(&req, "x", 1);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_ARGS"));
	req.len = 0;
	put_u32(&req, FOC_REQ_MAGIC);
	put_u32(&req, UINT32_MAX);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_ARGS"));

	/* function name at and beyond FOC_MAX_FUNCTION */
	memset(longstr, 'f', sizeof(longstr));
	longstr[FOC_MAX_FUNCTION] = 0;
	request(longstr, NULL);
	CHECK(is_error(s, FOC_ERR_UNKNOWN_FUNCTION, "create, add, query"));
	longstr[FOC_MAX_FUNCTION] = 'f';
	longstr[FOC_MAX_FUNCTION + 1] = 0;
	request(longstr, NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_FUNCTION"));

	/* argument at and beyond FOC_MAX_VALUE */
	memset(longstr, 'a', sizeof(longstr));
	longstr[FOC_MAX_VALUE] = 0;
	request("nosuch", longstr, NULL);
	CHECK(is_error(s, FOC_ERR_UNKNOWN_FUNCTION, NULL));
	longstr[FOC_MAX_VALUE] = 'a';
	longstr[FOC_MAX_VALUE + 1] = 0;
	request("nosuch", longstr, NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_VALUE"));

	/* whole request at and beyond FOC_MAX_REQUEST */
	longstr[FOC_MAX_VALUE] = 0;
	request("nosuch", longstr, NULL);
	{
		uint32_t fill = (uint32_t)(FOC_MAX_REQUEST - req.len - 4);

		longstr[fill] = 0;
		req.data[4] = 3;
		put_bytes(&req, longstr, fill);
		CHECK(req.len == FOC_MAX_REQUEST);
		CHECK(is_error(s, FOC_ERR_UNKNOWN_FUNCTION, NULL));
		/* one byte more: refused on its length before anything is decoded */
		request("nosuch", NULL);
		req.len = FOC_MAX_REQUEST + 1;
		CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_REQUEST"));
	}

	/* function names match exactly */
	request("creat", NULL);
	CHECK(is_error(s, FOC_ERR_UNKNOWN_FUNCTION, NULL));
	request("", NULL);
	CHECK(is_error(s, FOC_ERR_UNKNOWN_FUNCTION, NULL));
	req.len = 0;
	put_u32(&req, FOC_REQ_MAGIC);
	put_u32(&req, 1);
	put_bytes(&req, "query\0", 6);
	CHECK(is_error(s, FOC_ERR_UNKNOWN_FUNCTION, NULL));
}

/* ------------------------------------------------------------------ tests: RESUME and answers */

static void start_query(struct foc_native_session *s, const char *person)
{
	request("query", person, NULL);
	CHECK(call(s, FOC_CMD_INVOKE, req.data, req.len) == TEE_SUCCESS && msg == FOC_MSG_GET_STATE);
}

static void test_resume(struct foc_native_session *s)
{
	static uint8_t big_value[FOC_MAX_VALUE + 1];

	ledger_clear();
	/* RESUME with nothing in flight */
	state_answer(0, "", 0);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && msg == FOC_MSG_ERROR);
	CHECK(decode_output() && err_code == FOC_ERR_SEQUENCE);

	/* GET_STATE names the key */
	start_query(s, "peter");
	CHECK(decode_output() && strcmp(need_key, "peter") == 0);

	/* malformed answers end the invocation */
	answer.len = 0;
	CHECK(call(s, FOC_CMD_RESUME, answer.data, 0) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_BAD_REQUEST);
	state_answer(0, "", 0);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_SEQUENCE);

	start_query(s, "peter");
	state_answer(2, "", 0);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_BAD_REQUEST && strstr(err_text, "0 or 1"));

	start_query(s, "peter");
	state_answer(0, "5", 1);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_INCONSISTENT);

	start_query(s, "peter");
	state_answer(1, "5", 1);
	answer.data[answer.len++] = 0;
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_BAD_REQUEST && strstr(err_text, "trailing"));

	start_query(s, "peter");
	state_answer(1, "5", 1);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len - 1) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_BAD_REQUEST);

	start_query(s, "peter");
	CHECK(call(s, FOC_CMD_RESUME, answer.data, 3) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_BAD_REQUEST);

	/* value at and beyond FOC_MAX_VALUE */
	memset(big_value, '1', sizeof(big_value));
	start_query(s, "peter");
	state_answer(1, big_value, FOC_MAX_VALUE + 1);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_LIMIT && strstr(err_text, "FOC_MAX_VALUE"));
	start_query(s, "peter");
	state_answer(1, big_value, FOC_MAX_VALUE);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_OVERFLOW); /* 65536 digits: a valid size, but not a u64 */

	/* ABORT drops the in-flight invocation */
	start_query(s, "peter");
	CHECK(call(s, FOC_CMD_ABORT, NULL, 0) == TEE_SUCCESS);
	state_answer(0, "", 0);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_SEQUENCE);

	/* a new INVOKE replaces an in-flight one */
	start_query(s, "peter");
	start_query(s, "anna");
	CHECK(decode_output() && strcmp(need_key, "anna") == 0);
	state_answer(1, "3", 1);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      msg == FOC_MSG_RESPONSE && strcmp(payload, "person: anna, number of consumed coffees: 3") == 0);
}

/* ------------------------------------------------------------------ tests: coffee */

static void test_coffee(struct foc_native_session *s)
{
	ledger_clear();
	request("query", "peter", NULL);
	CHECK(is_error(s, FOC_ERR_NOT_FOUND, "not found"));
	CHECK(round_trips == 1);

	request("create", "peter", "0", NULL);
	CHECK(is_ok(s, "OK"));
	CHECK(round_trips == 1 && nreads == 1 && strcmp(reads_text, "peter;") == 0);
	CHECK(nwrites == 1 && strcmp(writes_text, "peter=0;") == 0);

	request("create", "peter", "4", NULL);
	CHECK(is_error(s, FOC_ERR_EXISTS, "exists"));
	CHECK(memcmp(ledger_find("peter")->value, "0", 1) == 0);

	request("add", "peter", "5", NULL);
	CHECK(is_ok(s, "OK"));
	CHECK(strcmp(writes_text, "peter=5;") == 0);
	request("add", "peter", "37", NULL);
	CHECK(is_ok(s, "OK"));
	request("query", "peter", NULL);
	CHECK(is_ok(s, "person: peter, number of consumed coffees: 42"));
	CHECK(nwrites == 0 && nreads == 1);

	request("add", "nobody", "1", NULL);
	CHECK(is_error(s, FOC_ERR_NOT_FOUND, "not found"));

	/* counts: strict decimal */
	request("create", "c", "", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "empty"));
	request("create", "c", "-1", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "decimal"));
	request("create", "c", "+1", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "decimal"));
	request("create", "c", " 1", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, NULL));
	request("create", "c", "1a", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, NULL));
	request("create", "c", "0x10", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, NULL));
	CHECK(round_trips == 0); /* bad input fails before any ledger access */
	request("create", "c", "18446744073709551616", NULL);
	CHECK(is_error(s, FOC_ERR_OVERFLOW, NULL));
	request("create", "c", "99999999999999999999", NULL);
	CHECK(is_error(s, FOC_ERR_OVERFLOW, NULL));
	request("create", "c", "000000000000000000001", NULL);
	CHECK(is_error(s, FOC_ERR_OVERFLOW, "20 digits"));
	request("create", "c", "00000000000000000007", NULL);
	CHECK(is_ok(s, "OK") && strcmp(writes_text, "c=7;") == 0);
	request("create", "max", "18446744073709551615", NULL);
	CHECK(is_ok(s, "OK"));
	request("add", "max", "0", NULL);
	CHECK(is_ok(s, "OK"));
	request("add", "max", "1", NULL);
	CHECK(is_error(s, FOC_ERR_OVERFLOW, NULL));
	request("create", "near", "18446744073709551614", NULL);
	CHECK(is_ok(s, "OK"));
	request("add", "near", "2", NULL);
	CHECK(is_error(s, FOC_ERR_OVERFLOW, NULL));
	request("add", "near", "1", NULL);
	CHECK(is_ok(s, "OK"));
	request("query", "near", NULL);
	CHECK(is_ok(s, "person: near, number of consumed coffees: 18446744073709551615"));

	/* argument counts */
	request("create", "peter", NULL);
	CHECK(is_error(s, FOC_ERR_ARG_COUNT, "expected 2 arguments (person, count), got 1"));
	request("create", "a", "1", "2", NULL);
	CHECK(is_error(s, FOC_ERR_ARG_COUNT, "got 3"));
	request("add", NULL);
	CHECK(is_error(s, FOC_ERR_ARG_COUNT, "got 0"));
	request("query", NULL);
	CHECK(is_error(s, FOC_ERR_ARG_COUNT, "expected 1 argument (person), got 0"));
	request("query", "a", "b", NULL);
	CHECK(is_error(s, FOC_ERR_ARG_COUNT, NULL));

	/* person keys */
	request("create", "", "1", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "empty"));
	{
		char key[FOC_MAX_KEY + 2];
		char expect[FOC_MAX_KEY + 64];

		memset(key, 'k', sizeof(key));
		key[FOC_MAX_KEY] = 0;
		request("create", key, "3", NULL);
		CHECK(is_ok(s, "OK"));
		request("query", key, NULL);
		snprintf(expect, sizeof(expect), "person: %s, number of consumed coffees: 3", key);
		CHECK(is_ok(s, expect));
		key[FOC_MAX_KEY] = 'k';
		key[FOC_MAX_KEY + 1] = 0;
		request("create", key, "3", NULL);
		CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_KEY"));
	}
	req.len = 0;
	put_u32(&req, FOC_REQ_MAGIC);
	put_u32(&req, 2);
	put_bytes(&req, "query", 5);
	put_bytes(&req, "a\0b", 3);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "NUL"));

	/* keys are UTF-8 text, as on Fabric: multi-byte keys pass, malformed sequences do not */
	request("create", "caf\xc3\xa9 \xe2\x98\x95 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf", "1", NULL);
	CHECK(is_ok(s, "OK"));
	{
		static const char *const bad[] = {
			"\xff\xfe",         /* not UTF-8 at all */
			"\xc0\x80",         /* overlong NUL */
			"\xe0\x80\xaf",     /* overlong '/' */
			"\xed\xa0\x80",     /* a surrogate */
			"\xf4\x90\x80\x80", /* above U+10FFFF */
			"ok\xe2\x82",       /* truncated */
			"\x80",             /* a lone continuation byte */
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			request("create", bad[i], "1", NULL);
			CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "UTF-8"));
		}
	}

	/* stored values: FOC treats "" as missing; garbage is inconsistent */
	ledger_put("empty", "", 0);
	request("create", "empty", "2", NULL);
	CHECK(is_ok(s, "OK"));
	ledger_put("junk", "12x", 3);
	request("query", "junk", NULL);
	CHECK(is_error(s, FOC_ERR_INCONSISTENT, "stored count"));
	request("add", "junk", "1", NULL);
	CHECK(is_error(s, FOC_ERR_INCONSISTENT, NULL));
	ledger_put("huge", "18446744073709551616", 20);
	request("query", "huge", NULL);
	CHECK(is_error(s, FOC_ERR_OVERFLOW, "stored count"));
}

/* ------------------------------------------------------------------ tests: stub semantics */

static void test_stub(struct foc_native_session *s)
{
	char op[64];
	int i;

	ledger_clear();
	ledger_put("a", "1", 1);
	ledger_put("b", "2", 1);

	/* repeated reads cost one round trip; read set in first-read order */
	request("script", "g:b", "g:a", "g:b", "g:missing", "g:a", NULL);
	CHECK(is_ok(s, "b=2;a=1;b=2;missing=-;a=1;"));
	CHECK(round_trips == 3 && nreads == 3 && strcmp(reads_text, "b;a;missing;") == 0);

	/* read-your-writes, last write wins, deletes, write order = first write */
	request("script", "p:x=1", "g:x", "p:y=2", "p:x=3", "g:x", "d:y", "g:y", "g:a", NULL);
	CHECK(is_ok(s, "x=1;x=3;y=-;a=1;"));
	CHECK(round_trips == 1 && strcmp(reads_text, "a;") == 0);
	CHECK(strcmp(writes_text, "x=3;y!;") == 0);
	CHECK(ledger_find("x") && !ledger_find("y"));
	request("script", "d:a", "g:a", NULL);
	CHECK(is_ok(s, "a=-;") && round_trips == 0 && nreads == 0 && strcmp(writes_text, "a!;") == 0);
	request("script", "p:e=", NULL);
	CHECK(is_ok(s, "") && strcmp(writes_text, "e=;") == 0);

	/* reads: FOC_MAX_READS distinct keys at and beyond the limit */
	for (i = 0; i < FOC_MAX_READS + 1; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		ledger_put(key, "v", 1);
	}
	snprintf(op, sizeof(op), "G:%d", FOC_MAX_READS);
	request("script", op, NULL);
	CHECK(is_ok(s, "") && round_trips == FOC_MAX_READS && nreads == FOC_MAX_READS);
	snprintf(op, sizeof(op), "G:%d", FOC_MAX_READS + 1);
	request("script", op, NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_READS"));

	/* cached bytes: FOC_MAX_CACHE_BYTES */
	{
		static uint8_t v[FOC_MAX_VALUE];

		memset(v, 'z', sizeof(v));
		ledger_put("k0", v, FOC_MAX_VALUE);
		ledger_put("k1", v, FOC_MAX_VALUE);
		ledger_put("k2", v, 0);
		request("script", "G:3", NULL);
		CHECK(is_ok(s, "")); /* exactly FOC_MAX_CACHE_BYTES */
		ledger_put("k2", v, 1);
		request("script", "G:3", NULL);
		CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_CACHE_BYTES"));
	}

	/* writes: FOC_MAX_WRITES and FOC_MAX_WRITE_BYTES */
	snprintf(op, sizeof(op), "P:%d:1", FOC_MAX_WRITES);
	request("script", op, NULL);
	CHECK(is_ok(s, "") && nwrites == FOC_MAX_WRITES);
	snprintf(op, sizeof(op), "P:%d:1", FOC_MAX_WRITES + 1);
	request("script", op, NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_WRITES"));
	/* 2 keys "w0","w1" (2 bytes each) + values: exactly 131072 */
	request("script", "P:2:65534", NULL);
	CHECK(is_ok(s, "") && nwrites == 2);
	request("script", "P:2:65535", NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_WRITE_BYTES"));
	snprintf(op, sizeof(op), "P:1:%d", FOC_MAX_VALUE + 1);
	request("script", op, NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_VALUE"));
	/* overwriting a key counts its value once */
	request("script", "P:2:65534", "P:2:65534", NULL);
	CHECK(is_ok(s, "") && nwrites == 2);

	/* payload: FOC_MAX_PAYLOAD */
	snprintf(op, sizeof(op), "S:%d", FOC_MAX_PAYLOAD);
	request("script", op, NULL);
	CHECK(is_ok(s, NULL) && payload_len == FOC_MAX_PAYLOAD);
	snprintf(op, sizeof(op), "S:%d", FOC_MAX_PAYLOAD + 1);
	request("script", op, NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_PAYLOAD"));

	/* keys checked by the stub */
	request("script", "e", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "empty"));
	request("script", "0", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "NUL"));

	/* statuses: scripted error with message, default message, invalid statuses */
	request("script", "E:6", NULL);
	CHECK(is_error(s, FOC_ERR_EXISTS, "scripted"));
	request("script", "X", NULL);
	CHECK(is_error(s, FOC_ERR_INTERNAL, "invalid status"));
	request("script", "N", NULL);
	CHECK(is_error(s, FOC_ERR_INTERNAL, "invalid status"));
	request("script", "E:0", NULL);
	CHECK(is_ok(s, NULL));

	request("script", "R:7", NULL);
	CHECK(is_error(s, FOC_ERR_NOT_FOUND, "not found"));
	request("script", "M:6", "R:4", NULL); /* message belongs to another code: default text */
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "bad argument"));
	request("script", "R:14", NULL); /* past FOC_ERR_DENIED, the last code */
	CHECK(is_error(s, FOC_ERR_INTERNAL, "invalid status"));
	request("script", "L", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "mmmm") && strlen(err_text) == FOC_MAX_ERROR_MESSAGE - 1);
	request("script", "f", NULL);
	CHECK(is_ok(s, "script;"));
	request("script", "Y", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "empty"));

	/* a chaincode cannot swallow a missing read or a limit */
	request("script", "Z:unknown-key", NULL);
	CHECK(is_ok(s, "ignored") && round_trips == 1);
	request("script", "p:k=v", "p:k2=", "g:k", "e", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, NULL));
}

/* ------------------------------------------------------------------ tests: native instance */

static void test_native_params(void)
{
	struct foc_native_session *s = foc_native_open();
	size_t n = 10;
	uint32_t m = 0;

	CHECK(s != NULL);
	request("query", "p", NULL);
	CHECK(foc_native_invoke(NULL, FOC_CMD_INVOKE, req.data, req.len, out, &n, &m) == TEE_ERROR_BAD_PARAMETERS);
	CHECK(foc_native_invoke(s, FOC_CMD_INVOKE, req.data, req.len, out, NULL, &m) == TEE_ERROR_BAD_PARAMETERS);
	CHECK(foc_native_invoke(s, FOC_CMD_INVOKE, req.data, req.len, out, &n, NULL) == TEE_ERROR_BAD_PARAMETERS);
	CHECK(foc_native_invoke(s, FOC_CMD_INVOKE, NULL, 5, out, &n, &m) == TEE_ERROR_BAD_PARAMETERS);
	CHECK(foc_native_invoke(s, FOC_CMD_INVOKE, req.data, req.len, NULL, &n, &m) == TEE_ERROR_BAD_PARAMETERS);
	CHECK(foc_native_invoke(s, 42, NULL, 0, NULL, NULL, NULL) == TEE_ERROR_NOT_SUPPORTED);
	CHECK(foc_native_invoke(s, FOC_CMD_INFO, NULL, 0, NULL, NULL, NULL) == TEE_ERROR_BAD_PARAMETERS);
	n = 0;
	CHECK(foc_native_invoke(s, FOC_CMD_INFO, NULL, 0, NULL, &n, &m) == TEE_SUCCESS);
	CHECK(m == FOC_ABI_VERSION && n == FOC_MAX_OUTPUT);

	/* a NULL input is an empty request; a NULL output of size 0 asks for the size */
	n = 0;
	CHECK(foc_native_invoke(s, FOC_CMD_INVOKE, NULL, 0, NULL, &n, &m) == TEE_ERROR_SHORT_BUFFER && n > 8);
	CHECK(call(s, FOC_CMD_INVOKE, NULL, 0) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_BAD_REQUEST);
	foc_native_close(s);
	foc_native_close(NULL);
}

/* The command table both entries use: the ABI's parameter types as data, checked first. */
static void test_command_table(void)
{
	static const uint32_t ids[] = { FOC_CMD_INVOKE, FOC_CMD_RESUME, FOC_CMD_ABORT, FOC_CMD_INFO,
					FOC_CMD_ENCLAVE_CREATE, FOC_CMD_ENCLAVE_CREDENTIALS,
					FOC_CMD_CONFIDENTIAL_INVOKE, FOC_CMD_PANIC };
	const uint32_t message = FOC_PARAM_TYPES(FOC_PARAM_MEMREF_INPUT, FOC_PARAM_VALUE_OUTPUT, FOC_PARAM_MEMREF_OUTPUT,
						 FOC_PARAM_NONE);
	struct foc_session *cs = foc_session_new();
	union foc_param p[4];
	size_t i, slot, type, refused = 0;

	/* foc_ta.h's parameter layouts, as the table holds them */
	CHECK(foc_command_find(FOC_CMD_INVOKE)->param_types == message);
	CHECK(foc_command_find(FOC_CMD_RESUME)->param_types == message);
	CHECK(foc_command_find(FOC_CMD_ENCLAVE_CREATE)->param_types == message);
	CHECK(foc_command_find(FOC_CMD_CONFIDENTIAL_INVOKE)->param_types == message);
	CHECK(foc_command_find(FOC_CMD_ENCLAVE_CREDENTIALS)->param_types == (message & ~0xfu));
	CHECK(foc_command_find(FOC_CMD_INFO)->param_types ==
	      FOC_PARAM_TYPES(FOC_PARAM_VALUE_OUTPUT, FOC_PARAM_NONE, FOC_PARAM_NONE, FOC_PARAM_NONE));
	CHECK(foc_command_find(FOC_CMD_ABORT)->param_types == 0 && foc_command_find(FOC_CMD_PANIC)->param_types == 0);
	CHECK(foc_command_find(42) == NULL && foc_command_run(cs, 42, message, p) == TEE_ERROR_NOT_SUPPORTED);

	/* Any other type in any slot (GP types 0..7) is refused before a buffer is touched: the
	 * buffers here point nowhere and a read would crash. */
	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		uint32_t expected = foc_command_find(ids[i])->param_types;

		for (slot = 0; slot < 4; slot++) {
			for (type = 0; type < 8; type++) {
				uint32_t types = (expected & ~(0xfu << (4 * slot))) | (uint32_t)type << (4 * slot);

				if (types == expected)
					continue;
				for (size_t k = 0; k < 4; k++) {
					p[k].memref.buffer = (void *)(uintptr_t)16;
					p[k].memref.size = 1u << 20;
				}
				refused += foc_command_run(cs, ids[i], types, p) == TEE_ERROR_BAD_PARAMETERS;
			}
		}
	}
	CHECK(refused == 8 * 4 * 7);
	/* a memref without a buffer but with a size, in or out */
	request("query", "p", NULL);
	p[0].memref.buffer = NULL;
	p[0].memref.size = 5;
	p[2].memref.buffer = out;
	p[2].memref.size = sizeof(out);
	CHECK(foc_command_run(cs, FOC_CMD_INVOKE, message, p) == TEE_ERROR_BAD_PARAMETERS);
	p[0].memref.buffer = req.data;
	p[0].memref.size = req.len;
	p[2].memref.buffer = NULL;
	CHECK(foc_command_run(cs, FOC_CMD_INVOKE, message, p) == TEE_ERROR_BAD_PARAMETERS);
	/* the right types: a message in params[2], its type and size in params[1] */
	p[2].memref.buffer = out;
	CHECK(foc_command_run(cs, FOC_CMD_INVOKE, message, p) == TEE_SUCCESS && p[1].value.a == FOC_MSG_GET_STATE &&
	      p[1].value.b == 5 && p[2].memref.size == 5 && memcmp(out + 4, "p", 1) == 0);
	CHECK(foc_command_run(cs, FOC_CMD_ABORT, 0, p) == TEE_SUCCESS);
	p[2].memref.size = sizeof(out);
	CHECK(foc_command_run(cs, FOC_CMD_RESUME, message, p) == TEE_SUCCESS && p[1].value.a == FOC_MSG_ERROR);
	CHECK(foc_command_run(cs, FOC_CMD_INFO, FOC_PARAM_VALUE_OUTPUT, p) == TEE_SUCCESS &&
	      p[0].value.a == FOC_ABI_VERSION && p[0].value.b == FOC_MAX_OUTPUT);
	foc_session_free(cs);
}

static void test_short_buffer(void)
{
	struct foc_native_session *s = foc_native_open();
	uint8_t small[12];
	size_t n;
	uint32_t m;

	ledger_clear();
	ledger_put("peter", "41", 2);
	/* INVOKE: GET_STATE needs 4 + 5 bytes */
	request("add", "peter", "1", NULL);
	n = 4;
	CHECK(foc_native_invoke(s, FOC_CMD_INVOKE, req.data, req.len, small, &n, &m) == TEE_ERROR_SHORT_BUFFER);
	CHECK(n == 9);
	state_answer(1, "41", 2);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      err_code == FOC_ERR_SEQUENCE); /* nothing in flight after a short INVOKE */
	n = 9;
	CHECK(foc_native_invoke(s, FOC_CMD_INVOKE, req.data, req.len, small, &n, &m) == TEE_SUCCESS);
	CHECK(n == 9 && m == FOC_MSG_GET_STATE && memcmp(small + 4, "peter", 5) == 0);

	/* RESUME: the response does not fit; the answer is not consumed, a retry works */
	n = sizeof(small);
	CHECK(foc_native_invoke(s, FOC_CMD_RESUME, answer.data, answer.len, small, &n, &m) ==
	      TEE_ERROR_SHORT_BUFFER);
	CHECK(n > sizeof(small));
	{
		size_t needed = n;

		CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && out_len == needed);
		CHECK(decode_output() && msg == FOC_MSG_RESPONSE && strcmp(writes_text, "peter=42;") == 0);
		CHECK(nreads == 1);
	}
	/* an ERROR output that does not fit leaves the invocation in flight too */
	start_query(s, "peter");
	state_answer(0, "x", 1);
	n = 3;
	CHECK(foc_native_invoke(s, FOC_CMD_RESUME, answer.data, answer.len, small, &n, &m) ==
	      TEE_ERROR_SHORT_BUFFER);
	state_answer(1, "7", 1);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      strcmp(payload, "person: peter, number of consumed coffees: 7") == 0);
	foc_native_close(s);
}

static void test_panic(void)
{
	struct foc_native_session *a = foc_native_open(), *b = foc_native_open(), *c;

	request("query", "p", NULL);
	CHECK(call(a, FOC_CMD_INVOKE, req.data, req.len) == TEE_SUCCESS);
	CHECK(call(b, FOC_CMD_PANIC, NULL, 0) == TEE_ERROR_TARGET_DEAD);
	CHECK(call(a, FOC_CMD_INVOKE, req.data, req.len) == TEE_ERROR_TARGET_DEAD);
	CHECK(call(b, FOC_CMD_INFO, NULL, 0) == TEE_ERROR_TARGET_DEAD);
	CHECK(call(a, FOC_CMD_ABORT, NULL, 0) == TEE_ERROR_TARGET_DEAD);
	c = foc_native_open();
	CHECK(c != NULL);
	ledger_clear();
	request("create", "p", "1", NULL);
	CHECK(is_ok(c, "OK"));
	foc_native_close(a);
	foc_native_close(b);
	foc_native_close(c);
}

/* ------------------------------------------------------------------ tests: memory */

static void test_out_of_memory(void)
{
	struct foc_session *cs;
	long fail_at, base = foc_test_live_allocations;
	int outcomes_ok = 0, no_memory = 0, runs = 0;

	/* session creation */
	foc_test_fail_after = 0;
	CHECK(foc_session_new() == NULL);
	CHECK(foc_native_open() == NULL);
	foc_test_fail_after = 1;
	CHECK(foc_native_open() == NULL);
	foc_test_fail_after = -1;
	CHECK(foc_test_live_allocations == base);

	/* every allocation of a create/add/query flow fails once: clean error, no leak */
	for (fail_at = 0; fail_at < 40; fail_at++) {
		size_t n;
		uint32_t m;
		struct foc_reader r;
		uint32_t code;
		int step;
		const char *person = "peter";

		cs = foc_session_new();
		ledger_clear();
		ledger_put(person, "5", 1);
		foc_test_fail_after = fail_at;
		request("add", person, "1", NULL);
		runs++;
		for (step = 0; step < 2; step++) {
			uint32_t res;

			n = sizeof(out);
			if (step == 0) {
				res = foc_test_run(cs, FOC_CMD_INVOKE, req.data, req.len, out, &n, &m);
			} else {
				state_answer(1, "5", 1);
				res = foc_test_run(cs, FOC_CMD_RESUME, answer.data, answer.len, out, &n, &m);
			}
			CHECK(res == TEE_SUCCESS);
			if (m != FOC_MSG_GET_STATE)
				break;
		}
		if (m == FOC_MSG_RESPONSE) {
			outcomes_ok++;
		} else {
			foc_reader_init(&r, out, n);
			CHECK(m == FOC_MSG_ERROR && foc_read_u32(&r, &code) == FOC_READ_OK && code == FOC_ERR_NO_MEMORY);
			no_memory++;
		}
		foc_test_fail_after = -1;
		foc_session_free(cs);
		CHECK(foc_test_live_allocations == base);
	}
	CHECK(no_memory > 3 && outcomes_ok > 0);
	(void)runs;
}

/* ------------------------------------------------------------------ tests: threads */

struct worker {
	int id;
	int failures;
};

/* Each thread drives its own session with its own private ledger value. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct foc_native_session *s = foc_native_open();
	uint8_t *o = malloc(FOC_MAX_OUTPUT);
	uint8_t in[64];
	char count[24] = "0";
	int i;

	for (i = 0; i < 200 && s && o; i++) {
		size_t n = FOC_MAX_OUTPUT, len = 0;
		uint32_t m = 0, res;
		char person[16];

		snprintf(person, sizeof(person), "t%d", w->id);
		/* request: add(person, 1) */
		memcpy(in, "\x46\x4f\x43\x31\x03\x00\x00\x00\x03\x00\x00\x00" "add", 15);
		len = 15;
		in[len] = (uint8_t)strlen(person);
		memset(in + len + 1, 0, 3);
		memcpy(in + len + 4, person, strlen(person));
		len += 4 + strlen(person);
		memcpy(in + len, "\x01\x00\x00\x00" "1", 5);
		len += 5;
		res = foc_native_invoke(s, FOC_CMD_INVOKE, in, len, o, &n, &m);
		if (res != TEE_SUCCESS || m != FOC_MSG_GET_STATE) {
			w->failures++;
			continue;
		}
		len = 0;
		in[len++] = 1;
		in[len++] = (uint8_t)strlen(count);
		memset(in + len, 0, 3);
		len += 3;
		memcpy(in + len, count, strlen(count));
		len += strlen(count);
		n = FOC_MAX_OUTPUT;
		res = foc_native_invoke(s, FOC_CMD_RESUME, in, len, o, &n, &m);
		if (res != TEE_SUCCESS || m != FOC_MSG_RESPONSE) {
			w->failures++;
			continue;
		}
		snprintf(count, sizeof(count), "%d", i + 1);
		/* the written value is the last bytes of the response */
		if (n < strlen(count) || memcmp(o + n - strlen(count), count, strlen(count)) != 0)
			w->failures++;
	}
	if (!s || !o)
		w->failures++;
	free(o);
	foc_native_close(s);
	return NULL;
}

static void test_threads(void)
{
	pthread_t t[4];
	struct worker w[4];
	int i;

	for (i = 0; i < 4; i++) {
		w[i].id = i;
		w[i].failures = 0;
		CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK(w[i].failures == 0);
	}
}


/* ------------------------------------------------------------------ tests: the chaincode API of issue 12 */

static uint8_t big_field[FOC_MAX_VALUE + 2];

/* Turn the current request into FOC2 with a context: creator (msp_len/cert_len bytes of big_field,
 * 0 = none) and n transient entries key<i> = "val<i>" (key_len/value_len > 0: entry 0 from big_field). */
static void add_context(uint32_t msp_len, uint32_t cert_len, uint32_t n, uint32_t key_len, uint32_t value_len)
{
	uint32_t i;

	memset(big_field, 'z', sizeof(big_field));
	req.data[0] = (uint8_t)FOC_REQ2_MAGIC;
	req.data[1] = (uint8_t)(FOC_REQ2_MAGIC >> 8);
	req.data[2] = (uint8_t)(FOC_REQ2_MAGIC >> 16);
	req.data[3] = (uint8_t)(FOC_REQ2_MAGIC >> 24);
	put_bytes(&req, big_field, msp_len);
	put_bytes(&req, big_field, cert_len);
	put_u32(&req, n);
	for (i = 0; i < n; i++) {
		char key[16], value[16];

		snprintf(key, sizeof(key), "key%u", i);
		snprintf(value, sizeof(value), "val%u", i);
		if (i == 0 && key_len)
			put_bytes(&req, big_field, key_len);
		else
			put_bytes(&req, key, (uint32_t)strlen(key));
		if (i == 0 && value_len)
			put_bytes(&req, big_field, value_len);
		else
			put_bytes(&req, value, (uint32_t)strlen(value));
	}
}

static void test_creator_and_transient(struct foc_native_session *s)
{
	request("script", "c", NULL); /* FOC1: no context */
	CHECK(is_ok(s, "nocreator;"));
	request("script", "c", "t:key0", NULL);
	add_context(0, 0, 0, 0, 0);
	CHECK(is_ok(s, "nocreator;key0=-;"));
	request("script", "c", "t:key0", "t:key1", "t:key2", NULL);
	add_context(3, 4, 2, 0, 0);
	CHECK(is_ok(s, "zzz|zzzz;key0=val0;key1=val1;key2=-;"));

	/* each limit at its value and one past it */
	request("script", NULL);
	add_context(FOC_MAX_MSP_ID, FOC_MAX_CERTIFICATE, FOC_MAX_TRANSIENT, FOC_MAX_KEY, FOC_MAX_VALUE);
	CHECK(is_ok(s, ""));
	request("script", NULL);
	add_context(FOC_MAX_MSP_ID + 1, 1, 0, 0, 0);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_MSP_ID"));
	request("script", NULL);
	add_context(1, FOC_MAX_CERTIFICATE + 1, 0, 0, 0);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_CERTIFICATE"));
	request("script", NULL);
	add_context(0, 0, FOC_MAX_TRANSIENT + 1, 0, 0);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_TRANSIENT"));
	request("script", NULL);
	add_context(0, 0, 1, FOC_MAX_KEY + 1, 0);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_KEY"));
	request("script", NULL);
	add_context(0, 0, 1, 0, FOC_MAX_VALUE + 1);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_VALUE"));

	/* malformed contexts */
	request("script", NULL);
	add_context(3, 0, 0, 0, 0);
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "both its MSP id and its certificate"));
	request("script", NULL);
	add_context(0, 0, 0, 0, 0);
	req.len -= 4;
	put_u32(&req, 1);
	put_bytes(&req, "", 0);
	put_bytes(&req, "v", 1);
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "transient key is empty"));
	request("script", NULL);
	add_context(0, 0, 0, 0, 0);
	req.len -= 4;
	put_u32(&req, 2);
	put_bytes(&req, "k", 1);
	put_bytes(&req, "v", 1);
	put_bytes(&req, "k", 1);
	put_bytes(&req, "w", 1);
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "appears twice"));
	request("script", NULL);
	add_context(2, 2, 1, 0, 0);
	req.len -= 1;
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "inside its context"));
	request("script", NULL);
	add_context(2, 2, 0, 0, 0);
	req.data[req.len++] = 0;
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "trailing"));
	req.len -= 5; /* FOC2 without its transient count */
	CHECK(is_error(s, FOC_ERR_BAD_REQUEST, "inside its context"));

	/* the calls' own errors: a bad key is a stub error (sticky), no creator is not */
	request("script", "t:", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "transient key is empty"));
	request("script", "B:8", NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_KEY"));
	request("script", "c", "p:after=1", NULL);
	CHECK(is_ok(s, "nocreator;") && nwrites == 1);
}

static void test_ranges(struct foc_native_session *s)
{
	static const uint8_t tx[] = { 0, 't', 0, 'x', 0 }, ty[] = { 0, 't', 0, 'y', 0 }, u[] = { 0, 'u', 0 };
	static char longkey[FOC_MAX_KEY + 8];
	int i;

	ledger_clear();
	ledger_put("a", "1", 1);
	ledger_put("b", "2", 1);
	ledger_put("c", "3", 1);
	ledger_put_n(tx, sizeof(tx), "X", 1);
	ledger_put_n(ty, sizeof(ty), "Y", 1);
	ledger_put_n(u, sizeof(u), "U", 1);

	request("script", "r:a:c", NULL);
	CHECK(is_ok(s, "a=1,b=2,;") && round_trips == 1 && nranges == 1 && strcmp(ranges_text, "a..c;") == 0);
	CHECK(nreads == 0 && nwrites == 0);
	/* empty bounds: from the first simple key (Fabric's "\x01"), no upper bound, no composite keys */
	request("script", "r::", NULL);
	CHECK(is_ok(s, "a=1,b=2,c=3,;") && strcmp(ranges_text, "^..;") == 0);
	request("script", "r:b:", NULL);
	CHECK(is_ok(s, "b=2,c=3,;"));
	request("script", "r:c:a", NULL); /* end before start: an empty range */
	CHECK(is_ok(s, ";"));
	/* one round trip per distinct range; a point read beside it */
	request("script", "r:a:c", "g:c", "r:a:c", "r:b:c", NULL);
	CHECK(is_ok(s, "a=1,b=2,;c=3;a=1,b=2,;b=2,;") && round_trips == 3 && nranges == 2 && nreads == 1);
	CHECK(strcmp(ranges_text, "a..c;b..c;") == 0);

	/* partial composite keys, composite keys read and written like any other */
	request("script", "q:t", NULL);
	CHECK(is_ok(s, "t/x=X,t/y=Y,;") && strcmp(ranges_text, "|t|..|t|~~~~;") == 0);
	request("script", "q:t:x", "K:t:y", "K:t:z", NULL);
	CHECK(is_ok(s, "t/x=X,;=Y;=-;") && nreads == 2);
	request("script", "k:t:z=Z", NULL);
	CHECK(is_ok(s, "") && nwrites == 1 && ledger_find_n("\0t\0z\0", 5));
	/* a range is committed state: this run's own write is not in it */
	request("script", "k:t:w=W", "q:t", NULL);
	CHECK(is_ok(s, "t/x=X,t/y=Y,t/z=Z,;"));
	request("script", "q:", NULL); /* the empty object type is a type like any other */
	CHECK(is_ok(s, ";"));

	/* FOC_MAX_RANGES distinct ranges, then one more */
	request("script", "H:" FOC_STR(FOC_MAX_RANGES), NULL);
	CHECK(is_ok(s, "H;") && round_trips == FOC_MAX_RANGES);
	request("script", "H:9", "p:w=1", NULL);
	CHECK(FOC_MAX_RANGES == 8 && is_error(s, FOC_ERR_LIMIT, "FOC_MAX_RANGES"));

	/* FOC_MAX_RANGE_ENTRIES entries in a range, then one more */
	ledger_clear();
	for (i = 0; i < FOC_MAX_RANGE_ENTRIES; i++) {
		char key[16];

		snprintf(key, sizeof(key), "e%03d", i);
		ledger_put(key, "v", 1);
	}
	request("script", "r:e:f", NULL);
	CHECK(run(s) == FOC_MSG_RESPONSE && payload_len == FOC_MAX_RANGE_ENTRIES * 7 + 1);
	ledger_put("e999", "v", 1);
	request("script", "r:e:f", NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_RANGE_ENTRIES"));

	/* FOC_MAX_RANGE_BYTES of keys and values, then one more byte */
	ledger_clear();
	memset(big_field, 'v', sizeof(big_field));
	ledger_put("v", big_field, FOC_MAX_RANGE_BYTES - 1);
	request("script", "r:v:w", "S:1", NULL);
	CHECK(is_ok(s, "s"));
	ledger_put("v", big_field, FOC_MAX_RANGE_BYTES);
	request("script", "r:v:w", "S:1", NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_RANGE_BYTES"));

	/* bounds must be simple keys of at most FOC_MAX_KEY bytes; composite key misuse */
	ledger_clear();
	memset(longkey, 'k', sizeof(longkey));
	memcpy(longkey, "r:", 2);
	longkey[2 + FOC_MAX_KEY] = 0;
	request("script", longkey, NULL);
	CHECK(is_ok(s, ";"));
	longkey[2 + FOC_MAX_KEY] = 'k';
	longkey[2 + FOC_MAX_KEY + 1] = 0;
	request("script", longkey, NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_KEY"));
	request("script", "B:1", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "U+0000 and U+10FFFF"));
	request("script", "B:2", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "U+0000 and U+10FFFF"));
	request("script", "B:3", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "not a composite key"));
	request("script", "B:4", NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "more attributes"));
	request("script", "B:5", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "simple key"));
	request("script", "B:6", NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_KEY"));
	request("script", "B:7", NULL);
	CHECK(is_error(s, FOC_ERR_BAD_ARGUMENT, "not a composite key"));
	/* a partial key whose end bound (+ U+10FFFF) would pass FOC_MAX_KEY */
	memcpy(longkey, "q:", 2);
	longkey[2 + FOC_MAX_KEY - 5] = 0; /* NUL + type + NUL = FOC_MAX_KEY - 3 */
	request("script", longkey, NULL);
	CHECK(is_error(s, FOC_ERR_LIMIT, "FOC_MAX_KEY"));
	longkey[2 + FOC_MAX_KEY - 6] = 0;
	request("script", longkey, NULL);
	CHECK(is_ok(s, ";"));
}

/* Start "script r:b:d" and RESUME with a hand-made range answer; the error it gives. */
static bool bad_range_answer(struct foc_native_session *s, uint32_t code, const char *text_part)
{
	uint32_t res;
	bool ok;

	request("script", "r:b:d", NULL);
	CHECK(call(s, FOC_CMD_INVOKE, req.data, req.len) == TEE_SUCCESS && msg == FOC_MSG_GET_STATE_BY_RANGE);
	res = call(s, FOC_CMD_RESUME, answer.data, answer.len);
	ok = res == TEE_SUCCESS && decode_output() && msg == FOC_MSG_ERROR && err_code == code &&
	     strstr(err_text, text_part) != NULL;
	if (!ok)
		fprintf(stderr, "  expected error %u (%s), got msg %u code %u \"%s\"\n", code, text_part, msg, err_code,
			err_text);
	/* any error ends the invocation */
	ok = ok && call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	     err_code == FOC_ERR_SEQUENCE;
	return ok;
}

/* A range answer of the given keys (NULL-terminated), each with value "v". */
static void range_of(const char *first, ...)
{
	const char *keys[8];
	uint32_t n = 0, i;
	va_list ap;

	va_start(ap, first);
	for (const char *k = first; k && n < 8; k = va_arg(ap, const char *))
		keys[n++] = k;
	va_end(ap);
	answer.len = 0;
	put_u32(&answer, n);
	for (i = 0; i < n; i++) {
		put_bytes(&answer, keys[i], (uint32_t)strlen(keys[i]));
		put_bytes(&answer, "v", 1);
	}
}

static void test_range_answers(struct foc_native_session *s)
{
	static const uint8_t nul_key[] = { 1, 0, 0, 0, 3, 0, 0, 0, 'c', 0, 'x', 1, 0, 0, 0, 'v' };

	range_of("c", "b", NULL);
	CHECK(bad_range_answer(s, FOC_ERR_INCONSISTENT, "strictly ascending"));
	range_of("b", "b", NULL);
	CHECK(bad_range_answer(s, FOC_ERR_INCONSISTENT, "strictly ascending"));
	range_of("a", NULL);
	CHECK(bad_range_answer(s, FOC_ERR_INCONSISTENT, "outside the range"));
	range_of("b", "d", NULL);
	CHECK(bad_range_answer(s, FOC_ERR_INCONSISTENT, "outside the range"));
	answer.len = 0;
	memcpy(answer.data, nul_key, sizeof(nul_key));
	answer.len = sizeof(nul_key);
	CHECK(bad_range_answer(s, FOC_ERR_INCONSISTENT, "not a valid state key"));
	range_of("b", "c", NULL);
	answer.len -= 1;
	CHECK(bad_range_answer(s, FOC_ERR_BAD_REQUEST, "inside an entry"));
	range_of("b", NULL);
	answer.data[answer.len++] = 0;
	CHECK(bad_range_answer(s, FOC_ERR_BAD_REQUEST, "trailing"));
	answer.len = 0;
	CHECK(bad_range_answer(s, FOC_ERR_BAD_REQUEST, "empty"));
	answer.len = 0;
	put_u32(&answer, FOC_MAX_RANGE_ENTRIES + 1);
	CHECK(bad_range_answer(s, FOC_ERR_LIMIT, "FOC_MAX_RANGE_ENTRIES"));
	answer.len = 0;
	put_u32(&answer, UINT32_MAX);
	CHECK(bad_range_answer(s, FOC_ERR_LIMIT, "FOC_MAX_RANGE_ENTRIES"));
	answer.len = 0;
	put_u32(&answer, 1);
	put_u32(&answer, FOC_MAX_KEY + 1);
	memset(answer.data + answer.len, 'c', FOC_MAX_KEY + 1);
	answer.len += FOC_MAX_KEY + 1;
	put_bytes(&answer, "v", 1);
	CHECK(bad_range_answer(s, FOC_ERR_LIMIT, "FOC_MAX_KEY"));
	answer.len = 0;
	put_u32(&answer, 1);
	put_bytes(&answer, "c", 1);
	put_u32(&answer, FOC_MAX_VALUE + 1);
	memset(answer.data + answer.len, 'v', FOC_MAX_VALUE + 1);
	answer.len += FOC_MAX_VALUE + 1;
	CHECK(bad_range_answer(s, FOC_ERR_LIMIT, "FOC_MAX_VALUE"));
	/* a state answer where a range answer is due is not a range answer */
	state_answer(0, NULL, 0);
	CHECK(bad_range_answer(s, FOC_ERR_BAD_REQUEST, "trailing"));
	/* and a good one works on the same session afterwards */
	range_of("b", "c", NULL);
	request("script", "r:b:d", NULL);
	CHECK(call(s, FOC_CMD_INVOKE, req.data, req.len) == TEE_SUCCESS && msg == FOC_MSG_GET_STATE_BY_RANGE);
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      msg == FOC_MSG_RESPONSE && strcmp(payload, "b=v,c=v,;") == 0);
}

/* A range RESUME whose output does not fit: the answer is not consumed, the same RESUME works. */
static void test_range_short_buffer(void)
{
	struct foc_native_session *s = foc_native_open();
	uint8_t small[16];
	size_t n = sizeof(small);
	uint32_t m;

	request("script", "r:b:d", "S:100", NULL);
	CHECK(call(s, FOC_CMD_INVOKE, req.data, req.len) == TEE_SUCCESS && msg == FOC_MSG_GET_STATE_BY_RANGE);
	CHECK(decode_output() && strcmp(need_key, "b") == 0 && strcmp(need_end, "d") == 0);
	range_of("b", "c", NULL);
	CHECK(foc_native_invoke(s, FOC_CMD_RESUME, answer.data, answer.len, small, &n, &m) == TEE_ERROR_SHORT_BUFFER);
	CHECK(n > sizeof(small));
	CHECK(call(s, FOC_CMD_RESUME, answer.data, answer.len) == TEE_SUCCESS && decode_output() &&
	      msg == FOC_MSG_RESPONSE && payload_len == 100 && nranges == 1);
	foc_native_close(s);
}

/* Every allocation of a range flow fails once: a clean error or success, never a leak. */
static void test_range_out_of_memory(void)
{
	long fail_at, base = foc_test_live_allocations;
	int ok = 0, no_memory = 0;

	for (fail_at = 0; fail_at < 40; fail_at++) {
		struct foc_session *cs = foc_session_new();
		size_t n = sizeof(out);
		uint32_t m = 0, res, code = 0;
		struct foc_reader r;

		request("script", "r:b:d", "q:t", "p:x=1", NULL);
		add_context(2, 2, 1, 0, 0);
		foc_test_fail_after = fail_at;
		res = foc_test_run(cs, FOC_CMD_INVOKE, req.data, req.len, out, &n, &m);
		if (res == TEE_SUCCESS && m == FOC_MSG_GET_STATE_BY_RANGE) {
			range_of("b", "c", NULL);
			n = sizeof(out);
			res = foc_test_run(cs, FOC_CMD_RESUME, answer.data, answer.len, out, &n, &m);
		}
		if (res == TEE_SUCCESS && m == FOC_MSG_GET_STATE_BY_RANGE) {
			answer.len = 0;
			put_u32(&answer, 1);
			put_bytes(&answer, "\0t\0a\0", 5);
			put_bytes(&answer, "A", 1);
			n = sizeof(out);
			res = foc_test_run(cs, FOC_CMD_RESUME, answer.data, answer.len, out, &n, &m);
		}
		foc_test_fail_after = -1;
		CHECK(res == TEE_SUCCESS);
		foc_reader_init(&r, out, n);
		if (m == FOC_MSG_RESPONSE)
			ok++;
		else if (m == FOC_MSG_ERROR && foc_read_u32(&r, &code) == FOC_READ_OK && code == FOC_ERR_NO_MEMORY)
			no_memory++;
		else
			CHECK(!"unexpected outcome under memory pressure");
		foc_session_free(cs);
		CHECK(foc_test_live_allocations == base);
	}
	CHECK(ok > 0 && no_memory > 3);
}

int main(void)
{
	struct foc_native_session *s;
	long base = foc_test_live_allocations;

	test_reader();
	test_writer();
	s = foc_native_open();
	test_request_decoding(s);
	test_resume(s);
	test_coffee(s);
	test_stub(s);
	test_creator_and_transient(s);
	test_ranges(s);
	test_range_answers(s);
	foc_native_close(s);
	test_range_short_buffer();
	test_range_out_of_memory();
	test_native_params();
	test_command_table();
	test_short_buffer();
	test_panic();
	test_out_of_memory();
	test_threads();
	ledger_clear();
	CHECK(foc_test_live_allocations == base);

	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
