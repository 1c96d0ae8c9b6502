/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for relay/frame's receiver checks: MQTT's string rules per
 * record (frame_record.refused) and the bound on what a frame expands to
 * (frame_decode_opts).
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

#define BODY_CAP	(8u << 20)

static uint8_t *out;
static size_t out_cap;

/* What the callbacks saw. */
struct seen {
	size_t n;
	int refused[16];
	int summaries;
	struct frame_summary sum;
	int stop;		/* on_summary's answer */
};

static int
on_record(void *arg, const struct frame_record *r)
{
	struct seen *s = arg;

	if (s->n < 16)
		s->refused[s->n] = r->refused;
	s->n++;
	return 0;
}

static int
on_summary(void *arg, const struct frame_header *h,
    const struct frame_summary *sum)
{
	struct seen *s = arg;

	assert_string_equal(h->gateway_id, "gw-a");
	s->summaries++;
	s->sum = *sum;
	return s->stop;
}

/* One record of topic t (NUL-terminated) and props p (plen bytes). */
static struct frame_record
rec(const char *t, const uint8_t *p, size_t plen)
{
	struct frame_record r;

	memset(&r, 0, sizeof(r));
	r.topic = t;
	r.topic_len = strlen(t);
	r.payload = (const uint8_t *)"pay";
	r.payload_len = 3;
	r.props = p;
	r.props_len = plen;
	r.qos = 1;
	r.ts_ms = 1700000000000;
	return r;
}

