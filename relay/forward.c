/* SPDX-License-Identifier: ISC */
/*
 * forward: the message pipeline of the relay. The links call back here
 * from the main loop: received messages are routed and pushed to the
 * queue in the open transaction, their acknowledgements owed to the
 * commit step (durable.c); before sleep, forward_pump() publishes what the
 * queue holds on whichever link is up, closing batch frames on the way;
 * a broker's acknowledgement marks its message for deletion.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/clock.h"
#include "platform/escape.h"
#include "platform/log.h"
#include "relay/batcher.h"
#include "relay/props.h"
#include "relay/relay.h"
#include "relay/unpack.h"

#define FORWARD_LOG_EVERY_MS	60000
/* A connection up this long resets the reconnect backoff when it ends. */
#define FORWARD_STABLE_MS	10000
/*
 * After the central link was lost, the path is probed rather than backed
 * off from: a connect that nothing answers gives up after
 * FORWARD_PROBE_CONNECT_MS and the next starts FORWARD_PROBE_GAP_MS later,
 * so a SYN goes out at least every second (the kernel alone would resend
 * it after 1, 3, 7 s, and the backoff would wait up to reconnect_max on
 * top) and the relay is back within about a second of the link. A SYN
 * into a dead path costs the central side nothing; a refusal (the broker
 * answered: it is down or busy) or a TLS or MQTT failure ends the probing
 * and the backoff takes over, as it does FORWARD_PROBE_FOR_MS into an
 * outage, to bound what a long one costs a metered link (~60 bytes a
 * second while it lasts). docs/wan.md has the measurements.
 */
#define FORWARD_PROBE_CONNECT_MS	2000
#define FORWARD_PROBE_GAP_MS		100
#define FORWARD_PROBE_FOR_MS		300000
/* Appended to the batch topic: where the unpacker asks for a dictionary. */
#define FORWARD_DICT_REQ	"/dict"
/* A pass that spent the WAN budget looks again this soon (flow.c). */
#define FORWARD_FLOW_RECHECK_MS	10
/* MQTT packet types of the acknowledgements the relay owes. */
#define FORWARD_PUBACK		4
#define FORWARD_PUBREC		5
#define FORWARD_PUBREL		6
#define FORWARD_PUBCOMP		7

static const char *const forward_dirname[] = { "uplink", "downlink" };

static enum link_side
forward_side(const struct relay *r, const struct link *l)
{
	return l == r->link[LINK_LOCAL] ? LINK_LOCAL : LINK_CENTRAL;
}

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
	struct tls *tls = NULL;

	if (side == LINK_CENTRAL && r->conf->status_topic[0] != '\0') {
		will.topic = r->conf->status_topic;
		will.payload = "offline";
	}
	/* While the store takes no writes, nothing comes in (durable.c). */
	if (r->store_unwritable)
		return;
	/* Never fall back to plain text when TLS could not be set up. */
	if (side == LINK_CENTRAL && b->tls.enabled) {
		if (r->tls == NULL && relay_tls_open(r) != 0) {
			relay_timer_arm(r, &r->reconnect[side],
			    backoff_next(&r->backoff[side]));
			return;
		}
		tls = r->tls;
	}
	if (link_connect(r->link[side], b, &will, tls,
	    (uint32_t)b->max_packet_size, r->now_ms, r->err,
	    sizeof(r->err)) != LINK_OK) {
		log_err("%s", r->err);
		relay_timer_arm(r, &r->reconnect[side],
		    backoff_next(&r->backoff[side]));
	}
}

/* What a connection that ended leaves behind. */
static void
forward_forget(struct relay *r, enum link_side side)
{
	if (r->subscribed[side])
		r->down_since_ms[side] = clock_mono_ms();
	r->subscribed[side] = 0;
	/* Acks of the dead connection cannot be sent any more. */
	r->pending[side].n = 0;
	/* An open frame was never sent; its members are queued again. */
	if (side == LINK_CENTRAL && r->batcher != NULL)
		batcher_reset(r->batcher);
	/* What was in flight on that link goes out again after reconnecting. */
	queue_release_all(r->queue, relay_out_dir(side));
	if (r->state == RELAY_RUNNING)
		relay_timer_arm(r, &r->reconnect[side],
		    side == LINK_CENTRAL && r->probing ? FORWARD_PROBE_GAP_MS :
		    backoff_next(&r->backoff[side]));
}

