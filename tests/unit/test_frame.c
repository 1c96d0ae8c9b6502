/* SPDX-License-Identifier: ISC */
/* Unit tests for relay/frame: round trips, limits and decoder hardening. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lz4frame.h>

#define FRAME_INTERNAL
#include "relay/frame.h"

#define BODY_CAP	(1u << 20)
#define NREC		1000

/* A frame built by the tests, with the records that went into it. */
struct sample {
	uint8_t *buf;
	size_t len;
};

/* Decoded records, copied, for comparison. */
struct got {
	size_t n;
	struct frame_record r[NREC + 8];
	uint8_t *copies[NREC + 8];
};

static uint8_t long_topic[FRAME_MAX_TOPIC];
static uint8_t binary[256];
/* Every carried property: format, content type, response topic,
 * correlation data, two user properties. */
static const uint8_t all_props[] = {
	1, 1,
	3, 0, 4, 'j', 's', 'o', 'n',
	8, 0, 3, 'r', '/', 't',
	9, 0, 2, 0x00, 0xff,
	38, 0, 1, 'k', 0, 1, 'v',
	38, 0, 1, 'k', 0, 0,
};

static int
keep(void *arg, const struct frame_record *r)
{
	struct got *g = arg;
	uint8_t *c;

	assert_true(g->n < NREC + 8);
	/* Copy what the pointers show: they are valid only for the call. */
	c = malloc(r->topic_len + r->payload_len + r->props_len + 1);
	assert_non_null(c);
	memcpy(c, r->topic, r->topic_len);
	if (r->payload_len > 0)
		memcpy(c + r->topic_len, r->payload, r->payload_len);
	if (r->props_len > 0)
		memcpy(c + r->topic_len + r->payload_len, r->props,
		    r->props_len);
	g->r[g->n] = *r;
	g->r[g->n].topic = (const char *)c;
	g->r[g->n].payload = c + r->topic_len;
	g->r[g->n].props = r->props_len > 0 ? c + r->topic_len +
	    r->payload_len : NULL;
	g->copies[g->n++] = c;
	return 0;
}

static void
got_free(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->copies[i]);
	g->n = 0;
}

/* The i-th record of the standard batch: every kind of field. */
static struct frame_record
rec(size_t i, char *tbuf, size_t tcap)
{
	struct frame_record r;

	memset(&r, 0, sizeof(r));
	snprintf(tbuf, tcap, "site/dev%zu/temp", i % 17);
	r.topic = tbuf;
	r.topic_len = strlen(tbuf);
	r.payload = (const uint8_t *)"{\"t\":21.5,\"h\":40}";
	r.payload_len = 17;
	r.ts_ms = 1700000000000 + (int64_t)(i * 250) - (i % 5 == 4 ? 3000 : 0);
	r.qos = (int)(i % 3);
	r.retain = i % 7 == 0;
	if (i % 4 == 1) {
		r.has_expiry = 1;
		r.expiry_s = (uint32_t)(i == 1 ? UINT32_MAX : i);
	}
	switch (i % 10) {
	case 3:
		r.payload_len = 0;	/* empty payload */
		r.payload = NULL;
		break;
	case 5:
		r.payload = binary;
		r.payload_len = sizeof(binary);
		break;
	case 6:
		r.props = all_props;
		r.props_len = sizeof(all_props);
		break;
	default:
		break;
	}
	if (i == 509) {
		r.topic = (const char *)long_topic;
		r.topic_len = sizeof(long_topic);
	}
	if (i == 11)
		r.ts_ms = 0;
	return r;
}

