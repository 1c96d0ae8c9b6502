/* SPDX-License-Identifier: ISC */
/*
 * unpack: batch frames to records on the central site; see unpack.h and
 * docs/unpack.md. Frame v2 dictionaries and held frames are in
 * unpack_dict.c; what the two share is in unpack_int.h.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/clock.h"
#include "platform/escape.h"
#include "platform/log.h"
#include "relay/frame.h"
#include "relay/gwshare.h"
#include "relay/relay.h"
#include "relay/unpack.h"
#include "relay/unpack_int.h"

#define UNPACK_PROP_RESPONSE	8	/* MQTT 5 property id */

/* ---- The gateways' shares (relay/gwshare.h). ---- */

/* queue_set_on_forget: a record left the store. */
static void
unpack_on_forget(void *arg, enum queue_dir dir, const void *head,
    size_t head_len, uint64_t bytes)
{
	struct unpack *u = arg;

	if (dir == QUEUE_UP && u->share != NULL)
		(void)gwshare_note(u->share, head, head_len, -(int64_t)bytes);
}

/* queue_scan: a record in the store. */
static void
unpack_on_scan(void *arg, enum queue_dir dir, const void *head,
    size_t head_len, uint64_t bytes)
{
	(void)dir;
	(void)gwshare_note(arg, head, head_len, (int64_t)bytes);
}

/*
 * Builds the accounting from the store when it is not current: at the
 * first frame, after a rollback (queue_generation), after a reload that
 * changed record_prefix, after an allocation failure. 0, or -1 with
 * r->err set.
 */
static int
unpack_share_build(struct relay *r, struct unpack *u)
{
	const char *tmpl = r->conf->unpack_record_prefix;

	if (u->share != NULL && u->gen == queue_generation(r->queue) &&
	    !gwshare_stale(u->share) && strcmp(gwshare_tmpl(u->share),
	    tmpl) == 0)
		return 0;
	gwshare_free(u->share);
	u->share = NULL;
	queue_set_on_forget(r->queue, unpack_on_forget, u);
	if ((u->share = gwshare_new(tmpl)) == NULL) {
		snprintf(r->err, sizeof(r->err), "unpack: out of memory for "
		    "the gateways' shares");
		return -1;
	}
	if (queue_scan(r->queue, QUEUE_UP, unpack_on_scan, u->share, r->err,
	    sizeof(r->err)) != QUEUE_OK || gwshare_stale(u->share)) {
		gwshare_free(u->share);
		u->share = NULL;
		return -1;
	}
	u->gen = queue_generation(r->queue);
	log_debug("unpack: shares of %zu gateways read from the store",
	    gwshare_count(u->share));
	return 0;
}

/* r->unpack, created at the first frame, with current accounting. */
static struct unpack *
unpack_state(struct relay *r)
{
	if (r->unpack == NULL &&
	    (r->unpack = calloc(1, sizeof(*r->unpack))) == NULL) {
		snprintf(r->err, sizeof(r->err), "unpack: out of memory");
		return NULL;
	}
	return unpack_share_build(r, r->unpack) == 0 ? r->unpack : NULL;
}

/*
 * Before the first record: the frame is taken whole or not at all. need
 * bounds what it stores: each record's topic may get the prefix.
 */
static int
unpack_on_summary(void *arg, const struct frame_header *h,
    const struct frame_summary *s)
{
	struct unpack_ctx *c = arg;
	struct relay *r = c->r;
	uint64_t up, down, share;

	c->need = s->expanded + (uint64_t)s->records * c->prefix_len;
	share = r->conf->store_max_bytes *
	    (uint64_t)r->conf->unpack_gateway_share / 100;
	if (gwshare_bytes(c->u->share, h->gateway_id) + c->need > share) {
		c->stop = UNPACK_OVER_SHARE;
		return 1;
	}
	/* Room without evicting: no frame pushes another's records out. */
	queue_stats(r->queue, QUEUE_UP, NULL, &up);
	queue_stats(r->queue, QUEUE_DOWN, NULL, &down);
	if (up + down + c->need > r->conf->store_max_bytes) {
		c->stop = UNPACK_NO_ROOM;
		return 1;
	}
	return 0;
}


