/*
 * unpack: batch frames to records on the central site; see unpack.h and
 * docs/unpack.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "platform/clock.h"
#include "platform/log.h"
#include "relay/frame.h"
#include "relay/relay.h"
#include "relay/unpack.h"

#define UNPACK_LOG_EVERY_MS	60000

/* What the record callback needs. */
struct unpack_ctx {
	struct relay *r;
	int64_t wall_ms;
	uint64_t stored;
	uint64_t full;
};

static void
unpack_refuse(struct relay *r, const char *topic, const char *what)
{
	uint64_t supp = 0;

	r->st.frames_bad++;
	if (log_ratelimit(&r->rate.frames, r->now_ms, UNPACK_LOG_EVERY_MS,
	    &supp))
		log_warn("unpack: frame on %s dropped: %s; %" PRIu64 " more "
		    "since the last report", topic, what, supp);
	else
		log_debug("unpack: frame on %s dropped: %s", topic, what);
}

/* Whether id is one whole level of topic. */
static int
unpack_id_in_topic(const char *topic, const char *id)
{
	size_t n = strlen(id);
	const char *p = topic, *end;

	for (;;) {
		end = strchr(p, '/');
		if ((size_t)((end != NULL ? end : p + strlen(p)) - p) == n &&
		    memcmp(p, id, n) == 0)
			return 1;
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

static int
unpack_on_record(void *arg, const struct frame_record *rec)
{
	struct unpack_ctx *u = arg;
	struct relay *r = u->r;
	struct queue_msg m;
	uint64_t evicted = 0;
	int rc;

	memcpy(r->topic_buf, rec->topic, rec->topic_len);
	r->topic_buf[rec->topic_len] = '\0';
	memset(&m, 0, sizeof(m));
	m.dir = relay_out_dir(LINK_CENTRAL);
	m.topic = r->topic_buf;
	m.payload = rec->payload;
	m.payload_len = rec->payload_len;
	m.props = rec->props;
	m.props_len = rec->props_len;
	/* option qos of config unpack caps what the records ask for. */
	m.qos = rec->qos < r->conf->unpack_qos ? rec->qos :
	    r->conf->unpack_qos;
	m.retain = rec->retain;
	m.ts_ms = rec->ts_ms;
	if (rec->has_expiry)
		m.expire_ms = u->wall_ms + (int64_t)rec->expiry_s * 1000;
	rc = queue_push(r->queue, &m, &evicted, r->err, sizeof(r->err));
	u->full += evicted;
	if (rc == QUEUE_OK) {
		u->stored++;
		return 0;
	}
	if (rc == QUEUE_ERR_FULL) {
		u->full++;
		return 0;
	}
	return 1;	/* A failed write: stop (see unpack_frame). */
}

/* "seq/GATEWAY": the meta key of a gateway's last sequence number. */
static void
unpack_key(char *key, size_t cap, const struct frame_header *h)
{
	snprintf(key, cap, "seq/%s", h->gateway_id);
}

/* 1 when h's frame was taken already, 0 when not, -1 on a store error. */
static int
unpack_seen(struct relay *r, const struct frame_header *h, const char *key)
{
	int64_t last = 0;
	uint64_t l;
	int rc;

	rc = queue_meta_get(r->queue, key, &last, r->err, sizeof(r->err));
	if (rc < 0) {
		durable_failed(r);
		return -1;
	}
	if (rc == 0)
		return 0;
	l = (uint64_t)last;
	if (h->seq <= l && l - h->seq < UNPACK_DUP_SPAN)
		return 1;
	if (h->seq < l)
		log_info("unpack: gateway %s starts over at sequence %" PRIu64
		    " (its last was %" PRIu64 "): a new queue", h->gateway_id,
		    h->seq, l);
	return 0;
}

void
unpack_frame(struct relay *r, const struct link_msg *ev)
{
	struct unpack_ctx u = { r, clock_wall_ms(), 0, 0 };
	char key[8 + FRAME_GWID_MAX], what[FRAME_ERR_LEN + 96];
	struct frame_header h;
	struct frame_err fe;
	int rc;

	r->st.frames_in++;
	if (frame_peek(ev->payload, ev->payload_len, &h, &fe) != 0) {
		unpack_refuse(r, ev->topic, fe.msg);
		return;
	}
	if (!unpack_id_in_topic(ev->topic, h.gateway_id)) {
		snprintf(what, sizeof(what), "its gateway id '%s' is not a "
		    "level of the topic", h.gateway_id);
		unpack_refuse(r, ev->topic, what);
		return;
	}
	unpack_key(key, sizeof(key), &h);
	if ((rc = unpack_seen(r, &h, key)) != 0) {
		if (rc > 0)
			r->st.frames_dup++;
		return;
	}
	rc = frame_decode(ev->payload, ev->payload_len, &h, unpack_on_record,
	    &u, &fe);
	r->dirty = 1;
	r->st.records_in += u.stored;
	r->st.dropped_full += u.full;
	if (rc == FRAME_ERR_ABORTED) {
		/*
		 * The store failed (disk full, I/O error): the pass is
		 * undone and not acknowledged (durable.c), so the central
		 * broker sends the frame again.
		 */
		durable_failed(r);
		return;
	}
	if (rc != 0) {
		snprintf(what, sizeof(what), "gateway %s, sequence %" PRIu64
		    ": %s", h.gateway_id, h.seq, fe.msg);
		unpack_refuse(r, ev->topic, what);
		return;
	}
	if (queue_meta_set(r->queue, key, (int64_t)h.seq, r->err,
	    sizeof(r->err)) != QUEUE_OK)
		durable_failed(r);
	log_debug("unpack: frame %" PRIu64 " of gateway %s: %" PRIu64
	    " records stored", h.seq, h.gateway_id, u.stored);
	if (u.full > 0)
		log_warn("unpack: store full: %" PRIu64 " records dropped "
		    "for frame %" PRIu64 " of gateway %s", u.full, h.seq,
		    h.gateway_id);
}
