/*
 * forward: the message pipeline of the relay. Events from Paho's threads
 * arrive here from the main loop; received messages are routed and
 * pushed to the queue; the before-sleep step commits them, then drains
 * the queue into whichever link is up; acknowledgements delete.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/clock.h"
#include "platform/log.h"
#include "relay/batcher.h"
#include "relay/relay.h"
#include "relay/unpack.h"

#define FORWARD_LOG_EVERY_MS	60000
/* Stored frames go before any raw route's messages (priorities 0..255). */
#define FORWARD_FRAME_PRIO	256

static const char *const forward_dirname[] = { "uplink", "downlink" };

/* ---- Connections. ---- */

static const struct conf_broker *
forward_broker(const struct relay *r, enum link_side side)
{
	return side == LINK_LOCAL ? &r->conf->local : &r->conf->central;
}

void
forward_connect(struct relay *r, enum link_side side)
{
	const struct conf_broker *b = forward_broker(r, side);
	struct link_will will = { NULL, NULL };

	if (side == LINK_CENTRAL && r->conf->status_topic[0] != '\0') {
		will.topic = r->conf->status_topic;
		will.payload = "offline";
	}
	/* Never fall back to plain text when TLS could not be set up. */
	if (side == LINK_CENTRAL && b->tls.enabled && r->tls == NULL &&
	    relay_tls_open(r) != 0) {
		relay_timer_arm(r, &r->reconnect[side],
		    backoff_next(&r->backoff[side]));
		return;
	}
	if (link_connect(r->link[side], b, &will,
	    tunnel_proxy_url(r->tunnel[side]), r->err,
	    sizeof(r->err)) != LINK_OK) {
		log_err("%s", r->err);
		relay_timer_arm(r, &r->reconnect[side],
		    backoff_next(&r->backoff[side]));
	}
}

int
forward_tunnel_targets(struct relay *r, enum link_side side)
{
	const struct conf_broker *b = forward_broker(r, side);

	int rc;

	if (r->tunnels != NULL)
		tunnels_lock(r->tunnels);
	rc = tunnel_set_targets(r->tunnel[side],
	    (const char *const *)b->address, b->n_address);
	if (r->tunnels != NULL)
		tunnels_unlock(r->tunnels);
	if (rc != TUNNEL_OK) {
		log_err("%s broker: cannot use its addresses for the tunnel",
		    link_name(r->link[side]));
		return -1;
	}
	return 0;
}

void
forward_tunnel_drop(struct relay *r, enum link_side side)
{
	r->subscribed[side] = 0;
	tunnels_lock(r->tunnels);
	tunnel_drop(r->tunnel[side]);
	tunnels_unlock(r->tunnels);
	/* Acks of the dead connection cannot be sent any more. */
	r->pending[side].n = 0;
}

void
forward_link_lost(struct relay *r, enum link_side side)
{
	link_drop(r->link[side]);
	forward_tunnel_drop(r, side);
	/* An open frame was never sent; its members are queued again. */
	if (side == LINK_CENTRAL && r->batcher != NULL)
		batcher_reset(r->batcher);
	/* What was in flight on that link goes out again after reconnecting. */
	queue_release_all(r->queue, relay_out_dir(side));
	if (r->state == RELAY_RUNNING)
		relay_timer_arm(r, &r->reconnect[side],
		    backoff_next(&r->backoff[side]));
}

void
forward_subscribe(struct relay *r, enum link_side side)
{
	enum route_dir d = side == LINK_LOCAL ? ROUTE_UP : ROUTE_DOWN;
	char *const *filters;
	const int *qos;
	size_t n;

	n = route_filters(r->routes, d, &filters, &qos);
	if (n == 0)
		r->subscribed[side] = 1;
	else if (link_subscribe(r->link[side], filters, qos, n, r->err,
	    sizeof(r->err)) != LINK_OK)
		log_err("%s", r->err);
}

void
forward_status(struct relay *r, const char *state)
{
	struct queue_msg m;
	int64_t now = clock_wall_ms();
	int rc;

	if (r->conf->status_topic[0] == '\0')
		return;
	memset(&m, 0, sizeof(m));
	m.topic = r->conf->status_topic;
	m.payload = state;
	m.payload_len = strlen(state);
	m.qos = 1;
	m.retain = 1;
	rc = link_publish(r->link[LINK_CENTRAL], &m, now, 0, r->err,
	    sizeof(r->err));
	if (rc == LINK_ERR_PAHO)
		log_warn("%s", r->err);
	else if (rc != LINK_OK)
		log_debug("central broker: status '%s' not published: %s",
		    state, link_strerror(rc));
}

