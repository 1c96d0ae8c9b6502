/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for version 2 of relay/frame: the test vectors of
 * docs/frame-format.md (section 9), round trips with and without a
 * dictionary, and what the decoder refuses: a missing or different
 * dictionary, a wrong check, truncation at every length.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay/frame.h"

/* docs/frame-format.md, 9.1: the batch of section 7, version 2, codec 0. */
static const uint8_t vec_none[] = {
	0x50, 0x52, 0x42, 0x46, 0x02, 0x00, 0x00, 0x0c, 0x67, 0x77, 0x2d, 0x62,
	0x65, 0x72, 0x6c, 0x69, 0x6e, 0x2e, 0x30, 0x31, 0x07, 0x03, 0x7f, 0x48,
	0xbf, 0x92, 0xa8, 0x02, 0x16, 0x74, 0x65, 0x6c, 0x65, 0x2f, 0x61, 0x71,
	0x5f, 0x44, 0x45, 0x53, 0x48, 0x30, 0x30, 0x31, 0x2f, 0x53, 0x45, 0x4e,
	0x53, 0x4f, 0x52, 0x16, 0x74, 0x65, 0x6c, 0x65, 0x2f, 0x61, 0x71, 0x5f,
	0x44, 0x45, 0x4e, 0x49, 0x30, 0x36, 0x33, 0x2f, 0x53, 0x45, 0x4e, 0x53,
	0x4f, 0x52, 0x01, 0x00, 0x80, 0xa0, 0xab, 0xfe, 0xf9, 0x62, 0x0d, 0x7b,
	0x22, 0x50, 0x4d, 0x31, 0x30, 0x22, 0x3a, 0x31, 0x36, 0x2e, 0x37, 0x7d,
	0x19, 0x00, 0xd0, 0x0f, 0x90, 0x1c, 0x13, 0x03, 0x00, 0x10, 0x61, 0x70,
	0x70, 0x6c, 0x69, 0x63, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x2f, 0x6a, 0x73,
	0x6f, 0x6e, 0x0d, 0x7b, 0x22, 0x50, 0x4d, 0x31, 0x30, 0x22, 0x3a, 0x31,
	0x36, 0x2e, 0x39, 0x7d, 0x04, 0x01, 0xf3, 0x03, 0x0d, 0x7b, 0x22, 0x50,
	0x4d, 0x31, 0x30, 0x22, 0x3a, 0x33, 0x31, 0x2e, 0x37, 0x7d,
};

/* 9.2: codec 1, one LZ4 block. */
static const uint8_t vec_lz4[] = {
	0x50, 0x52, 0x42, 0x46, 0x02, 0x01, 0x00, 0x0c, 0x67, 0x77, 0x2d, 0x62,
	0x65, 0x72, 0x6c, 0x69, 0x6e, 0x2e, 0x30, 0x31, 0x07, 0x03, 0x7f, 0x44,
	0x1a, 0x14, 0x23, 0xf7, 0x09, 0x02, 0x16, 0x74, 0x65, 0x6c, 0x65, 0x2f,
	0x61, 0x71, 0x5f, 0x44, 0x45, 0x53, 0x48, 0x30, 0x30, 0x31, 0x2f, 0x53,
	0x45, 0x4e, 0x53, 0x4f, 0x52, 0x17, 0x00, 0x53, 0x4e, 0x49, 0x30, 0x36,
	0x33, 0x17, 0x00, 0xf8, 0x21, 0x01, 0x00, 0x80, 0xa0, 0xab, 0xfe, 0xf9,
	0x62, 0x0d, 0x7b, 0x22, 0x50, 0x4d, 0x31, 0x30, 0x22, 0x3a, 0x31, 0x36,
	0x2e, 0x37, 0x7d, 0x19, 0x00, 0xd0, 0x0f, 0x90, 0x1c, 0x13, 0x03, 0x00,
	0x10, 0x61, 0x70, 0x70, 0x6c, 0x69, 0x63, 0x61, 0x74, 0x69, 0x6f, 0x6e,
	0x2f, 0x6a, 0x73, 0x6f, 0x6e, 0x28, 0x00, 0x65, 0x39, 0x7d, 0x04, 0x01,
	0xf3, 0x03, 0x12, 0x00, 0x50, 0x33, 0x31, 0x2e, 0x37, 0x7d,
};

