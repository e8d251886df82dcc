/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A sealed-bid auction on FOC's chaincode API (foc_chaincode.h): FOC's second example chaincode,
 * in its own TA. Run confidentially, bids stay secret until the auction closes: the ledger holds
 * them encrypted to the enclave, only the bidder (any time) or the auctioneer (once closed) may read
 * a bid, and the winner is computed here, inside the TA, from a range read of every bid.
 *
 *   create(auction)              the caller becomes the auctioneer; the auction is open   -> "OK"
 *   bid(auction, bidder, amount) a bid under the public handle `bidder`; the identity that placed
 *                                it may change it (a later bid replaces it), another identity may
 *                                not use the handle; refused once the auction is closed   -> "OK"
 *   close(auction)               the auctioneer only: no more bids; the highest amount wins (a tie
 *                                goes to the first bidder in key order, i.e. by handle)
 *                                -> "winner: <bidder>, amount: <n>" or "no bids"
 *   result(auction)              anyone, once closed -> the same line as close
 *   show_bid(auction, bidder)    the bidder, or the auctioneer once closed -> "bidder: <b>, amount: <n>"
 *
 * Refusals: FOC_ERR_DENIED (another identity's bid or handle; close or read by someone else; a bid
 * after close; the result before close), FOC_ERR_NOT_FOUND (no such auction or bid), FOC_ERR_EXISTS
 * (create twice), FOC_ERR_ARG_COUNT / FOC_ERR_BAD_ARGUMENT (arguments), FOC_ERR_LIMIT (more than
 * FOC_MAX_RANGE_ENTRIES bids in one auction: close reads them in one range).
 *
 * State (Fabric composite keys, so a partial composite key read finds an auction's bids):
 *   ("auction", auction)       -> u8 status ('O' open, 'C' closed) + identity of the auctioneer
 *                                 [closed: + u8 has_winner, u64 amount, bytes winner]
 *   ("bid", auction, bidder)   -> u64 amount + identity of the bidder
 *   identity := bytes msp_id bytes certificate (foc_get_creator); u64/u32 little-endian, bytes =
 *               u32 length + data. Key names (auction ids, bidder handles) are visible to the peer,
 *               as every key name is in FOC and FPC; amounts and identities are not.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <foc_chaincode.h>

#define AMOUNT_MAX_DIGITS 20
/* status + identity + winner record, all bounded by the API's limits */
#define RECORD_MAX (1 + 2 * 4 + FOC_MAX_MSP_ID + FOC_MAX_CERTIFICATE + 1 + 8 + 4 + FOC_MAX_KEY)

struct identity {
	struct foc_slice msp_id;
	struct foc_slice certificate;
};

struct auction {
	bool closed;
	struct identity auctioneer;
	bool has_winner;
	uint64_t amount;
	struct foc_slice winner;
};

/* ---------------------------------------------------------------- encoding */

struct writer {
	uint8_t *buf;
	uint32_t len;
};

struct reader {
	struct foc_slice in;
	uint32_t at;
	bool ok;
};

static void put_bytes(struct writer *w, const void *data, uint32_t len)
{
	memcpy(w->buf + w->len, data, len);
	w->len += len;
}

static void put_u32(struct writer *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	put_bytes(w, b, 4);
}

static void put_u64(struct writer *w, uint64_t v)
{
	put_u32(w, (uint32_t)v);
	put_u32(w, (uint32_t)(v >> 32));
}

static void put_slice(struct writer *w, struct foc_slice s)
{
	put_u32(w, s.len);
	put_bytes(w, s.data, s.len);
}

static void put_identity(struct writer *w, const struct identity *id)
{
	put_slice(w, id->msp_id);
	put_slice(w, id->certificate);
}

static const uint8_t *take(struct reader *r, uint32_t len)
{
	const uint8_t *p = r->in.data + r->at;

	if (!r->ok || len > r->in.len - r->at) {
		r->ok = false;
		return NULL;
	}
	r->at += len;
	return p;
}

static uint32_t get_u32(struct reader *r)
{
	const uint8_t *b = take(r, 4);

	return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24 : 0;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t low = get_u32(r);

	return low | (uint64_t)get_u32(r) << 32;
}

static struct foc_slice get_slice(struct reader *r)
{
	uint32_t len = get_u32(r);
	struct foc_slice s = { take(r, len), len };

	if (!s.data)
		s.len = 0;
	return s;
}

static void get_identity(struct reader *r, struct identity *id)
{
	id->msp_id = get_slice(r);
	id->certificate = get_slice(r);
}

static bool same_identity(const struct identity *a, const struct identity *b)
{
	return foc_slice_equals(a->msp_id, b->msp_id) && foc_slice_equals(a->certificate, b->certificate);
}

/* ---------------------------------------------------------------- arguments */

static foc_status expect_args(struct foc_stub *stub, uint32_t expected, const char *usage)
{
	uint32_t got = foc_stub_arg_count(stub);

	if (got != expected)
		return foc_errorf(stub, FOC_ERR_ARG_COUNT, "expected %u argument%s (%s), got %u", expected,
				  expected == 1 ? "" : "s", usage, got);
	return FOC_OK;
}

/* A strict u64: 1..20 ASCII digits and nothing else. */
static foc_status parse_amount(struct foc_stub *stub, struct foc_slice text, uint64_t *amount)
{
	uint64_t n = 0;
	uint32_t i;

	if (text.len == 0 || text.len > AMOUNT_MAX_DIGITS)
		return foc_error(stub, FOC_ERR_BAD_ARGUMENT, "the amount must be 1 to 20 decimal digits");
	for (i = 0; i < text.len; i++) {
		uint64_t digit = (uint64_t)(text.data[i] - '0');

		if (text.data[i] < '0' || text.data[i] > '9')
			return foc_error(stub, FOC_ERR_BAD_ARGUMENT, "the amount is not a decimal number");
		if (n > (UINT64_MAX - digit) / 10)
			return foc_error(stub, FOC_ERR_OVERFLOW, "the amount is larger than 18446744073709551615");
		n = n * 10 + digit;
	}
	*amount = n;
	return FOC_OK;
}

static uint32_t format_amount(uint64_t n, uint8_t *buf)
{
	uint8_t rev[AMOUNT_MAX_DIGITS];
	uint32_t len = 0, i;

	do {
		rev[len++] = (uint8_t)('0' + n % 10);
		n /= 10;
	} while (n);
	for (i = 0; i < len; i++)
		buf[i] = rev[len - 1 - i];
	return len;
}

static foc_status caller(struct foc_stub *stub, struct identity *id)
{
	foc_status rc = foc_get_creator(stub, &id->msp_id, &id->certificate);

	if (rc == FOC_ERR_NOT_FOUND)
		return foc_error(stub, FOC_ERR_DENIED, "the auction needs the caller's identity (a signed proposal)");
	return rc;
}

/* ---------------------------------------------------------------- state */

static foc_status auction_key(struct foc_stub *stub, struct foc_slice auction, uint8_t buf[FOC_MAX_KEY],
			      struct foc_slice *key)
{
	return foc_create_composite_key(stub, foc_slice_of("auction"), &auction, 1, buf, key);
}

static foc_status bid_key(struct foc_stub *stub, struct foc_slice auction, struct foc_slice bidder,
			  uint8_t buf[FOC_MAX_KEY], struct foc_slice *key)
{
	struct foc_slice attributes[2] = { auction, bidder };

	return foc_create_composite_key(stub, foc_slice_of("bid"), attributes, 2, buf, key);
}

static foc_status read_auction(struct foc_stub *stub, struct foc_slice name, struct auction *a)
{
	uint8_t buf[FOC_MAX_KEY];
	struct foc_slice key, value;
	struct reader r;
	bool found;
	uint8_t status;
	foc_status rc = auction_key(stub, name, buf, &key);

	if (rc == FOC_OK)
		rc = foc_get_state(stub, key, &value, &found);
	if (rc != FOC_OK)
		return rc;
	if (!found)
		return foc_error(stub, FOC_ERR_NOT_FOUND, "no such auction");
	r = (struct reader){ value, 0, true };
	status = value.len ? *take(&r, 1) : 0;
	get_identity(&r, &a->auctioneer);
	a->closed = status == 'C';
	a->has_winner = false;
	a->amount = 0; /* an open auction stores no result: close writes these even without bids */
	a->winner = foc_slice_of("");
	if (a->closed) {
		const uint8_t *has = take(&r, 1);

		a->has_winner = has && *has;
		a->amount = get_u64(&r);
		a->winner = get_slice(&r);
	}
	if (!r.ok || r.at != value.len || (status != 'O' && status != 'C'))
		return foc_error(stub, FOC_ERR_INCONSISTENT, "the stored auction record is malformed");
	return FOC_OK;
}

static foc_status write_auction(struct foc_stub *stub, struct foc_slice name, const struct auction *a)
{
	static uint8_t record[RECORD_MAX]; /* one run at a time: the TA serializes invocations */
	uint8_t buf[FOC_MAX_KEY], status = a->closed ? 'C' : 'O', has = a->has_winner;
	struct writer w = { record, 0 };
	struct foc_slice key;
	foc_status rc = auction_key(stub, name, buf, &key);

	if (rc != FOC_OK)
		return rc;
	put_bytes(&w, &status, 1);
	put_identity(&w, &a->auctioneer);
	if (a->closed) {
		put_bytes(&w, &has, 1);
		put_u64(&w, a->amount);
		put_slice(&w, a->winner);
	}
	return foc_put_state(stub, key, (struct foc_slice){ record, w.len });
}

/* A stored bid: its amount and who placed it. */
static foc_status decode_bid(struct foc_stub *stub, struct foc_slice value, uint64_t *amount, struct identity *who)
{
	struct reader r = { value, 0, true };

	*amount = get_u64(&r);
	get_identity(&r, who);
	if (!r.ok || r.at != value.len)
		return foc_error(stub, FOC_ERR_INCONSISTENT, "a stored bid is malformed");
	return FOC_OK;
}

/* "winner: <bidder>, amount: <n>" or "no bids" */
static foc_status answer_result(struct foc_stub *stub, const struct auction *a)
{
	static const char prefix[] = "winner: ", middle[] = ", amount: ";
	uint8_t text[sizeof(prefix) + FOC_MAX_KEY + sizeof(middle) + AMOUNT_MAX_DIGITS];
	struct writer w = { text, 0 };

	if (!a->has_winner)
		return foc_success(stub, foc_slice_of("no bids"));
	put_bytes(&w, prefix, sizeof(prefix) - 1);
	put_bytes(&w, a->winner.data, a->winner.len);
	put_bytes(&w, middle, sizeof(middle) - 1);
	w.len += format_amount(a->amount, text + w.len);
	return foc_success(stub, (struct foc_slice){ text, w.len });
}

/* ---------------------------------------------------------------- functions */

static foc_status create(struct foc_stub *stub)
{
	struct foc_slice name = foc_stub_arg(stub, 0), key, value;
	uint8_t buf[FOC_MAX_KEY];
	struct auction a = { 0 };
	bool found;
	foc_status rc = expect_args(stub, 1, "auction");

	if (rc == FOC_OK)
		rc = caller(stub, &a.auctioneer);
	if (rc == FOC_OK)
		rc = auction_key(stub, name, buf, &key);
	if (rc == FOC_OK)
		rc = foc_get_state(stub, key, &value, &found);
	if (rc != FOC_OK)
		return rc;
	if (found)
		return foc_error(stub, FOC_ERR_EXISTS, "the auction already exists");
	rc = write_auction(stub, name, &a);
	return rc != FOC_OK ? rc : foc_success(stub, foc_slice_of("OK"));
}

static foc_status bid(struct foc_stub *stub)
{
	static uint8_t record[8 + 2 * 4 + FOC_MAX_MSP_ID + FOC_MAX_CERTIFICATE];
	struct foc_slice name = foc_stub_arg(stub, 0), bidder = foc_stub_arg(stub, 1), key, value;
	struct identity me, owner;
	struct writer w = { record, 0 };
	uint8_t buf[FOC_MAX_KEY];
	struct auction a;
	uint64_t amount = 0, old = 0;
	bool found;
	foc_status rc = expect_args(stub, 3, "auction, bidder, amount");

	if (rc == FOC_OK)
		rc = parse_amount(stub, foc_stub_arg(stub, 2), &amount);
	if (rc == FOC_OK)
		rc = caller(stub, &me);
	if (rc == FOC_OK)
		rc = read_auction(stub, name, &a);
	if (rc != FOC_OK)
		return rc;
	if (a.closed)
		return foc_error(stub, FOC_ERR_DENIED, "the auction is closed: no more bids");
	rc = bid_key(stub, name, bidder, buf, &key);
	if (rc == FOC_OK)
		rc = foc_get_state(stub, key, &value, &found);
	if (rc == FOC_OK && found)
		rc = decode_bid(stub, value, &old, &owner);
	if (rc != FOC_OK)
		return rc;
	if (found && !same_identity(&me, &owner))
		return foc_error(stub, FOC_ERR_DENIED, "this bidder handle belongs to another identity");
	put_u64(&w, amount);
	put_identity(&w, &me);
	rc = foc_put_state(stub, key, (struct foc_slice){ record, w.len });
	return rc != FOC_OK ? rc : foc_success(stub, foc_slice_of("OK"));
}

static foc_status close_auction(struct foc_stub *stub)
{
	struct foc_slice name = foc_stub_arg(stub, 0), parts[2], type;
	const struct foc_state_entry *bids;
	struct identity me, who;
	struct auction a;
	uint32_t count, i, nparts;
	uint64_t amount = 0;
	foc_status rc = expect_args(stub, 1, "auction");

	if (rc == FOC_OK)
		rc = caller(stub, &me);
	if (rc == FOC_OK)
		rc = read_auction(stub, name, &a);
	if (rc != FOC_OK)
		return rc;
	if (!same_identity(&me, &a.auctioneer))
		return foc_error(stub, FOC_ERR_DENIED, "only the auctioneer may close the auction");
	if (a.closed)
		return foc_error(stub, FOC_ERR_DENIED, "the auction is already closed");
	rc = foc_get_state_by_partial_composite_key(stub, foc_slice_of("bid"), &name, 1, &bids, &count);
	if (rc != FOC_OK)
		return rc;
	/* Every bid of this auction, ascending by key: the first highest amount wins. */
	for (i = 0; i < count; i++) {
		rc = decode_bid(stub, bids[i].value, &amount, &who);
		if (rc == FOC_OK)
			rc = foc_split_composite_key(stub, bids[i].key, &type, parts, 2, &nparts);
		if (rc != FOC_OK)
			return rc;
		if (nparts != 2)
			return foc_error(stub, FOC_ERR_INCONSISTENT, "a bid key is malformed");
		if (!a.has_winner || amount > a.amount) {
			a.has_winner = true;
			a.amount = amount;
			a.winner = parts[1];
		}
	}
	a.closed = true;
	rc = write_auction(stub, name, &a);
	return rc != FOC_OK ? rc : answer_result(stub, &a);
}

static foc_status result(struct foc_stub *stub)
{
	struct auction a;
	foc_status rc = expect_args(stub, 1, "auction");

	if (rc == FOC_OK)
		rc = read_auction(stub, foc_stub_arg(stub, 0), &a);
	if (rc != FOC_OK)
		return rc;
	if (!a.closed)
		return foc_error(stub, FOC_ERR_DENIED, "the auction is open: its result is sealed until it closes");
	return answer_result(stub, &a);
}

static foc_status show_bid(struct foc_stub *stub)
{
	static const char prefix[] = "bidder: ", middle[] = ", amount: ";
	uint8_t text[sizeof(prefix) + FOC_MAX_KEY + sizeof(middle) + AMOUNT_MAX_DIGITS];
	struct foc_slice name = foc_stub_arg(stub, 0), bidder = foc_stub_arg(stub, 1), key, value;
	struct writer w = { text, 0 };
	struct identity me, owner;
	uint8_t buf[FOC_MAX_KEY];
	struct auction a;
	uint64_t amount = 0;
	bool found;
	foc_status rc = expect_args(stub, 2, "auction, bidder");

	if (rc == FOC_OK)
		rc = caller(stub, &me);
	if (rc == FOC_OK)
		rc = read_auction(stub, name, &a);
	if (rc == FOC_OK)
		rc = bid_key(stub, name, bidder, buf, &key);
	if (rc == FOC_OK)
		rc = foc_get_state(stub, key, &value, &found);
	if (rc != FOC_OK)
		return rc;
	if (!found) /* the handle is public: saying that it has no bid reveals no amount */
		return foc_error(stub, FOC_ERR_NOT_FOUND, "no bid under this bidder handle");
	rc = decode_bid(stub, value, &amount, &owner);
	if (rc != FOC_OK)
		return rc;
	if (!same_identity(&me, &owner) && !(a.closed && same_identity(&me, &a.auctioneer)))
		return foc_error(stub, FOC_ERR_DENIED,
				 "a bid is shown only to its bidder, and to the auctioneer once the auction is closed");
	put_bytes(&w, prefix, sizeof(prefix) - 1);
	put_bytes(&w, bidder.data, bidder.len); /* bid_key accepted it: at most FOC_MAX_KEY bytes */
	put_bytes(&w, middle, sizeof(middle) - 1);
	w.len += format_amount(amount, text + w.len);
	return foc_success(stub, (struct foc_slice){ text, w.len });
}

static const struct foc_chaincode_function auction_functions[] = {
	{ "create", create },	{ "bid", bid },		  { "close", close_auction },
	{ "result", result },	{ "show_bid", show_bid },
};

const struct foc_chaincode foc_chaincode = {
	.name = "auction",
	.functions = auction_functions,
	.function_count = sizeof(auction_functions) / sizeof(auction_functions[0]),
};
