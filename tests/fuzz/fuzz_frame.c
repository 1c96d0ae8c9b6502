/* SPDX-License-Identifier: ISC */
/*
 * fuzz_frame: libFuzzer target for the batch frame decoder (relay/frame).
 *
 * Every input goes through frame_peek() and frame_decode(); the record
 * callback reads every byte each record points to, so ASan catches a
 * pointer that leaves the frame or the body. When a frame decodes, its
 * records are encoded again and the new frame must decode to the same
 * records (the encoder and the decoder agree on the format).
 *
 * Built with -DFRAME_FUZZ_SEEDS instead, it is a plain program that writes
 * seed frames into the directory given as its argument (see fuzz.mk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>

#define FRAME_INTERNAL
#include "relay/frame.h"

#define FUZZ_MAX_RECORDS	256

#ifndef FRAME_FUZZ_SEEDS

struct fuzz_batch {
	size_t n;
	struct frame_record r[FUZZ_MAX_RECORDS];
	uint32_t sum;
};

static uint32_t
fuzz_touch(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t s = 0;
	size_t i;

	for (i = 0; i < len; i++)
		s = s * 31 + b[i];
	return s;
}

static int
fuzz_on_record(void *arg, const struct frame_record *r)
{
	struct fuzz_batch *fb = arg;

	fb->sum += fuzz_touch(r->topic, r->topic_len);
	fb->sum += fuzz_touch(r->payload, r->payload_len);
	fb->sum += fuzz_touch(r->props, r->props_len);
	if (r->qos < 0 || r->qos > 2 || r->ts_ms < 0 || r->topic_len == 0)
		abort();
	if (fb->n < FUZZ_MAX_RECORDS)
		fb->r[fb->n] = *r;	/* pointers stay valid: see below */
	fb->n++;
	return 0;
}

static int
fuzz_same(const struct frame_record *a, const struct frame_record *b)
{
	return a->topic_len == b->topic_len &&
	    memcmp(a->topic, b->topic, a->topic_len) == 0 &&
	    a->payload_len == b->payload_len &&
	    (a->payload_len == 0 ||
	    memcmp(a->payload, b->payload, a->payload_len) == 0) &&
	    a->props_len == b->props_len &&
	    (a->props_len == 0 || memcmp(a->props, b->props, a->props_len) ==
	    0) && a->ts_ms == b->ts_ms && a->qos == b->qos &&
	    a->retain == b->retain && a->has_expiry == b->has_expiry &&
	    a->expiry_s == b->expiry_s;
}

struct fuzz_check {
	const struct fuzz_batch *want;
	size_t i;
};

static int
fuzz_on_again(void *arg, const struct frame_record *r)
{
	struct fuzz_check *fc = arg;

	if (!fuzz_same(&fc->want->r[fc->i], r))
		abort();
	fc->i++;
	return 0;
}

/*
 * Re-encodes fb. Only for codec none, where the records point into the
 * frame buffer, which outlives this call (with lz4 they pointed into the
 * decoder's body, freed on return).
 */
static void
fuzz_reencode(const struct frame_header *h, const struct fuzz_batch *fb)
{
	size_t max_body = 2 * (size_t)h->body_len + 64, n;
	static const enum frame_codec cs[2] = { FRAME_CODEC_NONE,
	    FRAME_CODEC_LZ4 };
	struct fuzz_check fc;
	struct frame_enc *e;
	uint8_t *out;
	size_t i, k;

	if (fb->n == 0 || fb->n > FUZZ_MAX_RECORDS || max_body > (1u << 20))
		return;
	if ((e = frame_enc_new(fb->n, max_body)) == NULL)
		abort();
	if ((out = malloc(frame_bound(max_body))) == NULL)
		abort();
	for (k = 0; k < 2; k++) {
		if (frame_enc_reset(e, h->gateway_id, h->seq) != 0)
			abort();
		for (i = 0; i < fb->n; i++)
			if (frame_enc_add(e, &fb->r[i]) != 0)
				abort();
		if (frame_enc_finish(e, cs[k], out, frame_bound(max_body),
		    &n) != 0)
			abort();
		fc.want = fb;
		fc.i = 0;
		if (frame_decode(out, n, NULL, fuzz_on_again, &fc, NULL) != 0 ||
		    fc.i != fb->n)
			abort();
	}
	free(out);
	frame_enc_free(e);
}

/* Little-endian store, for the fix-ups below. */
static void
fuzz_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * Mode 1: the input is a frame whose checksums the harness corrects
 * (both for codec none, the header check for lz4), so mutations of the
 * header fields and of a stored body get past them.
 */
static size_t
fuzz_fixup(uint8_t *f, size_t size)
{
	size_t hl, blen;

	if (size < 8 || f[7] < 1 || f[7] > FRAME_GWID_MAX ||
	    size < (hl = 8 + (size_t)f[7] + 24))
		return size;
	blen = (size_t)f[hl - 12] | (size_t)f[hl - 11] << 8 |
	    (size_t)f[hl - 10] << 16 | (size_t)f[hl - 9] << 24;
	if (f[5] == FRAME_CODEC_NONE && blen <= size - hl)
		fuzz_put32(f + hl - 8, frame__xxh32(f + hl, blen));
	fuzz_put32(f + hl - 4, frame__xxh32(f, hl - 4));
	return size;
}

/*
 * Mode 2: the input is codec (1 byte), record count (4 bytes LE) and a
 * body; the harness wraps it in a correct header, compressing the body
 * when the codec is 1, so the fuzzer works on the body's structure.
 */