/*
 * Whether the next central attempt probes (see FORWARD_PROBE_CONNECT_MS):
 * within FORWARD_PROBE_FOR_MS of the end of a connection, every connect
 * has the short timeout; the next one follows at once after the loss of
 * a connection that lasted and after an attempt nothing answered, else
 * after the backoff's delay (a broker that hangs up at once or refuses).
 */
static void
forward_probe_update(struct relay *r, struct link *l, int was_up, int stable)
{
	int window, was = r->probing;

	if (was_up)
		r->wan_lost_ms = r->now_ms;
	window = r->wan_lost_ms >= 0 &&
	    r->now_ms - r->wan_lost_ms < FORWARD_PROBE_FOR_MS;
	if (was_up)
		r->probing = stable;
	else
		r->probing = window && link_unanswered(l);
	if (was && !r->probing && !window && link_unanswered(l))
		log_info("central broker: no answer for %d s; reconnecting "
		    "with backoff", FORWARD_PROBE_FOR_MS / 1000);
	link_set_connect_timeout(l, window ? FORWARD_PROBE_CONNECT_MS : 0);
}

void
forward_link_lost(struct relay *r, enum link_side side)
{
	link_drop(r->link[side]);
	forward_forget(r, side);
}

/* Whether the relay takes dictionary requests (docs/frame-format.md 8.3). */
static int
forward_dict_requests(const struct relay *r, enum link_side side)
{
	return side == LINK_CENTRAL && r->batcher != NULL &&
	    batcher_dict_on(r->batcher);
}

/* Whether topic is the unpacker's dictionary request topic. */
static int
forward_is_dict_req(const struct relay *r, const char *topic)
{
	size_t n = strlen(r->conf->batch.topic);

	return strncmp(topic, r->conf->batch.topic, n) == 0 &&
	    strcmp(topic + n, FORWARD_DICT_REQ) == 0;
}

void
forward_subscribe(struct relay *r, enum link_side side)
{
	enum route_dir d = side == LINK_LOCAL ? ROUTE_UP : ROUTE_DOWN;
	char *const *filters;
	const int *qos;
	char **all = NULL;
	int *allq = NULL;
	size_t n, i;

	n = route_filters(r->routes, d, &filters, &qos);
	if (forward_dict_requests(r, side)) {
		/* The routes' filters and the dictionary request topic. */
		all = calloc(n + 1, sizeof(*all));
		allq = calloc(n + 1, sizeof(*allq));
		if (all == NULL || allq == NULL ||
		    (all[n] = malloc(strlen(r->conf->batch.topic) +
		    sizeof(FORWARD_DICT_REQ))) == NULL) {
			log_err("central broker: out of memory for the "
			    "subscriptions");
			goto out;
		}
		for (i = 0; i < n; i++) {
			all[i] = filters[i];
			allq[i] = qos[i];
		}
		sprintf(all[n], "%s" FORWARD_DICT_REQ, r->conf->batch.topic);
		allq[n] = 1;
		filters = all;
		qos = allq;
		n++;
	}
	if (n == 0)
		r->subscribed[side] = 1;
	else if (link_subscribe(r->link[side], filters, qos, n, r->err,
	    sizeof(r->err)) != LINK_OK)
		log_err("%s", r->err);
out:
	if (all != NULL && allq != NULL)
		free(all[n - 1]);
	free(all);
	free(allq);
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
	if (rc == LINK_ERR_PACKET)
		log_warn("%s", r->err);
	else if (rc != LINK_OK)
		log_debug("central broker: status '%s' not published: %s",
		    state, link_strerror(rc));
}

