/* SPDX-License-Identifier: ISC */
/*
 * backoff: reconnect delays that double from min up to max, each with up
 * to a quarter taken off at random ("jitter": a fleet of gateways that lost
 * the same central broker must not reconnect in step), never below min:
 * delay = max(min, base - uniform(0, base / 4)), base = min(max, min * 2^k).
 * This is neither "full jitter" (uniform(0, base)) nor "decorrelated
 * jitter" (each delay drawn from the previous one): a delay stays within
 * [base - base / 4, base], and the first one (base = min) is exactly min.
 *
 * A struct backoff is embedded in its owner and carries its own random
 * state (xorshift64*), seeded by the owner. Thread: owner's only.
 */
#ifndef PUSHRELAY_BACKOFF_H
#define PUSHRELAY_BACKOFF_H

#include <stdint.h>

struct backoff {
	int64_t min_ms;
	int64_t max_ms;
	int64_t base_ms;	/* 0 after a reset */
	uint64_t rng;		/* never 0 */
};

/* backoff_init: set the bounds (ms, 0 < min <= max) and the seed. */
void backoff_init(struct backoff *b, int64_t min_ms, int64_t max_ms,
    uint64_t seed);

/* backoff_next: the delay before the next attempt, in ms. */
int64_t backoff_next(struct backoff *b);

/* backoff_reset: after a success, the next delay starts from min again. */
void backoff_reset(struct backoff *b);

#endif
