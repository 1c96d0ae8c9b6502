/* SPDX-License-Identifier: ISC */
/* batcher: uplink messages of batch routes into frames; see batcher.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relay/batcher.h"
#include "relay/frame.h"

/* Per-record overhead the encoder may add beyond topic and payload. */
#define BATCHER_REC_OVERHEAD	32
#define BATCHER_BODY_SLACK	1024
/* Dictionary policy (batcher.h): first at 4 KiB, windows of 64 KiB. */
#define BATCHER_DICT_FIRST	4096
#define BATCHER_DICT_WINDOW	65536

struct batcher {
	struct frame_enc *enc;
	char gwid[FRAME_GWID_MAX + 1];
	size_t max_messages;
	size_t max_bytes;	/* topic+payload per frame */
	int64_t linger_ms;
	enum frame_codec codec;
	uint8_t *out;		/* frame_bound() bytes */
	size_t out_cap;
	int64_t *ids;		/* max_messages member ids */
	size_t n;
	size_t bytes;		/* topic+payload of the open frame */
	int64_t first_ms;	/* monotonic time of the first member */
	int64_t linger_at;	/* the first linger member's; -1: none */
	int64_t own_due;	/* earliest batcher_member_due(); -1: none */
	int last_linger;	/* the last member set linger_at */
	int urgent;		/* a member of a route with priority > 0 */
	int full;
	uint64_t raw_bytes;
	/* Shared dictionary (frame v2), all NULL/0 when off. */
	size_t dict_cap;	/* option dictionary_bytes */
	uint64_t rotate;	/* option dictionary_rotate */
	uint8_t *hist;		/* recent bodies, 2 * dict_cap */
	size_t hist_len;
	uint8_t *dict;		/* current dictionary, dict_cap */
	size_t dict_len;
	uint32_t dict_id;
	uint64_t since;		/* body bytes since the dictionary */
	uint64_t base_in, base_out;	/* first window after it */
	uint64_t base_n, win_n;		/* frames in each */
	uint64_t win_in, win_out;	/* the window at hand */
	int degraded;
	uint8_t *dict_out;	/* dictionary frames */
	size_t dict_out_cap;
};

struct batcher *
batcher_new(const struct conf_batch *c, const char *gwid)
{
	struct batcher *b;
	size_t body;

	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	b->max_messages = (size_t)c->max_messages;
	b->max_bytes = (size_t)c->max_bytes;
	b->linger_ms = c->linger_ms;
	b->codec = c->compress == CONF_COMPRESS_NONE ? FRAME_CODEC_NONE :
	    FRAME_CODEC_LZ4;
	snprintf(b->gwid, sizeof(b->gwid), "%s", gwid);
	body = b->max_bytes + b->max_messages * BATCHER_REC_OVERHEAD +
	    BATCHER_BODY_SLACK;
	if (body > FRAME_MAX_BODY)
		body = FRAME_MAX_BODY;
	b->out_cap = frame_bound(body);
	b->enc = frame_enc_new(b->max_messages, body);
	b->out = malloc(b->out_cap);
	b->ids = calloc(b->max_messages, sizeof(*b->ids));
	if (b->enc == NULL || b->out == NULL || b->ids == NULL ||
	    frame_enc_reset(b->enc, b->gwid, 0) != 0 ||
	    frame_enc_set_version(b->enc, c->frame_version == 2 ?
	    FRAME_VERSION_2 : FRAME_VERSION) != 0) {
		batcher_free(b);
		return NULL;
	}
	if (c->frame_version == 2 && b->codec == FRAME_CODEC_LZ4 &&
	    c->dictionary_bytes > 0) {
		b->dict_cap = (size_t)c->dictionary_bytes;
		b->rotate = (uint64_t)c->dictionary_rotate;
		b->dict_out_cap = frame_dict_bound(b->dict_cap);
		b->hist = malloc(2 * b->dict_cap);
		b->dict = malloc(b->dict_cap);
		b->dict_out = malloc(b->dict_out_cap);
		if (b->hist == NULL || b->dict == NULL || b->dict_out == NULL) {
			batcher_free(b);
			return NULL;
		}
	}
	return b;
}

void
batcher_free(struct batcher *b)
{
	if (b == NULL)
		return;
	frame_enc_free(b->enc);
	free(b->hist);
	free(b->dict);
	free(b->dict_out);
	free(b->out);
	free(b->ids);
	free(b);
}