static void
assert_rec_equal(const struct frame_record *a, const struct frame_record *b)
{
	assert_int_equal(a->topic_len, b->topic_len);
	assert_memory_equal(a->topic, b->topic, a->topic_len);
	assert_int_equal(a->payload_len, b->payload_len);
	if (a->payload_len > 0)
		assert_memory_equal(a->payload, b->payload, a->payload_len);
	assert_int_equal(a->props_len, b->props_len);
	if (a->props_len > 0)
		assert_memory_equal(a->props, b->props, a->props_len);
	assert_true(a->ts_ms == b->ts_ms);
	assert_int_equal(a->qos, b->qos);
	assert_int_equal(a->retain, b->retain);
	assert_int_equal(a->has_expiry, b->has_expiry);
	assert_int_equal(a->expiry_s, b->expiry_s);
}

/* Encodes the standard batch of n records with codec. */
static struct sample
make(size_t n, enum frame_codec codec)
{
	struct frame_enc *e = frame_enc_new(NREC, BODY_CAP);
	struct sample s;
	char t[64];
	size_t i;

	assert_non_null(e);
	assert_int_equal(frame_enc_reset(e, "gw-01.test_A", 42), 0);
	for (i = 0; i < n; i++) {
		struct frame_record r = rec(i, t, sizeof(t));

		assert_int_equal(frame_enc_add(e, &r), 0);
	}
	s.buf = malloc(frame_bound(BODY_CAP));
	assert_non_null(s.buf);
	assert_int_equal(frame_enc_finish(e, codec, s.buf,
	    frame_bound(BODY_CAP), &s.len), 0);
	frame_enc_free(e);
	return s;
}

static void
check_roundtrip(enum frame_codec codec)
{
	struct sample s = make(NREC, codec);
	struct frame_header h;
	struct frame_err err;
	struct got *g = calloc(1, sizeof(*g));
	char t[64];
	size_t i;

	assert_non_null(g);
	assert_int_equal(frame_decode(s.buf, s.len, &h, keep, g, &err), 0);
	assert_int_equal(h.version, FRAME_VERSION);
	assert_int_equal(h.codec, codec);
	assert_string_equal(h.gateway_id, "gw-01.test_A");
	assert_true(h.seq == 42);
	assert_int_equal(h.count, NREC);
	assert_int_equal(g->n, NREC);
	for (i = 0; i < NREC; i++) {
		struct frame_record r = rec(i, t, sizeof(t));

		assert_rec_equal(&g->r[i], &r);
	}
	got_free(g);
	free(g);
	free(s.buf);
}

static void
test_roundtrip_none(void **state)
{
	(void)state;
	check_roundtrip(FRAME_CODEC_NONE);
}

static void
test_roundtrip_lz4(void **state)
{
	(void)state;
	check_roundtrip(FRAME_CODEC_LZ4);
}

static void
test_empty_batch(void **state)
{
	struct sample s;
	struct frame_header h;

	(void)state;
	s = make(0, FRAME_CODEC_LZ4);
	assert_int_equal(frame_decode(s.buf, s.len, &h, keep, NULL, NULL), 0);
	assert_int_equal(h.count, 0);
	assert_int_equal(h.body_len, 1);
	free(s.buf);
}

/* Our XXH32 equals the content checksum liblz4 writes. */
static void
test_xxh32_matches_lz4(void **state)
{
	LZ4F_preferences_t prefs;
	static uint8_t src[1000], dst[2000];
	size_t len, n;

	(void)state;
	for (n = 0; n < sizeof(src); n++)
		src[n] = (uint8_t)(n * 131 + (n >> 3));
	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	for (len = 0; len <= sizeof(src); len += len < 40 ? 1 : 97) {
		n = LZ4F_compressFrame(dst, sizeof(dst), src, len, &prefs);
		assert_false(LZ4F_isError(n));
		assert_int_equal(frame__xxh32(src, len),
		    (uint32_t)dst[n - 4] | (uint32_t)dst[n - 3] << 8 |
		    (uint32_t)dst[n - 2] << 16 | (uint32_t)dst[n - 1] << 24);
	}
	assert_int_equal(frame__xxh32(src, 0), 0x02CC5D05u);
}

