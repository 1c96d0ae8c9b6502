/* SPDX-License-Identifier: ISC */
/*
 * fuzz_frame2: libFuzzer target for version 2 frames and dictionaries
 * (relay/frame.h, docs/frame-format.md sections 2.3 and 8).
 *
 * The first input byte picks the mode, the rest is the data:
 * - mode 0: the data is a frame; it goes through frame_peek(),
 *   frame_decode_opts() with a dictionary callback that knows one
 *   dictionary (id 1) of gateway "gw", and frame_dict_decode();
 * - mode 1: the data is a body; the harness wraps it in a valid v2 frame
 *   (codec 0, 1 or 2 by the second byte, so the check and the LZ4 block
 *   are right) and decodes that, so mutations reach the body parser and
 *   the dictionary path rather than stopping at the check;
 * - mode 2: the data is a dictionary: it is sent as a dictionary frame,
 *   decoded back (must be identical), then used to compress and decode a
 *   fixed batch (must give the batch back), and the batch's frame must be
 *   refused (FRAME_ERR_NODICT) with any other dictionary.
 * Every byte a record points to is read, so ASan catches a pointer that
 * leaves the frame or the body.
 *
 * Built with -DFRAME2_FUZZ_SEEDS it is a plain program that writes seed
 * inputs into the directory given as its argument (fuzz.mk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

#define FRAME_INTERNAL
#include "relay/frame.h"

static const char fuzz_dict[] =
    "tele/aq_DESH001/SENSOR{\"PM10\":16.7}tele/aq_DENI063/SENSOR";

#ifndef FRAME2_FUZZ_SEEDS

struct fuzz2 {
	const uint8_t *dict;
	size_t dict_len;
	uint32_t sum;
	size_t n;
};

static int
fuzz2_on_record(void *arg, const struct frame_record *r)
{
	struct fuzz2 *f = arg;
	size_t i;

	for (i = 0; i < r->topic_len; i++)
		f->sum += (uint8_t)r->topic[i];
	for (i = 0; i < r->payload_len; i++)
		f->sum += r->payload[i];
	for (i = 0; i < r->props_len; i++)
		f->sum += r->props[i];
	if (r->qos < 0 || r->qos > 2 || r->ts_ms < 0 || r->topic_len == 0)
		abort();
	f->n++;
	return 0;
}

static int
fuzz2_get_dict(void *arg, const struct frame_header *h, const uint8_t **d,
    size_t *len)
{
	struct fuzz2 *f = arg;

	if (h->dict_id != 1 || strcmp(h->gateway_id, "gw") != 0)
		return 1;
	*d = f->dict;
	*len = f->dict_len;
	return 0;
}

static int
fuzz2_decode(const uint8_t *buf, size_t len, const uint8_t *dict,
    size_t dict_len, struct fuzz2 *f)
{
	struct frame_dec_opts o = FRAME_DEC_OPTS_INIT;
	struct frame_header h;
	struct frame_err err;
	int rc;

	memset(f, 0, sizeof(*f));
	f->dict = dict;
	f->dict_len = dict_len;
	o.get_dict = fuzz2_get_dict;
	o.max_expanded = 1u << 24;
	rc = frame_decode_opts(buf, len, &h, &o, fuzz2_on_record, f, &err);
	if (rc != 0 && f->n != 0)
		abort();	/* all or nothing */
	if (rc == 0 && f->n != h.count)
		abort();
	return rc;
}

static void
fuzz2_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint8_t *
fuzz2_varint(uint8_t *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o++ = (uint8_t)v;
	return o;
}

/* Mode 1: body b (n bytes) in a valid v2 frame with codec c. */
static void
fuzz2_wrap(const uint8_t *b, size_t n, int c, uint32_t count)
{
	static uint8_t out[64 + LZ4_COMPRESSBOUND(1 << 16)];
	static const uint8_t head[] = { 'P', 'R', 'B', 'F', 2, 0, 0, 2, 'g',
	    'w' };
	uint8_t *o = out;
	struct fuzz2 f;
	int z;

	if (n == 0 || n > (1 << 16))
		return;
	memcpy(o, head, sizeof(head));
	o[5] = (uint8_t)c;
	o += sizeof(head);
	o = fuzz2_varint(o, 7);
	o = fuzz2_varint(o, count);
	o = fuzz2_varint(o, n);
	if (c == 2) {
		o = fuzz2_varint(o, 1);
		fuzz2_put32(o, frame_dict_check((const uint8_t *)fuzz_dict,
		    strlen(fuzz_dict)));
		o += 4;
	}
	fuzz2_put32(o, frame__xxh32_seed(b, n, frame__xxh32(out,
	    (size_t)(o - out))));
	o += 4;
	if (c == 0) {
		memcpy(o, b, n);
		z = (int)n;
	} else {
		LZ4_stream_t st;

		LZ4_initStream(&st, sizeof(st));
		if (c == 2)
			LZ4_loadDict(&st, fuzz_dict, (int)strlen(fuzz_dict));
		z = LZ4_compress_fast_continue(&st, (const char *)b,
		    (char *)o, (int)n, LZ4_COMPRESSBOUND(1 << 16), 1);
		if (z <= 0)
			abort();
	}
	(void)fuzz2_decode(out, (size_t)(o - out) + (size_t)z,
	    (const uint8_t *)fuzz_dict, strlen(fuzz_dict), &f);
}