int
batcher_is_member(const struct queue_msg *m)
{
	return m->priority < 0;
}

static void
batcher_record(const struct queue_msg *m, int64_t wall_ms,
    struct frame_record *r)
{
	int64_t left;

	memset(r, 0, sizeof(*r));
	r->topic = m->topic;
	r->topic_len = strlen(m->topic);
	r->payload = m->payload;
	r->payload_len = m->payload_len;
	r->props = m->props;
	r->props_len = m->props_len;
	r->ts_ms = m->ts_ms;
	r->qos = m->qos;
	r->retain = m->retain;
	if (m->expire_ms != 0) {
		/* The time it has left, as MQTT 5 message expiry would say. */
		left = (m->expire_ms - wall_ms + 999) / 1000;
		r->expiry_s = (uint32_t)(left < 1 ? 1 : left > UINT32_MAX ?
		    UINT32_MAX : left);
		r->has_expiry = 1;
	}
}

int
batcher_add(struct batcher *b, const struct queue_msg *m, int64_t now_ms,
    int64_t wall_ms)
{
	struct frame_record r;
	size_t size = strlen(m->topic) + m->payload_len;
	int rc;

	if (b->n == b->max_messages || (b->n > 0 &&
	    b->bytes + size > b->max_bytes)) {
		b->full = 1;
		return BATCHER_FULL;
	}
	batcher_record(m, wall_ms, &r);
	rc = frame_enc_add(b->enc, &r);
	if (rc == FRAME_ERR_FULL) {
		b->full = 1;
		return BATCHER_FULL;
	}
	if (rc != 0)
		return BATCHER_REFUSED;
	if (b->n == 0) {
		b->first_ms = now_ms;
		b->linger_at = b->own_due = -1;
	}
	b->last_linger = b->linger_at < 0;
	if (b->last_linger)
		b->linger_at = now_ms;
	if (m->priority > BATCHER_PRIO_BASE)
		b->urgent = 1;
	b->ids[b->n++] = m->id;
	b->bytes += size;
	return BATCHER_OK;
}

size_t
batcher_count(const struct batcher *b)
{
	return b->n;
}

void
batcher_member_due(struct batcher *b, int64_t due_ms)
{
	if (b->n == 0)
		return;
	if (b->last_linger) {
		b->linger_at = -1;
		b->last_linger = 0;
	}
	if (b->own_due < 0 || due_ms < b->own_due)
		b->own_due = due_ms;
}

int64_t
batcher_due_ms(const struct batcher *b)
{
	int64_t due = -1;

	if (b->n == 0)
		return -1;
	if (b->full || b->urgent)
		return 0;
	if (b->linger_at >= 0)
		due = b->linger_at + b->linger_ms;
	if (b->own_due >= 0 && (due < 0 || b->own_due < due))
		due = b->own_due;
	return due;
}

int
batcher_urgent(const struct batcher *b)
{
	return b->n > 0 && b->urgent;
}

/* Keeps the body just written for the next dictionary; rates it. */
static void
batcher_note_body(struct batcher *b, size_t frame_len)
{
	const uint8_t *body;
	size_t len, keep;

	if (b->hist == NULL ||
	    (body = frame_enc_last_body(b->enc, &len)) == NULL)
		return;
	if (len > b->dict_cap) {
		body += len - b->dict_cap;
		len = b->dict_cap;
	}
	if (b->hist_len + len > 2 * b->dict_cap) {
		keep = b->dict_cap - len;
		memmove(b->hist, b->hist + b->hist_len - keep, keep);
		b->hist_len = keep;
	}
	memcpy(b->hist + b->hist_len, body, len);
	b->hist_len += len;
	frame_enc_last_body(b->enc, &len);
	b->since += len;
	if (b->dict_len == 0)
		return;
	if (b->base_in < BATCHER_DICT_WINDOW) {
		b->base_in += len;
		b->base_out += frame_len;
		b->base_n++;
		return;
	}
	b->win_in += len;
	b->win_out += frame_len;
	b->win_n++;
	if (b->win_in < BATCHER_DICT_WINDOW)
		return;
	/*
	 * Frames of another size (2x off the baseline's average) look
	 * different: a one-message frame repeats its topic table and record
	 * header, a large one does not. A dictionary from the old frames
	 * fits the new ones badly (measured: 126 against 95 B/msg at
	 * 5 msg/s after a flood), so both a size change and a ratio 1.25 x
	 * the baseline's call for a new one, made from this window.
	 */
	if (b->win_in * b->base_n * 2 < b->base_in * b->win_n ||
	    b->win_in * b->base_n > b->base_in * b->win_n * 2 ||
	    b->win_out * b->base_in * 4 > b->base_out * b->win_in * 5)
		b->degraded = 1;
	b->win_in = b->win_out = b->win_n = 0;
}