/* 9.3: dictionary frame, id 1, sequence 6, stored. */
static const uint8_t vec_dict[] = {
	0x50, 0x52, 0x42, 0x46, 0x02, 0x00, 0x01, 0x0c, 0x67, 0x77, 0x2d, 0x62,
	0x65, 0x72, 0x6c, 0x69, 0x6e, 0x2e, 0x30, 0x31, 0x06, 0x01, 0x39, 0x0f,
	0x6d, 0xdd, 0x53, 0x74, 0x65, 0x6c, 0x65, 0x2f, 0x61, 0x71, 0x5f, 0x44,
	0x45, 0x53, 0x48, 0x30, 0x30, 0x31, 0x2f, 0x53, 0x45, 0x4e, 0x53, 0x4f,
	0x52, 0x7b, 0x22, 0x50, 0x4d, 0x31, 0x30, 0x22, 0x3a, 0x31, 0x36, 0x2e,
	0x37, 0x7d, 0x74, 0x65, 0x6c, 0x65, 0x2f, 0x61, 0x71, 0x5f, 0x44, 0x45,
	0x4e, 0x49, 0x30, 0x36, 0x33, 0x2f, 0x53, 0x45, 0x4e, 0x53, 0x4f, 0x52,
};

/* 9.4: codec 2, compressed with the dictionary of 9.3. */
static const uint8_t vec_dict_lz4[] = {
	0x50, 0x52, 0x42, 0x46, 0x02, 0x02, 0x00, 0x0c, 0x67, 0x77, 0x2d, 0x62,
	0x65, 0x72, 0x6c, 0x69, 0x6e, 0x2e, 0x30, 0x31, 0x07, 0x03, 0x7f, 0x01,
	0x89, 0x80, 0x5d, 0x46, 0xa9, 0x42, 0xca, 0xcd, 0x2f, 0x02, 0x16, 0x3b,
	0x00, 0x03, 0x07, 0x17, 0x00, 0x08, 0x2f, 0x00, 0x99, 0x01, 0x00, 0x80,
	0xa0, 0xab, 0xfe, 0xf9, 0x62, 0x0d, 0x5b, 0x00, 0xf8, 0x0b, 0x19, 0x00,
	0xd0, 0x0f, 0x90, 0x1c, 0x13, 0x03, 0x00, 0x10, 0x61, 0x70, 0x70, 0x6c,
	0x69, 0x63, 0x61, 0x74, 0x69, 0x6f, 0x6e, 0x2f, 0x6a, 0x73, 0x6f, 0x6e,
	0x28, 0x00, 0x65, 0x39, 0x7d, 0x04, 0x01, 0xf3, 0x03, 0x12, 0x00, 0x50,
	0x33, 0x31, 0x2e, 0x37, 0x7d,
};

#define DICT "tele/aq_DESH001/SENSOR{\"PM10\":16.7}tele/aq_DENI063/SENSOR"

static const uint8_t ct[] = { 3, 0, 16, 'a', 'p', 'p', 'l', 'i', 'c', 'a',
	't', 'i', 'o', 'n', '/', 'j', 's', 'o', 'n' };

/* The three records of section 7. */
static void
example(struct frame_record r[3])
{
	memset(r, 0, 3 * sizeof(*r));
	r[0].topic = "tele/aq_DESH001/SENSOR";
	r[0].topic_len = 22;
	r[0].payload = (const uint8_t *)"{\"PM10\":16.7}";
	r[0].payload_len = 13;
	r[0].qos = 1;
	r[0].ts_ms = 1700000000000;
	r[1] = r[0];
	r[1].payload = (const uint8_t *)"{\"PM10\":16.9}";
	r[1].ts_ms = 1700000001000;
	r[1].has_expiry = 1;
	r[1].expiry_s = 3600;
	r[1].props = ct;
	r[1].props_len = sizeof(ct);
	r[2] = r[0];
	r[2].topic = "tele/aq_DENI063/SENSOR";
	r[2].payload = (const uint8_t *)"{\"PM10\":31.7}";
	r[2].qos = 0;
	r[2].retain = 1;
	r[2].ts_ms = 1700000000750;
}

struct seen {
	int n;
	struct frame_record r[3];
	const uint8_t *dict;
	size_t dict_len;
	int asked;
};

static int
on_rec(void *arg, const struct frame_record *r)
{
	struct seen *s = arg;
	struct frame_record want[3];

	example(want);
	assert_true(s->n < 3);
	assert_int_equal(r->topic_len, want[s->n].topic_len);
	assert_memory_equal(r->topic, want[s->n].topic, r->topic_len);
	assert_int_equal(r->payload_len, want[s->n].payload_len);
	assert_memory_equal(r->payload, want[s->n].payload, r->payload_len);
	assert_int_equal(r->ts_ms, want[s->n].ts_ms);
	assert_int_equal(r->qos, want[s->n].qos);
	assert_int_equal(r->retain, want[s->n].retain);
	assert_int_equal(r->has_expiry, want[s->n].has_expiry);
	assert_int_equal(r->props_len, want[s->n].props_len);
	s->n++;
	return 0;
}

