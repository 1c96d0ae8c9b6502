/* SPDX-License-Identifier: ISC */
/*
 * forward_frame: the relay's side of batch frames, part of the forward
 * pipeline (declared in relay.h). Closes the batcher's open frame into
 * one queue message and keeps the frame v2 dictionary: the store's
 * current one, new ones as the batcher makes them, and the last few
 * again when the unpacker asks (docs/frame-format.md, 8.3). Everything
 * happens in the main loop's open transaction; a failed write is handed
 * to durable_failed().
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/clock.h"
#include "platform/log.h"
#include "relay/batcher.h"
#include "relay/frame.h"
#include "relay/relay.h"

/* A dictionary is sent again on request at most this often. */
#define FORWARD_DICT_REQ_MS	1000

/* The content type of frame publishes, as a props.h blob. */
static size_t
forward_frame_props(uint8_t *out, size_t cap)
{
	size_t n = strlen(BATCHER_CONTENT_TYPE);

	if (cap < 3 + n)
		return 0;
	out[0] = 3;
	out[1] = (uint8_t)(n >> 8);
	out[2] = (uint8_t)(n & 0xff);
	memcpy(out + 3, BATCHER_CONTENT_TYPE, n);
	return 3 + n;
}

/* The store's keys of the relay's current dictionary (frame v2). */
#define FORWARD_DICT_KEY	"batch/dict"

/* A frame (records or dictionary) as a queue message, for queue_push. */
static void
forward_frame_msg(struct relay *r, struct queue_msg *m, uint8_t *props,
    size_t props_cap, const uint8_t *frame, size_t len)
{
	memset(m, 0, sizeof(*m));
	m->dir = QUEUE_UP;
	m->priority = FORWARD_FRAME_PRIO;
	m->topic = r->conf->batch.topic;
	m->payload = frame;
	m->payload_len = len;
	m->props = props;
	/*
	 * The unpacker knows frames by their topic (its subscription) and
	 * their magic, not by this property: 34 bytes per frame that only
	 * go out when config batch asks (option content_type).
	 */
	m->props_len = r->conf->batch.content_type ?
	    forward_frame_props(props, props_cap) : 0;
	m->qos = r->conf->batch.qos;
	m->ts_ms = clock_wall_ms();
}

/*
 * Makes the batcher's dictionary the one the store says is current: at
 * the first frame after a start (a restart goes on with the dictionary
 * the unpacker has already) and after a rollback undid a new one. 0, or
 * -1 when the store failed (r->err set).
 */
static int
forward_dict_sync(struct relay *r)
{
	int64_t id = 0;
	uint8_t *buf;
	size_t len = 0;
	int rc;

	rc = queue_meta_get(r->queue, FORWARD_DICT_KEY, &id, r->err,
	    sizeof(r->err));
	if (rc < 0)
		return -1;
	if (rc == 0 || id <= 0 || id > UINT32_MAX)
		id = 0;
	if ((uint32_t)id == batcher_dict_id(r->batcher))
		return 0;
	if (id == 0 || (buf = malloc(FRAME_DICT_MAX)) == NULL) {
		batcher_dict_set(r->batcher, 0, NULL, 0);
		return 0;
	}
	rc = queue_blob_get(r->queue, FORWARD_DICT_KEY, buf, FRAME_DICT_MAX,
	    &len, r->err, sizeof(r->err));
	if (rc == 1 && batcher_dict_set(r->batcher, (uint32_t)id, buf, len) ==
	    BATCHER_OK)
		log_info("batch: dictionary %" PRId64 " (%zu bytes) taken up "
		    "from the store", id, len);
	else
		batcher_dict_set(r->batcher, 0, NULL, 0);
	free(buf);
	return rc < 0 && rc != QUEUE_ERR_INVAL ? -1 : 0;
}

/* "batch/dict/ID": the last FORWARD_DICT_KEEP dictionaries, for requests. */
#define FORWARD_DICT_KEEP	4

static void
forward_dict_old_key(char *key, size_t cap, uint32_t id)
{
	snprintf(key, cap, FORWARD_DICT_KEY "/%010" PRIu32, id);
}

/* Keeps dictionary id for requests and forgets the one KEEP before it. */
static int
forward_dict_keep(struct relay *r, uint32_t id, const uint8_t *d, size_t len)
{
	char key[32];

	forward_dict_old_key(key, sizeof(key), id);
	if (queue_blob_set(r->queue, key, d, len, r->err, sizeof(r->err)) !=
	    QUEUE_OK)
		return -1;
	if (id <= FORWARD_DICT_KEEP)
		return 0;
	forward_dict_old_key(key, sizeof(key), id - FORWARD_DICT_KEEP);
	return queue_blob_del(r->queue, key, 0, r->err, sizeof(r->err)) ==
	    QUEUE_OK ? 0 : -1;
}

