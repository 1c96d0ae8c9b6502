/* SPDX-License-Identifier: ISC */
/* budget: token buckets for the WAN budget and rate limits; see budget.h. */
#include "relay/budget.h"

/* A bucket holds one second of its rate. */
static int64_t
budget_cap(const struct budget_bucket *b)
{
	return (int64_t)b->rate * 1000;
}

void
budget_bucket_init(struct budget_bucket *b, uint64_t rate, int64_t now_ms)
{
	b->rate = rate;
	b->milli = budget_cap(b);
	b->last_ms = now_ms;
}

void
budget_bucket_refill(struct budget_bucket *b, int64_t now_ms)
{
	int64_t dt = now_ms - b->last_ms;

	if (b->rate == 0 || dt <= 0)
		return;
	b->last_ms = now_ms;
	/* The debt is at most an hour's worth (take): no overflow. */
	if (dt > 3601000)
		dt = 3601000;
	b->milli += (int64_t)b->rate * dt;
	if (b->milli > budget_cap(b))
		b->milli = budget_cap(b);
}

void
budget_bucket_take(struct budget_bucket *b, uint64_t n)
{
	if (b->rate == 0)
		return;
	/* A debt is bounded: an hour of the rate at most. */
	if (n > b->rate * 3600)
		n = b->rate * 3600;
	b->milli -= (int64_t)n * 1000;
}

int64_t
budget_bucket_wait_ms(const struct budget_bucket *b)
{
	if (b->rate == 0 || b->milli > 0)
		return 0;
	return (-b->milli) / (int64_t)b->rate + 1;
}

static int64_t
budget_day(int64_t wall_ms)
{
	return wall_ms / BUDGET_DAY_MS;
}

void
budget_wan_init(struct budget_wan *w, uint64_t rate, uint64_t quota,
    int64_t day, uint64_t used, uint64_t tx, uint64_t rx, int64_t now_ms,
    int64_t wall_ms)
{
	budget_bucket_init(&w->rate, rate, now_ms);
	w->quota = quota;
	w->day = budget_day(wall_ms);
	w->used = day == w->day ? used : 0;
	w->last_tx = tx;
	w->last_rx = rx;
	w->paused = 0;
	w->pauses = 0;
}

int
budget_wan_account(struct budget_wan *w, uint64_t tx, uint64_t rx,
    int64_t now_ms, int64_t wall_ms)
{
	/* Counters that start over (a new TLS context) count from 0. */
	uint64_t dtx = tx >= w->last_tx ? tx - w->last_tx : tx;
	uint64_t drx = rx >= w->last_rx ? rx - w->last_rx : rx;
	int64_t day = budget_day(wall_ms);
	int changed = 0;

	w->last_tx = tx;
	w->last_rx = rx;
	budget_bucket_refill(&w->rate, now_ms);
	budget_bucket_take(&w->rate, dtx);
	if (day != w->day) {
		w->day = day;
		w->used = 0;
		changed = 1;
	}
	if (dtx + drx > 0) {
		w->used += dtx + drx;
		changed = 1;
	}
	return changed;
}

int64_t
budget_wan_wait_ms(struct budget_wan *w, int64_t wall_ms)
{
	int64_t wait = budget_bucket_wait_ms(&w->rate);
	int was = w->paused;

	if (w->quota != 0 && w->used >= w->quota)
		wait = (budget_day(wall_ms) + 1) * BUDGET_DAY_MS - wall_ms;
	w->paused = wait > 0;
	if (w->paused && !was)
		w->pauses++;
	return wait;
}
