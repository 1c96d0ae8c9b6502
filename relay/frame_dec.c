/* SPDX-License-Identifier: ISC */
/*
 * frame_dec: the batch frame decoder (relay/frame.h, docs/frame-format.md):
 * the reader, the version 1 header and LZ4 frame body, the records, and
 * the entry points. Version 2 is in frame_dec2.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>

#define FRAME_INTERNAL
#include "relay/frame.h"

uint64_t
frame__get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int i;

	for (i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* The reader (struct frame_rd, frame.h). */

int
frame__rd_fail(const struct frame_rd *rd, const uint8_t *at, int code,
    const char *fmt, ...)
{
	struct frame_err *e = rd->err;
	va_list ap;
	int n;

	if (e == NULL)
		return code;
	e->offset = rd->base + (size_t)(at - rd->start);
	e->in_body = rd->in_body;
	n = snprintf(e->msg, sizeof(e->msg), "frame: %sbyte %zu: ",
	    rd->in_body ? "body " : "", e->offset);
	va_start(ap, fmt);
	vsnprintf(e->msg + n, sizeof(e->msg) - (size_t)n, fmt, ap);
	va_end(ap);
	return code;
}

int
frame__rd_need(const struct frame_rd *rd, size_t n, const char *what)
{
	if ((size_t)(rd->end - rd->p) >= n)
		return FRAME_OK;
	return frame__rd_fail(rd, rd->end, rd->short_code, "ends inside %s",
	    what);
}

/* Reads a minimal LEB128 varint of at most 10 bytes, <= max. */
int
frame__rd_varint(struct frame_rd *rd, uint64_t max, const char *what,
    uint64_t *v)
{
	const uint8_t *at = rd->p;
	uint64_t b;
	int shift = 0;

	*v = 0;
	do {
		if (rd->p == rd->end)
			return frame__rd_fail(rd, rd->p, rd->short_code,
			    "ends inside %s", what);
		b = *rd->p++;
		if (shift == 63 && b > 1)
			return frame__rd_fail(rd, at, FRAME_ERR_MALFORMED,
			    "%s: varint over 64 bits", what);
		*v |= (b & 0x7f) << shift;
		shift += 7;
	} while ((b & 0x80) != 0);
	if (b == 0 && rd->p - at > 1)
		return frame__rd_fail(rd, at, FRAME_ERR_MALFORMED,
		    "%s: varint not in shortest form", what);
	if (*v > max)
		return frame__rd_fail(rd, at, FRAME_ERR_MALFORMED,
		    "%s %llu over %llu", what, (unsigned long long)*v,
		    (unsigned long long)max);
	return FRAME_OK;
}

/* Reads a length varint that must fit in what is left of the region. */
static int
rd_len(struct frame_rd *rd, const char *what, uint64_t *v)
{
	const uint8_t *at = rd->p;
	int rc;

	if ((rc = frame__rd_varint(rd, UINT64_MAX, what, v)) != FRAME_OK)
		return rc;
	if (*v > (uint64_t)(rd->end - rd->p))
		return frame__rd_fail(rd, at, rd->short_code,
		    "%s %llu, only %zu bytes left", what,
		    (unsigned long long)*v, (size_t)(rd->end - rd->p));
	return FRAME_OK;
}