static void
forward_on_connected(struct relay *r, enum link_side side,
    const struct handoff_ev *ev)
{
	const struct conf_broker *b = forward_broker(r, side);

	log_info("%s broker %s: connected (session %s)", link_name(
	    r->link[side]), b->address[0], ev->session_present ? "resumed" :
	    "new");
	r->connect_failed[side] = 0;
	backoff_reset(&r->backoff[side]);
	forward_subscribe(r, side);
	if (side == LINK_CENTRAL)
		forward_status(r, "online");
}

static void
forward_on_connect_failed(struct relay *r, enum link_side side,
    const struct handoff_ev *ev)
{
	const struct conf_broker *b = forward_broker(r, side);
	int64_t delay;

	link_drop(r->link[side]);
	forward_tunnel_drop(r, side);
	delay = backoff_next(&r->backoff[side]);
	/* Say it once per outage, then only at debug level. */
	if (r->connect_failed[side]++ == 0)
		log_warn("%s broker %s: cannot connect: %s; retrying",
		    link_name(r->link[side]), b->address[0],
		    ev->text != NULL ? ev->text : "unknown reason");
	else
		log_debug("%s broker: connect failed again: %s; next try in "
		    "%" PRId64 " ms", link_name(r->link[side]),
		    ev->text != NULL ? ev->text : "unknown reason", delay);
	if (r->state == RELAY_RUNNING)
		relay_timer_arm(r, &r->reconnect[side], delay);
}

static void
forward_on_lost(struct relay *r, enum link_side side,
    const struct handoff_ev *ev)
{
	log_warn("%s broker %s: connection lost: %s; reconnecting",
	    link_name(r->link[side]), forward_broker(r, side)->address[0],
	    ev->text != NULL ? ev->text : "unknown reason");
	r->st.reconnects[side]++;
	forward_link_lost(r, side);
}

/* ---- Messages in. ---- */

static void
forward_pending_add(struct relay *r, enum link_side side, uint16_t id)
{
	struct relay_ids *p = &r->pending[side];
	uint16_t *nv;
	size_t ncap;

	if (p->n == p->cap) {
		ncap = p->cap != 0 ? p->cap * 2 : 1024;
		if ((nv = realloc(p->v, ncap * sizeof(*nv))) == NULL) {
			/* The tunnel's valve releases this ack after a second. */
			log_err("forward: out of memory for a pending ack");
			return;
		}
		p->v = nv;
		p->cap = ncap;
	}
	p->v[p->n++] = id;
}

/* The messages are durable now: let their acknowledgements go. */
static void
forward_release_acks(struct relay *r)
{
	size_t side, i;

	if (r->pending[0].n == 0 && r->pending[1].n == 0)
		return;
	tunnels_lock(r->tunnels);
	for (side = 0; side < 2; side++) {
		for (i = 0; i < r->pending[side].n; i++)
			tunnel_durable(r->tunnel[side], r->pending[side].v[i],
			    clock_mono_ms());
		r->pending[side].n = 0;
	}
	tunnels_unlock(r->tunnels);
}

static void
forward_drop_log(struct relay *r, struct log_rate *rate, const char *what,
    const char *dir, const char *topic)
{
	uint64_t supp = 0;

	if (log_ratelimit(rate, r->now_ms, FORWARD_LOG_EVERY_MS, &supp))
		log_warn("queue: %s %s message dropped (topic %s); %" PRIu64
		    " more since the last report", what, dir, topic, supp);
}

static int64_t
forward_deadline(const struct conf_route *rt, const struct handoff_ev *ev)
{
	int64_t d = 0, e;

	if (rt->ttl_s > 0)
		d = ev->ts_ms + (int64_t)rt->ttl_s * 1000;
	if (ev->has_expiry) {
		e = ev->ts_ms + (int64_t)ev->expiry_s * 1000;
		if (d == 0 || e < d)
			d = e;
	}
	return d;
}