/* Counts and logs (once a minute) a record that is not published. */
static void
unpack_record_refuse(struct unpack_ctx *c, const struct frame_record *rec,
    const char *why)
{
	char t[ESCAPE_LOG_MAX];
	uint64_t supp = 0;

	c->u->st.records_refused++;
	if (!log_ratelimit(&c->u->rate_records, c->r->now_ms,
	    UNPACK_LOG_EVERY_MS, &supp))
		return;
	log_warn("unpack: gateway %s, frame %" PRIu64 ", record %" PRIu64
	    " refused: %s; topic '%s'; %" PRIu64 " more refused since the "
	    "last report", c->h->gateway_id, c->h->seq, c->index, why,
	    escape_bytes(t, sizeof(t), rec->topic, rec->topic_len), supp);
}

/*
 * The record's topic under its gateway's prefix, into r->topic_buf: put
 * in front unless the topic starts with it already (relays prefix their
 * uplink with remote_prefix 'gw/%i/', the default of both). 0, or -1
 * when the result would pass MQTT's 65535 bytes.
 */
static int
unpack_topic(struct unpack_ctx *c, const struct frame_record *rec)
{
	char *t = c->r->topic_buf;
	size_t n = 0;

	if (rec->topic_len < c->prefix_len ||
	    memcmp(rec->topic, c->prefix, c->prefix_len) != 0) {
		if (c->prefix_len + rec->topic_len > UNPACK_TOPIC_MAX)
			return -1;
		memcpy(t, c->prefix, c->prefix_len);
		n = c->prefix_len;
	}
	memcpy(t + n, rec->topic, rec->topic_len);
	t[n + rec->topic_len] = '\0';
	return 0;
}

/* Position of the response topic's value in a checked props blob. */
static int
unpack_find_response(const uint8_t *p, size_t len, size_t *at, size_t *n)
{
	size_t i = 0, k;
	int id, strings;

	while (i < len) {
		if ((id = p[i++]) == 1) {
			i++;
			continue;
		}
		for (strings = id == 38 ? 2 : 1; strings > 0; strings--) {
			k = (size_t)p[i] << 8 | p[i + 1];
			if (id == UNPACK_PROP_RESPONSE) {
				*at = i;
				*n = k;
				return 1;
			}
			i += 2 + k;
		}
	}
	return 0;
}

/*
 * The record's props with its response topic under the gateway's prefix,
 * as for the topic: a consumer that answers must answer this gateway.
 * *props and *len are the record's own, or the rewritten blob in
 * u->props. 0, -1 when the response topic would pass 65535 bytes, -2
 * when out of memory (r->err set).
 */
static int
unpack_props(struct unpack_ctx *c, const struct frame_record *rec,
    const uint8_t **props, size_t *len)
{
	struct unpack *u = c->u;
	size_t at, n, need;
	uint8_t *p;

	*props = rec->props;
	*len = rec->props_len;
	if (!unpack_find_response(rec->props, rec->props_len, &at, &n) ||
	    (n >= c->prefix_len && memcmp(rec->props + at + 2, c->prefix,
	    c->prefix_len) == 0))
		return 0;
	if (n + c->prefix_len > UNPACK_TOPIC_MAX)
		return -1;
	if ((need = rec->props_len + c->prefix_len) > u->props_cap) {
		if ((p = realloc(u->props, need)) == NULL) {
			snprintf(c->r->err, sizeof(c->r->err), "unpack: out "
			    "of memory for a record's properties");
			return -2;
		}
		u->props = p;
		u->props_cap = need;
	}
	p = u->props;
	memcpy(p, rec->props, at);
	p[at] = (uint8_t)((n + c->prefix_len) >> 8);
	p[at + 1] = (uint8_t)((n + c->prefix_len) & 0xff);
	memcpy(p + at + 2, c->prefix, c->prefix_len);
	memcpy(p + at + 2 + c->prefix_len, rec->props + at + 2,
	    rec->props_len - at - 2);
	*props = p;
	*len = need;
	return 0;
}