/* Header: everything up to the data part (docs, "Header"). */
static int
dec_header(struct frame_rd *rd, struct frame_header *h)
{
	const uint8_t *b = rd->start, *t;
	char why[FRAME_ERR_LEN];
	size_t gl, at;
	int rc;

	if ((rc = frame__rd_need(rd, 4, "the magic")) != FRAME_OK)
		return rc;
	if (memcmp(b, frame__magic, 4) != 0)
		return frame__rd_fail(rd, b, FRAME_ERR_MAGIC, "bad magic "
		    "%02x%02x%02x%02x, want 50524246 (\"PRBF\")",
		    b[0], b[1], b[2], b[3]);
	if ((rc = frame__rd_need(rd, FRAME_FIXED_LEN,
	    "the header")) != FRAME_OK)
		return rc;
	if (b[4] == FRAME_VERSION_2)
		return frame__dec_header2(rd, h);
	if (b[4] != FRAME_VERSION)
		return frame__rd_fail(rd, b + 4, FRAME_ERR_VERSION,
		    "unsupported version %u (this decoder reads versions %u "
		    "and %u)", b[4],
		    FRAME_VERSION, FRAME_VERSION_2);
	if (b[5] != FRAME_CODEC_NONE && b[5] != FRAME_CODEC_LZ4)
		return frame__rd_fail(rd, b + 5, FRAME_ERR_CODEC,
		    "unknown codec %u", b[5]);
	if (b[6] != 0)
		return frame__rd_fail(rd, b + 6, FRAME_ERR_MALFORMED,
		    "reserved flags 0x%02x set", b[6]);
	if ((gl = b[7]) < 1 || gl > FRAME_GWID_MAX)
		return frame__rd_fail(rd, b + 7, FRAME_ERR_MALFORMED,
		    "gateway id length %zu not in 1..%d", gl, FRAME_GWID_MAX);
	if ((rc = frame__rd_need(rd, FRAME_FIXED_LEN + gl + FRAME_TAIL_LEN,
	    "the header")) != FRAME_OK)
		return rc;
	if (frame__check_gwid((const char *)b + 8, gl, &at, why) != 0)
		return frame__rd_fail(rd, b + 8 + at, FRAME_ERR_MALFORMED, "%s",
		    why);
	t = b + 8 + gl;
	memset(h, 0, sizeof(*h));
	h->version = b[4];
	h->codec = (enum frame_codec)b[5];
	memcpy(h->gateway_id, b + 8, gl);
	h->gateway_id[gl] = '\0';
	h->seq = frame__get_le(t, 8);
	h->count = (uint32_t)frame__get_le(t + 8, 4);
	h->body_len = (uint32_t)frame__get_le(t + 12, 4);
	h->header_len = (size_t)(t + FRAME_TAIL_LEN - b);
	if (h->count > FRAME_MAX_RECORDS)
		return frame__rd_fail(rd, t + 8, FRAME_ERR_LIMIT,
		    "record count %u over %u", h->count, FRAME_MAX_RECORDS);
	if (h->body_len > FRAME_MAX_BODY)
		return frame__rd_fail(rd, t + 12, FRAME_ERR_LIMIT,
		    "body length %u over %u", h->body_len, FRAME_MAX_BODY);
	if (h->body_len < 1 + (uint64_t)FRAME_MIN_RECORD * h->count)
		return frame__rd_fail(rd, t + 12, FRAME_ERR_MALFORMED,
		    "body length %u too small for %u records", h->body_len,
		    h->count);
	if (frame__get_le(t + 20, 4) != frame__xxh32(b, (size_t)(t + 20 - b)))
		return frame__rd_fail(rd, t + 20, FRAME_ERR_CHECKSUM,
		    "header checksum mismatch");
	rd->p = t + FRAME_TAIL_LEN;
	return FRAME_OK;
}

/*
 * Topic table (docs, "Body"): fills off/len for each entry. A topic is at
 * most 65535 bytes, so the upper half of len[i] holds its MQTT verdict
 * (an enum frame_refusal), worked out once per entry rather than once per
 * record that uses it.
 */
#define DEC_TOPIC_LEN(l)	((l) & 0xffffu)
#define DEC_TOPIC_REFUSAL(l)	((int)((l) >> 16))

static int
dec_topics(struct frame_rd *rd, uint32_t n, uint32_t *off, uint32_t *len)
{
	char why[FRAME_ERR_LEN];
	const uint8_t *at;
	uint64_t v;
	uint32_t i;
	size_t bad;
	int rc;

	for (i = 0; i < n; i++) {
		at = rd->p;
		if ((rc = frame__rd_varint(rd, FRAME_MAX_TOPIC, "topic length",
		    &v)) != FRAME_OK)
			return rc;
		if (v == 0)
			return frame__rd_fail(rd, at, FRAME_ERR_MALFORMED,
			    "empty topic %u", i);
		if ((rc = frame__rd_need(rd, v, "a topic")) != FRAME_OK)
			return rc;
		if (frame__check_topic((const char *)rd->p, v, &bad, why) != 0)
			return frame__rd_fail(rd, rd->p + bad,
			    FRAME_ERR_MALFORMED, "%s", why);
		off[i] = (uint32_t)(rd->p - rd->start);
		len[i] = (uint32_t)v |
		    (uint32_t)frame__mqtt_topic(rd->p, v) << 16;
		rd->p += v;
	}
	return FRAME_OK;
}