/*
 * A dictionary frame of len bytes was pushed, evicting evicted older
 * messages: counted, and this pass commits without waiting for group
 * commit.
 */
static void
forward_dict_stored(struct relay *r, uint64_t evicted, size_t len)
{
	r->st.dropped_full += evicted;
	r->dirty = 1;
	r->commit_now = 1;
	r->st.dict_frames++;
	r->st.batch_bytes += len;
}

/*
 * Stores a dictionary frame in the open transaction, before any frame
 * that names it: a new dictionary (resend 0), then the store's current
 * id and content change with it; or the current one again (resend 1).
 * 0, or -1 when it could not be stored (the batcher then goes on without
 * a dictionary until the store's is taken up again).
 */
static int
forward_dict_push(struct relay *r, int resend)
{
	const uint8_t *frame, *dict;
	uint8_t props[64];
	struct queue_msg m;
	size_t len, dict_len;
	uint64_t evicted = 0;
	int64_t seq = queue_next_id(r->queue), id = 0;
	int rc;

	if (resend)
		rc = batcher_dict_resend(r->batcher, (uint64_t)seq, &frame,
		    &len);
	else {
		if (queue_meta_get(r->queue, FORWARD_DICT_KEY, &id, r->err,
		    sizeof(r->err)) < 0) {
			durable_failed(r);
			return -1;
		}
		id = id <= 0 || id >= UINT32_MAX ? 1 : id + 1;
		rc = batcher_dict_make(r->batcher, (uint32_t)id,
		    (uint64_t)seq, &frame, &len, &dict, &dict_len);
	}
	if (rc != BATCHER_OK)
		return -1;
	forward_frame_msg(r, &m, props, sizeof(props), frame, len);
	rc = queue_push(r->queue, &m, &evicted, r->err, sizeof(r->err));
	if (rc == QUEUE_OK && !resend && (queue_meta_set(r->queue,
	    FORWARD_DICT_KEY, id, r->err, sizeof(r->err)) != QUEUE_OK ||
	    queue_blob_set(r->queue, FORWARD_DICT_KEY, dict, dict_len, r->err,
	    sizeof(r->err)) != QUEUE_OK ||
	    forward_dict_keep(r, (uint32_t)id, dict, dict_len) != 0))
		rc = QUEUE_ERR_IO;
	if (rc != QUEUE_OK) {
		if (!resend)
			batcher_dict_set(r->batcher, 0, NULL, 0);
		if (rc == QUEUE_ERR_FULL)
			log_err("batch: dictionary frame does not fit in the "
			    "store; frames go without it");
		else
			durable_failed(r);
		return -1;
	}
	forward_dict_stored(r, evicted, len);
	log_info("batch: dictionary %u%s, frame %" PRId64 " of %zu bytes",
	    batcher_dict_id(r->batcher), resend ? " sent again" : " made",
	    seq, len);
	return 0;
}

/*
 * An unpacker lacks dictionary ID (the payload, in decimal): the relay
 * stores its frame again if it still has it (the current one or one of
 * the FORWARD_DICT_KEEP before), at most once per FORWARD_DICT_REQ_MS
 * for the same id (docs/frame-format.md, 8.3).
 */
void
forward_dict_request(struct relay *r, const struct link_msg *lm)
{
	char num[16], key[32];
	const uint8_t *frame;
	uint8_t *d = NULL, *f = NULL, props[64];
	struct queue_msg m;
	unsigned long id;
	size_t len, flen;
	uint64_t evicted = 0;
	char *end;
	int64_t seq;

	if (lm->payload_len == 0 || lm->payload_len >= sizeof(num)) {
		log_debug("batch: a dictionary request of %zu bytes ignored",
		    lm->payload_len);
		return;
	}
	memcpy(num, lm->payload, lm->payload_len);
	num[lm->payload_len] = '\0';
	id = strtoul(num, &end, 10);
	if (*end != '\0' || id == 0 || id > UINT32_MAX) {
		log_debug("batch: a dictionary request that names no id "
		    "ignored");
		return;
	}
	if (r->dict_req_id == id && r->dict_req_ms != 0 &&
	    r->now_ms - r->dict_req_ms < FORWARD_DICT_REQ_MS) {
		log_debug("batch: dictionary %lu asked for again within %d "
		    "ms: not sent again", id, FORWARD_DICT_REQ_MS);
		return;
	}
	if (forward_dict_sync(r) != 0) {
		durable_failed(r);
		return;
	}
	r->dict_req_id = (uint32_t)id;
	r->dict_req_ms = r->now_ms;
	if (id == batcher_dict_id(r->batcher)) {
		log_info("batch: the unpacker asks for dictionary %lu", id);
		(void)forward_dict_push(r, 1);
		return;
	}
	forward_dict_old_key(key, sizeof(key), (uint32_t)id);
	seq = queue_next_id(r->queue);
	if ((d = malloc(FRAME_DICT_MAX)) == NULL ||
	    (f = malloc(frame_dict_bound(FRAME_DICT_MAX))) == NULL ||
	    queue_blob_get(r->queue, key, d, FRAME_DICT_MAX, &len, r->err,
	    sizeof(r->err)) != 1 || frame_dict_encode(r->conf->id,
	    (uint64_t)seq, (uint32_t)id, d, len, FRAME_CODEC_LZ4, f,
	    frame_dict_bound(FRAME_DICT_MAX), &flen) != 0) {
		log_warn("batch: the unpacker asks for dictionary %lu, which "
		    "this relay no longer has; the frames that name it stay "
		    "held there", id);
		goto out;
	}
	frame = f;
	forward_frame_msg(r, &m, props, sizeof(props), frame, flen);
	if (queue_push(r->queue, &m, &evicted, r->err, sizeof(r->err)) !=
	    QUEUE_OK) {
		durable_failed(r);
		goto out;
	}
	forward_dict_stored(r, evicted, flen);
	log_info("batch: dictionary %lu sent again on request, frame %" PRId64
	    " of %zu bytes", id, seq, flen);
out:
	free(d);
	free(f);
}