static void
test_full_and_toobig(void **state)
{
	struct frame_enc *e = frame_enc_new(3, 64);
	struct frame_record r;
	uint8_t big[64], out[512];
	size_t n;

	(void)state;
	assert_non_null(e);
	memset(&r, 0, sizeof(r));
	memset(big, 'x', sizeof(big));
	r.topic = "a/b";
	r.topic_len = 3;
	r.payload = big;
	assert_int_equal(frame_enc_add(e, &r), FRAME_ERR_INVAL); /* no reset */
	assert_int_equal(frame_enc_reset(e, "gw", 1), 0);
	r.payload_len = 60;
	assert_int_equal(frame_enc_add(e, &r), FRAME_ERR_TOOBIG);
	r.payload_len = 20;
	assert_int_equal(frame_enc_add(e, &r), 0);
	assert_int_equal(frame_enc_add(e, &r), 0);
	/* A third one fits the record cap but not the 64 body bytes. */
	assert_int_equal(frame_enc_add(e, &r), FRAME_ERR_FULL);
	r.payload_len = 1;
	assert_int_equal(frame_enc_add(e, &r), 0);
	assert_int_equal(frame_enc_add(e, &r), FRAME_ERR_FULL); /* 3 max */
	assert_int_equal(frame_enc_count(e), 3);
	assert_true(frame_enc_body_len(e) <= 64);
	assert_true(frame_bound(64) <= sizeof(out));
	assert_int_equal(frame_enc_finish(e, FRAME_CODEC_LZ4, out, 10, &n),
	    FRAME_ERR_NOSPACE);
	assert_int_equal(frame_enc_finish(e, 7, out, sizeof(out), &n),
	    FRAME_ERR_INVAL);
	assert_int_equal(frame_enc_finish(e, FRAME_CODEC_LZ4, out,
	    frame_bound(64), &n), 0);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, NULL), 0);
	assert_int_equal(frame_enc_add(e, &r), FRAME_ERR_INVAL); /* closed */
	frame_enc_free(e);
	frame_enc_free(NULL);
	assert_null(frame_enc_new(0, 64));
	assert_null(frame_enc_new(1, FRAME_MAX_BODY + 1));
}

static void
test_encoder_refuses_bad_fields(void **state)
{
	static const uint8_t bad_props[][6] = {
		{ 2, 0, 0, 0, 1, 0 },		/* id 2: expiry is not carried */
		{ 3, 0, 9, 'a', 'b', 0 },	/* length past the blob */
		{ 1, 0, 1, 1, 0, 0 },		/* format indicator twice */
		{ 1, 2, 0, 0, 0, 0 },		/* format indicator 2 */
	};
	static const size_t bad_len[] = { 5, 5, 4, 2 };
	struct frame_enc *e = frame_enc_new(10, 1024);
	struct frame_record r;
	size_t i;

	(void)state;
	assert_non_null(e);
	assert_int_equal(frame_enc_reset(e, "", 1), FRAME_ERR_INVAL);
	assert_int_equal(frame_enc_reset(e, "gw/1", 1), FRAME_ERR_INVAL);
	assert_int_equal(frame_enc_reset(e, "01234567890123456789012345678901"
	    "234567890123456789012345678901234", 1), FRAME_ERR_INVAL);
	assert_int_equal(frame_enc_reset(e, "0123456789012345678901234567890"
	    "1234567890123456789012345678901234", 1), FRAME_ERR_INVAL);
	assert_int_equal(frame_enc_reset(e, "0123456789012345678901234567890"
	    "123456789012345678901234567890123", 1), 0);
	memset(&r, 0, sizeof(r));
	r.topic = "a/+";
	r.topic_len = 3;
	assert_int_equal(frame_enc_add(e, &r), FRAME_ERR_INVAL);
	r.topic = "a/b";
	r.qos = 3;
	assert_int_equal(frame_enc_add(e, &r), FRAME_ERR_INVAL);
	r.qos = 0;
	r.ts_ms = -1;
	assert_int_equal(frame_enc_add(e, &r), FRAME_ERR_INVAL);
	r.ts_ms = 0;
	for (i = 0; i < 4; i++) {
		r.props = bad_props[i];
		r.props_len = bad_len[i];
		assert_int_equal(frame_enc_add(e, &r), FRAME_ERR_INVAL);
	}
	r.props = all_props;
	r.props_len = sizeof(all_props);
	assert_int_equal(frame_enc_add(e, &r), 0);
	frame_enc_free(e);
}