static void
forward_store(struct relay *r, enum queue_dir qd,
    const struct conf_route *rt, const struct handoff_ev *ev)
{
	struct queue_msg m;
	uint64_t evicted = 0;
	int rc;

	memset(&m, 0, sizeof(m));
	m.dir = qd;
	m.priority = qd == QUEUE_UP ? rt->priority : 0;
	if (qd == QUEUE_UP && rt->mode == CONF_MODE_BATCH)
		m.priority = BATCHER_PRIO_BASE + rt->priority;
	m.topic = r->topic_buf;
	m.payload = ev->payload;
	m.payload_len = ev->payload_len;
	m.props = ev->props;
	m.props_len = ev->props_len;
	m.qos = ev->qos < rt->qos ? ev->qos : rt->qos;
	m.retain = ev->retain;
	m.ts_ms = ev->ts_ms;
	m.expire_ms = forward_deadline(rt, ev);
	rc = queue_push(r->queue, &m, &evicted, r->err, sizeof(r->err));
	r->dirty = 1;
	if (evicted > 0) {
		r->st.dropped_full += evicted;
		forward_drop_log(r, &r->rate.full, "store full: oldest",
		    forward_dirname[qd], r->topic_buf);
	}
	if (rc == QUEUE_ERR_FULL) {
		r->st.dropped_full++;
		forward_drop_log(r, &r->rate.full, "store full: new",
		    forward_dirname[qd], r->topic_buf);
	} else if (rc != QUEUE_OK) {
		uint64_t supp;

		if (log_ratelimit(&r->rate.queue_err, r->now_ms,
		    FORWARD_LOG_EVERY_MS, &supp))
			log_err("%s", r->err);
	}
}

static void
forward_on_message(struct relay *r, enum link_side side,
    const struct handoff_ev *ev)
{
	enum route_dir rd = side == LINK_LOCAL ? ROUTE_UP : ROUTE_DOWN;
	enum queue_dir qd = side == LINK_LOCAL ? QUEUE_UP : QUEUE_DOWN;
	const struct conf_route *rt;

	r->st.received[qd]++;
	/*
	 * A repeat the broker sends after a reconnect: if the commit of the
	 * first copy made it and its acknowledgement did not, it is queued
	 * twice (at-least-once; docs/design.md).
	 */
	r->st.redelivered[qd] += ev->dup != 0;
	if (r->oldest_uncommitted_us == 0)
		r->oldest_uncommitted_us = ev->t_us;
	/* Its PUBACK waits in the tunnel until the commit below. */
	if (ev->msgid != 0 && ev->gen == link_gen(r->link[side]))
		forward_pending_add(r, side, (uint16_t)ev->msgid);
	rt = route_map(r->routes, rd, ev->topic, r->topic_buf,
	    sizeof(r->topic_buf));
	if (rt == NULL) {
		r->st.dropped_noroute++;
		forward_drop_log(r, &r->rate.noroute, "no route:",
		    forward_dirname[qd], ev->topic);
		return;
	}
	if (rt->mode == CONF_MODE_UNPACK)
		unpack_frame(r, ev);
	else
		forward_store(r, qd, rt, ev);
}

/* ---- Acknowledgements. ---- */

/* Notes a delivered message for deletion at the next commit. */
static void
forward_sent_add(struct relay *r, int64_t id)
{
	struct relay_sent *s = &r->sent;
	int64_t *nv;
	size_t ncap;

	r->dirty = 1;
	if (s->n == s->cap) {
		ncap = s->cap != 0 ? s->cap * 2 : 1024;
		if ((nv = realloc(s->v, ncap * sizeof(*nv))) == NULL) {
			/* Delete this one alone rather than forget it. */
			if (queue_ack(r->queue, id, r->err, sizeof(r->err)) !=
			    QUEUE_OK)
				log_err("%s", r->err);
			return;
		}
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = id;
}

static int
forward_id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Deletes the delivered messages, in runs of consecutive ids. */
static void
forward_sent_flush(struct relay *r)
{
	struct relay_sent *s = &r->sent;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), forward_id_cmp);
	if (queue_ack_ids(r->queue, s->v, s->n, NULL, r->err,
	    sizeof(r->err)) != QUEUE_OK)
		log_err("%s", r->err);
	s->n = 0;
}