/* Whether rec may be published; if not, counts and logs why. */
static int
unpack_record_ok(struct unpack_ctx *c, const struct frame_record *rec)
{
	if (rec->refused != FRAME_REC_OK)
		unpack_record_refuse(c, rec, frame_refusal_str(rec->refused));
	else if (rec->retain && !c->r->conf->unpack_allow_retain)
		unpack_record_refuse(c, rec, "retain is not allowed (option "
		    "allow_retain)");
	else if (unpack_topic(c, rec) != 0)
		unpack_record_refuse(c, rec, "the topic is too long with its "
		    "gateway's prefix");
	else
		return 1;
	return 0;
}

/* Stores m; 0 to go on, 1 to stop the decode (a failed write). */
static int
unpack_push(struct unpack_ctx *c, struct queue_msg *m)
{
	struct relay *r = c->r;
	uint64_t evicted = 0;
	int rc;

	rc = queue_push(r->queue, m, &evicted, r->err, sizeof(r->err));
	c->full += evicted;
	if (rc == QUEUE_OK) {
		c->stored++;
		if (gwshare_note(c->u->share, m->topic, strlen(m->topic),
		    (int64_t)(strlen(m->topic) + m->payload_len)) != 0)
			log_err("unpack: out of memory for the gateways' "
			    "shares; they are read again at the next frame");
		return 0;
	}
	if (rc == QUEUE_ERR_FULL) {
		c->full++;
		return 0;
	}
	c->stop = UNPACK_STORE_FAILED;
	return 1;
}

static int
unpack_on_record(void *arg, const struct frame_record *rec)
{
	struct unpack_ctx *c = arg;
	struct relay *r = c->r;
	const uint8_t *props;
	struct queue_msg m;
	size_t props_len;
	int rc;

	c->index = c->seen++;
	if (!unpack_record_ok(c, rec))
		return 0;
	if ((rc = unpack_props(c, rec, &props, &props_len)) != 0) {
		if (rc == -1) {
			unpack_record_refuse(c, rec, "the response topic is "
			    "too long with its gateway's prefix");
			return 0;
		}
		c->stop = UNPACK_STORE_FAILED;
		return 1;
	}
	memset(&m, 0, sizeof(m));
	m.dir = relay_out_dir(LINK_CENTRAL);
	m.topic = r->topic_buf;
	m.props = props;
	m.props_len = props_len;
	m.payload = rec->payload;
	m.payload_len = rec->payload_len;
	/* option qos of config unpack caps what the records ask for. */
	m.qos = rec->qos < r->conf->unpack_qos ? rec->qos :
	    r->conf->unpack_qos;
	m.retain = rec->retain;
	m.ts_ms = rec->ts_ms;
	if (rec->has_expiry)
		m.expire_ms = c->wall_ms + (int64_t)rec->expiry_s * 1000;
	return unpack_push(c, &m);
}

/* ---- Frames. ---- */

/* Counts (in *counter) and logs a frame that is dropped. */
void
unpack_refuse(struct relay *r, uint64_t *counter, const char *topic,
    const char *what)
{
	char t[ESCAPE_LOG_MAX];
	uint64_t supp = 0;

	(*counter)++;
	escape_bytes(t, sizeof(t), topic, strlen(topic));
	if (log_ratelimit(&r->rate.frames, r->now_ms, UNPACK_LOG_EVERY_MS,
	    &supp))
		log_warn("unpack: frame on %s dropped: %s; %" PRIu64 " more "
		    "since the last report", t, what, supp);
	else
		log_debug("unpack: frame on %s dropped: %s", t, what);
}