/* Receive time: a zigzag step from the previous record's time. */
static int
dec_ts(struct frame_rd *rd, int64_t *ts)
{
	const uint8_t *at = rd->p;
	uint64_t z, m;
	int rc;

	if ((rc = frame__rd_varint(rd, UINT64_MAX, "time step",
	    &z)) != FRAME_OK)
		return rc;
	m = z >> 1;
	if ((z & 1) != 0) {
		if (m >= (uint64_t)*ts)
			return frame__rd_fail(rd, at, FRAME_ERR_MALFORMED,
			    "receive time before the epoch");
		*ts -= (int64_t)(m + 1);
	} else {
		if (m > (uint64_t)(INT64_MAX - *ts))
			return frame__rd_fail(rd, at, FRAME_ERR_MALFORMED,
			    "receive time past 2^63-1 ms");
		*ts += (int64_t)m;
	}
	return FRAME_OK;
}

/* Optional parts of a record: expiry, then the props blob. */
static int
dec_optional(struct frame_rd *rd, unsigned flags, struct frame_record *r)
{
	char why[FRAME_ERR_LEN];
	uint64_t v;
	size_t bad;
	int rc;

	r->has_expiry = (flags & FRAME_F_EXPIRY) != 0;
	r->expiry_s = 0;
	if (r->has_expiry) {
		if ((rc = frame__rd_varint(rd, UINT32_MAX, "expiry",
		    &v)) != FRAME_OK)
			return rc;
		r->expiry_s = (uint32_t)v;
	}
	r->props = NULL;
	r->props_len = 0;
	if ((flags & FRAME_F_PROPS) == 0)
		return FRAME_OK;
	if ((rc = rd_len(rd, "properties length", &v)) != FRAME_OK)
		return rc;
	if (v == 0)
		return frame__rd_fail(rd, rd->p - 1, FRAME_ERR_MALFORMED,
		    "properties flag set but length 0");
	if (frame__check_props(rd->p, v, &bad, why) != 0)
		return frame__rd_fail(rd, rd->p + bad, FRAME_ERR_MALFORMED,
		    "%s", why);
	if (r->refused == FRAME_REC_OK)
		r->refused = frame__mqtt_props(rd->p, v);
	r->props = rd->p;
	r->props_len = v;
	rd->p += v;
	return FRAME_OK;
}

/* One record (docs, "Record"). */
static int
dec_record(struct frame_rd *rd, uint32_t ntopics, const uint32_t *off,
    const uint32_t *len, struct frame_record *r)
{
	unsigned flags;
	uint64_t v;
	int rc;

	if ((rc = frame__rd_need(rd, 1, "a record")) != FRAME_OK)
		return rc;
	flags = *rd->p;
	if ((flags & FRAME_F_RESERVED) != 0 || (flags & FRAME_F_QOS) == 3)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "bad record flags 0x%02x", flags);
	rd->p++;
	r->qos = (int)(flags & FRAME_F_QOS);
	r->retain = (flags & FRAME_F_RETAIN) != 0;
	if (ntopics == 0)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "record but no topics");
	if ((rc = frame__rd_varint(rd, ntopics - 1, "topic index",
	    &v)) != FRAME_OK)
		return rc;
	r->topic = (const char *)rd->start + off[v];
	r->topic_len = DEC_TOPIC_LEN(len[v]);
	r->refused = DEC_TOPIC_REFUSAL(len[v]);
	if ((rc = dec_ts(rd, &r->ts_ms)) != FRAME_OK ||
	    (rc = dec_optional(rd, flags, r)) != FRAME_OK)
		return rc;
	if ((rc = rd_len(rd, "payload length", &v)) != FRAME_OK)
		return rc;
	r->payload = rd->p;
	r->payload_len = v;
	rd->p += v;
	return FRAME_OK;
}

/* The sums of the checking pass, and its bound (frame_decode_opts()). */
struct dec_sums {
	struct frame_summary s;
	uint64_t max_expanded;	/* 0: none */
};

/* Adds r to the sums; fails once they pass the bound. */
static int
dec_sum(struct frame_rd *rd, const uint8_t *at, uint32_t i,
    const struct frame_record *r, struct dec_sums *sums)
{
	sums->s.expanded += r->topic_len + (uint64_t)r->payload_len;
	sums->s.refused += r->refused != FRAME_REC_OK;
	if (sums->max_expanded != 0 && sums->s.expanded > sums->max_expanded)
		return frame__rd_fail(rd, at, FRAME_ERR_EXPANDED,
		    "records 0..%u expand to %llu bytes of topic and payload, "
		    "over %llu", i, (unsigned long long)sums->s.expanded,
		    (unsigned long long)sums->max_expanded);
	return FRAME_OK;
}