static int
get_dict(void *arg, const struct frame_header *h, const uint8_t **d,
    size_t *len)
{
	struct seen *s = arg;

	s->asked++;
	/* The header is not verified yet: its check needs the body. */
	if (s->dict == NULL || h->dict_id != 1 ||
	    strcmp(h->gateway_id, "gw-berlin.01") != 0)
		return 1;
	*d = s->dict;
	*len = s->dict_len;
	return 0;
}

static int
decode(const uint8_t *buf, size_t len, struct seen *s, struct frame_err *e)
{
	struct frame_dec_opts o = FRAME_DEC_OPTS_INIT;

	o.get_dict = get_dict;
	s->n = 0;
	return frame_decode_opts(buf, len, NULL, &o, on_rec, s, e);
}

/* The encoder writes the vectors byte for byte. */
static void
test_vectors_encode(void **state)
{
	struct frame_record r[3];
	struct frame_enc *e = frame_enc_new(16, 4096);
	uint8_t out[1024];
	size_t n, i;
	int c;
	const uint8_t *want[3] = { vec_none, vec_lz4, vec_dict_lz4 };
	size_t wlen[3] = { sizeof(vec_none), sizeof(vec_lz4),
	    sizeof(vec_dict_lz4) };

	(void)state;
	assert_non_null(e);
	example(r);
	assert_int_equal(frame_enc_set_version(e, 3), FRAME_ERR_INVAL);
	assert_int_equal(frame_enc_set_version(e, FRAME_VERSION_2), 0);
	for (c = 0; c < 3; c++) {
		assert_int_equal(frame_enc_reset(e, "gw-berlin.01", 7), 0);
		for (i = 0; i < 3; i++)
			assert_int_equal(frame_enc_add(e, &r[i]), 0);
		if (c == 2)
			assert_int_equal(frame_enc_set_dict(e, 1,
			    (const uint8_t *)DICT, strlen(DICT)), 0);
		assert_int_equal(frame_enc_finish(e, c == 0 ?
		    FRAME_CODEC_NONE : FRAME_CODEC_LZ4, out, sizeof(out), &n),
		    0);
		assert_int_equal(n, wlen[c]);
		assert_memory_equal(out, want[c], n);
	}
	assert_int_equal(frame_dict_encode("gw-berlin.01", 6, 1,
	    (const uint8_t *)DICT, strlen(DICT), FRAME_CODEC_NONE, out,
	    sizeof(out), &n), 0);
	assert_int_equal(n, sizeof(vec_dict));
	assert_memory_equal(out, vec_dict, n);
	assert_int_equal(frame_dict_check((const uint8_t *)DICT, strlen(DICT)),
	    0x465d8089);
	frame_enc_free(e);
}

