/* SPDX-License-Identifier: ISC */
/*
 * fuzz_expand: libFuzzer target for the receiver's checks in the batch
 * frame decoder (relay/frame.h): the bound on what a frame's records
 * expand to (frame_decode_opts, max_expanded and on_summary) and MQTT's
 * string rules per record (frame_record.refused).
 *
 * The input is a bound selector (1 byte), a codec (1 byte), a record count
 * (4 bytes LE) and a body, which the harness wraps in a correct header so
 * that the fuzzer works on topic tables and records. For every input:
 * - with the bound, either the decode fails before the summary and before
 *   any record, or the summary comes once, before the first record, and
 *   the records delivered add up to its sums, within the bound;
 * - FRAME_ERR_EXPANDED only when the records really pass the bound
 *   (decoding without it gives more, or a fault further on), and a
 *   format fault with the bound is the same fault without it;
 * - each delivered record's refused field equals a verdict worked out
 *   here from the UTF-8 definition (RFC 3629) and MQTT 5 section 1.5.4,
 *   by code independent of mqtt/wire.c and relay/frame.c.
 *
 * Built with -DEXPAND_FUZZ_SEEDS instead, it is a plain program that
 * writes seed inputs into the directory given as its argument (fuzz.mk).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lz4frame.h>

#define FRAME_INTERNAL
#include "relay/frame.h"

#ifndef EXPAND_FUZZ_SEEDS

/* What one decode saw. */
struct run {
	int summaries;
	int records_before_summary;
	struct frame_summary sum;
	uint64_t expanded;	/* of the records delivered */
	uint32_t records;
	uint32_t refused;
};

/* Code points by the UTF-8 table of RFC 3629, section 4; -1 when bad. */
static int32_t
ref_next(const uint8_t *s, size_t len, size_t *i)
{
	uint8_t b = s[*i];
	int32_t cp;
	size_t n, k;
	uint8_t lo = 0x80, hi = 0xbf;

	if (b <= 0x7f) {
		(*i)++;
		return b;
	}
	if (b >= 0xc2 && b <= 0xdf) {
		n = 2;
		cp = b & 0x1f;
	} else if (b >= 0xe0 && b <= 0xef) {
		n = 3;
		cp = b & 0x0f;
		lo = b == 0xe0 ? 0xa0 : 0x80;	/* no overlong forms */
		hi = b == 0xed ? 0x9f : 0xbf;	/* no surrogates */
	} else if (b >= 0xf0 && b <= 0xf4) {
		n = 4;
		cp = b & 0x07;
		lo = b == 0xf0 ? 0x90 : 0x80;
		hi = b == 0xf4 ? 0x8f : 0xbf;	/* nothing past U+10FFFF */
	} else
		return -1;
	if (len - *i < n)
		return -1;
	for (k = 1; k < n; k++) {
		b = s[*i + k];
		if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xbf))
			return -1;
		cp = cp << 6 | (b & 0x3f);
	}
	*i += n;
	return cp;
}

/* 0 when MQTT takes s, 1 for bad UTF-8 or U+0000, 2 for a control. */
static int
ref_str(const uint8_t *s, size_t len)
{
	size_t i = 0;
	int32_t cp;
	int worst = 0;

	while (i < len) {
		if ((cp = ref_next(s, len, &i)) <= 0)
			return 1;
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		    (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xffff) == 0xfffe ||
		    (cp & 0xffff) == 0xffff)
			worst = 2;
	}
	return worst;
}

static int
ref_topic(const uint8_t *t, size_t len)
{
	int v = ref_str(t, len);

	if (v != 0)
		return v == 1 ? FRAME_REC_TOPIC_UTF8 : FRAME_REC_TOPIC_CONTROL;
	return len > 0 && t[0] == '$' ? FRAME_REC_TOPIC_DOLLAR : FRAME_REC_OK;
}

/* The props blob was accepted by the decoder, so its layout is sound. */
static int
ref_props(const uint8_t *p, size_t len)
{
	size_t i = 0, n;
	int id, k;

	while (i < len) {
		if ((id = p[i++]) == 1) {
			i++;
			continue;
		}
		for (k = 0; k < (id == 38 ? 2 : 1); k++) {
			n = (size_t)p[i] << 8 | p[i + 1];
			i += 2;
			if (id == 8 && (n == 0 ||
			    memchr(p + i, '+', n) != NULL ||
			    memchr(p + i, '#', n) != NULL ||
			    ref_topic(p + i, n) != FRAME_REC_OK))
				return FRAME_REC_RESPONSE_TOPIC;
			if (id != 8 && id != 9 && ref_str(p + i, n) != 0)
				return FRAME_REC_PROP_STRING;
			i += n;
		}
	}
	return FRAME_REC_OK;
}

static int
fuzz_on_summary(void *arg, const struct frame_header *h,
    const struct frame_summary *s)
{
	struct run *r = arg;

	if (r->summaries++ != 0 || s->records != h->count)
		abort();
	r->records_before_summary = (int)r->records;
	r->sum = *s;
	return 0;
}

static int
fuzz_on_record(void *arg, const struct frame_record *rec)
{
	struct run *r = arg;
	int want;

	if (r->summaries != 1)
		abort();
	want = ref_topic((const uint8_t *)rec->topic, rec->topic_len);
	if (want == FRAME_REC_OK)
		want = ref_props(rec->props, rec->props_len);
	if (rec->refused != want)
		abort();
	r->expanded += rec->topic_len + (uint64_t)rec->payload_len;
	r->refused += rec->refused != FRAME_REC_OK;
	r->records++;
	return 0;
}

