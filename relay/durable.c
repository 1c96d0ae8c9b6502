/* SPDX-License-Identifier: ISC */
/*
 * durable: the commit step and what hangs on it (docs/design.md,
 * "Durability"). What one loop pass took in (messages, QoS 2 ids) and let
 * go of (delivered messages) is one SQLite transaction; durable_commit()
 * commits it and only then writes the acknowledgements owed for it.
 *
 * A write that fails anywhere in the pass spoils the whole transaction:
 * SQLite may already have rolled it back by itself. So it is rolled back,
 * nothing of it is acknowledged, the connections that are owed
 * acknowledgements are dropped (their brokers send those messages again
 * on the resumed session), and no connection is made again until a probe
 * write succeeds: while the store is not writable (a full disk, an I/O
 * error) intake pauses, and what is queued keeps flowing on connections
 * that stay up. The probe is retried with a delay doubling from 1 s to
 * 30 s. Failures are logged once a minute with a count.
 */
#include <inttypes.h>
#include <stdlib.h>

#include "platform/clock.h"
#include "platform/log.h"
#include "relay/batcher.h"
#include "relay/relay.h"

#define DURABLE_LOG_EVERY_MS	60000
#define DURABLE_PROBE_MIN_MS	1000
#define DURABLE_PROBE_MAX_MS	30000

void
durable_owe(struct relay *r, enum link_side side, int type, uint16_t id)
{
	struct relay_ids *p = &r->pending[side];
	struct relay_ack *nv;
	size_t ncap;

	if (p->n == 0)
		p->gen = link_gen(r->link[side]);
	if (p->n == p->cap) {
		ncap = p->cap != 0 ? p->cap * 2 : 1024;
		if ((nv = realloc(p->v, ncap * sizeof(*nv))) == NULL) {
			/* Never acknowledged: the broker sends it again. */
			log_err("durable: out of memory for a pending ack");
			return;
		}
		p->v = nv;
		p->cap = ncap;
	}
	p->v[p->n].id = id;
	p->v[p->n].type = (uint8_t)type;
	p->n++;
}

/* The commit succeeded: the acknowledgements of what it holds may go. */
static void
durable_release(struct relay *r)
{
	struct relay_ids *p;
	size_t side, i;

	for (side = 0; side < 2; side++) {
		p = &r->pending[side];
		if (p->n > 0 && p->gen == link_gen(r->link[side]))
			for (i = 0; i < p->n; i++)
				if (link_ack(r->link[side], p->v[i].type,
				    p->v[i].id) == LINK_OK)
					r->st.acks_held_total++;
		p->n = 0;
	}
}

void
durable_delivered(struct relay *r, int64_t id)
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
				durable_failed(r);
			return;
		}
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = id;
}

static int
durable_id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Deletes the delivered messages, in runs of consecutive ids. */
static void
durable_sent_flush(struct relay *r)
{
	struct relay_sent *s = &r->sent;

	if (s->n == 0)
		return;
	qsort(s->v, s->n, sizeof(*s->v), durable_id_cmp);
	if (queue_ack_ids(r->queue, s->v, s->n, NULL, r->err,
	    sizeof(r->err)) != QUEUE_OK)
		durable_failed(r);
	s->n = 0;
}

void
durable_failed(struct relay *r)
{
	uint64_t supp = 0;

	r->tx_failed = 1;
	r->st.store_errors++;
	if (log_ratelimit(&r->rate.queue_err, r->now_ms, DURABLE_LOG_EVERY_MS,
	    &supp))
		log_err("%s; what this pass took in is not acknowledged (its "
		    "brokers send it again) and intake pauses until the store "
		    "takes writes; %" PRIu64 " more failures since the last "
		    "report", r->err, supp);
}

static void
durable_probe_arm(struct relay *r)
{
	int64_t d = r->probe_delay_ms * 2;

	if (d < DURABLE_PROBE_MIN_MS)
		d = DURABLE_PROBE_MIN_MS;
	if (d > DURABLE_PROBE_MAX_MS)
		d = DURABLE_PROBE_MAX_MS;
	r->probe_delay_ms = d;
	relay_timer_arm(r, &r->store_probe, d);
}