int
batcher_dict_on(const struct batcher *b)
{
	return b->hist != NULL;
}

uint32_t
batcher_dict_id(const struct batcher *b)
{
	return b->dict_len > 0 ? b->dict_id : 0;
}

int
batcher_dict_due(const struct batcher *b)
{
	size_t first = b->dict_cap < BATCHER_DICT_FIRST ? b->dict_cap :
	    BATCHER_DICT_FIRST;

	if (b->hist == NULL)
		return 0;
	if (b->dict_len == 0)
		return b->hist_len >= first;
	if (b->dict_len < b->dict_cap && b->hist_len > b->dict_len &&
	    b->since >= b->dict_len)
		return 1;
	return b->since >= b->rotate || b->degraded;
}

int
batcher_dict_set(struct batcher *b, uint32_t id, const uint8_t *d,
    size_t len)
{
	if (b->hist == NULL)
		return BATCHER_OK;
	b->since = b->base_in = b->base_out = b->win_in = b->win_out = 0;
	b->base_n = b->win_n = 0;
	b->degraded = 0;
	if (id == 0 || d == NULL || len == 0) {
		b->dict_len = 0;
		b->dict_id = 0;
		frame_enc_set_dict(b->enc, 0, NULL, 0);
		return BATCHER_OK;
	}
	if (len > b->dict_cap)
		return BATCHER_FAILED;
	if (d != b->dict)
		memmove(b->dict, d, len);
	b->dict_len = len;
	b->dict_id = id;
	return frame_enc_set_dict(b->enc, id, b->dict, len) == 0 ?
	    BATCHER_OK : BATCHER_FAILED;
}

int
batcher_dict_resend(struct batcher *b, uint64_t seq, const uint8_t **frame,
    size_t *len)
{
	if (b->dict_len == 0 || frame_dict_encode(b->gwid, seq, b->dict_id,
	    b->dict, b->dict_len, FRAME_CODEC_LZ4, b->dict_out,
	    b->dict_out_cap, len) != 0)
		return BATCHER_FAILED;
	*frame = b->dict_out;
	return BATCHER_OK;
}

int
batcher_dict_make(struct batcher *b, uint32_t id, uint64_t seq,
    const uint8_t **frame, size_t *len, const uint8_t **dict,
    size_t *dict_len)
{
	size_t n = b->hist_len < b->dict_cap ? b->hist_len : b->dict_cap;

	if (b->hist == NULL || n == 0 || id == 0 ||
	    batcher_dict_set(b, id, b->hist + b->hist_len - n, n) !=
	    BATCHER_OK || batcher_dict_resend(b, seq, frame, len) !=
	    BATCHER_OK)
		return BATCHER_FAILED;
	*dict = b->dict;
	*dict_len = b->dict_len;
	return BATCHER_OK;
}

int
batcher_close(struct batcher *b, uint64_t seq, const uint8_t **frame,
    size_t *len, const int64_t **ids, size_t *n)
{
	int rc;

	frame_enc_set_seq(b->enc, seq);
	rc = frame_enc_finish(b->enc, b->codec, b->out, b->out_cap, len);
	*frame = b->out;
	*ids = b->ids;
	*n = b->n;
	if (rc == 0) {
		b->raw_bytes += b->bytes;
		batcher_note_body(b, *len);
	}
	b->n = 0;
	b->bytes = 0;
	b->full = b->urgent = 0;
	frame_enc_reset(b->enc, b->gwid, 0);
	return rc == 0 ? BATCHER_OK : BATCHER_FAILED;
}

void
batcher_reset(struct batcher *b)
{
	b->n = 0;
	b->bytes = 0;
	b->full = b->urgent = 0;
	frame_enc_reset(b->enc, b->gwid, 0);
}

uint64_t
batcher_raw_bytes(const struct batcher *b)
{
	return b->raw_bytes;
}
