/* SPDX-License-Identifier: Apache-2.0 */
#include "foc_codec.h"

#include <string.h>

void foc_reader_init(struct foc_reader *r, const uint8_t *data, size_t len)
{
	r->data = data;
	r->len = data ? len : 0;
	r->pos = 0;
}

static size_t remaining(const struct foc_reader *r)
{
	return r->len - r->pos;
}

enum foc_read_result foc_read_u8(struct foc_reader *r, uint8_t *value)
{
	if (remaining(r) < 1)
		return FOC_READ_TRUNCATED;
	*value = r->data[r->pos];
	r->pos += 1;
	return FOC_READ_OK;
}

enum foc_read_result foc_read_u32(struct foc_reader *r, uint32_t *value)
{
	const uint8_t *p;

	if (remaining(r) < 4)
		return FOC_READ_TRUNCATED;
	p = r->data + r->pos;
	*value = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	r->pos += 4;
	return FOC_READ_OK;
}

enum foc_read_result foc_read_bytes(struct foc_reader *r, uint32_t max, const uint8_t **data, uint32_t *len)
{
	uint32_t n = 0;
	enum foc_read_result res = foc_read_u32(r, &n);

	*data = NULL;
	*len = n;
	if (res != FOC_READ_OK)
		return res;
	if (n > remaining(r))
		return FOC_READ_TRUNCATED;
	if (n > max)
		return FOC_READ_TOO_LONG;
	*data = r->data + r->pos;
	r->pos += n;
	return FOC_READ_OK;
}

bool foc_read_exact(struct foc_reader *r, uint32_t size, const uint8_t **data)
{
	uint32_t len = 0;

	return foc_read_bytes(r, size, data, &len) == FOC_READ_OK && len == size;
}

bool foc_reader_at_end(const struct foc_reader *r)
{
	return r->pos == r->len;
}

void foc_writer_init(struct foc_writer *w, uint8_t *buf, size_t cap)
{
	w->buf = buf;
	w->cap = buf ? cap : 0;
	w->len = 0;
}

void foc_write_raw(struct foc_writer *w, const uint8_t *data, size_t len)
{
	/* Once something did not fit, only count: the caller reports the size needed. */
	if (w->len <= w->cap && len <= w->cap - w->len) {
		if (len)
			memcpy(w->buf + w->len, data, len);
	}
	if (len > SIZE_MAX - w->len)
		w->len = SIZE_MAX;
	else
		w->len += len;
}

void foc_write_u8(struct foc_writer *w, uint8_t value)
{
	foc_write_raw(w, &value, 1);
}

void foc_write_u32(struct foc_writer *w, uint32_t value)
{
	uint8_t b[4];

	b[0] = (uint8_t)value;
	b[1] = (uint8_t)(value >> 8);
	b[2] = (uint8_t)(value >> 16);
	b[3] = (uint8_t)(value >> 24);
	foc_write_raw(w, b, sizeof(b));
}

void foc_write_bytes(struct foc_writer *w, const uint8_t *data, uint32_t len)
{
	foc_write_u32(w, len);
	foc_write_raw(w, data, len);
}

bool foc_writer_fits(const struct foc_writer *w)
{
	return w->len <= w->cap;
}