/* Every prefix of a valid frame is refused, for both codecs. */
static void
test_truncated_every_length(void **state)
{
	enum frame_codec c;
	struct frame_err err;
	struct sample s;
	size_t len;
	int rc;

	(void)state;
	for (c = FRAME_CODEC_NONE; c <= FRAME_CODEC_LZ4; c++) {
		s = make(40, c);
		for (len = 0; len < s.len; len++) {
			uint8_t *cp = malloc(len > 0 ? len : 1);

			/* An exact-size copy, so ASan sees any overread. */
			memcpy(cp, s.buf, len);
			rc = frame_decode(cp, len, NULL, NULL, NULL, &err);
			assert_true(rc < 0);
			assert_true(err.offset <= (err.in_body ? FRAME_MAX_BODY :
			    len));
			free(cp);
		}
		assert_int_equal(frame_decode(NULL, 0, NULL, NULL, NULL, &err),
		    FRAME_ERR_TRUNCATED);
		free(s.buf);
	}
}

/*
 * Every single-bit flip anywhere in a valid frame is refused, except, with
 * codec lz4, a flip that leaves the decompressed content unchanged (an LZ4
 * match offset that points at identical bytes): that frame must then
 * decode to exactly the original records.
 */
static void
test_every_bit_flip(void **state)
{
	struct got *g = calloc(1, sizeof(*g));
	enum frame_codec c;
	struct sample s;
	size_t i, j, benign = 0;
	char t[64];
	int b, rc;

	(void)state;
	assert_non_null(g);
	for (c = FRAME_CODEC_NONE; c <= FRAME_CODEC_LZ4; c++) {
		s = make(30, c);
		for (i = 0; i < s.len; i++)
			for (b = 0; b < 8; b++) {
				s.buf[i] ^= (uint8_t)(1u << b);
				rc = frame_decode(s.buf, s.len, NULL, keep, g,
				    NULL);
				if (rc == 0 && c == FRAME_CODEC_NONE)
					fail_msg("flip of byte %zu bit %d "
					    "accepted", i, b);
				for (j = 0; rc == 0 && j < 30; j++) {
					struct frame_record r = rec(j, t,
					    sizeof(t));

					assert_int_equal(g->n, 30);
					assert_rec_equal(&g->r[j], &r);
				}
				benign += rc == 0;
				got_free(g);
				s.buf[i] ^= (uint8_t)(1u << b);
			}
		assert_int_equal(frame_decode(s.buf, s.len, NULL, NULL, NULL,
		    NULL), 0);
		free(s.buf);
	}
	print_message("lz4: %zu flips left the content unchanged\n", benign);
	free(g);
}

/*
 * Builds a frame by hand, independently of the encoder: header fields as
 * given, header checksum correct, content checksum over body (body_real
 * bytes), then data_len bytes of data.
 */
static size_t
forge(uint8_t *out, int version, int codec, uint64_t seq, uint32_t count,
    uint32_t body_len, const uint8_t *body, size_t body_real,
    size_t data_len, const uint8_t *data)
{
	uint8_t *t = out + 8 + 2;
	size_t i;

	memcpy(out, "PRBF", 4);
	out[4] = (uint8_t)version;
	out[5] = (uint8_t)codec;
	out[6] = 0;
	out[7] = 2;
	memcpy(out + 8, "gw", 2);
	for (i = 0; i < 8; i++)
		t[i] = (uint8_t)(seq >> (8 * i));
	for (i = 0; i < 4; i++) {
		t[8 + i] = (uint8_t)(count >> (8 * i));
		t[12 + i] = (uint8_t)(body_len >> (8 * i));
	}
	i = frame__xxh32(body, body_real);
	memcpy(t + 16, (uint8_t[]){ (uint8_t)i, (uint8_t)(i >> 8),
	    (uint8_t)(i >> 16), (uint8_t)(i >> 24) }, 4);
	i = frame__xxh32(out, (size_t)(t + 20 - out));
	memcpy(t + 20, (uint8_t[]){ (uint8_t)i, (uint8_t)(i >> 8),
	    (uint8_t)(i >> 16), (uint8_t)(i >> 24) }, 4);
	memcpy(t + 24, data, data_len);
	return (size_t)(t + 24 - out) + data_len;
}

