/* SPDX-License-Identifier: ISC */
/*
 * status: the reply to `pushrelay status`: text for people, and JSON and
 * Prometheus text exposition (--prometheus) from one list of figures.
 *
 * The JSON and the Prometheus samples are written by the same calls
 * (status_open, status_num, status_str): each figure is named once, by
 * its JSON key, and the Prometheus name follows from where it sits.
 * pushrelay_ + the keys of the enclosing objects + its own key, joined by
 * '_', "_s" spelt "_seconds", counters ending in "_total". An object
 * opened with a label contributes that label (its key is the value)
 * instead of a name part (at the top level, the label's name is the
 * part), e.g. "local":{"tx_bytes":..} is
 * pushrelay_link_tx_bytes_total{link="local"}; an object opened with a
 * field label makes its keys that label's values, e.g. "dropped":
 * {"full":..} is pushrelay_dropped_total{reason="full"}. Strings (role,
 * id, version, the journal mode) are labels of pushrelay_info, which is 1.
 * Samples are gathered, then grouped by name (the exposition format wants
 * each family in one piece) and written with HELP and TYPE lines.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/clock.h"
#include "relay/batcher.h"
#include "relay/relay.h"
#include "relay/unpack.h"

#define STATUS_DEPTH	4
#define STATUS_SAMPLES	112
#define STATUS_NAME	96
#define STATUS_LABELS	160

/* An append-only writer into a caller's buffer; truncates safely. */
struct status_buf {
	char *p;
	size_t cap;
	size_t len;
};

enum status_kind {
	STATUS_COUNTER = 0,	/* only grows while the relay runs */
	STATUS_GAUGE,
	STATUS_BOOL,		/* JSON true/false; a 0/1 gauge */
};

/* One open JSON object. */
struct status_level {
	const char *key;
	const char *label;	/* Prometheus: key is this label's value */
	const char *field_label; /* Prometheus: the fields' keys are this
				    label's values */
	int n;			/* members written (for the commas) */
};

struct status_sample {
	char name[STATUS_NAME];
	char labels[STATUS_LABELS];
	char help[STATUS_NAME];
	enum status_kind kind;
	int64_t value;
	size_t seq;
};

struct status_out {
	struct status_buf b;
	enum status_format fmt;
	struct status_level lv[STATUS_DEPTH];
	int depth;		/* lv[0] is the root object */
	struct status_sample *s;	/* STATUS_SAMPLES of them */
	size_t n;
	char info[STATUS_LABELS];	/* pushrelay_info's labels */
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

/* A JSON member's key, after a comma when it is not the first. */
static void
status_key(struct status_out *o, const char *key)
{
	if (o->lv[o->depth].n++ > 0)
		status_put(&o->b, ",");
	status_put(&o->b, "\"%s\":", key);
}

static void
status_open(struct status_out *o, const char *key, const char *label,
    const char *field_label)
{
	struct status_level *l;

	if (o->depth + 1 >= STATUS_DEPTH)
		return;		/* a programming error; see the callers */
	if (o->fmt == STATUS_JSON) {
		status_key(o, key);
		status_put(&o->b, "{");
	}
	l = &o->lv[++o->depth];
	l->key = key;
	l->label = label;
	l->field_label = field_label;
	l->n = 0;
}

static void
status_close(struct status_out *o)
{
	if (o->fmt == STATUS_JSON)
		status_put(&o->b, "}");
	if (o->depth > 0)
		o->depth--;
}

/* Append "_" and part to name, "_s" at the end spelt "_seconds". */
static void
status_name_part(char *name, size_t cap, const char *part)
{
	size_t len = strlen(part), at = strlen(name);

	if (len >= 2 && strcmp(part + len - 2, "_s") == 0)
		snprintf(name + at, cap - at, "_%.*s_seconds", (int)(len - 2),
		    part);
	else
		snprintf(name + at, cap - at, "_%s", part);
}

/* Append label="value" to a label list; the values here need no escape
 * beyond '\' and '"', which ids, names and versions never hold. */
static void
status_label(char *labels, size_t cap, const char *name, const char *value)
{
	size_t at = strlen(labels);

	snprintf(labels + at, cap - at, "%s%s=\"%s\"", at > 0 ? "," : "",
	    name, value);
}

static void
status_sample_add(struct status_out *o, const char *key,
    enum status_kind kind, int64_t value)
{
	const struct status_level *f = &o->lv[o->depth];
	struct status_sample *s;
	size_t at;
	int i;

