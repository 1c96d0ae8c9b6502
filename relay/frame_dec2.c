/* SPDX-License-Identifier: ISC */
/*
 * frame_dec2: the version 2 half of the batch frame decoder
 * (relay/frame.h, docs/frame-format.md, section 2.3 and 8): the v2
 * header, the data part (stored, LZ4 block, LZ4 block with a
 * dictionary), the check, and dictionary frames. The reader and the
 * records are frame_dec.c's (FRAME_INTERNAL in frame.h).
 */
#include <stdlib.h>
#include <string.h>

#include <lz4.h>

#define FRAME_INTERNAL
#include "relay/frame.h"


/* A dictionary id varint (docs, 2.3): 1..UINT32_MAX. */
static int
dec_dict_id(struct frame_rd *rd, uint32_t *id)
{
	const uint8_t *at = rd->p;
	uint64_t v;
	int rc;

	if ((rc = frame__rd_varint(rd, UINT32_MAX, "dictionary id", &v)) !=
	    FRAME_OK)
		return rc;
	if (v == 0)
		return frame__rd_fail(rd, at, FRAME_ERR_MALFORMED,
		    "dictionary id 0");
	*id = (uint32_t)v;
	return FRAME_OK;
}

/*
 * Version 2 header (docs, 2.3): the fixed part, then varints, then the
 * check. The check covers the header and the body, so it is verified
 * after decompression (frame_decode_opts), not here.
 */
int
frame__dec_header2(struct frame_rd *rd, struct frame_header *h)
{
	const uint8_t *b = rd->start, *at;
	char why[FRAME_ERR_LEN];
	uint64_t v;
	size_t gl, bad;
	int rc;

	memset(h, 0, sizeof(*h));
	if (b[5] > FRAME_CODEC_LZ4_DICT)
		return frame__rd_fail(rd, b + 5, FRAME_ERR_CODEC,
		    "unknown codec %u", b[5]);
	if (b[6] > FRAME_KIND_DICT)
		return frame__rd_fail(rd, b + 6, FRAME_ERR_MALFORMED,
		    "unknown frame kind %u", b[6]);
	if (b[6] == FRAME_KIND_DICT && b[5] == FRAME_CODEC_LZ4_DICT)
		return frame__rd_fail(rd, b + 5, FRAME_ERR_MALFORMED,
		    "a dictionary frame cannot use a dictionary");
	if ((gl = b[7]) < 1 || gl > FRAME_GWID_MAX)
		return frame__rd_fail(rd, b + 7, FRAME_ERR_MALFORMED,
		    "gateway id length %zu not in 1..%d", gl, FRAME_GWID_MAX);
	if ((rc = frame__rd_need(rd, FRAME_FIXED_LEN + gl, "the header")) !=
	    FRAME_OK)
		return rc;
	if (frame__check_gwid((const char *)b + 8, gl, &bad, why) != 0)
		return frame__rd_fail(rd, b + 8 + bad, FRAME_ERR_MALFORMED,
		    "%s", why);
	h->version = b[4];
	h->codec = (enum frame_codec)b[5];
	h->kind = (enum frame_kind)b[6];
	memcpy(h->gateway_id, b + 8, gl);
	h->gateway_id[gl] = '\0';
	rd->p = b + 8 + gl;
	if ((rc = frame__rd_varint(rd, INT64_MAX, "sequence number",
	    &h->seq)) != FRAME_OK)
		return rc;
	at = rd->p;
	if (h->kind == FRAME_KIND_DICT) {
		if ((rc = dec_dict_id(rd, &h->dict_id)) != FRAME_OK)
			return rc;
	} else {
		if ((rc = frame__rd_varint(rd, UINT32_MAX, "record count",
		    &v)) != FRAME_OK)
			return rc;
		if (v > FRAME_MAX_RECORDS)
			return frame__rd_fail(rd, at, FRAME_ERR_LIMIT,
			    "record count %llu over %u", (unsigned long long)v,
			    FRAME_MAX_RECORDS);
		h->count = (uint32_t)v;
	}
	at = rd->p;
	if ((rc = frame__rd_varint(rd, UINT32_MAX, "body length",
	    &v)) != FRAME_OK)
		return rc;
	h->body_len = (uint32_t)v;
	if (h->kind == FRAME_KIND_DICT && (v < 1 || v > FRAME_DICT_MAX))
		return frame__rd_fail(rd, at, FRAME_ERR_LIMIT,
		    "dictionary length %llu not in 1..%u",
		    (unsigned long long)v, FRAME_DICT_MAX);
	if (v > FRAME_MAX_BODY)
		return frame__rd_fail(rd, at, FRAME_ERR_LIMIT,
		    "body length %llu over %u", (unsigned long long)v,
		    FRAME_MAX_BODY);
	if (h->kind == FRAME_KIND_RECORDS &&
	    v < 1 + (uint64_t)FRAME_MIN_RECORD * h->count)
		return frame__rd_fail(rd, at, FRAME_ERR_MALFORMED,
		    "body length %u too small for %u records", h->body_len,
		    h->count);
	if (h->codec == FRAME_CODEC_LZ4_DICT) {
		if ((rc = dec_dict_id(rd, &h->dict_id)) != FRAME_OK)
			return rc;
		if ((rc = frame__rd_need(rd, 4, "the dictionary check")) !=
		    FRAME_OK)
			return rc;
		h->dict_check = (uint32_t)frame__get_le(rd->p, 4);
		rd->p += 4;
	}
	if ((rc = frame__rd_need(rd, 4, "the check")) != FRAME_OK)
		return rc;
	rd->p += 4;
	h->header_len = (size_t)(rd->p - b);
	return FRAME_OK;
}

