/* SPDX-License-Identifier: ISC */
/*
 * backoff: capped exponential reconnect delays, each with up to a quarter
 * taken off at random (see backoff.h for the formula).
 */
#include "relay/backoff.h"

void
backoff_init(struct backoff *b, int64_t min_ms, int64_t max_ms,
    uint64_t seed)
{
	b->min_ms = min_ms > 0 ? min_ms : 1;
	b->max_ms = max_ms >= b->min_ms ? max_ms : b->min_ms;
	b->base_ms = 0;
	b->rng = seed != 0 ? seed : 0x9E3779B97F4A7C15ull;
}

/* xorshift64* (Vigna, 2016): small, fast and good enough for jitter. */
static uint64_t
backoff_rand(struct backoff *b)
{
	b->rng ^= b->rng >> 12;
	b->rng ^= b->rng << 25;
	b->rng ^= b->rng >> 27;
	return b->rng * 0x2545F4914F6CDD1Dull;
}

int64_t
backoff_next(struct backoff *b)
{
	int64_t d, cut;

	if (b->base_ms == 0)
		b->base_ms = b->min_ms;
	else if (b->base_ms < b->max_ms / 2)
		b->base_ms *= 2;
	else
		b->base_ms = b->max_ms;
	cut = b->base_ms / 4;
	/* Modulo bias over a 64-bit draw is negligible for such spans. */
	d = b->base_ms - (cut > 0 ?
	    (int64_t)(backoff_rand(b) % (uint64_t)(cut + 1)) : 0);
	return d < b->min_ms ? b->min_ms : d;
}

void
backoff_reset(struct backoff *b)
{
	b->base_ms = 0;
}
