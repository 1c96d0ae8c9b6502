/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for relay/batcher's shared dictionary (frame v2): when a
 * dictionary is due (first at 4 KiB of bodies, at each doubling, when
 * frames change size), that frames name it once made, and that what the
 * relay stores (id, content) lets every frame be decoded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "relay/batcher.h"
#include "relay/frame.h"

static struct conf_batch
conf(int version, int dict_bytes)
{
	struct conf_batch c;

	memset(&c, 0, sizeof(c));
	c.max_messages = 1000;
	c.max_bytes = 65536;
	c.linger_ms = 200;
	c.compress = CONF_COMPRESS_LZ4;
	c.qos = 1;
	c.frame_version = version;
	c.dictionary_bytes = dict_bytes;
	c.dictionary_rotate = 1 << 20;
	return c;
}

static int64_t next_id = 1;

/* One frame of k messages; returns its bytes in *frame (batcher's). */
static size_t
frame_of(struct batcher *b, size_t k, const uint8_t **frame)
{
	char topic[64], payload[128];
	struct queue_msg m;
	const int64_t *ids;
	size_t i, len, n;

	for (i = 0; i < k; i++) {
		memset(&m, 0, sizeof(m));
		m.id = next_id++;
		m.priority = BATCHER_PRIO_BASE;
		snprintf(topic, sizeof(topic), "tele/aq_DE%03d/SENSOR",
		    (int)(m.id % 50));
		m.topic = topic;
		m.payload_len = (size_t)snprintf(payload, sizeof(payload),
		    "{\"Time\":\"2005-01-%02dT00:00:00\",\"SDS0X1\":"
		    "{\"PM10\":%d.%03d}}", (int)(m.id % 28) + 1,
		    (int)(m.id * 7 % 90), (int)(m.id * 13 % 1000));
		m.payload = payload;
		m.qos = 1;
		m.ts_ms = 1700000000000 + m.id * 1000;
		assert_int_equal(batcher_add(b, &m, 0, 0), BATCHER_OK);
	}
	assert_int_equal(batcher_close(b, (uint64_t)next_id << 20, frame, &len,
	    &ids, &n), BATCHER_OK);
	assert_int_equal(n, k);
	return len;
}

struct dictv {
	const uint8_t *d;
	size_t len;
	uint32_t id;
	size_t records;
};

static int
get(void *arg, const struct frame_header *h, const uint8_t **d, size_t *len)
{
	struct dictv *v = arg;

	if (v->d == NULL || h->dict_id != v->id)
		return 1;
	*d = v->d;
	*len = v->len;
	return 0;
}

static int
count(void *arg, const struct frame_record *r)
{
	(void)r;
	((struct dictv *)arg)->records++;
	return 0;
}

static void
decodes(const uint8_t *f, size_t len, struct dictv *v, size_t k)
{
	struct frame_dec_opts o = FRAME_DEC_OPTS_INIT;
	struct frame_err err;

	o.get_dict = get;
	v->records = 0;
	assert_int_equal(frame_decode_opts(f, len, NULL, &o, count, v, &err),
	    0);
	assert_int_equal(v->records, k);
}