static void
forward_on_pub(struct relay *r, enum link_side side,
    const struct handoff_ev *ev, int64_t cookie)
{
	enum queue_dir qd = relay_out_dir(side);

	if (cookie == 0)
		return;		/* The status message: not from the queue. */
	if (ev->type == HANDOFF_PUB_DONE) {
		r->st.forwarded[qd]++;
	} else if (ev->code >= 0x80) {
		/* The broker refused it (MQTT 5 reason code): never deliverable. */
		r->st.dropped_rejected++;
		forward_drop_log(r, &r->rate.rejected, "refused by broker:",
		    forward_dirname[qd], "?");
	} else {
		/*
		 * Paho gave up on it (connection going down): it stays in the
		 * queue and goes out again after the reconnect.
		 */
		log_debug("%s: publish aborted (code %d); will resend",
		    __func__, ev->code);
		return;
	}
	forward_sent_add(r, cookie);
}

void
forward_event(struct relay *r, struct handoff_ev *ev)
{
	enum link_side side = ev->side == LINK_LOCAL ? LINK_LOCAL :
	    LINK_CENTRAL;
	int64_t cookie = 0;

	if (!link_event(r->link[side], ev, &cookie))
		return;		/* Stale: from a connection already gone. */
	switch (ev->type) {
	case HANDOFF_MSG:
		forward_on_message(r, side, ev);
		break;
	case HANDOFF_CONNECTED:
		forward_on_connected(r, side, ev);
		break;
	case HANDOFF_CONNECT_FAILED:
		forward_on_connect_failed(r, side, ev);
		break;
	case HANDOFF_LOST:
		forward_on_lost(r, side, ev);
		break;
	case HANDOFF_PUB_DONE:
	case HANDOFF_PUB_FAILED:
		forward_on_pub(r, side, ev, cookie);
		break;
	case HANDOFF_SUB_DONE:
		r->subscribed[side] = 1;
		log_debug("%s broker: subscriptions acknowledged",
		    link_name(r->link[side]));
		break;
	case HANDOFF_SUB_FAILED:
		log_err("%s broker: subscribe refused: %s (code %d)",
		    link_name(r->link[side]), ev->text != NULL ? ev->text :
		    "?", ev->code);
		break;
	case HANDOFF_DISCONNECTED:
		link_drop(r->link[side]);
		forward_tunnel_drop(r, side);
		break;
	}
}

/* ---- Before sleep: commit, then send. ---- */

void
forward_commit(struct relay *r)
{
	int64_t w;

	if (!r->dirty) {
		forward_release_acks(r);	/* dropped ones, nothing to commit */
		return;
	}
	forward_sent_flush(r);
	if (queue_commit(r->queue, r->err, sizeof(r->err)) != QUEUE_OK) {
		/* The acks stay held; the broker sends the messages again. */
		log_err("%s", r->err);
		return;
	}
	forward_release_acks(r);
	r->dirty = 0;
	r->st.commits++;
	if (r->oldest_uncommitted_us != 0) {
		/* The crash-loss window: Paho's PUBACK went out before this. */
		w = clock_mono_us() - r->oldest_uncommitted_us;
		if (w > r->st.window_us_max)
			r->st.window_us_max = w;
		r->st.window_us_sum += (uint64_t)w;
		r->st.window_n++;
		r->oldest_uncommitted_us = 0;
	}
}

struct forward_send {
	struct relay *r;
	struct link *l;
	int64_t wall_ms;
	size_t raw_budget;	/* free in-flight slots for raw publishes */
	int64_t drop[16];	/* batch members that can never be framed */
	size_t ndrop;
};

/* A batch route's message joins the open frame; it is not published. */
static int
forward_send_member(struct forward_send *s, const struct queue_msg *m)
{
	switch (batcher_add(s->r->batcher, m, s->r->now_ms, s->wall_ms)) {
	case BATCHER_OK:
		return 0;
	case BATCHER_FULL:
		return 1;	/* The frame is due; the rest waits. */
	default:
		if (s->ndrop == sizeof(s->drop) / sizeof(s->drop[0]))
			return 1;
		s->drop[s->ndrop++] = m->id;	/* Deleted after the fetch. */
		return 0;
	}
}