/*
 * Body (docs, "Body"): the topic table, then count records, then nothing.
 * The checking pass (sums set, on_record NULL) only validates and sums;
 * the caller runs it first, so the delivering pass (sums NULL) cannot
 * fail but for the callback.
 */
static int
dec_body(struct frame_rd *rd, uint32_t count, struct dec_sums *sums,
    frame_on_record_fn on_record, void *arg)
{
	struct frame_record r;
	uint32_t *off = NULL, *lens = NULL, i;
	const uint8_t *at;
	uint64_t n;
	int rc;

	if ((rc = frame__rd_varint(rd, count, "topic count", &n)) != FRAME_OK)
		return rc;
	/* Each entry takes 2 bytes at least: bounds the index by the body. */
	if (n > (uint64_t)(rd->end - rd->p) / 2)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "%llu topics cannot fit in the body",
		    (unsigned long long)n);
	if (n > 0) {
		if ((off = malloc(2 * n * sizeof(uint32_t))) == NULL)
			return FRAME_ERR_NOMEM;
		lens = off + n;
	}
	if ((rc = dec_topics(rd, (uint32_t)n, off, lens)) != FRAME_OK)
		goto out;
	memset(&r, 0, sizeof(r));
	for (i = 0; i < count; i++) {
		at = rd->p;
		if ((rc = dec_record(rd, (uint32_t)n, off, lens, &r)) !=
		    FRAME_OK)
			goto out;
		if (sums != NULL &&
		    (rc = dec_sum(rd, at, i, &r, sums)) != FRAME_OK)
			goto out;
		if (on_record != NULL && on_record(arg, &r) != 0) {
			rc = FRAME_ERR_ABORTED;
			goto out;
		}
	}
	if (rd->p != rd->end)
		rc = frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "%zu bytes after record %u", (size_t)(rd->end - rd->p),
		    count);
out:
	free(off);
	return rc;
}

/* Checks the LZ4 frame's own header against ours before allocating. */
static int
dec_lz4_info(struct frame_rd *rd, LZ4F_dctx *dctx, uint32_t body_len)
{
	LZ4F_frameInfo_t fi;
	size_t in = (size_t)(rd->end - rd->p), r;

	if (in == 0)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_TRUNCATED,
		    "no LZ4 frame after the header");
	if (body_len > FRAME_LZ4_MAX_RATIO * in)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "body length %u cannot come from %zu bytes of LZ4",
		    body_len, in);
	r = LZ4F_getFrameInfo(dctx, &fi, rd->p, &in);
	if (LZ4F_isError(r))
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "LZ4 frame header: %s", LZ4F_getErrorName(r));
	if (fi.frameType != LZ4F_frame || fi.dictID != 0)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "LZ4 frame is skippable or needs a dictionary");
	if (fi.contentSize != 0 && fi.contentSize != body_len)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "LZ4 content size %llu, header says %u", fi.contentSize,
		    body_len);
	rd->p += in;
	return FRAME_OK;
}

/* Decompresses the rest of rd into body (exactly body_len bytes). */
static int
dec_lz4_data(struct frame_rd *rd, LZ4F_dctx *dctx, uint8_t *body,
    uint32_t body_len)
{
	size_t done = 0, in, out, r = 1;

	while (r != 0) {
		in = (size_t)(rd->end - rd->p);
		out = body_len - done;
		r = LZ4F_decompress(dctx, body + done, &out, rd->p, &in, NULL);
		if (LZ4F_isError(r))
			return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
			    "LZ4: %s", LZ4F_getErrorName(r));
		rd->p += in;
		done += out;
		if (r != 0 && in == 0 && out == 0)
			return rd->p == rd->end ?
			    frame__rd_fail(rd, rd->p, FRAME_ERR_TRUNCATED,
			    "LZ4 frame ends early") :
			    frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
			    "LZ4 content longer than %u bytes", body_len);
	}
	if (rd->p != rd->end)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "%zu bytes after the LZ4 frame", (size_t)(rd->end - rd->p));
	if (done != body_len)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "LZ4 content is %zu bytes, header says %u", done, body_len);
	return FRAME_OK;
}

