/* SPDX-License-Identifier: ISC */
/*
 * flow: the relay's flow control (issue #14): the WAN byte budget of the
 * central link and the downlink rate per route, over relay/budget.h.
 *
 * WAN budget. Every pump first accounts the bytes the central link moved
 * (TLS records when TLS is on, else TCP bytes: what status shows as wan):
 * bytes written fill the max_wan_rate bucket's debt, bytes both ways the
 * day's use of daily_wan_quota. The day's use is stored in the queue's
 * meta table ("wan/day", "wan/used"), at most once a second and in the
 * pass's transaction, so a restart does not reset it. While the budget is
 * spent, forward.c sends only priority traffic (routes with priority > 0,
 * and frames already closed); the rest waits in the queue, never dropped
 * for the budget. The flow_wait timer wakes the loop when it opens.
 *
 * Downlink rate. A downlink route with max_rate gets a bucket of max_rate
 * msg/s (one second of burst); a message over it stays queued and the
 * fetch stops there, so later downlink messages wait behind it in order.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdlib.h>

#include "platform/clock.h"
#include "platform/log.h"
#include "relay/relay.h"

#define FLOW_SAVE_EVERY_MS	1000

/* The central link's WAN counters now: what status calls wan. */
static void
flow_counters(const struct relay *r, uint64_t *tx, uint64_t *rx)
{
	const struct link_stats *k = link_stats(r->link[LINK_CENTRAL]);
	struct tls_stats ts;

	if (r->tls != NULL) {
		tls_stats(r->tls, &ts);
		*tx = ts.tx_bytes;
		*rx = ts.rx_bytes;
	} else {
		*tx = k->tx_bytes;
		*rx = k->rx_bytes;
	}
}

/* The day's use as stored, or 0 and day -1. */
static void
flow_load(struct relay *r, int64_t *day, int64_t *used)
{
	*day = -1;
	*used = 0;
	if (queue_meta_get(r->queue, "wan/day", day, r->err,
	    sizeof(r->err)) != 1 || queue_meta_get(r->queue, "wan/used", used,
	    r->err, sizeof(r->err)) != 1 || *used < 0) {
		*day = -1;
		*used = 0;
	}
}

static void
flow_setup(struct relay *r, int64_t wall_ms)
{
	uint64_t tx, rx;
	int64_t day, used;

	flow_counters(r, &tx, &rx);
	if (!r->wan_loaded) {
		flow_load(r, &day, &used);
		budget_wan_init(&r->wan, r->conf->max_wan_rate,
		    r->conf->daily_wan_quota, day, (uint64_t)used, tx, rx,
		    r->now_ms, wall_ms);
		r->wan_loaded = 1;
		if (r->wan.used > 0)
			log_info("wan: %" PRIu64 " bytes used today already "
			    "(stored)", r->wan.used);
		return;
	}
	/* A reload: new limits, the day's use kept. */
	if (r->wan.rate.rate != r->conf->max_wan_rate)
		budget_bucket_init(&r->wan.rate, r->conf->max_wan_rate,
		    r->now_ms);
	r->wan.quota = r->conf->daily_wan_quota;
}

static void
flow_save(struct relay *r)
{
	if (queue_meta_set(r->queue, "wan/day", r->wan.day, r->err,
	    sizeof(r->err)) != QUEUE_OK || queue_meta_set(r->queue,
	    "wan/used", (int64_t)r->wan.used, r->err, sizeof(r->err)) !=
	    QUEUE_OK) {
		durable_failed(r);
		return;
	}
	r->dirty = 1;
	r->wan_saved_ms = r->now_ms;
}

int64_t
flow_central_left(const struct relay *r)
{
	const struct budget_wan *w = &r->wan;
	int64_t left = INT64_MAX, q;

	if (w->rate.rate != 0)
		left = w->rate.milli / 1000;
	if (w->quota != 0) {
		q = w->used >= w->quota ? 0 : (int64_t)(w->quota - w->used);
		if (q < left)
			left = q;
	}
	return left;
}

int
flow_central_open(struct relay *r)
{
	int64_t wall = clock_wall_ms(), wait;
	uint64_t tx, rx;
	int was;

	if (!r->wan_loaded || r->wan.rate.rate != r->conf->max_wan_rate ||
	    r->wan.quota != r->conf->daily_wan_quota)
		flow_setup(r, wall);
	flow_counters(r, &tx, &rx);
	if (budget_wan_account(&r->wan, tx, rx, r->now_ms, wall) &&
	    r->wan.quota != 0 && !r->store_unwritable &&
	    (r->now_ms - r->wan_saved_ms >= FLOW_SAVE_EVERY_MS ||
	    r->wan.used >= r->wan.quota))
		flow_save(r);
	was = r->wan.paused;
	if ((wait = budget_wan_wait_ms(&r->wan, wall)) == 0)
		return 1;
	if (!was)
		log_info("wan: budget spent (%s); only priority routes send "
		    "until it opens in %" PRId64 " ms", r->wan.quota != 0 &&
		    r->wan.used >= r->wan.quota ? "daily_wan_quota" :
		    "max_wan_rate", wait);
	relay_timer_arm(r, &r->flow_wait, wait);
	return 0;
}

/* The buckets of the downlink routes, rebuilt when the conf changed. */
static int
flow_down_setup(struct relay *r)
{
	struct budget_bucket *b;
	size_t i, n = r->conf->n_downlink;

	if (r->down_rate_conf == r->conf)
		return 0;
	if ((b = calloc(n + 1, sizeof(*b))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		budget_bucket_init(&b[i], r->conf->downlink[i].max_rate,
		    r->now_ms);
	free(r->down_rate);
	r->down_rate = b;
	r->n_down_rate = n;
	r->down_rate_conf = r->conf;
	return 0;
}

int
flow_down_take(struct relay *r, const struct queue_msg *m)
{
	struct budget_bucket *b;
	int64_t wait;
	size_t i;

	if (flow_down_setup(r) != 0 || route_of_dest(r->routes, ROUTE_DOWN,
	    m->topic, &i) == NULL || i >= r->n_down_rate)
		return 1;
	b = &r->down_rate[i];
	if (b->rate == 0)
		return 1;
	budget_bucket_refill(b, r->now_ms);
	if ((wait = budget_bucket_wait_ms(b)) > 0) {
		r->down_held++;
		relay_timer_arm(r, &r->flow_wait, wait);
		return 0;
	}
	budget_bucket_take(b, 1);
	return 1;
}

void
flow_free(struct relay *r)
{
	free(r->down_rate);
	r->down_rate = NULL;
	r->n_down_rate = 0;
	r->down_rate_conf = NULL;
}
