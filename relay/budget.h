/* SPDX-License-Identifier: ISC */
/*
 * budget: the relay's rate limits, as token buckets: the WAN byte budget
 * of the central link (option max_wan_rate, bytes/s, and option
 * daily_wan_quota, bytes per UTC day) and the downlink rate per route
 * (option max_rate, msg/s). It counts and decides only; forward.c asks it
 * whether a message may go and holds back the rest in the queue.
 *
 * A bucket holds at most one second of its rate and may go into debt: a
 * message is allowed while the bucket is above zero and its whole size is
 * then taken, so a frame larger than a second's worth still goes, and
 * what follows waits until the debt is paid. Time is the caller's
 * monotonic ms (the loop's now); days are UTC days of the wall clock
 * (wall_ms / 86,400,000), so the quota starts over at 00:00 UTC.
 *
 * The structs are plain values embedded in their owner; nothing is
 * allocated. Thread: main loop only. Nothing blocks.
 */
#ifndef PUSHRELAY_BUDGET_H
#define PUSHRELAY_BUDGET_H

#include <stdint.h>

#define BUDGET_DAY_MS	86400000LL

struct budget_bucket {
	uint64_t rate;		/* units per second; 0: no limit */
	int64_t milli;		/* tokens in 1/1000 units; may be < 0 */
	int64_t last_ms;	/* monotonic time of the last refill */
};

/* budget_bucket_init: rate per second (0: no limit), full at now_ms. */
void budget_bucket_init(struct budget_bucket *b, uint64_t rate,
    int64_t now_ms);

/* budget_bucket_refill: adds what flowed in since the last refill. */
void budget_bucket_refill(struct budget_bucket *b, int64_t now_ms);

/* budget_bucket_take: takes n units, into debt if need be. */
void budget_bucket_take(struct budget_bucket *b, uint64_t n);

/*
 * budget_bucket_wait_ms: 0 when a unit may go now (the bucket is above
 * zero, or there is no limit), else the ms until it will be.
 */
int64_t budget_bucket_wait_ms(const struct budget_bucket *b);

/* The central link's WAN byte budget. */
struct budget_wan {
	struct budget_bucket rate;	/* over bytes written */
	uint64_t quota;		/* bytes per UTC day, both ways; 0: none */
	uint64_t used;		/* bytes of day, both ways */
	int64_t day;		/* UTC day number of used */
	uint64_t last_tx;	/* link counters at the last account */
	uint64_t last_rx;
	int paused;		/* over budget at the last budget_wan_open */
	uint64_t pauses;	/* times it went from open to paused */
};

/*
 * budget_wan_init: rate bytes/s and quota bytes/day (0: none), with used
 * bytes already spent on UTC day (from the store; used is ignored when
 * day is not wall_ms's day). tx and rx: the link's counters now.
 */
void budget_wan_init(struct budget_wan *w, uint64_t rate, uint64_t quota,
    int64_t day, uint64_t used, uint64_t tx, uint64_t rx, int64_t now_ms,
    int64_t wall_ms);

/*
 * budget_wan_account: takes the bytes the counters (tx written, rx read;
 * totals that only grow, or start over from 0) moved since the last
 * call; starts a new day at 00:00 UTC. Returns 1 when used or day
 * changed (the owner stores them), else 0.
 */
int budget_wan_account(struct budget_wan *w, uint64_t tx, uint64_t rx,
    int64_t now_ms, int64_t wall_ms);

/*
 * budget_wan_wait_ms: 0 when traffic that is not priority may go now,
 * else the ms until it may (the rate's debt paid, or the next UTC day
 * when the quota is spent). Updates paused and pauses.
 */
int64_t budget_wan_wait_ms(struct budget_wan *w, int64_t wall_ms);

#endif