/* Undo the pass: nothing of it is acknowledged or believed sent. */
static void
durable_undo(struct relay *r)
{
	int side;

	queue_rollback(r->queue);
	r->tx_failed = 0;
	r->st.commit_failed++;
	r->sent.n = 0;
	r->tx2.n = 0;
	r->oldest_uncommitted_us = 0;
	if (!r->store_unwritable) {
		r->store_unwritable = 1;
		durable_probe_arm(r);
	}
	for (side = 0; side < 2; side++) {
		if (r->pending[side].n == 0 && !r->hold_flush[side])
			continue;
		r->hold_flush[side] = 0;
		forward_link_lost(r, (enum link_side)side);
	}
}

/*
 * Group commit (options commit_max, commit_delay_ms): under load, a pass
 * that owes fewer than commit_max acknowledgements, the oldest younger
 * than commit_delay_ms, leaves the transaction open for the next pass to
 * add to, so that one commit (and its WAL write) serves more messages.
 * "Under load": the last commit carried more than one acknowledgement.
 * A broker waits for an acknowledgement before it sends more (Mosquitto
 * 2.0.11 was seen to), so at a message now and then deferring would only
 * add the delay to every message: at 1,000 msg/s it took the median
 * latency from 0.24 to 1.35 ms.
 */
static int
durable_defer(const struct relay *r)
{
	size_t owed = r->pending[0].n + r->pending[1].n;

	return !r->tx_failed && !r->commit_now && owed > 0 &&
	    r->last_commit_owed > 1 &&
	    owed < (size_t)r->conf->commit_max &&
	    r->state == RELAY_RUNNING && !r->hold_flush[0] &&
	    !r->hold_flush[1] && r->oldest_uncommitted_us != 0 &&
	    clock_mono_us() - r->oldest_uncommitted_us <
	    (int64_t)r->conf->commit_delay_ms * 1000;
}

int64_t
durable_due_ms(const struct relay *r)
{
	if (r->pending[0].n + r->pending[1].n == 0 ||
	    r->oldest_uncommitted_us == 0)
		return -1;
	return (r->oldest_uncommitted_us +
	    (int64_t)r->conf->commit_delay_ms * 1000 + 999) / 1000;
}

void
durable_commit(struct relay *r)
{
	int64_t w;

	if (durable_defer(r))
		return;
	if (!r->dirty && !r->tx_failed) {
		durable_release(r);	/* dropped ones, nothing to commit */
		return;
	}
	durable_sent_flush(r);
	r->dirty = 0;
	r->commit_now = 0;
	if (!r->tx_failed && queue_commit(r->queue, r->err,
	    sizeof(r->err)) != QUEUE_OK)
		durable_failed(r);
	if (r->tx_failed) {
		durable_undo(r);
		return;
	}
	r->last_commit_owed = r->pending[0].n + r->pending[1].n;
	durable_release(r);
	r->hold_flush[0] = r->hold_flush[1] = 0;
	r->st.commits++;
	if (r->oldest_uncommitted_us != 0) {
		/* How long the oldest acknowledgement waited for this. */
		w = clock_mono_us() - r->oldest_uncommitted_us;
		if (w > r->st.window_us_max)
			r->st.window_us_max = w;
		r->st.window_us_sum += (uint64_t)w;
		r->st.window_n++;
		r->oldest_uncommitted_us = 0;
	}
}

void
durable_probe(struct relay *r)
{
	int side;

	if (!r->store_unwritable || r->dirty)
		return;
	if (queue_meta_set(r->queue, "probe", clock_wall_ms(), r->err,
	    sizeof(r->err)) != QUEUE_OK || queue_commit(r->queue, r->err,
	    sizeof(r->err)) != QUEUE_OK) {
		queue_rollback(r->queue);
		r->st.store_errors++;
		durable_probe_arm(r);
		return;
	}
	log_info("store %s: writable again; connecting", r->conf->store);
	r->store_unwritable = 0;
	r->probe_delay_ms = 0;
	for (side = 0; side < 2; side++)
		if (relay_has_link(r, (enum link_side)side) &&
		    link_state(r->link[side]) == LINK_DOWN)
			relay_timer_arm(r, &r->reconnect[side], 0);
}