/* The decoder reads the vectors back to the records of section 7. */
static void
test_vectors_decode(void **state)
{
	struct frame_header h;
	struct frame_err err;
	struct seen s;
	uint8_t dict[FRAME_DICT_MAX];
	size_t n;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(decode(vec_none, sizeof(vec_none), &s, &err), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(decode(vec_lz4, sizeof(vec_lz4), &s, &err), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(frame_peek(vec_lz4, sizeof(vec_lz4), &h, &err), 0);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.seq, 7);
	assert_int_equal(h.count, 3);
	assert_int_equal(h.body_len, 127);
	assert_int_equal(h.header_len, 27);
	/* Codec 2 without its dictionary: refused, nothing delivered. */
	assert_int_equal(decode(vec_dict_lz4, sizeof(vec_dict_lz4), &s, &err),
	    FRAME_ERR_NODICT);
	assert_int_equal(s.n, 0);
	assert_string_equal(err.msg, "frame: byte 24: dictionary 1 (check "
	    "465d8089) of gateway gw-berlin.01 is missing");
	/* The dictionary frame gives it. */
	assert_int_equal(frame_dict_decode(vec_dict, sizeof(vec_dict), &h,
	    dict, sizeof(dict), &n, &err), 0);
	assert_int_equal(h.kind, FRAME_KIND_DICT);
	assert_int_equal(h.dict_id, 1);
	assert_int_equal(h.dict_check, 0x465d8089);
	assert_int_equal(h.seq, 6);
	assert_int_equal(n, strlen(DICT));
	assert_memory_equal(dict, DICT, n);
	s.dict = dict;
	s.dict_len = n;
	assert_int_equal(decode(vec_dict_lz4, sizeof(vec_dict_lz4), &s, &err),
	    0);
	assert_int_equal(s.n, 3);
	/* A dictionary frame is not records, and records no dictionary. */
	assert_int_equal(decode(vec_dict, sizeof(vec_dict), &s, &err),
	    FRAME_ERR_INVAL);
	assert_int_equal(frame_dict_decode(vec_lz4, sizeof(vec_lz4), &h, dict,
	    sizeof(dict), &n, &err), FRAME_ERR_INVAL);
}

/* Same id, other content: never used (the check names the content). */
static void
test_wrong_dictionary(void **state)
{
	struct frame_err err;
	struct seen s;
	uint8_t other[] = DICT;

	(void)state;
	memset(&s, 0, sizeof(s));
	other[3] ^= 1;
	s.dict = other;
	s.dict_len = strlen(DICT);
	assert_int_equal(decode(vec_dict_lz4, sizeof(vec_dict_lz4), &s, &err),
	    FRAME_ERR_NODICT);
	assert_int_equal(s.asked, 1);
	assert_int_equal(s.n, 0);
	/* A shorter dictionary with the same start: refused too. */
	s.dict = (const uint8_t *)DICT;
	s.dict_len = strlen(DICT) - 1;
	assert_int_equal(decode(vec_dict_lz4, sizeof(vec_dict_lz4), &s, &err),
	    FRAME_ERR_NODICT);
	assert_int_equal(s.n, 0);
}

/* Every byte flipped and every truncation: refused, nothing delivered. */
static void
test_flips_and_truncation(void **state)
{
	const uint8_t *v[3] = { vec_none, vec_lz4, vec_dict_lz4 };
	size_t vl[3] = { sizeof(vec_none), sizeof(vec_lz4),
	    sizeof(vec_dict_lz4) };
	uint8_t buf[256];
	struct frame_err err;
	struct seen s;
	size_t i, k;
	int rc;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.dict = (const uint8_t *)DICT;
	s.dict_len = strlen(DICT);
	for (k = 0; k < 3; k++) {
		for (i = 0; i < vl[k]; i++) {
			memcpy(buf, v[k], vl[k]);
			buf[i] ^= 0x01;
			/*
			 * An LZ4 match may point at other bytes of the
			 * same content: such a flip decodes to the same
			 * records (on_rec compares them), or to none.
			 */
			rc = decode(buf, vl[k], &s, &err);
			assert_int_equal(s.n, rc == 0 ? 3 : 0);
			assert_true(rc != 0 || i >= 27);	/* never in a header */
		}
		for (i = 0; i < vl[k]; i++) {
			rc = decode(v[k], i, &s, &err);
			assert_int_not_equal(rc, 0);
			assert_int_equal(s.n, 0);
		}
	}
}

/* Random-ish batches, every codec, with and without a dictionary. */
static void
test_round_trip(void **state)
{
	static uint8_t out[1 << 20], payload[300];
	char topic[64];
	struct frame_enc *e = frame_enc_new(1000, 1 << 18);
	struct frame_record r;
	struct frame_err err;
	struct frame_dec_opts o = FRAME_DEC_OPTS_INIT;
	struct seen s;
	uint32_t x = 1;
	size_t n, i, v1len = 0, v2len = 0;
	int round, rc;

	(void)state;
	assert_non_null(e);
	memset(&s, 0, sizeof(s));
	s.dict = (const uint8_t *)DICT;
	s.dict_len = strlen(DICT);
	o.get_dict = get_dict;
	for (round = 0; round < 4; round++) {
		assert_int_equal(frame_enc_set_version(e, round == 0 ? 1 : 2),
		    0);
		assert_int_equal(frame_enc_set_dict(e, round == 3 ? 1 : 0,
		    round == 3 ? s.dict : NULL, s.dict_len), 0);
		assert_int_equal(frame_enc_reset(e, "gw-berlin.01",
		    (UINT64_C(1) << 62) + (uint64_t)round), 0);
		for (i = 0; i < 500; i++) {
			memset(&r, 0, sizeof(r));
			x = x * 1103515245u + 12345u;
			snprintf(topic, sizeof(topic), "tele/dev%u/SENSOR",
			    (x >> 16) % 10);
			r.topic = topic;
			r.topic_len = strlen(topic);
			r.payload_len = (size_t)snprintf((char *)payload,
			    sizeof(payload), "{\"PM10\":%u.%u}", (x >> 8) % 99,
			    x % 10);
			r.payload = payload;
			r.qos = (int)(x % 3);
			r.ts_ms = 1700000000000 + (int64_t)i * 1000;
			assert_int_equal(frame_enc_add(e, &r), 0);
		}
		assert_int_equal(frame_enc_finish(e, round == 1 ?
		    FRAME_CODEC_NONE : FRAME_CODEC_LZ4, out, sizeof(out), &n),
		    0);
		if (round == 0)
			v1len = n;
		if (round == 2)
			v2len = n;
		rc = frame_decode_opts(out, n, NULL, &o, NULL, &s, &err);
		assert_int_equal(rc, 0);
	}
	/* v2 saves the LZ4 frame's header, end mark, checksum and more. */
	assert_true(v2len + 30 <= v1len);
	frame_enc_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors_encode),
		cmocka_unit_test(test_vectors_decode),
		cmocka_unit_test(test_wrong_dictionary),
		cmocka_unit_test(test_flips_and_truncation),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