/* Decodes a forged codec-none frame; checks the code and the message. */
static void
expect(uint32_t count, const uint8_t *body, size_t len, int code,
    const char *msg)
{
	uint8_t out[256];
	struct frame_err err;
	size_t n;

	n = forge(out, 1, 0, 7, count, (uint32_t)len, body, len, len, body);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err), code);
	if (strstr(err.msg, msg) == NULL)
		fail_msg("message \"%s\" lacks \"%s\"", err.msg, msg);
}

static void
test_version_and_codec(void **state)
{
	static const uint8_t body[] = { 0 };
	uint8_t out[128];
	struct frame_err err;
	size_t n;

	(void)state;
	n = forge(out, 2, 0, 1, 0, 1, body, 1, 1, body);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_VERSION);
	assert_string_equal(err.msg, "frame: byte 4: unsupported version 2 "
	    "(this decoder reads version 1)");
	n = forge(out, 1, 7, 1, 0, 1, body, 1, 1, body);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_CODEC);
	assert_string_equal(err.msg, "frame: byte 5: unknown codec 7");
	assert_int_equal(err.offset, 5);
	n = forge(out, 1, 0, 1, 0, 1, body, 1, 1, body);
	out[0] = 'X';
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_MAGIC);
	assert_string_equal(frame_strerror(FRAME_ERR_CODEC),
	    "unsupported codec");
	assert_string_equal(frame_strerror(-99), "unknown frame error");
}

static void
test_oversized_counts(void **state)
{
	static const uint8_t body[] = { 0 };
	uint8_t out[128];
	struct frame_err err;
	size_t n;

	(void)state;
	n = forge(out, 1, 0, 1, FRAME_MAX_RECORDS + 1, 1, body, 1, 1, body);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_LIMIT);
	assert_int_equal(err.offset, 18);
	n = forge(out, 1, 0, 1, 0, FRAME_MAX_BODY + 1, body, 1, 1, body);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_LIMIT);
	n = forge(out, 1, 0, 1, 0xffffffffu, 1, body, 1, 1, body);
	assert_int_equal(frame_peek(out, n, &(struct frame_header){ 0 },
	    &err), FRAME_ERR_LIMIT);
	/* 1000 records cannot fit in 100 bytes. */
	n = forge(out, 1, 0, 1, 1000, 100, body, 1, 1, body);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_MALFORMED);
}

