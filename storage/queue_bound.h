/* SPDX-License-Identifier: ISC */
/*
 * queue_bound: the byte bound of the queue's two directions (see
 * storage/queue.h, "bounded"): whether a message fits, and whether it fits
 * only after evictions of its own direction. Pure arithmetic on the
 * counters the queue keeps; no SQLite, no allocation, any thread.
 *
 * Bytes are topic + payload. The whole queue holds at most max_bytes; a
 * direction holds at most max_bytes less the other direction's reserve, so
 * that one full direction never refuses the other.
 */
#ifndef PUSHRELAY_QUEUE_BOUND_H
#define PUSHRELAY_QUEUE_BOUND_H

#include <stdint.h>

#include "storage/queue.h"

struct queue_bound {
	uint64_t max_bytes;	/* > 0 */
	uint64_t reserve[2];	/* by enum queue_dir; 0: none */
	enum queue_policy policy;
};

/*
 * queue_bound_over: whether direction dir, holding used[dir] of the
 * used[QUEUE_UP] + used[QUEUE_DOWN] bytes stored, goes over a bound with
 * size more bytes. b and used are borrowed; neither may be NULL.
 * @return 1 over a bound, 0 within both.
 */
int queue_bound_over(const struct queue_bound *b, const uint64_t used[2],
    enum queue_dir dir, uint64_t size);

/*
 * queue_bound_room: whether a message of size bytes can be stored in
 * direction dir, possibly after evicting that direction's oldest messages
 * (only under QUEUE_DROP_OLDEST). Evicting never helps a message larger
 * than the direction's share, nor a direction whose own bytes are too few
 * to make room. b and used are borrowed; neither may be NULL.
 * @return QUEUE_OK when it fits (queue_bound_over then says whether
 * evictions must come first), QUEUE_ERR_FULL when it cannot.
 */
int queue_bound_room(const struct queue_bound *b, const uint64_t used[2],
    enum queue_dir dir, uint64_t size);

#endif