static void
test_dictionary_lifecycle(void **state)
{
	struct conf_batch c = conf(2, 8192);
	struct batcher *b = batcher_new(&c, "gw-test");
	static uint8_t dict_copy[FRAME_DICT_MAX], back[FRAME_DICT_MAX];
	const uint8_t *f, *df, *d;
	struct frame_header h;
	struct dictv v;
	size_t len, dlen, dl, n, made = 0, plain1 = 0, with1 = 0;
	int i;

	(void)state;
	assert_non_null(b);
	assert_true(batcher_dict_on(b));
	assert_int_equal(batcher_dict_id(b), 0);
	memset(&v, 0, sizeof(v));
	/* Single messages until 4 KiB of bodies: no dictionary yet. */
	for (i = 0; !batcher_dict_due(b); i++) {
		len = frame_of(b, 1, &f);
		assert_int_equal(f[4], 2);
		/* Stored when LZ4 alone cannot shrink one message. */
		assert_true(f[5] == FRAME_CODEC_LZ4 ||
		    f[5] == FRAME_CODEC_NONE);
		plain1 += len;
		decodes(f, len, &v, 1);
		assert_true(i < 100);
	}
	plain1 /= (size_t)i;
	assert_true(i >= 20);	/* 4 KiB of ~150-byte bodies */
	/* Made: its frame decodes to its content; frames name it. */
	for (; made < 3; made++) {
		assert_int_equal(batcher_dict_make(b, (uint32_t)made + 1,
		    1000 + made, &df, &dlen, &d, &dl), BATCHER_OK);
		assert_int_equal(frame_dict_decode(df, dlen, &h, back,
		    sizeof(back), &n, NULL), 0);
		assert_int_equal(n, dl);
		assert_memory_equal(back, d, n);
		assert_int_equal(h.dict_id, made + 1);
		memcpy(dict_copy, d, dl);
		v.d = dict_copy;
		v.len = dl;
		v.id = (uint32_t)made + 1;
		assert_int_equal(batcher_dict_id(b), made + 1);
		with1 = 0;
		for (i = 0; !batcher_dict_due(b); i++) {
			len = frame_of(b, 1, &f);
			assert_int_equal(f[5], FRAME_CODEC_LZ4_DICT);
			with1 += len;
			decodes(f, len, &v, 1);
			if (i == 200)
				break;
		}
		with1 /= (size_t)i;
		/* Growth: 4 KiB, then 8 KiB (the cap), then no more. */
		if (made == 0)
			assert_true(dl >= 4096 && dl < 8192);
		else
			assert_int_equal(dl, 8192);
	}
	/* A single message shrinks a lot with the dictionary. */
	assert_true(with1 * 3 < plain1 * 2);
	/* Frames of 200 now: another size, so another dictionary is due. */
	for (i = 0; i < 10 && !batcher_dict_due(b); i++) {
		len = frame_of(b, 200, &f);
		decodes(f, len, &v, 200);
	}
	assert_true(batcher_dict_due(b));
	/* Taken up from the store after a restart: the same frames. */
	batcher_free(b);
	b = batcher_new(&c, "gw-test");
	assert_non_null(b);
	assert_int_equal(batcher_dict_set(b, v.id, v.d, v.len), BATCHER_OK);
	assert_int_equal(batcher_dict_id(b), v.id);
	assert_false(batcher_dict_due(b));
	len = frame_of(b, 1, &f);
	assert_int_equal(f[5], FRAME_CODEC_LZ4_DICT);
	decodes(f, len, &v, 1);
	/* Resent under a new number: the same dictionary. */
	assert_int_equal(batcher_dict_resend(b, 5000, &df, &dlen), BATCHER_OK);
	assert_int_equal(frame_dict_decode(df, dlen, &h, back, sizeof(back),
	    &n, NULL), 0);
	assert_int_equal(h.seq, 5000);
	assert_int_equal(n, v.len);
	assert_memory_equal(back, v.d, n);
	/* Dropped: frames go without one. */
	assert_int_equal(batcher_dict_set(b, 0, NULL, 0), BATCHER_OK);
	len = frame_of(b, 1, &f);
	assert_int_not_equal(f[5], FRAME_CODEC_LZ4_DICT);
	assert_int_equal(batcher_dict_resend(b, 5001, &df, &dlen),
	    BATCHER_FAILED);
	batcher_free(b);
}

/* Version 1, or no dictionary_bytes: never a dictionary. */
static void
test_off(void **state)
{
	struct conf_batch c1 = conf(1, 8192), c2 = conf(2, 0);
	struct batcher *b1 = batcher_new(&c1, "gw"), *b2 = batcher_new(&c2,
	    "gw");
	const uint8_t *f;
	int i;

	(void)state;
	assert_false(batcher_dict_on(b1));
	assert_false(batcher_dict_on(b2));
	for (i = 0; i < 50; i++) {
		frame_of(b1, 1, &f);
		assert_int_equal(f[4], 1);
		frame_of(b2, 1, &f);
		assert_int_equal(f[4], 2);
		assert_true(f[5] == FRAME_CODEC_LZ4 ||
		    f[5] == FRAME_CODEC_NONE);
		assert_false(batcher_dict_due(b1) || batcher_dict_due(b2));
	}
	batcher_free(b1);
	batcher_free(b2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dictionary_lifecycle),
		cmocka_unit_test(test_off),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