static void
fuzz_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Wraps codec, count and body (see the top) in a correct header. */
static size_t
fuzz_wrap(const uint8_t *in, size_t size, uint8_t *f, size_t cap)
{
	size_t blen, n, hl = 8 + 4 + 24;
	int codec;

	if (size < 5 || size - 5 > FRAME_MAX_BODY)
		return 0;
	codec = in[0] & 1;
	blen = size - 5;
	memcpy(f, "PRBF\x01", 5);
	f[5] = (uint8_t)codec;
	f[6] = 0;
	f[7] = 4;
	memcpy(f + 8, "gw-a", 4);
	memset(f + 12, 0, 8);
	memcpy(f + hl - 16, in + 1, 4);
	fuzz_put32(f + hl - 12, (uint32_t)blen);
	fuzz_put32(f + hl - 8, frame__xxh32(in + 5, blen));
	fuzz_put32(f + hl - 4, frame__xxh32(f, hl - 4));
	if (codec == FRAME_CODEC_NONE) {
		memcpy(f + hl, in + 5, blen);
		return hl + blen;
	}
	n = LZ4F_compressFrame(f + hl, cap - hl, in + 5, blen, NULL);
	return LZ4F_isError(n) ? 0 : hl + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_dec_opts o = FRAME_DEC_OPTS_INIT;
	struct frame_err e1, e2;
	struct run bounded, free_run;
	uint8_t *f;
	size_t cap, n;
	int rc, rc_free;

	if (size < 1)
		return 0;
	cap = size + LZ4F_compressFrameBound(size, NULL) + 64;
	if ((f = malloc(cap)) == NULL)
		abort();
	if ((n = fuzz_wrap(data + 1, size - 1, f, cap)) == 0) {
		free(f);
		return 0;
	}
	/* 0 (no bound), then 1 byte .. 2 MiB in steps that bite. */
	o.max_expanded = data[0] == 0 ? 0 : (uint64_t)data[0] << (data[0] % 14);
	o.on_summary = fuzz_on_summary;
	memset(&bounded, 0, sizeof(bounded));
	rc = frame_decode_opts(f, n, NULL, &o, fuzz_on_record, &bounded, &e1);
	if (rc == 0) {
		if (bounded.summaries != 1 || bounded.records_before_summary ||
		    bounded.records != bounded.sum.records ||
		    bounded.expanded != bounded.sum.expanded ||
		    bounded.refused != bounded.sum.refused ||
		    (o.max_expanded != 0 && bounded.expanded > o.max_expanded))
			abort();
	} else if (bounded.summaries != 0 || bounded.records != 0)
		abort();
	o.max_expanded = 0;
	memset(&free_run, 0, sizeof(free_run));
	rc_free = frame_decode_opts(f, n, NULL, &o, fuzz_on_record, &free_run,
	    &e2);
	if (rc == FRAME_ERR_EXPANDED) {
		if (rc_free == 0 && free_run.expanded <= (uint64_t)data[0] <<
		    (data[0] % 14))
			abort();
	} else if (rc != rc_free || (rc != 0 && (e1.offset != e2.offset ||
	    e1.in_body != e2.in_body)))
		abort();
	free(f);
	return 0;
}
#else
/* Seeds: the shapes the checks are about, for the fuzzer to mutate. */
static void
seed_write(const char *dir, const char *name, uint8_t bound, uint8_t codec,
    uint32_t count, const uint8_t *body, size_t blen)
{
	char path[512];
	uint8_t head[6];
	FILE *f;

	head[0] = bound;
	head[1] = codec;
	head[2] = (uint8_t)count;
	head[3] = (uint8_t)(count >> 8);
	head[4] = (uint8_t)(count >> 16);
	head[5] = (uint8_t)(count >> 24);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(head, 1, 6, f) != 6 ||
	    fwrite(body, 1, blen, f) != blen || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	/* One 300-byte topic, used by 200 records of 4 bytes. */
	static uint8_t wide[1 + 3 + 300 + 200 * 4];
	/* Topics and props that break each rule once. */
	static const uint8_t strings[] = {
		6,			/* topic count */
		3, 'a', '/', 'b',
		2, 'x', 0xff,
		3, 0xef, 0xbf, 0xbf,
		2, '$', 'S',
		2, 'c', 0x1b,
		4, 'b', 0xc3, 0xa4, 'r',
		0x01, 0, 0, 1, 'p',
		0x01, 1, 0, 1, 'p',
		0x01, 2, 0, 0,
		0x05, 3, 0, 0,
		0x00, 4, 0, 0,
		0x11, 5, 0, 9, 8, 0, 3, 'r', '/', '+', 3, 0, 0, 0,
		0x11, 0, 0, 7, 38, 0, 1, 'k', 0, 1, 0xc0, 0,
	};
	size_t i, p = 0;

	if (argc != 2)
		return 2;
	wide[p++] = 1;
	wide[p++] = 0xac;	/* 300 as a varint */
	wide[p++] = 0x02;
	memset(wide + p, 'w', 300);
	p += 300;
	for (i = 0; i < 200; i++, p += 4)
		memcpy(wide + p, "\x01\x00\x00\x00", 4);
	seed_write(argv[1], "wide-none", 0, 0, 200, wide, p);
	seed_write(argv[1], "wide-lz4-bounded", 60, 1, 200, wide, p);
	seed_write(argv[1], "strings", 0, 0, 7, strings, sizeof(strings));
	seed_write(argv[1], "strings-lz4", 9, 1, 7, strings, sizeof(strings));
	return 0;
}
#endif