/* Encodes the n records of rs as one frame of gateway gw-a into out. */
static size_t
encode(const struct frame_record *rs, size_t n, enum frame_codec codec)
{
	struct frame_enc *e = frame_enc_new(n > 0 ? n : 1, BODY_CAP);
	size_t i, len;

	assert_non_null(e);
	assert_int_equal(frame_enc_reset(e, "gw-a", 1), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(frame_enc_add(e, &rs[i]), 0);
	assert_int_equal(frame_enc_finish(e, codec, out, out_cap, &len), 0);
	frame_enc_free(e);
	return len;
}

static void
test_string_rules(void **state)
{
	static const uint8_t ct_ctrl[] = { 3, 0, 2, 'a', 0x01 };
	static const uint8_t ct_ok[] = { 3, 0, 3, 0xe2, 0x82, 0xac };
	static const uint8_t user_bad[] = { 38, 0, 1, 'k', 0, 2, 0xc0, 0xaf };
	static const uint8_t rt_wild[] = { 8, 0, 3, 'r', '/', '+' };
	static const uint8_t rt_empty[] = { 8, 0, 0 };
	static const uint8_t rt_dollar[] = { 8, 0, 4, '$', 'S', 'Y', 'S' };
	static const uint8_t corr_bin[] = { 9, 0, 3, 0x00, 0xff, 0x01 };
	struct frame_record rs[] = {
		rec("ok/b\xc3\xa4r", NULL, 0),
		rec("bad/\xff", NULL, 0),
		rec("overlong/\xc0\xaf", NULL, 0),
		rec("surrogate/\xed\xa0\x80", NULL, 0),
		rec("ctrl/\x1b", NULL, 0),
		rec("c1/\xc2\x85", NULL, 0),
		rec("nonchar/\xef\xbf\xbf", NULL, 0),
		rec("nonchar/\xef\xb7\x90", NULL, 0),
		rec("$SYS/x", NULL, 0),
		rec("p/1", ct_ctrl, sizeof(ct_ctrl)),
		rec("p/2", ct_ok, sizeof(ct_ok)),
		rec("p/3", user_bad, sizeof(user_bad)),
		rec("p/4", rt_wild, sizeof(rt_wild)),
		rec("p/5", rt_empty, sizeof(rt_empty)),
		rec("p/6", rt_dollar, sizeof(rt_dollar)),
		rec("p/7", corr_bin, sizeof(corr_bin)),
	};
	static const int want[] = {
		FRAME_REC_OK, FRAME_REC_TOPIC_UTF8, FRAME_REC_TOPIC_UTF8,
		FRAME_REC_TOPIC_UTF8, FRAME_REC_TOPIC_CONTROL,
		FRAME_REC_TOPIC_CONTROL, FRAME_REC_TOPIC_CONTROL,
		FRAME_REC_TOPIC_CONTROL, FRAME_REC_TOPIC_DOLLAR,
		FRAME_REC_PROP_STRING, FRAME_REC_OK, FRAME_REC_PROP_STRING,
		FRAME_REC_RESPONSE_TOPIC, FRAME_REC_RESPONSE_TOPIC,
		FRAME_REC_RESPONSE_TOPIC, FRAME_REC_OK,
	};
	struct frame_dec_opts o = FRAME_DEC_OPTS_INIT;
	struct seen s;
	size_t n, i;
	int c;

	(void)state;
	_Static_assert(sizeof(rs) / sizeof(rs[0]) == 16, "16 records");
	o.on_summary = on_summary;
	for (c = 0; c < 2; c++) {
		memset(&s, 0, sizeof(s));
		n = encode(rs, 16, (enum frame_codec)c);
		/* The frame is well formed: every record is delivered, and
		 * the refused ones say why. */
		assert_int_equal(frame_decode_opts(out, n, NULL, &o, on_record,
		    &s, NULL), 0);
		assert_int_equal(s.n, 16);
		for (i = 0; i < 16; i++)
			assert_int_equal(s.refused[i], want[i]);
		assert_int_equal(s.summaries, 1);
		assert_int_equal(s.sum.refused, 13);
		assert_int_equal(s.sum.records, 16);
	}
	for (i = 0; i < FRAME_REC__COUNT; i++)
		assert_string_not_equal(frame_refusal_str((int)i),
		    "unknown refusal");
	assert_string_equal(frame_refusal_str(FRAME_REC__COUNT),
	    "unknown refusal");
}

/* Records that all use one 65535-byte topic: 64 KiB each, expanded. */
static void
test_expansion_bound(void **state)
{
	static char topic[FRAME_MAX_TOPIC + 1];
	static struct frame_record rs[300];
	struct frame_dec_opts o = FRAME_DEC_OPTS_INIT;
	struct frame_err err;
	struct seen s;
	uint64_t want = 300 * (uint64_t)(FRAME_MAX_TOPIC + 3);
	size_t n, i;

	(void)state;
	memset(topic, 't', FRAME_MAX_TOPIC);
	for (i = 0; i < 300; i++)
		rs[i] = rec(topic, NULL, 0);
	n = encode(rs, 300, FRAME_CODEC_LZ4);
	/* A small frame that stands for 19.7 MB. */
	assert_true(n < 8192);
	o.on_summary = on_summary;
	memset(&s, 0, sizeof(s));
	assert_int_equal(frame_decode_opts(out, n, NULL, &o, on_record, &s,
	    &err), 0);
	assert_true(s.sum.expanded == want);
	assert_int_equal(s.n, 300);
	/* Bounded: the decode stops at the record that crosses, before the
	 * summary and before any record is delivered. */
	o.max_expanded = 16u << 20;
	memset(&s, 0, sizeof(s));
	assert_int_equal(frame_decode_opts(out, n, NULL, &o, on_record, &s,
	    &err), FRAME_ERR_EXPANDED);
	assert_int_equal(s.n, 0);
	assert_int_equal(s.summaries, 0);
	assert_true(err.in_body);
	assert_non_null(strstr(err.msg, "records 0..255 expand to "));
	assert_non_null(strstr(err.msg, "over 16777216"));
	/* At the bound exactly: taken. */
	o.max_expanded = want;
	memset(&s, 0, sizeof(s));
	assert_int_equal(frame_decode_opts(out, n, NULL, &o, on_record, &s,
	    NULL), 0);
	/* The summary may refuse: nothing is delivered. */
	s.stop = 1;
	s.n = 0;
	assert_int_equal(frame_decode_opts(out, n, NULL, &o, on_record, &s,
	    NULL), FRAME_ERR_ABORTED);
	assert_int_equal(s.n, 0);
	/* Without options frame_decode_opts() is frame_decode(). */
	s.n = 0;
	assert_int_equal(frame_decode_opts(out, n, NULL, NULL, on_record, &s,
	    NULL), 0);
	assert_int_equal(s.n, 300);
	assert_string_equal(frame_strerror(FRAME_ERR_EXPANDED),
	    "records expand past the bound");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_rules),
		cmocka_unit_test(test_expansion_bound),
	};
	int rc;

	out_cap = frame_bound(BODY_CAP);
	out = malloc(out_cap);
	assert_non_null(out);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(out);
	return rc;
}