static void
test_lying_body(void **state)
{
	/* topics: 1, "a/b"; then records: flags, topic, ts, payload. */
	static const uint8_t ok[] = { 1, 3, 'a', '/', 'b',
	    0x01, 0, 4, 2, 'h', 'i' };
	static const uint8_t topic_long[] = { 1, 0x7f, 'a', '/', 'b',
	    0x01, 0, 4, 2 };
	static const uint8_t payload_long[] = { 1, 3, 'a', '/', 'b',
	    0x01, 0, 4, 9, 'h', 'i' };
	static const uint8_t bad_index[] = { 1, 3, 'a', '/', 'b',
	    0x01, 1, 4, 2, 'h', 'i' };
	static const uint8_t bad_flags[] = { 1, 3, 'a', '/', 'b',
	    0x03, 0, 4, 2, 'h', 'i' };
	static const uint8_t overlong[] = { 1, 3, 'a', '/', 'b',
	    0x01, 0, 0x84, 0x00, 2, 'h', 'i' };
	static const uint8_t before_epoch[] = { 1, 3, 'a', '/', 'b',
	    0x01, 0, 3, 2, 'h', 'i' };
	static const uint8_t props_bad[] = { 1, 3, 'a', '/', 'b',
	    0x11, 0, 4, 3, 2, 0, 0, 0 };
	static const uint8_t props_past[] = { 1, 3, 'a', '/', 'b',
	    0x11, 0, 4, 9, 2, 0, 0, 0 };
	static const uint8_t wildcard[] = { 1, 3, 'a', '/', '#',
	    0x01, 0, 4, 2, 'h', 'i' };
	static const uint8_t trailing[] = { 1, 3, 'a', '/', 'b',
	    0x01, 0, 4, 2, 'h', 'i', 0 };
	static const uint8_t topics_many[] = { 2, 3, 'a', '/', 'b',
	    0x01, 0, 4, 2, 'h', 'i' };

	(void)state;
	expect(1, ok, sizeof(ok), 0, "");
	expect(1, topic_long, sizeof(topic_long), FRAME_ERR_MALFORMED,
	    "byte 43: ends inside a topic");
	expect(1, payload_long, sizeof(payload_long), FRAME_ERR_MALFORMED,
	    "payload length 9, only 2 bytes left");
	expect(2, ok, sizeof(ok), FRAME_ERR_MALFORMED, "ends inside a record");
	expect(1, bad_index, sizeof(bad_index), FRAME_ERR_MALFORMED,
	    "topic index 1 over 0");
	expect(1, bad_flags, sizeof(bad_flags), FRAME_ERR_MALFORMED,
	    "bad record flags 0x03");
	expect(1, overlong, sizeof(overlong), FRAME_ERR_MALFORMED,
	    "not in shortest form");
	expect(1, before_epoch, sizeof(before_epoch), FRAME_ERR_MALFORMED,
	    "before the epoch");
	expect(1, props_bad, sizeof(props_bad), FRAME_ERR_MALFORMED,
	    "unknown property id 2");
	expect(1, props_past, sizeof(props_past), FRAME_ERR_MALFORMED,
	    "properties length 9, only 4 bytes left");
	expect(1, wildcard, sizeof(wildcard), FRAME_ERR_MALFORMED,
	    "topic contains 0x23");
	expect(1, trailing, sizeof(trailing), FRAME_ERR_MALFORMED,
	    "1 bytes after record 1");
	expect(1, topics_many, sizeof(topics_many), FRAME_ERR_MALFORMED,
	    "topic count 2 over 1");
}

/* Forges a codec-lz4 frame around the LZ4 frame of body. */
static size_t
forge_lz4(uint8_t *out, uint32_t body_len, const uint8_t *body,
    size_t real_len, unsigned long long content_size)
{
	LZ4F_preferences_t prefs;
	uint8_t lz[512];
	size_t n;
	uint32_t hc;

	memset(&prefs, 0, sizeof(prefs));
	prefs.frameInfo.contentSize = real_len;
	n = LZ4F_compressFrame(lz, sizeof(lz), body, real_len, &prefs);
	assert_false(LZ4F_isError(n));
	/* Rewrite the content size field (bytes 6..13) and the LZ4 header
	 * checksum (byte 14, second byte of XXH32 of bytes 4..13). */
	assert_true((lz[4] & 0x08) != 0);
	for (hc = 0; hc < 8; hc++)
		lz[6 + hc] = (uint8_t)(content_size >> (8 * hc));
	lz[14] = (uint8_t)(frame__xxh32(lz + 4, 10) >> 8);
	return forge(out, 1, 1, 1, 1, body_len, body, real_len, n, lz);
}