static void
forward_on_up(void *arg, struct link *l, int session_present)
{
	struct relay *r = arg;
	enum link_side side = forward_side(r, l);
	log_info("%s broker %s: connected (session %s)", link_name(l),
	    link_address(l), session_present ? "resumed" : "new");
	r->connect_failed[side] = 0;
	r->up_since_ms[side] = r->now_ms;
	if (side == LINK_CENTRAL)
		r->probing = 0;
	/* A new session: neither side holds a QoS 2 exchange any more. */
	if (!session_present)
		qos2_forget(r, side);
	forward_subscribe(r, side);
	if (side == LINK_CENTRAL) {
		forward_status(r, "online");
		forward_dict_session(r);
	}
}

static void
forward_on_down(void *arg, struct link *l, const char *why, int was_up)
{
	struct relay *r = arg;
	enum link_side side = forward_side(r, l);
	int stable;

	/*
	 * The backoff starts over only after a connection that lasted: one
	 * that a broker or a hostile packet ends at once is retried ever
	 * more slowly, not in a tight loop of log lines.
	 */
	stable = was_up && r->now_ms - r->up_since_ms[side] >=
	    FORWARD_STABLE_MS;

	if (stable)
		backoff_reset(&r->backoff[side]);
	if (side == LINK_CENTRAL)
		forward_probe_update(r, l, was_up, stable);
	if (was_up) {
		if (r->state == RELAY_RUNNING)
			log_warn("%s broker %s: %s; reconnecting",
			    link_name(l), link_address(l), why);
		else
			log_debug("%s broker: %s", link_name(l), why);
		r->st.reconnects[side]++;
	} else if (r->connect_failed[side]++ == 0) {
		/* Say it once per outage, then only at debug level. */
		log_warn("%s broker: %s; retrying", link_name(l), why);
	} else {
		log_debug("%s broker: %s (again)", link_name(l), why);
	}
	forward_forget(r, side);
}

/* ---- Messages in. ---- */

static void
forward_drop_log(struct relay *r, struct log_rate *rate, const char *what,
    const char *dir, const char *topic)
{
	char esc[ESCAPE_LOG_MAX];
	uint64_t supp = 0;

	/* A device chose the topic: it is quoted escaped. */
	if (log_ratelimit(rate, r->now_ms, FORWARD_LOG_EVERY_MS, &supp))
		log_warn("queue: %s %s message dropped (topic %s); %" PRIu64
		    " more since the last report", what, dir, escape_bytes(
		    esc, sizeof(esc), topic, strlen(topic)), supp);
}

static int64_t
forward_deadline(const struct conf_route *rt, const struct link_msg *lm,
    int64_t ts_ms)
{
	int64_t d = 0, e;

	if (rt->ttl_s > 0)
		d = ts_ms + (int64_t)rt->ttl_s * 1000;
	if (lm->has_expiry) {
		e = ts_ms + (int64_t)lm->expiry_s * 1000;
		if (d == 0 || e < d)
			d = e;
	}
	return d;
}

static void
forward_store(struct relay *r, enum queue_dir qd,
    const struct conf_route *rt, const struct link_msg *lm)
{
	uint8_t props[1024];
	struct queue_msg m;
	uint64_t evicted = 0;
	int rc;

	memset(&m, 0, sizeof(m));
	m.dir = qd;
	m.priority = qd == QUEUE_UP ? rt->priority : 0;
	if (qd == QUEUE_UP && rt->mode == CONF_MODE_BATCH)
		m.priority = BATCHER_PRIO_BASE + rt->priority;
	m.topic = r->topic_buf;
	m.payload = lm->payload;
	m.payload_len = lm->payload_len;
	m.props = props;
	m.props_len = props_carry(lm->props, lm->props_len, props,
	    sizeof(props));
	m.qos = lm->qos < rt->qos ? lm->qos : rt->qos;
	m.retain = lm->retain;
	m.ts_ms = clock_wall_ms();
	m.expire_ms = forward_deadline(rt, lm, m.ts_ms);
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
		durable_failed(r);
	}
}