/*
 * Whether id is the level of topic that the '+' of option topic stands
 * for (level, 0-based): a gateway's frames come on its own topic, which
 * the central broker's ACL lets only that gateway publish to.
 */
static int
unpack_id_is_level(const char *topic, int level, const char *id)
{
	const char *p = topic, *end;
	size_t n = strlen(id);

	for (; level > 0 && p != NULL; level--)
		if ((p = strchr(p, '/')) != NULL)
			p++;
	if (p == NULL)
		return 0;
	end = strchr(p, '/');
	return (size_t)((end != NULL ? end : p + strlen(p)) - p) == n &&
	    memcmp(p, id, n) == 0;
}

/* The frame's gateway prefix: option record_prefix with %i its id. */
static void
unpack_prefix(struct unpack_ctx *c)
{
	const char *tmpl = c->r->conf->unpack_record_prefix;
	const char *at = strstr(tmpl, "%i");
	int n;

	n = snprintf(c->prefix, sizeof(c->prefix), "%.*s%s%s",
	    (int)(at - tmpl), tmpl, c->h->gateway_id, at + 2);
	c->prefix_len = n > 0 && (size_t)n < sizeof(c->prefix) ? (size_t)n :
	    0;
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

/*
 * A frame refused whole for room: nothing of it was stored, and its
 * number is not recorded, so a copy sent again (after a reconnect of its
 * relay) is taken if there is room by then.
 */
static void
unpack_no_room(struct relay *r, const struct unpack_ctx *c)
{
	uint64_t supp = 0, up, down;

	if (c->stop == UNPACK_OVER_SHARE)
		c->u->st.frames_over_share++;
	else
		r->st.dropped_full += c->h->count;
	if (!log_ratelimit(&c->u->rate_store, r->now_ms, UNPACK_LOG_EVERY_MS,
	    &supp))
		return;
	queue_stats(r->queue, QUEUE_UP, NULL, &up);
	queue_stats(r->queue, QUEUE_DOWN, NULL, &down);
	if (c->stop == UNPACK_OVER_SHARE)
		log_warn("unpack: frame %" PRIu64 " of gateway %s refused: "
		    "%" PRIu64 " bytes of records would take the gateway "
		    "past its share of the store (%" PRIu64 " queued, "
		    "gateway_share %d%%); %" PRIu64 " more frames refused "
		    "since the last report", c->h->seq, c->h->gateway_id,
		    c->need, gwshare_bytes(c->u->share, c->h->gateway_id),
		    r->conf->unpack_gateway_share, supp);
	else
		log_warn("unpack: frame %" PRIu64 " of gateway %s refused: "
		    "store full (%" PRIu64 " of %" PRIu64 " bytes, the frame "
		    "needs up to %" PRIu64 "); %" PRIu64 " more frames "
		    "refused since the last report", c->h->seq,
		    c->h->gateway_id, up + down, r->conf->store_max_bytes,
		    c->need, supp);
}

/* After the decode: what the result says, counted and logged. */
static void
unpack_done(struct relay *r, struct unpack_ctx *c, const char *topic,
    int rc, const struct frame_err *fe)
{
	char what[FRAME_ERR_LEN + 96];

	r->st.records_in += c->stored;
	r->st.dropped_full += c->full;
	if (rc == FRAME_ERR_ABORTED && c->stop != UNPACK_STORE_FAILED) {
		unpack_no_room(r, c);
		return;
	}
	if (rc == FRAME_ERR_ABORTED) {
		/*
		 * The store failed (disk full, I/O error): the pass is
		 * undone and not acknowledged (durable.c), so the central
		 * broker sends the frame again.
		 */
		durable_failed(r);
		return;
	}
	snprintf(what, sizeof(what), "gateway %s, sequence %" PRIu64 ": %s",
	    c->h->gateway_id, c->h->seq, fe->msg);
	unpack_refuse(r, rc == FRAME_ERR_EXPANDED ?
	    &c->u->st.frames_too_large : &r->st.frames_bad, topic, what);
}

/*
 * Decodes the records frame buf (len bytes, header h already peeked) and
 * stores its records. Returns 0 when they are stored, FRAME_ERR_NODICT
 * when its dictionary is missing (nothing counted or stored), or another
 * code after counting and logging it (unpack_done).
 */
int
unpack_decode(struct relay *r, struct unpack *u, const uint8_t *buf,
    size_t len, struct frame_header *h, const char *topic)
{
	struct frame_dec_opts o = FRAME_DEC_OPTS_INIT;
	struct unpack_ctx c;
	struct frame_err fe;
	int rc;

	memset(&c, 0, sizeof(c));
	c.r = r;
	c.h = h;
	c.u = u;
	c.wall_ms = clock_wall_ms();
	unpack_prefix(&c);
	o.max_expanded = r->conf->unpack_max_expanded;
	o.on_summary = unpack_on_summary;
	o.get_dict = unpack_get_dict;
	rc = frame_decode_opts(buf, len, h, &o, unpack_on_record, &c, &fe);
	r->dirty = 1;
	if (c.store_err) {
		durable_failed(r);	/* not acknowledged: it comes again */
		return FRAME_ERR_ABORTED;
	}
	if (rc == FRAME_ERR_NODICT)
		return rc;
	if (rc != 0) {
		unpack_done(r, &c, topic, rc, &fe);
		return rc;
	}
	r->st.records_in += c.stored;
	r->st.dropped_full += c.full;
	log_debug("unpack: frame %" PRIu64 " of gateway %s: %" PRIu64
	    " records stored", h->seq, h->gateway_id, c.stored);
	return 0;
}

void
unpack_frame(struct relay *r, const struct link_msg *ev)
{
	char key[8 + FRAME_GWID_MAX], what[FRAME_GWID_MAX + 96];
	struct frame_header h;
	struct frame_err fe;
	struct unpack *u;
	int rc;

	r->st.frames_in++;
	if (frame_peek(ev->payload, ev->payload_len, &h, &fe) != 0) {
		unpack_refuse(r, &r->st.frames_bad, ev->topic, fe.msg);
		return;
	}
	if (!unpack_id_is_level(ev->topic, r->conf->unpack_id_level,
	    h.gateway_id)) {
		snprintf(what, sizeof(what), "its gateway id '%s' is not the "
		    "'+' level of the topic", h.gateway_id);
		unpack_refuse(r, &r->st.frames_bad, ev->topic, what);
		return;
	}
	unpack_key(key, sizeof(key), &h);
	if ((rc = unpack_seen(r, &h, key)) != 0) {
		if (rc > 0)
			r->st.frames_dup++;
		return;
	}
	if ((u = unpack_state(r)) == NULL) {
		durable_failed(r);	/* not acknowledged: it comes again */
		return;
	}
	if (h.kind == FRAME_KIND_DICT) {
		unpack_dict(r, u, ev->payload, ev->payload_len, &h, ev->topic);
		if (r->tx_failed)
			return;
	} else {
		rc = unpack_decode(r, u, ev->payload, ev->payload_len, &h,
		    ev->topic);
		if (rc == FRAME_ERR_NODICT)
			rc = unpack_hold(r, u, ev->payload, ev->payload_len,
			    &h, ev->topic);
		if (rc != 0)
			return;
	}
	if (queue_meta_set(r->queue, key, (int64_t)h.seq, r->err,
	    sizeof(r->err)) != QUEUE_OK)
		durable_failed(r);
}
void
unpack_free(struct unpack *u)
{
	if (u == NULL)
		return;
	gwshare_free(u->share);
	free(u->props);
	free(u->dict);
	free(u->dbuf);
	free(u);
}

void
unpack_stats(const struct unpack *u, struct unpack_stats *out)
{
	if (u != NULL)
		*out = u->st;
	else
		memset(out, 0, sizeof(*out));
}