/*
 * At every new connection of the central link: the current dictionary
 * once more, for an unpacker that lost it (docs/frame-format.md, 8.3).
 */
void
forward_dict_session(struct relay *r)
{
	if (r->batcher == NULL || !batcher_dict_on(r->batcher))
		return;
	if (forward_dict_sync(r) != 0) {
		durable_failed(r);
		return;
	}
	if (batcher_dict_id(r->batcher) != 0)
		(void)forward_dict_push(r, 1);
}

/*
 * Closes the open frame: stores it as one queue message under the id that
 * is its sequence number and deletes its members, in the open
 * transaction. It goes out after the commit, like any stored message.
 */
static void
forward_close_batch(struct relay *r)
{
	const int64_t *ids;
	const uint8_t *frame;
	uint8_t props[64];
	struct queue_msg m;
	size_t len, n;
	uint64_t evicted = 0;
	int64_t seq;
	int rc;

	if (batcher_dict_on(r->batcher)) {
		if (forward_dict_sync(r) != 0) {
			durable_failed(r);
			return;
		}
		if (batcher_dict_due(r->batcher) &&
		    forward_dict_push(r, 0) != 0 && r->tx_failed)
			return;
	}
	seq = queue_next_id(r->queue);
	n = batcher_count(r->batcher);	/* for the message on failure */
	if (batcher_close(r->batcher, (uint64_t)seq, &frame, &len, &ids, &n) !=
	    BATCHER_OK) {
		log_err("batch: cannot encode a frame of %zu messages; they "
		    "stay queued", n);
		return;
	}
	forward_frame_msg(r, &m, props, sizeof(props), frame, len);
	if ((rc = queue_push(r->queue, &m, &evicted, r->err,
	    sizeof(r->err))) == QUEUE_ERR_FULL) {
		log_err("batch: frame %" PRId64 " does not fit in the store; "
		    "its %zu messages stay queued", seq, n);
		return;
	}
	/* A failed write: the pass is undone, the members go out again. */
	if (rc != QUEUE_OK || queue_ack_ids(r->queue, ids, n, NULL, r->err,
	    sizeof(r->err)) != QUEUE_OK) {
		durable_failed(r);
		return;
	}
	/* Room for the frame may have cost older messages (store_full). */
	r->st.dropped_full += evicted;
	r->dirty = 1;
	r->st.batches++;
	r->st.batched += n;
	r->st.batch_bytes += len;
	log_debug("batch: frame %" PRId64 ": %zu messages from id %" PRId64
	    ", %zu bytes", seq, n, n > 0 ? ids[0] : 0, len);
	/*
	 * The frame's number must name these members for good before the
	 * frame can leave: a frame sent and then rolled back by a crash
	 * would give its number to other members, which the unpacker would
	 * drop as sent already. So this pass commits, whatever group commit
	 * would wait for.
	 */
	r->commit_now = 1;
	/* Commit and send it without waiting for another event. */
	relay_timer_arm(r, &r->batch_due, 0);
}

void
forward_batch_step(struct relay *r, int paused)
{
	int64_t due;

	if ((due = batcher_due_ms(r->batcher)) < 0)
		return;
	/* Over the WAN budget only a frame with a priority member closes. */
	if (paused && !batcher_urgent(r->batcher))
		return;
	if (due <= r->now_ms)
		forward_close_batch(r);
	else
		relay_timer_arm(r, &r->batch_due, due - r->now_ms);
}
