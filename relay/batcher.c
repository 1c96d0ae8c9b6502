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
	    frame_enc_reset(b->enc, b->gwid, 0) != 0) {
		batcher_free(b);
		return NULL;
	}
	return b;
}

void
batcher_free(struct batcher *b)
{
	if (b == NULL)
		return;
	frame_enc_free(b->enc);
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
	if (rc == 0)
		b->raw_bytes += b->bytes;
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