/* Mode 2: d as a dictionary, end to end. */
static void
fuzz2_dict(const uint8_t *d, size_t n)
{
	static uint8_t frame[FRAME_HEADER_MAX + LZ4_COMPRESSBOUND(65536)];
	static uint8_t back[FRAME_DICT_MAX], other[FRAME_DICT_MAX];
	static uint8_t out[4096];
	struct frame_record r;
	struct frame_header h;
	struct frame_enc *e;
	struct fuzz2 f;
	size_t len, got;

	if (n == 0 || n > FRAME_DICT_MAX)
		return;
	if (frame_dict_encode("gw", 5, 1, d, n, n & 1 ? FRAME_CODEC_LZ4 :
	    FRAME_CODEC_NONE, frame, sizeof(frame), &len) != 0)
		abort();
	if (frame_dict_decode(frame, len, &h, back, sizeof(back), &got,
	    NULL) != 0 || got != n || memcmp(back, d, n) != 0 ||
	    h.dict_id != 1 || h.dict_check != frame_dict_check(d, n))
		abort();
	if ((e = frame_enc_new(4, 1024)) == NULL ||
	    frame_enc_set_version(e, FRAME_VERSION_2) != 0 ||
	    frame_enc_set_dict(e, 1, d, n) != 0 ||
	    frame_enc_reset(e, "gw", 9) != 0)
		abort();
	memset(&r, 0, sizeof(r));
	r.topic = "tele/aq_DESH001/SENSOR";
	r.topic_len = strlen(r.topic);
	r.payload = (const uint8_t *)"{\"PM10\":16.7}";
	r.payload_len = 13;
	r.qos = 1;
	r.ts_ms = 1700000000000;
	if (frame_enc_add(e, &r) != 0 || frame_enc_add(e, &r) != 0 ||
	    frame_enc_finish(e, FRAME_CODEC_LZ4, out, sizeof(out), &len) != 0)
		abort();
	frame_enc_free(e);
	if (fuzz2_decode(out, len, d, n, &f) != 0 || f.n != 2)
		abort();
	/* Any other dictionary under id 1: never used. */
	memcpy(other, d, n);
	other[n / 2] ^= 0x01;
	if (frame_peek(out, len, &h, NULL) == 0 &&
	    h.codec == FRAME_CODEC_LZ4_DICT &&
	    fuzz2_decode(out, len, other, n, &f) != FRAME_ERR_NODICT)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t dict[FRAME_DICT_MAX];
	struct frame_header h;
	struct fuzz2 f;
	size_t n;

	if (size < 2)
		return 0;
	switch (data[0] % 3) {
	case 0:
		(void)frame_peek(data + 1, size - 1, &h, NULL);
		(void)fuzz2_decode(data + 1, size - 1,
		    (const uint8_t *)fuzz_dict, strlen(fuzz_dict), &f);
		(void)frame_dict_decode(data + 1, size - 1, &h, dict,
		    sizeof(dict), &n, NULL);
		break;
	case 1:
		if (size >= 3)
			fuzz2_wrap(data + 3, size - 3, data[1] % 3, data[2]);
		break;
	default:
		fuzz2_dict(data + 1, size - 1);
		break;
	}
	return 0;
}

#else /* FRAME2_FUZZ_SEEDS */

static void
seed_write(const char *dir, const char *name, uint8_t mode,
    const uint8_t *b, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL) {
		perror(path);
		exit(1);
	}
	fputc(mode, f);
	fwrite(b, 1, n, f);
	fclose(f);
}

int
main(int argc, char **argv)
{
	static uint8_t out[1 << 16];
	static const char *const topics[] = { "tele/aq_DESH001/SENSOR",
	    "tele/aq_DENI063/SENSOR", "zigbee2mqtt/fitbit" };
	struct frame_record r;
	struct frame_enc *e;
	char payload[64], name[32];
	size_t len, body_len;
	const uint8_t *body;
	int i, k;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	if ((e = frame_enc_new(64, 8192)) == NULL ||
	    frame_enc_set_version(e, FRAME_VERSION_2) != 0)
		return 1;
	for (k = 0; k < 3; k++) {
		frame_enc_set_dict(e, k == 2 ? 1 : 0, k == 2 ?
		    (const uint8_t *)fuzz_dict : NULL, strlen(fuzz_dict));
		frame_enc_reset(e, "gw", 7 + (uint64_t)k);
		for (i = 0; i < 5 + 10 * k; i++) {
			memset(&r, 0, sizeof(r));
			r.topic = topics[i % 3];
			r.topic_len = strlen(r.topic);
			r.payload_len = (size_t)snprintf(payload,
			    sizeof(payload), "{\"PM10\":%d.%d}", 10 + i, i % 10);
			r.payload = (const uint8_t *)payload;
			r.qos = i % 3;
			r.retain = i == 3;
			r.ts_ms = 1700000000000 + i * 750;
			r.has_expiry = i == 2;
			r.expiry_s = 3600;
			frame_enc_add(e, &r);
		}
		if (frame_enc_finish(e, k == 0 ? FRAME_CODEC_NONE :
		    FRAME_CODEC_LZ4, out, sizeof(out), &len) != 0)
			return 1;
		snprintf(name, sizeof(name), "frame-%d", k);
		seed_write(argv[1], name, 0, out, len);
		body = frame_enc_last_body(e, &body_len);
		out[0] = (uint8_t)k;
		out[1] = (uint8_t)(5 + 10 * k);
		memcpy(out + 2, body, body_len);
		snprintf(name, sizeof(name), "body-%d", k);
		seed_write(argv[1], name, 1, out, body_len + 2);
	}
	if (frame_dict_encode("gw", 6, 1, (const uint8_t *)fuzz_dict,
	    strlen(fuzz_dict), FRAME_CODEC_LZ4, out, sizeof(out), &len) != 0)
		return 1;
	seed_write(argv[1], "dict-frame", 0, out, len);
	seed_write(argv[1], "dict", 2, (const uint8_t *)fuzz_dict,
	    strlen(fuzz_dict));
	frame_enc_free(e);
	return 0;
}

#endif
