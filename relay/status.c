/* SPDX-License-Identifier: ISC */
/* status: the reply to `pushrelay status`, as JSON or as text. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "platform/clock.h"
#include "relay/batcher.h"
#include "relay/relay.h"
#include "relay/unpack.h"

/* An append-only writer into a caller's buffer; truncates safely. */
struct status_buf {
	char *p;
	size_t cap;
	size_t len;
};

static void
status_put(struct status_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
status_put(struct status_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->len >= b->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->len += (size_t)n;
	if (b->len >= b->cap)
		b->len = b->cap - 1;
}

static const char *
status_bool(int v)
{
	return v ? "true" : "false";
}

static void
status_json_queue(struct status_buf *b, const struct relay *r,
    enum queue_dir d, const char *name)
{
	uint64_t msgs, bytes;

	queue_stats(r->queue, d, &msgs, &bytes);
	status_put(b, "\"%s\":{\"messages\":%" PRIu64 ",\"bytes\":%" PRIu64
	    ",\"inflight\":%zu}", name, msgs, bytes,
	    queue_inflight(r->queue, d));
}

/*
 * A link's counters. The byte counts are MQTT bytes (before TLS); they
 * and refused (packets refused as malformed or oversized) run from the
 * start.
 */
static void
status_json_link(struct status_buf *b, const struct relay *r,
    enum link_side side)
{
	const struct link_stats *ls = link_stats(r->link[side]);

	status_put(b, "\"%s\":{\"connected\":%s,\"reconnects\":%" PRIu64
	    ",\"inflight\":%zu,\"tx_bytes\":%" PRIu64 ",\"rx_bytes\":%"
	    PRIu64 ",\"packets_in\":%" PRIu64 ",\"packets_out\":%" PRIu64
	    ",\"writes\":%" PRIu64 ",\"refused\":%" PRIu64
	    ",\"topic_aliases\":%" PRIu32 ",\"topic_alias_max\":%" PRIu32
	    ",\"aliased\":%" PRIu64 "},",
	    link_name(r->link[side]), status_bool(link_state(r->link[side]) ==
	    LINK_UP && r->subscribed[side]), r->st.reconnects[side],
	    link_inflight(r->link[side]), ls->tx_bytes, ls->rx_bytes,
	    ls->packets_in, ls->packets_out, ls->writes, ls->refused,
	    ls->aliases, ls->alias_max, ls->aliased);
}

/*
 * The WAN budget (relay/flow.c): tokens are bytes (negative: a debt the
 * rate pays back), used_today counts both ways since 00:00 UTC.
 */
static void
status_json_budget(struct status_buf *b, const struct relay *r)
{
	const struct budget_wan *w = &r->wan;

	status_put(b, "\"budget\":{\"max_wan_rate\":%" PRIu64 ",\"tokens\":%"
	    PRId64 ",\"daily_wan_quota\":%" PRIu64 ",\"used_today\":%" PRIu64
	    ",\"paused\":%s,\"pauses\":%" PRIu64 ",\"downlink_held\":%"
	    PRIu64 "}},", r->conf->max_wan_rate, w->rate.rate != 0 ?
	    w->rate.milli / 1000 : 0, r->conf->daily_wan_quota, w->used,
	    status_bool(w->paused), w->pauses, r->down_held);
}

/* What crossed the WAN: TLS records when TLS is on, else TCP bytes. */
static void
status_json_wan(struct status_buf *b, const struct relay *r)
{
	const struct link_stats *k = link_stats(r->link[LINK_CENTRAL]);
	struct tls_stats ls;

	memset(&ls, 0, sizeof(ls));
	if (r->tls != NULL) {
		tls_stats(r->tls, &ls);
	} else {
		ls.tx_bytes = k->tx_bytes;
		ls.rx_bytes = k->rx_bytes;
	}
	status_put(b, "\"wan\":{\"tls\":%s,\"tx_bytes\":%" PRIu64
	    ",\"rx_bytes\":%" PRIu64 ",\"handshakes_full\":%" PRIu64
	    ",\"handshakes_resumed\":%" PRIu64 ",\"handshakes_failed\":%"
	    PRIu64 ",", status_bool(r->tls != NULL), ls.tx_bytes, ls.rx_bytes,
	    ls.handshakes_full, ls.handshakes_resumed, ls.handshakes_failed);
	status_json_budget(b, r);
}

static void
status_json_dropped(struct status_buf *b, const struct relay *r)
{
	const struct relay_stats *s = &r->st;

	status_put(b, "\"dropped\":{\"full\":%" PRIu64 ",\"expired\":%" PRIu64
	    ",\"rejected\":%" PRIu64 ",\"noroute\":%" PRIu64 ",\"too_large\":%"
	    PRIu64 "},",
	    s->dropped_full, s->dropped_expired, s->dropped_rejected,
	    s->dropped_noroute, s->dropped_too_large);
}

static void
status_json_durability(struct status_buf *b, const struct relay *r)
{
	const struct relay_stats *s = &r->st;

	status_put(b, "\"store\":{\"errors\":%" PRIu64 ",\"writable\":%s},",
	    s->store_errors, status_bool(!r->store_unwritable));
	status_put(b, "\"durability\":{\"commits\":%" PRIu64 ",\"commits_"
	    "failed\":%" PRIu64 ",\"acks_held_total\":%" PRIu64 ",\"qos2_"
	    "repeats\":%" PRIu64 ",\"window_us_max\":%" PRId64 ",\"window_"
	    "us_avg\":%" PRIu64 "}}\n", s->commits, s->commit_failed,
	    s->acks_held_total, s->qos2_dup, s->window_us_max,
	    s->window_n > 0 ? s->window_us_sum / s->window_n : 0);
}

/* The unpacker's reply: its one link, the frames and their records. */
static void
status_json_unpack(struct status_buf *b, const struct relay *r)
{
	const struct relay_stats *s = &r->st;
	struct unpack_stats u;

	unpack_stats(r->unpack, &u);
	status_json_link(b, r, LINK_CENTRAL);
	status_put(b, "\"queue\":{");
	status_json_queue(b, r, relay_out_dir(LINK_CENTRAL), "records");
	status_put(b, "},\"frames\":{\"received\":%" PRIu64 ",\"duplicate\":%"
	    PRIu64 ",\"malformed\":%" PRIu64, s->frames_in, s->frames_dup,
	    s->frames_bad);
	/* Refused for what a gateway may not do (docs/unpack.md, "Trust"). */
	status_put(b, ",\"too_large\":%" PRIu64 ",\"over_share\":%" PRIu64
	    "},", u.frames_too_large, u.frames_over_share);
	status_put(b, "\"records\":{\"stored\":%" PRIu64 ",\"published\":%"
	    PRIu64 ",\"refused\":%" PRIu64 "},", s->records_in,
	    s->forwarded[relay_out_dir(LINK_CENTRAL)], u.records_refused);
	status_json_dropped(b, r);
	status_json_durability(b, r);
}

static void
status_json(struct status_buf *b, const struct relay *r)
{
	const struct relay_stats *s = &r->st;

	/* The id is [A-Za-z0-9._-] only, so it needs no JSON escaping. */
	status_put(b, "{\"role\":\"%s\",\"id\":\"%s\",\"version\":\"%s\","
	    "\"uptime_s\":%" PRId64 ",", r->conf->role == CONF_ROLE_UNPACK ?
	    "unpack" : "relay", r->conf->id, PUSHRELAY_VERSION,
	    (clock_mono_ms() - r->started_ms) / 1000);
	if (r->conf->role == CONF_ROLE_UNPACK) {
		status_json_unpack(b, r);
		return;
	}
	status_json_link(b, r, LINK_LOCAL);
	status_json_link(b, r, LINK_CENTRAL);
	status_json_wan(b, r);
	status_put(b, "\"queue\":{");
	status_json_queue(b, r, QUEUE_UP, "uplink");
	status_put(b, ",");
	status_json_queue(b, r, QUEUE_DOWN, "downlink");
	status_put(b, "},\"received\":{\"uplink\":%" PRIu64 ",\"downlink\":%"
	    PRIu64 "},", s->received[QUEUE_UP], s->received[QUEUE_DOWN]);
	status_put(b, "\"redelivered\":{\"uplink\":%" PRIu64 ",\"downlink\":%"
	    PRIu64 "},", s->redelivered[QUEUE_UP], s->redelivered[QUEUE_DOWN]);
	status_put(b, "\"forwarded\":{\"uplink\":%" PRIu64 ",\"downlink\":%"
	    PRIu64 "},", s->forwarded[QUEUE_UP], s->forwarded[QUEUE_DOWN]);
	status_json_dropped(b, r);
	status_put(b, "\"batches\":{\"frames\":%" PRIu64 ",\"messages\":%"
	    PRIu64 ",\"frame_bytes\":%" PRIu64 ",\"raw_bytes\":%" PRIu64
	    ",\"open\":%zu},", s->batches, s->batched, s->batch_bytes,
	    r->batcher != NULL ? batcher_raw_bytes(r->batcher) : 0,
	    r->batcher != NULL ? batcher_count(r->batcher) : (size_t)0);
	status_json_durability(b, r);
}

static void
status_text_unpack(struct status_buf *b, const struct relay *r)
{
	const struct relay_stats *s = &r->st;
	struct unpack_stats u;
	uint64_t m, bytes;

	unpack_stats(r->unpack, &u);
	queue_stats(r->queue, relay_out_dir(LINK_CENTRAL), &m, &bytes);
	status_put(b, "unpacker %s, up %" PRId64 " s\n", r->conf->id,
	    (clock_mono_ms() - r->started_ms) / 1000);
	status_put(b, "broker   %s (%s), %" PRIu64 " reconnects\n",
	    link_state(r->link[LINK_CENTRAL]) == LINK_UP &&
	    r->subscribed[LINK_CENTRAL] ? "connected" : "disconnected",
	    r->conf->central.address[0], s->reconnects[LINK_CENTRAL]);
	status_put(b, "frames   %" PRIu64 " received, %" PRIu64 " duplicate, %"
	    PRIu64 " malformed, %" PRIu64 " too large, %" PRIu64 " over "
	    "share\n", s->frames_in, s->frames_dup, s->frames_bad,
	    u.frames_too_large, u.frames_over_share);
	status_put(b, "records  %" PRIu64 " stored, %" PRIu64 " published, %"
	    PRIu64 " refused, %" PRIu64 " queued / %" PRIu64 " B\n",
	    s->records_in, s->forwarded[relay_out_dir(LINK_CENTRAL)],
	    u.records_refused, m, bytes);
	status_put(b, "dropped  full %" PRIu64 ", expired %" PRIu64
	    ", refused %" PRIu64 "\n", s->dropped_full, s->dropped_expired,
	    s->dropped_rejected);
}

static void
status_text(struct status_buf *b, const struct relay *r)
{
	const struct relay_stats *s = &r->st;
	uint64_t um, ub, dm, db;

	queue_stats(r->queue, QUEUE_UP, &um, &ub);
	queue_stats(r->queue, QUEUE_DOWN, &dm, &db);
	if (r->conf->role == CONF_ROLE_UNPACK) {
		status_text_unpack(b, r);
		return;
	}
	status_put(b, "relay %s, up %" PRId64 " s\n", r->conf->id,
	    (clock_mono_ms() - r->started_ms) / 1000);
	status_put(b, "local    %s (%s), %" PRIu64 " reconnects\n",
	    link_state(r->link[LINK_LOCAL]) == LINK_UP &&
	    r->subscribed[LINK_LOCAL] ? "connected" :
	    "disconnected", r->conf->local.address[0], s->reconnects[0]);
	status_put(b, "central  %s (%s), %" PRIu64 " reconnects\n",
	    link_state(r->link[LINK_CENTRAL]) == LINK_UP &&
	    r->subscribed[LINK_CENTRAL] ? "connected" :
	    "disconnected", r->conf->central.address[0], s->reconnects[1]);
	status_put(b, "queued   uplink %" PRIu64 " msgs / %" PRIu64 " B, "
	    "downlink %" PRIu64 " msgs / %" PRIu64 " B\n", um, ub, dm, db);
	status_put(b, "received uplink %" PRIu64 ", downlink %" PRIu64
	    " (sent again by the broker: %" PRIu64 ", %" PRIu64 ")\n",
	    s->received[0], s->received[1], s->redelivered[0],
	    s->redelivered[1]);
	status_put(b, "sent     uplink %" PRIu64 ", downlink %" PRIu64 "\n",
	    s->forwarded[0], s->forwarded[1]);
	status_put(b, "dropped  full %" PRIu64 ", expired %" PRIu64
	    ", refused %" PRIu64 ", no route %" PRIu64 "\n", s->dropped_full,
	    s->dropped_expired, s->dropped_rejected, s->dropped_noroute);
	if (r->conf->max_wan_rate != 0 || r->conf->daily_wan_quota != 0)
		status_put(b, "wan      %s; %" PRIu64 " B used today of %" PRIu64
		    " (0: no quota), rate %" PRIu64 " B/s (0: no limit)\n",
		    r->wan.paused ? "PAUSED: priority routes only" : "open",
		    r->wan.used, r->conf->daily_wan_quota,
		    r->conf->max_wan_rate);
}

size_t
status_render(const struct relay *r, int json, char *out, size_t cap)
{
	struct status_buf b = { out, cap, 0 };

	if (json)
		status_json(&b, r);
	else
		status_text(&b, r);
	return b.len;
}