static void
forward_on_message(void *arg, struct link *l, const struct link_msg *lm)
{
	struct relay *r = arg;
	enum link_side side = forward_side(r, l);
	enum route_dir rd = side == LINK_LOCAL ? ROUTE_UP : ROUTE_DOWN;
	enum queue_dir qd = side == LINK_LOCAL ? QUEUE_UP : QUEUE_DOWN;
	const struct conf_route *rt;

	r->st.received[qd]++;
	/*
	 * A repeat the broker sends after a reconnect: if the commit of the
	 * first copy made it and its acknowledgement did not, it is queued
	 * twice (at-least-once; docs/design.md).
	 */
	r->st.redelivered[qd] += lm->dup != 0;
	if (r->oldest_uncommitted_us == 0)
		r->oldest_uncommitted_us = clock_mono_us();
	if (lm->qos > 0)
		durable_owe(r, side, lm->qos == 1 ? FORWARD_PUBACK :
		    FORWARD_PUBREC, lm->id);
	if (lm->qos == 2 && qos2_in_seen(r, side, lm->id))
		return;
	if (forward_dict_requests(r, side) &&
	    forward_is_dict_req(r, lm->topic)) {
		forward_dict_request(r, lm);
		return;
	}
	rt = route_map(r->routes, rd, lm->topic, r->topic_buf,
	    sizeof(r->topic_buf));
	if (rt == NULL) {
		r->st.dropped_noroute++;
		forward_drop_log(r, &r->rate.noroute, "no route:",
		    forward_dirname[qd], lm->topic);
		return;
	}
	if (rt->mode == CONF_MODE_UNPACK)
		unpack_frame(r, lm);
	else
		forward_store(r, qd, rt, lm);
}

/* PUBREL: the id is forgotten in this transaction, then PUBCOMP. */
static void
forward_on_release(void *arg, struct link *l, uint16_t id)
{
	struct relay *r = arg;
	enum link_side side = forward_side(r, l);

	qos2_in_released(r, side, id);
	durable_owe(r, side, FORWARD_PUBCOMP, id);
}

/* ---- Acknowledgements. ---- */

static void
forward_on_acked(void *arg, struct link *l, int64_t cookie, uint16_t rel_id,
    uint8_t reason)
{
	struct relay *r = arg;
	enum link_side side = forward_side(r, l);
	enum queue_dir qd = relay_out_dir(side);

	if (rel_id != 0) {
		/* The broker has it: the row goes, PUBREL after the commit. */
		qos2_out_set(r, side, rel_id, -1);
		durable_owe(r, side, FORWARD_PUBREL, rel_id);
	}
	if (cookie == 0)
		return;		/* The status message: not from the queue. */
	if (reason >= 0x80) {
		/* The broker refused it (MQTT 5 reason code): never deliverable. */
		r->st.dropped_rejected++;
		forward_drop_log(r, &r->rate.rejected, "refused by broker:",
		    forward_dirname[qd], "?");
	} else {
		r->st.forwarded[qd]++;
	}
	durable_delivered(r, cookie);
}

static void
forward_on_suback(void *arg, struct link *l, uint8_t refused)
{
	struct relay *r = arg;
	enum link_side side = forward_side(r, l);

	if (refused != 0) {
		log_err("%s broker: subscribe refused (reason 0x%02x)",
		    link_name(l), refused);
		return;
	}
	r->subscribed[side] = 1;
	log_debug("%s broker: subscriptions acknowledged", link_name(l));
}

/*
 * A QoS 2 publish took packet id id, inside queue_fetch(): noted now,
 * stored right after the fetch, before the commit that precedes its
 * PUBLISH's write.
 */
static void
forward_on_sent(void *arg, struct link *l, int64_t cookie, uint16_t id)
{
	struct relay *r = arg;

	qos2_out_note(r, forward_side(r, l), cookie, id);
}

static void
forward_on_complete(void *arg, struct link *l, uint16_t id)
{
	struct relay *r = arg;

	qos2_out_set(r, forward_side(r, l), id, 0);
}

