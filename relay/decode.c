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

/* The dictionaries given on the command line, decoded. */
struct decode_dicts {
	size_t n;
	struct frame_header h[DECODE_MAX_DICTS];
	uint8_t *d[DECODE_MAX_DICTS];
	size_t len[DECODE_MAX_DICTS];
};

static int
decode_get_dict(void *arg, const struct frame_header *h, const uint8_t **d,
    size_t *len)
{
	struct decode_dicts *dd = arg;
	size_t i;

	for (i = 0; i < dd->n; i++)
		if (dd->h[i].dict_id == h->dict_id &&
		    dd->h[i].dict_check == h->dict_check &&
		    strcmp(dd->h[i].gateway_id, h->gateway_id) == 0) {
			*d = dd->d[i];
			*len = dd->len[i];
			return 0;
		}
	return 1;
}

/* Reads the file at path into a new *buf; 0, or 1 after saying why. */
static int
decode_load(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL || (*buf = decode_read(f, len)) == NULL) {
		fprintf(stderr, "pushrelay: decode: %s: %s\n", path,
		    strerror(errno));
		if (f != NULL && f != stdin)
			fclose(f);
		return 1;
	}
	if (f != stdin)
		fclose(f);
	return 0;
}

/* The dictionary frames: 0, or the exit code after saying why. */
static int
decode_dicts_load(struct decode_dicts *dd, const char *const *paths,
    size_t n)
{
	struct frame_err e;
	uint8_t *buf;
	size_t len;
	int rc;

	for (dd->n = 0; dd->n < n; dd->n++) {
		if (decode_load(paths[dd->n], &buf, &len) != 0)
			return 1;
		if ((dd->d[dd->n] = malloc(FRAME_DICT_MAX)) == NULL) {
			free(buf);
			fprintf(stderr, "pushrelay: decode: out of memory\n");
			return 1;
		}
		rc = frame_dict_decode(buf, len, &dd->h[dd->n], dd->d[dd->n],
		    FRAME_DICT_MAX, &dd->len[dd->n], &e);
		free(buf);
		if (rc != 0) {
			free(dd->d[dd->n]);
			fprintf(stderr, "pushrelay: decode: %s: %s\n",
			    paths[dd->n], rc == FRAME_ERR_INVAL ? "not a "
			    "dictionary frame" : e.msg);
			return 2;
		}
	}
	return 0;
}

static const char *
decode_codec_name(enum frame_codec c)
{
	return c == FRAME_CODEC_LZ4 ? "lz4" : c == FRAME_CODEC_LZ4_DICT ?
	    "lz4+dictionary" : "none";
}

/* A dictionary frame: its header, after the whole frame is checked. */
static int
decode_dict_frame(const uint8_t *buf, size_t len, const char *path)
{
	struct frame_header h;
	struct frame_err e;
	uint8_t *d;
	size_t n;
	int rc;

	if ((d = malloc(FRAME_DICT_MAX)) == NULL)
		return 1;
	rc = frame_dict_decode(buf, len, &h, d, FRAME_DICT_MAX, &n, &e);
	free(d);
	if (rc != 0) {
		fprintf(stderr, "pushrelay: decode: %s: %s\n", path, e.msg);
		return 2;
	}
	printf("{\"version\":%d,\"kind\":\"dictionary\",\"codec\":\"%s\","
	    "\"gateway\":\"%s\",\"seq\":%" PRIu64 ",\"dictionary_id\":%"
	    PRIu32 ",\"dictionary_check\":\"%08" PRIx32 "\",\"body_len\":%"
	    PRIu32 ",\"frame_len\":%zu}\n", h.version,
	    decode_codec_name(h.codec), h.gateway_id, h.seq, h.dict_id,
	    h.dict_check, h.body_len, len);
	return 0;
}

int
decode_run(const char *path, const char *const *dicts, size_t ndicts)
{
	struct frame_dec_opts o = FRAME_DEC_OPTS_INIT;
	struct decode_dicts dd;
	struct frame_header h;
	struct frame_err e;
	uint8_t *buf = NULL;
	size_t len = 0, i;
	int rc;

	memset(&dd, 0, sizeof(dd));
	if (ndicts > DECODE_MAX_DICTS)
		return 2;
	if ((rc = decode_dicts_load(&dd, dicts, ndicts)) != 0 ||
	    (rc = decode_load(path, &buf, &len)) != 0)
		goto out;
	o.get_dict = decode_get_dict;
	if (frame_peek(buf, len, &h, NULL) == 0 && h.kind == FRAME_KIND_DICT) {
		rc = decode_dict_frame(buf, len, path);
		goto out;
	}
	/* Validate the whole frame first: a bad frame prints no record. */
	rc = frame_decode_opts(buf, len, &h, &o, NULL, &dd, &e);
	if (rc == 0) {
		printf("{\"version\":%d,\"codec\":\"%s\",\"gateway\":\"%s\","
		    "\"seq\":%" PRIu64 ",\"count\":%" PRIu32 ",\"body_len\":%"
		    PRIu32 ",\"frame_len\":%zu", h.version,
		    decode_codec_name(h.codec), h.gateway_id, h.seq, h.count,
		    h.body_len, len);
		if (h.codec == FRAME_CODEC_LZ4_DICT)
			printf(",\"dictionary_id\":%" PRIu32 ",\"dictionary_"
			    "check\":\"%08" PRIx32 "\"", h.dict_id, h.dict_check);
		printf("}\n");
		rc = frame_decode_opts(buf, len, NULL, &o, decode_on_record,
		    &dd, &e);
	}
	if (rc == FRAME_ERR_NODICT)
		fprintf(stderr, "pushrelay: decode: %s: %s; give its "
		    "dictionary frame after the frame (pushrelay decode FRAME "
		    "DICT...)\n", path, e.msg);
	else if (rc != 0)
		fprintf(stderr, "pushrelay: decode: %s: %s\n", path, e.msg);
	rc = rc != 0 ? 2 : 0;
out:
	free(buf);
	for (i = 0; i < dd.n; i++)
		free(dd.d[i]);
	return rc;
}