/*
 * Version 2 data part into body (body_len bytes): stored, or one LZ4
 * block, with dict (dict_len bytes) when not NULL. rd covers the data.
 */
static int
dec_v2_data(struct frame_rd *rd, const struct frame_header *h,
    const uint8_t *dict, size_t dict_len, uint8_t *body)
{
	size_t in = (size_t)(rd->end - rd->p);
	int n;

	if (h->codec == FRAME_CODEC_NONE) {
		if (in != h->body_len)
			return frame__rd_fail(rd, in < h->body_len ? rd->end :
			    rd->p + h->body_len, in < h->body_len ?
			    FRAME_ERR_TRUNCATED : FRAME_ERR_MALFORMED,
			    "data part is %zu bytes, header says %u", in,
			    h->body_len);
		memcpy(body, rd->p, in);
		return FRAME_OK;
	}
	if (in == 0)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_TRUNCATED,
		    "no LZ4 block after the header");
	if (in > INT32_MAX || h->body_len > FRAME_LZ4_MAX_RATIO * in)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "body length %u cannot come from %zu bytes of LZ4",
		    h->body_len, in);
	if (dict != NULL)
		n = LZ4_decompress_safe_usingDict((const char *)rd->p,
		    (char *)body, (int)in, (int)h->body_len,
		    (const char *)dict, (int)dict_len);
	else
		n = LZ4_decompress_safe((const char *)rd->p, (char *)body,
		    (int)in, (int)h->body_len);
	if (n < 0)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "LZ4 block malformed or longer than %u bytes", h->body_len);
	if ((uint32_t)n != h->body_len)
		return frame__rd_fail(rd, rd->p, FRAME_ERR_MALFORMED,
		    "LZ4 content is %d bytes, header says %u", n, h->body_len);
	return FRAME_OK;
}

/* The v2 check (the header's last 4 bytes) over the header and body. */
static int
dec_v2_check(struct frame_rd *rd, const struct frame_header *h,
    const uint8_t *body)
{
	const uint8_t *at = rd->start + h->header_len - 4;

	if (frame__get_le(at, 4) != frame__xxh32_seed(body, h->body_len,
	    frame__xxh32(rd->start, h->header_len - 4)))
		return frame__rd_fail(rd, at, FRAME_ERR_CHECKSUM,
		    "check mismatch");
	return FRAME_OK;
}

