/* SPDX-License-Identifier: ISC */
/* decode: print one batch frame as JSON lines; see decode.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/json.h"
#include "relay/decode.h"
#include "relay/frame.h"

/* A frame is at most its header and an LZ4 frame of a 16 MiB body. */
#define DECODE_MAX_INPUT	(FRAME_MAX_BODY + FRAME_MAX_BODY / 64 + 4096)

static uint8_t *
decode_read(FILE *f, size_t *len)
{
	uint8_t *buf;
	size_t n = 0, r;

	if ((buf = malloc(DECODE_MAX_INPUT + 1)) == NULL)
		return NULL;
	while ((r = fread(buf + n, 1, DECODE_MAX_INPUT + 1 - n, f)) > 0)
		n += r;
	if (ferror(f) || n > DECODE_MAX_INPUT) {
		errno = ferror(f) ? EIO : EFBIG;
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

static size_t
decode_len16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* One property of a blob frame_decode() validated: its id and values. */
struct decode_prop {
	int id;
	const uint8_t *a, *b;	/* value; b: a user property's value */
	size_t alen, blen;
};

static const uint8_t *
decode_prop_next(const uint8_t *p, struct decode_prop *q)
{
	q->id = *p++;
	if (q->id == 1) {
		q->a = p;
		q->alen = 1;
		return p + 1;
	}
	q->alen = decode_len16(p);
	q->a = p + 2;
	p += 2 + q->alen;
	if (q->id == 38) {
		q->blen = decode_len16(p);
		q->b = p + 2;
		p += 2 + q->blen;
	}
	return p;
}

static void
decode_props(const struct frame_record *r)
{
	static const char *const names[] = { [3] = "content_type",
	    [8] = "response_topic", [9] = "correlation_data" };
	const uint8_t *p, *end = r->props + r->props_len;
	struct decode_prop q;
	const char *sep = "";
	int users = 0;

	printf(",\"properties\":{");
	if (r->has_expiry) {
		printf("\"message_expiry\":%" PRIu32, r->expiry_s);
		sep = ",";
	}
	for (p = r->props; p != NULL && p < end; ) {
		p = decode_prop_next(p, &q);
		if (q.id == 38)
			continue;
		fputs(sep, stdout);
		sep = ",";
		if (q.id == 1)
			printf("\"payload_format\":%u", q.a[0]);
		else
			json_put_bytes(stdout, names[q.id], q.a, q.alen);
	}
	for (p = r->props; p != NULL && p < end; ) {
		p = decode_prop_next(p, &q);
		if (q.id != 38)
			continue;
		printf(users++ == 0 ? "%s\"user_properties\":[[" : ",[", sep);
		json_put_str(stdout, q.a, q.alen);
		putchar(',');
		json_put_str(stdout, q.b, q.blen);
		putchar(']');
	}
	printf("%s}", users > 0 ? "]" : "");
}

static int
decode_on_record(void *arg, const struct frame_record *r)
{
	(void)arg;
	printf("{\"topic\":");
	json_put_str(stdout, (const uint8_t *)r->topic, r->topic_len);
	putchar(',');
	json_put_bytes(stdout, "payload", r->payload, r->payload_len);
	printf(",\"qos\":%d,\"retain\":%s,\"ts\":%" PRId64, r->qos,
	    r->retain ? "true" : "false", r->ts_ms);
	decode_props(r);
	/* What the unpacker would refuse to publish, and why. */
	if (r->refused != FRAME_REC_OK)
		printf(",\"refused\":\"%s\"", frame_refusal_str(r->refused));
	printf("}\n");
	return 0;
}

int
decode_run(const char *path)
{
	struct frame_header h;
	struct frame_err e;
	uint8_t *buf;
	size_t len = 0;
	FILE *f;
	int rc;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL || (buf = decode_read(f, &len)) == NULL) {
		fprintf(stderr, "pushrelay: decode: %s: %s\n", path,
		    strerror(errno));
		if (f != NULL && f != stdin)
			fclose(f);
		return 1;
	}
	if (f != stdin)
		fclose(f);
	/* Validate the whole frame first: a bad frame prints no record. */
	rc = frame_decode(buf, len, &h, NULL, NULL, &e);
	if (rc == 0) {
		printf("{\"version\":%d,\"codec\":\"%s\",\"gateway\":\"%s\","
		    "\"seq\":%" PRIu64 ",\"count\":%" PRIu32 ",\"body_len\":%"
		    PRIu32 ",\"frame_len\":%zu}\n", h.version, h.codec ==
		    FRAME_CODEC_LZ4 ? "lz4" : "none", h.gateway_id, h.seq,
		    h.count, h.body_len, len);
		rc = frame_decode(buf, len, NULL, decode_on_record, NULL, &e);
	}
	free(buf);
	if (rc != 0) {
		fprintf(stderr, "pushrelay: decode: %s: %s\n", path, e.msg);
		return 2;
	}
	return 0;
}