/* A 3.1.1 message over max_packet_size: dropped, counted, answered. */
static void
forward_on_oversized(void *arg, struct link *l, int qos, uint16_t id,
    size_t size)
{
	struct relay *r = arg;
	enum link_side side = forward_side(r, l);
	uint64_t supp = 0;

	r->st.dropped_too_large++;
	if (log_ratelimit(&r->rate.too_large, r->now_ms, FORWARD_LOG_EVERY_MS,
	    &supp))
		log_warn("%s broker: a message of %zu bytes is over "
		    "max_packet_size: dropped; %" PRIu64 " more since the last "
		    "report", link_name(l), size, supp);
	if (qos > 0)
		durable_owe(r, side, qos == 1 ? FORWARD_PUBACK : FORWARD_PUBREC,
		    id);
}

const struct link_cbs forward_link_cbs = {
	.on_up = forward_on_up,
	.on_down = forward_on_down,
	.on_message = forward_on_message,
	.on_release = forward_on_release,
	.on_acked = forward_on_acked,
	.on_sent = forward_on_sent,
	.on_complete = forward_on_complete,
	.on_suback = forward_on_suback,
	.on_oversized = forward_on_oversized,
};

/* ---- Before sleep: publish from the queue. ---- */

struct forward_send;
static int forward_send_drop(struct forward_send *s,
    const struct queue_msg *m);

struct forward_send {
	struct relay *r;
	struct link *l;
	int64_t wall_ms;
	size_t raw_budget;	/* free in-flight slots for raw publishes */
	int max_delay;		/* an uplink route has max_delay_ms */
	int paused;		/* the WAN budget is spent: priority only */
	int64_t wan_left;	/* bytes the budget allows in this pass */
	int down;		/* this pass sends downlink (max_rate) */
	int64_t drop[16];	/* batch members that can never be framed */
	size_t ndrop;
};

/* A batch route's message joins the open frame; it is not published. */
static int
forward_send_member(struct forward_send *s, const struct queue_msg *m)
{
	const struct conf_route *rt;

	switch (batcher_add(s->r->batcher, m, s->r->now_ms, s->wall_ms)) {
	case BATCHER_OK:
		/*
		 * A route with max_delay_ms: the member leaves by its arrival
		 * plus that, on the monotonic clock (its stored arrival is
		 * wall-clock time, so a restart keeps the budget spent).
		 */
		if (s->max_delay && (rt = route_of_dest(s->r->routes,
		    ROUTE_UP, m->topic, NULL)) != NULL && rt->max_delay_ms >= 0)
			batcher_member_due(s->r->batcher, s->r->now_ms +
			    (m->ts_ms + rt->max_delay_ms - s->wall_ms));
		return 0;
	case BATCHER_FULL:
		return 1;	/* The frame is due; the rest waits. */
	default:
		return forward_send_drop(s, m);
	}
}

/*
 * A message that can never go out (it cannot be framed, or it is over
 * the broker's Maximum Packet Size): deleted after the fetch, counted in
 * dropped.rejected. Returns what the fetch callback returns.
 */
static int
forward_send_drop(struct forward_send *s, const struct queue_msg *m)
{
	if (s->ndrop == sizeof(s->drop) / sizeof(s->drop[0]))
		return 1;
	s->drop[s->ndrop++] = m->id;
	return 0;
}

static void
forward_drops(struct relay *r, struct forward_send *s, const char *dir)
{
	size_t i;

	for (i = 0; i < s->ndrop; i++) {
		r->st.dropped_rejected++;
		if (queue_ack(r->queue, s->drop[i], r->err, sizeof(r->err)) !=
		    QUEUE_OK)
			durable_failed(r);
		r->dirty = 1;
		forward_drop_log(r, &r->rate.rejected, "undeliverable "
		    "(cannot be framed, or over the broker's maximum packet "
		    "size):", dir, "?");
	}
	s->ndrop = 0;
}