static size_t
fuzz_wrap(const uint8_t *in, size_t size, uint8_t *f, size_t cap)
{
	static const uint8_t gw[] = { 'f', 'z' };
	size_t blen, n, hl = 8 + sizeof(gw) + 24;
	uint32_t count;
	int codec;

	if (size < 5 || size - 5 > FRAME_MAX_BODY)
		return 0;
	codec = in[0] & 1;
	count = (uint32_t)in[1] | (uint32_t)in[2] << 8 |
	    (uint32_t)in[3] << 16 | (uint32_t)in[4] << 24;
	in += 5;
	blen = size - 5;
	memcpy(f, "PRBF\x01", 5);
	f[5] = (uint8_t)codec;
	f[6] = 0;
	f[7] = sizeof(gw);
	memcpy(f + 8, gw, sizeof(gw));
	memset(f + 8 + sizeof(gw), 0, 8);
	fuzz_put32(f + hl - 16, count);
	fuzz_put32(f + hl - 12, (uint32_t)blen);
	fuzz_put32(f + hl - 8, frame__xxh32(in, blen));
	fuzz_put32(f + hl - 4, frame__xxh32(f, hl - 4));
	if (codec == FRAME_CODEC_NONE) {
		memcpy(f + hl, in, blen);
		return hl + blen;
	}
	n = LZ4F_compressFrame(f + hl, cap - hl, in, blen, NULL);
	return LZ4F_isError(n) ? 0 : hl + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The first byte picks the mode: 0 the rest is a frame as is, 1 a frame
 * with its checksums corrected, 2 a body to wrap (see above).
 */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_batch fb;
	struct frame_header h;
	struct frame_err err;
	uint8_t *f;
	size_t cap, n;
	int rc;

	if (size < 1)
		return 0;
	cap = size + LZ4F_compressFrameBound(size, NULL) + 64;
	if ((f = malloc(cap)) == NULL)
		abort();
	switch (data[0] % 3) {
	case 0:
		memcpy(f, data + 1, size - 1);
		n = size - 1;
		break;
	case 1:
		memcpy(f, data + 1, size - 1);
		n = fuzz_fixup(f, size - 1);
		break;
	default:
		n = fuzz_wrap(data + 1, size - 1, f, cap);
		break;
	}
	(void)frame_peek(f, n, &h, &err);
	fb.n = 0;
	rc = frame_decode(f, n, &h, fuzz_on_record, &fb, &err);
	if (rc == 0 && h.codec == FRAME_CODEC_NONE)
		fuzz_reencode(&h, &fb);
	if (rc != 0 && (strncmp(err.msg, "frame: ", 7) != 0 ||
	    (!err.in_body && err.offset > n)))
		abort();
	free(f);
	return 0;
}
#else
/* Seed frames: a few records of every kind, both codecs, and an empty one. */
static void
fuzz_write(const char *dir, const char *name, int mode, const uint8_t *p,
    size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-mode%d", dir, name, mode);
	if ((f = fopen(path, "wb")) == NULL || fputc(mode, f) == EOF ||
	    fwrite(p, 1, n, f) != n || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* Writes frame (n bytes) as mode 0 and 1 seeds, and its body as mode 2. */
static void
fuzz_seed(const char *dir, const char *name, const uint8_t *fr, size_t n)
{
	uint8_t w[8192];
	size_t hl = 8 + (size_t)fr[7] + 24;

	fuzz_write(dir, name, 0, fr, n);
	fuzz_write(dir, name, 1, fr, n);
	if (fr[5] != FRAME_CODEC_NONE)
		return;
	w[0] = 0;
	memcpy(w + 1, fr + hl - 16, 4);
	memcpy(w + 5, fr + hl, n - hl);
	fuzz_write(dir, name, 2, w, n - hl + 5);
}

int
main(int argc, char **argv)
{
	static const uint8_t props[] = { 1, 1, 3, 0, 1, 'j', 8, 0, 1, 'r',
	    9, 0, 1, 0, 38, 0, 1, 'k', 0, 1, 'v' };
	static const char *const topics[] = { "a/b", "tele/x/SENSOR", "a/b",
	    "z" };
	struct frame_record r;
	struct frame_enc *e = frame_enc_new(16, 4096);
	uint8_t out[8192];
	char name[32];
	size_t i, n;
	int c;

	if (argc != 2 || e == NULL)
		return 2;
	for (c = 0; c < 2; c++) {
		frame_enc_reset(e, "gw-seed", 7);
		for (i = 0; i < 4; i++) {
			memset(&r, 0, sizeof(r));
			r.topic = topics[i];
			r.topic_len = strlen(topics[i]);
			r.payload = (const uint8_t *)"{\"v\":1}{\"v\":1}";
			r.payload_len = i * 4;
			r.ts_ms = 1700000000000 + (int64_t)i * 1000 - (i == 3 ?
			    5000 : 0);
			r.qos = (int)(i % 3);
			r.retain = i == 1;
			r.has_expiry = i == 2;
			r.expiry_s = 60;
			r.props = i == 1 ? props : NULL;
			r.props_len = i == 1 ? sizeof(props) : 0;
			frame_enc_add(e, &r);
		}
		frame_enc_finish(e, (enum frame_codec)c, out, sizeof(out), &n);
		snprintf(name, sizeof(name), "seed-codec%d", c);
		fuzz_seed(argv[1], name, out, n);
		frame_enc_reset(e, "g", 0);
		frame_enc_finish(e, (enum frame_codec)c, out, sizeof(out), &n);
		snprintf(name, sizeof(name), "seed-empty%d", c);
		fuzz_seed(argv[1], name, out, n);
	}
	frame_enc_free(e);
	return 0;
}
#endif