/* Codec lz4: decompresses into a new *body (the caller frees it). */
static int
dec_lz4(struct frame_rd *rd, uint32_t body_len, uint8_t **body)
{
	LZ4F_dctx *dctx;
	int rc;

	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
		return FRAME_ERR_NOMEM;
	if ((rc = dec_lz4_info(rd, dctx, body_len)) == FRAME_OK) {
		if ((*body = malloc(body_len)) == NULL)
			rc = FRAME_ERR_NOMEM;
		else
			rc = dec_lz4_data(rd, dctx, *body, body_len);
	}
	LZ4F_freeDecompressionContext(dctx);
	return rc;
}

int
frame_peek(const uint8_t *buf, size_t len, struct frame_header *h,
    struct frame_err *err)
{
	static const uint8_t none[1];
	struct frame_rd rd = { buf, buf, NULL, 0, 0, FRAME_ERR_TRUNCATED,
	    err };

	if (buf == NULL) {
		rd.start = rd.p = none;
		len = 0;
	}
	rd.end = rd.p + len;
	return dec_header(&rd, h);
}

int
frame_decode(const uint8_t *buf, size_t len, struct frame_header *hp,
    frame_on_record_fn on_record, void *arg, struct frame_err *err)
{
	return frame_decode_opts(buf, len, hp, NULL, on_record, arg, err);
}

/* The body's records: the checking pass, the summary, the delivery. */
int
frame__dec_records(const struct frame_rd *body, const struct frame_header *h,
    const struct frame_dec_opts *o, frame_on_record_fn on_record, void *arg)
{
	struct dec_sums sums;
	struct frame_rd rd = *body;
	int rc;

	memset(&sums, 0, sizeof(sums));
	sums.s.records = h->count;
	sums.max_expanded = o != NULL ? o->max_expanded : 0;
	if ((rc = dec_body(&rd, h->count, &sums, NULL, NULL)) != FRAME_OK)
		return rc;
	if (o != NULL && o->on_summary != NULL &&
	    o->on_summary(arg, h, &sums.s) != 0)
		return FRAME_ERR_ABORTED;
	if (on_record == NULL)
		return FRAME_OK;
	rd = *body;
	return dec_body(&rd, h->count, NULL, on_record, arg);
}

int
frame_decode_opts(const uint8_t *buf, size_t len, struct frame_header *hp,
    const struct frame_dec_opts *o, frame_on_record_fn on_record, void *arg,
    struct frame_err *err)
{
	struct frame_header hh, *h = hp != NULL ? hp : &hh;
	struct frame_rd rd, body;
	uint8_t *owned = NULL;
	const uint8_t *sum_at;
	int rc;

	if ((rc = frame_peek(buf, len, h, err)) != FRAME_OK)
		return rc;
	if (h->version == FRAME_VERSION_2)
		return frame__dec_v2(buf, len, h, o, on_record, arg, err);
	rd = (struct frame_rd){ buf, buf + h->header_len, buf + len, 0, 0,
	    FRAME_ERR_TRUNCATED, err };
	sum_at = rd.p - 8;
	body = rd;
	body.short_code = FRAME_ERR_MALFORMED;
	if (h->codec == FRAME_CODEC_NONE) {
		if (len - h->header_len != h->body_len)
			return frame__rd_fail(&rd,
			    len - h->header_len < h->body_len ?
			    rd.end : rd.p + h->body_len,
			    len - h->header_len < h->body_len ?
			    FRAME_ERR_TRUNCATED : FRAME_ERR_MALFORMED,
			    "data part is %zu bytes, header says %u",
			    len - h->header_len, h->body_len);
	} else {
		if ((rc = dec_lz4(&rd, h->body_len, &owned)) != FRAME_OK)
			goto out;
		body = (struct frame_rd){ owned, owned, owned + h->body_len,
		    0, 1, FRAME_ERR_MALFORMED, err };
	}
	if (frame__get_le(sum_at, 4) != frame__xxh32(body.p, h->body_len)) {
		rc = frame__rd_fail(&rd, sum_at, FRAME_ERR_CHECKSUM,
		    "content checksum mismatch");
		goto out;
	}
	rc = frame__dec_records(&body, h, o, on_record, arg);
out:
	free(owned);
	return rc;
}