/*
 * What goes while the WAN budget is spent: messages of routes with a
 * priority above 0 (raw, or batch members, whose frame closes at once),
 * and frames already closed (they must leave in sequence order, and a
 * frame holding an alarm may be among them).
 */
static int
forward_priority(const struct queue_msg *m)
{
	if (m->priority < 0)
		return m->priority > BATCHER_PRIO_BASE;
	return m->priority > 0;
}

static int
forward_send_one(void *arg, const struct queue_msg *m)
{
	struct forward_send *s = arg;
	int rc;

	/* Over the WAN budget the rest waits, in order, in the queue. */
	if (s->paused && !forward_priority(m))
		return 1;
	if (s->r->batcher != NULL && batcher_is_member(m))
		return forward_send_member(s, m);
	if (s->raw_budget == 0)
		return 1;
	/*
	 * A frame waits while inflight_frames publishes are unacknowledged:
	 * more would only fill the modem's queue, and the next frame, with
	 * an alarm in it, would wait behind them (docs/wan.md). Members
	 * stay messages meanwhile, so an alarm is framed first.
	 */
	if (m->priority == FORWARD_FRAME_PRIO && link_inflight(s->l) >=
	    (size_t)s->r->conf->batch.inflight_frames)
		return 1;
	if (s->down && !flow_down_take(s->r, m))
		return 1;
	rc = link_publish(s->l, m, s->wall_ms, m->id, s->r->err,
	    sizeof(s->r->err));
	if (rc == LINK_ERR_PACKET || rc == LINK_ERR_TOO_LARGE)
		return forward_send_drop(s, m);
	if (rc == LINK_OK)
		s->raw_budget--;
	/* The budget is accounted on the wire next pass; this pass guesses. */
	if (rc == LINK_OK && !s->down && s->wan_left != INT64_MAX &&
	    (s->wan_left -= (int64_t)(strlen(m->topic) + m->payload_len +
	    m->props_len + 8)) <= 0)
		s->paused = 1;
	return rc != LINK_OK;
}


static int
forward_any_delay(const struct conf *c)
{
	size_t i;

	for (i = 0; i < c->n_uplink; i++)
		if (c->uplink[i].mode == CONF_MODE_BATCH &&
		    c->uplink[i].max_delay_ms >= 0)
			return 1;
	return 0;
}

void
forward_pump(struct relay *r)
{
	struct forward_send s;
	uint64_t expired = 0, e;
	size_t max;
	int side, n;

	/*
	 * While the store takes no writes, nothing sent could be deleted
	 * once acknowledged: it would go out again at every pass. Sending
	 * resumes with intake, after a probe write succeeded (durable.c).
	 */
	if (r->state != RELAY_RUNNING || r->store_unwritable)
		return;
	memset(&s, 0, sizeof(s));
	s.r = r;
	s.wall_ms = clock_wall_ms();
	s.max_delay = forward_any_delay(r->conf);
	for (side = 0; side < 2; side++) {
		s.l = r->link[side];
		if (link_state(s.l) != LINK_UP)
			continue;
		s.down = side == LINK_LOCAL;
		s.paused = side == LINK_CENTRAL && !flow_central_open(r);
		s.wan_left = side == LINK_CENTRAL ? flow_central_left(r) :
		    INT64_MAX;
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
			durable_failed(r);
		qos2_out_flush(r);
		forward_drops(r, &s, forward_dirname[relay_out_dir(side)]);
		expired += e;
		if (side == LINK_CENTRAL && r->batcher != NULL)
			forward_batch_step(r, s.paused);
		/*
		 * The pass spent the budget itself: the next pass accounts
		 * what it wrote and arms the wait; QoS 0 brings no PUBACK to
		 * wake the loop for it.
		 */
		if (s.paused && !r->flow_wait.armed)
			relay_timer_arm(r, &r->flow_wait, FORWARD_FLOW_RECHECK_MS);
	}
	if (expired > 0) {
		r->st.dropped_expired += expired;
		r->dirty = 1;
		forward_drop_log(r, &r->rate.expired, "expired:", "queued",
		    "*");
	}
}