	if (o->n >= STATUS_SAMPLES)
		return;		/* STATUS_SAMPLES is above the most written */
	s = &o->s[o->n];
	memset(s, 0, sizeof(*s));
	s->seq = o->n++;
	s->kind = kind;
	s->value = value;
	snprintf(s->name, sizeof(s->name), "pushrelay");
	for (i = 1; i <= o->depth; i++) {
		const struct status_level *l = &o->lv[i];

		at = strlen(s->help);
		snprintf(s->help + at, sizeof(s->help) - at, "%s%s%s%s",
		    l->label != NULL ? "<" : "", l->label != NULL ? l->label :
		    l->key, l->label != NULL ? ">" : "", ".");
		if (l->label != NULL)
			status_label(s->labels, sizeof(s->labels), l->label,
			    l->key);
		/* A top-level object named by a label: the label's name. */
		if (l->label != NULL && i == 1)
			status_name_part(s->name, sizeof(s->name), l->label);
		else if (l->label == NULL)
			status_name_part(s->name, sizeof(s->name), l->key);
	}
	at = strlen(s->help);
	if (f->field_label != NULL) {
		status_label(s->labels, sizeof(s->labels), f->field_label, key);
		snprintf(s->help + at, sizeof(s->help) - at, "<%s>",
		    f->field_label);
	} else {
		status_name_part(s->name, sizeof(s->name), key);
		snprintf(s->help + at, sizeof(s->help) - at, "%s", key);
	}
	at = strlen(s->name);
	if (kind == STATUS_COUNTER && (at < 6 ||
	    strcmp(s->name + at - 6, "_total") != 0))
		snprintf(s->name + at, sizeof(s->name) - at, "_total");
}

static void
status_num(struct status_out *o, const char *key, enum status_kind kind,
    int64_t value)
{
	if (o->fmt == STATUS_PROM) {
		status_sample_add(o, key, kind, value);
		return;
	}
	status_key(o, key);
	if (kind == STATUS_BOOL)
		status_put(&o->b, "%s", value ? "true" : "false");
	else
		status_put(&o->b, "%" PRId64, value);
}

/* A figure that can pass INT64_MAX only in theory (bytes, counts). */
static void
status_u64(struct status_out *o, const char *key, enum status_kind kind,
    uint64_t value)
{
	status_num(o, key, kind, value > INT64_MAX ? INT64_MAX :
	    (int64_t)value);
}

/* A string; value is [A-Za-z0-9._-] only (no JSON escaping needed). */
static void
status_str(struct status_out *o, const char *key, const char *value)
{
	if (o->fmt == STATUS_PROM) {
		status_label(o->info, sizeof(o->info), key, value);
		return;
	}
	status_key(o, key);
	status_put(&o->b, "\"%s\"", value);
}

static int
status_sample_cmp(const void *a, const void *b)
{
	const struct status_sample *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The gathered samples, one family at a time, with HELP and TYPE. */
static void
status_prom_flush(struct status_out *o)
{
	static const char *const type[] = { "counter", "gauge", "gauge" };
	const struct status_sample *s;
	size_t i;

	status_put(&o->b, "# HELP pushrelay_info The relay's role, id, "
	    "version and queue journal mode (always 1).\n"
	    "# TYPE pushrelay_info gauge\npushrelay_info{%s} 1\n", o->info);
	qsort(o->s, o->n, sizeof(*o->s), status_sample_cmp);
	for (i = 0; i < o->n; i++) {
		s = &o->s[i];
		if (i == 0 || strcmp(s->name, o->s[i - 1].name) != 0)
			status_put(&o->b, "# HELP %s pushrelay status --json: "
			    "%s\n# TYPE %s %s\n", s->name, s->help, s->name,
			    type[s->kind]);
		status_put(&o->b, "%s%s%s%s %" PRId64 "\n", s->name,
		    s->labels[0] != '\0' ? "{" : "", s->labels,
		    s->labels[0] != '\0' ? "}" : "", s->value);
	}
}

static void
status_queue(struct status_out *o, const struct relay *r, enum queue_dir d,
    const char *name)
{
	uint64_t msgs, bytes;

	queue_stats(r->queue, d, &msgs, &bytes);
	status_open(o, name, "dir", NULL);
	status_u64(o, "messages", STATUS_GAUGE, msgs);
	status_u64(o, "bytes", STATUS_GAUGE, bytes);
	status_u64(o, "inflight", STATUS_GAUGE, queue_inflight(r->queue, d));
	status_close(o);
}

/* Whether side's link relays now: connected and subscribed. */
static int
status_link_up(const struct relay *r, enum link_side side)
{
	return link_state(r->link[side]) == LINK_UP && r->subscribed[side];
}

/*
 * A link's counters. The byte counts are MQTT bytes (before TLS); they
 * and refused (packets refused as malformed or oversized) run from the
 * start. down_s: seconds since the link last relayed (since the start
 * when it never did), 0 while it does; `pushrelay status` exits 3 when
 * the central link's passes option unhealthy_after.
 */
static void
status_link(struct status_out *o, const struct relay *r,
    enum link_side side)
{
	const struct link_stats *ls = link_stats(r->link[side]);
	int up = status_link_up(r, side);

	status_open(o, link_name(r->link[side]), "link", NULL);
	status_num(o, "connected", STATUS_BOOL, up);
	status_u64(o, "reconnects", STATUS_COUNTER, r->st.reconnects[side]);
	status_u64(o, "inflight", STATUS_GAUGE, link_inflight(r->link[side]));
	status_u64(o, "tx_bytes", STATUS_COUNTER, ls->tx_bytes);
	status_u64(o, "rx_bytes", STATUS_COUNTER, ls->rx_bytes);
	status_u64(o, "packets_in", STATUS_COUNTER, ls->packets_in);
	status_u64(o, "packets_out", STATUS_COUNTER, ls->packets_out);
	status_u64(o, "writes", STATUS_COUNTER, ls->writes);
	status_u64(o, "refused", STATUS_COUNTER, ls->refused);
	status_num(o, "down_s", STATUS_GAUGE, up ? 0 :
	    (clock_mono_ms() - r->down_since_ms[side]) / 1000);
	/* Topic aliases of our publishes (relay/link_alias.c). */
	status_u64(o, "topic_aliases", STATUS_GAUGE, ls->aliases);
	status_u64(o, "topic_alias_max", STATUS_GAUGE, ls->alias_max);
	status_u64(o, "aliased", STATUS_COUNTER, ls->aliased);
	status_close(o);
}

/*
 * The WAN budget (relay/flow.c), inside "wan": tokens are bytes
 * (negative: a debt the rate pays back), used_today counts both ways
 * since 00:00 UTC.
 */
static void
status_budget(struct status_out *o, const struct relay *r)
{
	const struct budget_wan *w = &r->wan;

	status_open(o, "budget", NULL, NULL);
	status_u64(o, "max_wan_rate", STATUS_GAUGE, r->conf->max_wan_rate);
	status_num(o, "tokens", STATUS_GAUGE, w->rate.rate != 0 ?
	    w->rate.milli / 1000 : 0);
	status_u64(o, "daily_wan_quota", STATUS_GAUGE,
	    r->conf->daily_wan_quota);
	status_u64(o, "used_today", STATUS_GAUGE, w->used);
	status_num(o, "paused", STATUS_BOOL, w->paused);
	status_u64(o, "pauses", STATUS_COUNTER, w->pauses);
	status_u64(o, "downlink_held", STATUS_COUNTER, r->down_held);
	status_close(o);
}

/* What crossed the WAN: TLS records when TLS is on, else TCP bytes. */
static void
status_wan(struct status_out *o, const struct relay *r)
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
	status_open(o, "wan", NULL, NULL);
	status_num(o, "tls", STATUS_BOOL, r->tls != NULL);
	status_u64(o, "tx_bytes", STATUS_COUNTER, ls.tx_bytes);
	status_u64(o, "rx_bytes", STATUS_COUNTER, ls.rx_bytes);
	status_u64(o, "handshakes_full", STATUS_COUNTER, ls.handshakes_full);
	status_u64(o, "handshakes_resumed", STATUS_COUNTER,
	    ls.handshakes_resumed);
	status_u64(o, "handshakes_failed", STATUS_COUNTER,
	    ls.handshakes_failed);
	status_budget(o, r);
	status_close(o);
}

static void
status_dropped(struct status_out *o, const struct relay *r)
{
	const struct relay_stats *s = &r->st;

	status_open(o, "dropped", NULL, "reason");
	status_u64(o, "full", STATUS_COUNTER, s->dropped_full);
	status_u64(o, "expired", STATUS_COUNTER, s->dropped_expired);
	status_u64(o, "rejected", STATUS_COUNTER, s->dropped_rejected);
	status_u64(o, "noroute", STATUS_COUNTER, s->dropped_noroute);
	status_u64(o, "too_large", STATUS_COUNTER, s->dropped_too_large);
	status_close(o);
}

static void
status_durability(struct status_out *o, const struct relay *r)
{
	const struct relay_stats *s = &r->st;

	status_open(o, "store", NULL, NULL);
	status_u64(o, "errors", STATUS_COUNTER, s->store_errors);
	status_num(o, "writable", STATUS_BOOL, !r->store_unwritable);
	status_str(o, "journal", queue_journal(r->queue));
	status_close(o);
	status_open(o, "durability", NULL, NULL);
	status_u64(o, "commits", STATUS_COUNTER, s->commits);
	status_u64(o, "commits_failed", STATUS_COUNTER, s->commit_failed);
	status_u64(o, "acks_held_total", STATUS_COUNTER, s->acks_held_total);
	status_u64(o, "qos2_repeats", STATUS_COUNTER, s->qos2_dup);
	status_num(o, "window_us_max", STATUS_GAUGE, s->window_us_max);
	status_u64(o, "window_us_avg", STATUS_GAUGE, s->window_n > 0 ?
	    s->window_us_sum / s->window_n : 0);
	status_close(o);
}

/* The unpacker's figures: its one link, the frames and their records. */
static void
status_figures_unpack(struct status_out *o, const struct relay *r)
{
	const struct relay_stats *s = &r->st;
	struct unpack_stats u;

	unpack_stats(r->unpack, &u);
	status_link(o, r, LINK_CENTRAL);
	status_open(o, "queue", NULL, NULL);
	status_queue(o, r, relay_out_dir(LINK_CENTRAL), "records");
	status_close(o);
	status_open(o, "frames", NULL, NULL);
	status_u64(o, "received", STATUS_COUNTER, s->frames_in);
	status_u64(o, "duplicate", STATUS_COUNTER, s->frames_dup);
	status_u64(o, "malformed", STATUS_COUNTER, s->frames_bad);
	/* Refused for what a gateway may not do (docs/unpack.md, "Trust"). */
	status_u64(o, "too_large", STATUS_COUNTER, u.frames_too_large);
	status_u64(o, "over_share", STATUS_COUNTER, u.frames_over_share);
	/* Frame v2 dictionaries (docs/frame-format.md). */
	status_u64(o, "dictionaries", STATUS_COUNTER, u.dictionaries);
	status_u64(o, "held", STATUS_COUNTER, u.frames_held);
	status_u64(o, "released", STATUS_COUNTER, u.frames_released);
	status_u64(o, "dictionary_requests", STATUS_COUNTER, u.dict_requests);
	status_close(o);
	status_open(o, "records", NULL, NULL);
	status_u64(o, "stored", STATUS_COUNTER, s->records_in);
	status_u64(o, "published", STATUS_COUNTER,
	    s->forwarded[relay_out_dir(LINK_CENTRAL)]);
	status_u64(o, "refused", STATUS_COUNTER, u.records_refused);
	status_close(o);
	status_dropped(o, r);
	status_durability(o, r);
}

/* Two counters by direction, as "name":{"uplink":..,"downlink":..}. */
static void
status_by_dir(struct status_out *o, const char *name, const uint64_t *v)
{
	status_open(o, name, NULL, "dir");
	status_u64(o, "uplink", STATUS_COUNTER, v[QUEUE_UP]);
	status_u64(o, "downlink", STATUS_COUNTER, v[QUEUE_DOWN]);
	status_close(o);
}

/* Every figure, once: the JSON reply and the Prometheus samples. */
static void
status_figures(struct status_out *o, const struct relay *r)
{
	const struct relay_stats *s = &r->st;

	if (o->fmt == STATUS_JSON)
		status_put(&o->b, "{");
	/* The id is [A-Za-z0-9._-] only, so it needs no JSON escaping. */
	status_str(o, "role", r->conf->role == CONF_ROLE_UNPACK ? "unpack" :
	    "relay");
	status_str(o, "id", r->conf->id);
	status_str(o, "version", PUSHRELAY_VERSION);
	status_num(o, "uptime_s", STATUS_GAUGE,
	    (clock_mono_ms() - r->started_ms) / 1000);
	if (r->conf->role == CONF_ROLE_UNPACK) {
		status_figures_unpack(o, r);
	} else {
		status_link(o, r, LINK_LOCAL);
		status_link(o, r, LINK_CENTRAL);
		status_wan(o, r);
		status_open(o, "queue", NULL, NULL);
		status_queue(o, r, QUEUE_UP, "uplink");
		status_queue(o, r, QUEUE_DOWN, "downlink");
		status_close(o);
		status_by_dir(o, "received", s->received);
		status_by_dir(o, "redelivered", s->redelivered);
		status_by_dir(o, "forwarded", s->forwarded);
		status_dropped(o, r);
		status_open(o, "batches", NULL, NULL);
		status_u64(o, "frames", STATUS_COUNTER, s->batches);
		status_u64(o, "messages", STATUS_COUNTER, s->batched);
		status_u64(o, "frame_bytes", STATUS_COUNTER, s->batch_bytes);
		status_u64(o, "raw_bytes", STATUS_COUNTER, r->batcher != NULL ?
		    batcher_raw_bytes(r->batcher) : 0);
		status_u64(o, "open", STATUS_GAUGE, r->batcher != NULL ?
		    batcher_count(r->batcher) : 0);
		status_u64(o, "dictionaries", STATUS_COUNTER, s->dict_frames);
		status_u64(o, "dictionary_id", STATUS_GAUGE, r->batcher != NULL ?
		    batcher_dict_id(r->batcher) : 0);
		status_close(o);
		status_durability(o, r);
	}
	if (o->fmt == STATUS_JSON)
		status_put(&o->b, "}\n");
	else
		status_prom_flush(o);
}

/*
 * While the central link does not relay: how long, on a line of its own
 * that `pushrelay status` reads for its exit code (relay/main.c).
 */
static void
status_text_down(struct status_buf *b, const struct relay *r)
{
	if (!status_link_up(r, LINK_CENTRAL))
		status_put(b, "health   central link down for %" PRId64 " s\n",
		    (clock_mono_ms() - r->down_since_ms[LINK_CENTRAL]) / 1000);
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
	    "share, %" PRIu64 " held for a dictionary (%" PRIu64 " released), %"
	    PRIu64 " dictionaries\n", s->frames_in, s->frames_dup, s->frames_bad,
	    u.frames_too_large, u.frames_over_share, u.frames_held,
	    u.frames_released, u.dictionaries);
	status_put(b, "records  %" PRIu64 " stored, %" PRIu64 " published, %"
	    PRIu64 " refused, %" PRIu64 " queued / %" PRIu64 " B\n",
	    s->records_in, s->forwarded[relay_out_dir(LINK_CENTRAL)],
	    u.records_refused, m, bytes);
	status_put(b, "dropped  full %" PRIu64 ", expired %" PRIu64
	    ", refused %" PRIu64 "\n", s->dropped_full, s->dropped_expired,
	    s->dropped_rejected);
	status_text_down(b, r);
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
	status_text_down(b, r);
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
	status_put(b, "store    journal %s%s\n", queue_journal(r->queue),
	    r->store_unwritable ? ", not writable" : "");
}


size_t
status_render(const struct relay *r, enum status_format fmt, char *out,
    size_t cap)
{
	struct status_sample samples[STATUS_SAMPLES];
	struct status_out o;

	memset(&o, 0, sizeof(o));
	o.b.p = out;
	o.b.cap = cap;
	o.fmt = fmt;
	o.s = samples;
	if (fmt == STATUS_TEXT)
		status_text(&o.b, r);
	else
		status_figures(&o, r);
	return o.b.len;
}
