/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded reader and writer for the byte encoding described in foc_ta.h
 * (unsigned little-endian integers, "bytes" = u32 length + data).
 *
 * The reader checks every length against what is left before touching a byte and
 * reads every byte at most once (the input may live in memory the normal world can
 * change while we read it). The writer never writes past its capacity; it keeps
 * counting so the caller learns the size it would have needed.
 */
#ifndef FOC_CODEC_H
#define FOC_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct foc_reader {
	const uint8_t *data;
	size_t len;
	size_t pos; /* invariant: pos <= len */
};

enum foc_read_result {
	FOC_READ_OK = 0,
	FOC_READ_TRUNCATED, /* the buffer ends before the item does */
	FOC_READ_TOO_LONG,  /* a byte string is longer than the caller's maximum */
};

void foc_reader_init(struct foc_reader *r, const uint8_t *data, size_t len);
enum foc_read_result foc_read_u8(struct foc_reader *r, uint8_t *value);
enum foc_read_result foc_read_u32(struct foc_reader *r, uint32_t *value);
/*
 * A byte string of at most `max` bytes. `*data` points into the reader's buffer (no
 * copy). On FOC_READ_TOO_LONG `*len` still holds the declared length.
 */
enum foc_read_result foc_read_bytes(struct foc_reader *r, uint32_t max, const uint8_t **data, uint32_t *len);
/* A byte string of exactly `size` bytes (a key, a nonce): true and *data set, or false. */
bool foc_read_exact(struct foc_reader *r, uint32_t size, const uint8_t **data);
/* True when every byte has been consumed (decoders must consume the buffer exactly). */
bool foc_reader_at_end(const struct foc_reader *r);

struct foc_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;    /* bytes the message needs so far, may exceed cap */
};

void foc_writer_init(struct foc_writer *w, uint8_t *buf, size_t cap);
void foc_write_u8(struct foc_writer *w, uint8_t value);
void foc_write_u32(struct foc_writer *w, uint32_t value);
void foc_write_raw(struct foc_writer *w, const uint8_t *data, size_t len);
/* u32 length + data; the caller has checked len against the relevant FOC_MAX_* limit. */
void foc_write_bytes(struct foc_writer *w, const uint8_t *data, uint32_t len);
/* True when everything written so far fit into the buffer. */
bool foc_writer_fits(const struct foc_writer *w);

#endif /* FOC_CODEC_H */