static void
test_lying_lz4(void **state)
{
	static const uint8_t ok[] = { 1, 3, 'a', '/', 'b',
	    0x01, 0, 4, 2, 'h', 'i' };
	uint8_t out[600];
	struct frame_err err;
	size_t n;

	(void)state;
	n = forge_lz4(out, sizeof(ok), ok, sizeof(ok), sizeof(ok));
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err), 0);
	/* Trailing garbage after the LZ4 frame. */
	out[n] = 0;
	assert_int_equal(frame_decode(out, n + 1, NULL, NULL, NULL, &err),
	    FRAME_ERR_MALFORMED);
	assert_non_null(strstr(err.msg, "1 bytes after the LZ4 frame"));
	/* The LZ4 frame declares a huge content size. */
	n = forge_lz4(out, sizeof(ok), ok, sizeof(ok), 1ull << 40);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_MALFORMED);
	assert_non_null(strstr(err.msg, "LZ4 content size 1099511627776"));
	/* Both lie, consistently, within the limit: refused before any
	 * allocation by the LZ4 expansion bound. */
	n = forge_lz4(out, FRAME_MAX_BODY, ok, sizeof(ok), FRAME_MAX_BODY);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_MALFORMED);
	assert_non_null(strstr(err.msg, "cannot come from"));
	/* Our header says more than the LZ4 frame holds. */
	n = forge_lz4(out, sizeof(ok) + 5, ok, sizeof(ok), 0);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_MALFORMED);
	assert_non_null(strstr(err.msg, "LZ4 content is 11 bytes"));
	/* And less. */
	n = forge_lz4(out, sizeof(ok) - 2, ok, sizeof(ok), 0);
	assert_int_equal(frame_decode(out, n, NULL, NULL, NULL, &err),
	    FRAME_ERR_MALFORMED);
}

static int
stop_at_first(void *arg, const struct frame_record *r)
{
	(void)r;
	(*(int *)arg)++;
	return 1;
}

static void
test_callback_and_all_or_nothing(void **state)
{
	/* Two good records, then a third with a bad topic index. */
	static const uint8_t body[] = { 1, 3, 'a', '/', 'b',
	    0x01, 0, 4, 2, 'h', 'i',
	    0x01, 0, 4, 2, 'h', 'i',
	    0x01, 5, 4, 2, 'h', 'i' };
	uint8_t out[256];
	struct frame_header h;
	size_t n;
	int calls = 0;

	(void)state;
	n = forge(out, 1, 0, 9, 3, sizeof(body), body, sizeof(body),
	    sizeof(body), body);
	assert_int_equal(frame_decode(out, n, NULL, stop_at_first, &calls,
	    NULL), FRAME_ERR_MALFORMED);
	assert_int_equal(calls, 0);
	n = forge(out, 1, 0, 9, 2, sizeof(body) - 6, body, sizeof(body) - 6,
	    sizeof(body) - 6, body);
	assert_int_equal(frame_decode(out, n, NULL, stop_at_first, &calls,
	    NULL), FRAME_ERR_ABORTED);
	assert_int_equal(calls, 1);
	assert_int_equal(frame_peek(out, 34, &h, NULL), 0);
	assert_true(h.seq == 9);
	assert_int_equal(h.header_len, 34);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_none),
		cmocka_unit_test(test_roundtrip_lz4),
		cmocka_unit_test(test_empty_batch),
		cmocka_unit_test(test_xxh32_matches_lz4),
		cmocka_unit_test(test_full_and_toobig),
		cmocka_unit_test(test_encoder_refuses_bad_fields),
		cmocka_unit_test(test_truncated_every_length),
		cmocka_unit_test(test_every_bit_flip),
		cmocka_unit_test(test_version_and_codec),
		cmocka_unit_test(test_oversized_counts),
		cmocka_unit_test(test_lying_body),
		cmocka_unit_test(test_lying_lz4),
		cmocka_unit_test(test_callback_and_all_or_nothing),
	};
	size_t i;

	memset(long_topic, 'L', sizeof(long_topic));
	long_topic[0] = '/';
	for (i = 0; i < sizeof(binary); i++)
		binary[i] = (uint8_t)i;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