static int
forward_send_one(void *arg, const struct queue_msg *m)
{
	struct forward_send *s = arg;
	int rc;

	if (s->r->batcher != NULL && batcher_is_member(m))
		return forward_send_member(s, m);
	if (s->raw_budget == 0)
		return 1;
	rc = link_publish(s->l, m, s->wall_ms, m->id, s->r->err,
	    sizeof(s->r->err));
	if (rc == LINK_ERR_PAHO)
		log_err("%s", s->r->err);
	if (rc == LINK_OK)
		s->raw_budget--;
	return rc != LINK_OK;
}

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
	int64_t seq = queue_next_id(r->queue);

	n = batcher_count(r->batcher);	/* for the message on failure */
	if (batcher_close(r->batcher, (uint64_t)seq, &frame, &len, &ids, &n) !=
	    BATCHER_OK) {
		log_err("batch: cannot encode a frame of %zu messages; they "
		    "stay queued", n);
		return;
	}
	memset(&m, 0, sizeof(m));
	m.dir = QUEUE_UP;
	m.priority = FORWARD_FRAME_PRIO;
	m.topic = r->conf->batch.topic;
	m.payload = frame;
	m.payload_len = len;
	m.props = props;
	m.props_len = forward_frame_props(props, sizeof(props));
	m.qos = r->conf->batch.qos;
	m.ts_ms = clock_wall_ms();
	if (queue_push(r->queue, &m, &evicted, r->err, sizeof(r->err)) !=
	    QUEUE_OK) {
		log_err("batch: frame %" PRId64 " not stored (%s); its %zu "
		    "messages stay queued", seq, r->err, n);
		return;
	}
	if (queue_ack_ids(r->queue, ids, n, NULL, r->err, sizeof(r->err)) !=
	    QUEUE_OK)
		log_err("%s", r->err);
	/* Room for the frame may have cost older messages (store_full). */
	r->st.dropped_full += evicted;
	r->dirty = 1;
	r->st.batches++;
	r->st.batched += n;
	r->st.batch_bytes += len;
	log_debug("batch: frame %" PRId64 ": %zu messages from id %" PRId64
	    ", %zu bytes", seq, n, n > 0 ? ids[0] : 0, len);
	/* Commit and send it without waiting for another event. */
	relay_timer_arm(r, &r->batch_due, 0);
}

static void
forward_batch_step(struct relay *r, struct forward_send *s)
{
	size_t i;
	int64_t due;

	for (i = 0; i < s->ndrop; i++) {
		r->st.dropped_rejected++;
		queue_ack(r->queue, s->drop[i], r->err, sizeof(r->err));
		r->dirty = 1;
		forward_drop_log(r, &r->rate.rejected, "cannot be framed:",
		    "uplink", "?");
	}
	if ((due = batcher_due_ms(r->batcher)) < 0)
		return;
	if (due <= r->now_ms)
		forward_close_batch(r);
	else
		relay_timer_arm(r, &r->batch_due, due - r->now_ms);
}

void
forward_pump(struct relay *r)
{
	struct forward_send s;
	uint64_t expired = 0, e;
	size_t max;
	int side, n;

	if (r->state != RELAY_RUNNING)
		return;
	memset(&s, 0, sizeof(s));
	s.r = r;
	s.wall_ms = clock_wall_ms();
	for (side = 0; side < 2; side++) {
		s.l = r->link[side];
		if (link_state(s.l) != LINK_UP)
			continue;
		s.raw_budget = link_window_free(s.l);
		max = s.raw_budget;
		/* Frame members take no slot: only the frame will. */
		if (side == LINK_CENTRAL && r->batcher != NULL)
			max += (size_t)r->conf->batch.max_messages;
		if (max == 0)
			continue;
		e = 0;
		n = queue_fetch(r->queue, relay_out_dir(side), s.wall_ms,
		    max, forward_send_one, &s, &e, r->err, sizeof(r->err));
		if (n < 0)
			log_err("%s", r->err);
		expired += e;
		if (side == LINK_CENTRAL && r->batcher != NULL)
			forward_batch_step(r, &s);
	}
	if (expired > 0) {
		r->st.dropped_expired += expired;
		r->dirty = 1;
		forward_drop_log(r, &r->rate.expired, "expired:", "queued",
		    "*");
	}
}