/* The dictionary a codec 2 frame names, from the caller, checked. */
static int
dec_v2_dict(struct frame_rd *rd, const struct frame_header *h,
    const struct frame_dec_opts *o, void *arg, const uint8_t **dict,
    size_t *len)
{
	const uint8_t *at = rd->start + h->header_len - 8;

	*dict = NULL;
	*len = 0;
	if (h->codec != FRAME_CODEC_LZ4_DICT)
		return FRAME_OK;
	if (o == NULL || o->get_dict == NULL ||
	    o->get_dict(arg, h, dict, len) != 0 || *dict == NULL ||
	    *len < 1 || *len > FRAME_DICT_MAX ||
	    frame_dict_check(*dict, *len) != h->dict_check)
		return frame__rd_fail(rd, at, FRAME_ERR_NODICT, "dictionary %u "
		    "(check %08x) of gateway %s is missing", h->dict_id,
		    h->dict_check, h->gateway_id);
	return FRAME_OK;
}

int
frame__dec_v2(const uint8_t *buf, size_t len, struct frame_header *h,
    const struct frame_dec_opts *o, frame_on_record_fn on_record, void *arg,
    struct frame_err *err)
{
	struct frame_rd rd = { buf, buf + h->header_len, buf + len, 0, 0,
	    FRAME_ERR_TRUNCATED, err }, body;
	const uint8_t *dict;
	uint8_t *owned;
	size_t dict_len;
	int rc;

	if (h->kind != FRAME_KIND_RECORDS)
		return frame__rd_fail(&rd, buf + 6, FRAME_ERR_INVAL,
		    "a dictionary frame, not records");
	if ((rc = dec_v2_dict(&rd, h, o, arg, &dict, &dict_len)) != FRAME_OK)
		return rc;
	/* Checked against the data part before anything is allocated. */
	if (h->codec == FRAME_CODEC_NONE ? len - h->header_len !=
	    h->body_len : h->body_len > FRAME_LZ4_MAX_RATIO *
	    (len - h->header_len))
		return dec_v2_data(&rd, h, NULL, 0, NULL);
	if (h->codec == FRAME_CODEC_NONE) {
		/* Stored: read in place, as with version 1. */
		owned = NULL;
		body = (struct frame_rd){ buf, rd.p, rd.p + h->body_len,
		    h->header_len, 0, FRAME_ERR_MALFORMED, err };
		body.start = rd.p;
		if ((rc = dec_v2_check(&rd, h, rd.p)) == FRAME_OK)
			rc = frame__dec_records(&body, h, o, on_record, arg);
		return rc;
	}
	if ((owned = malloc(h->body_len)) == NULL)
		return FRAME_ERR_NOMEM;
	if ((rc = dec_v2_data(&rd, h, dict, dict_len, owned)) == FRAME_OK &&
	    (rc = dec_v2_check(&rd, h, owned)) == FRAME_OK) {
		body = (struct frame_rd){ owned, owned, owned + h->body_len,
		    0, 1, FRAME_ERR_MALFORMED, err };
		rc = frame__dec_records(&body, h, o, on_record, arg);
	}
	free(owned);
	return rc;
}

int
frame_dict_decode(const uint8_t *buf, size_t len, struct frame_header *hp,
    uint8_t *out, size_t cap, size_t *out_len, struct frame_err *err)
{
	struct frame_header hh, *h = hp != NULL ? hp : &hh;
	struct frame_rd rd;
	int rc;

	if ((rc = frame_peek(buf, len, h, err)) != FRAME_OK)
		return rc;
	rd = (struct frame_rd){ buf, buf + h->header_len, buf + len, 0, 0,
	    FRAME_ERR_TRUNCATED, err };
	if (h->version != FRAME_VERSION_2 || h->kind != FRAME_KIND_DICT)
		return frame__rd_fail(&rd, buf + 4, FRAME_ERR_INVAL, "not a "
		    "dictionary frame");
	if (out == NULL || cap < h->body_len)
		return frame__rd_fail(&rd, rd.p, FRAME_ERR_NOSPACE,
		    "dictionary of %u bytes, room for %zu", h->body_len, cap);
	if ((rc = dec_v2_data(&rd, h, NULL, 0, out)) != FRAME_OK ||
	    (rc = dec_v2_check(&rd, h, out)) != FRAME_OK)
		return rc;
	h->dict_check = frame_dict_check(out, h->body_len);
	*out_len = h->body_len;
	return FRAME_OK;
}
