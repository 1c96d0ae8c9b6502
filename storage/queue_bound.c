/* SPDX-License-Identifier: ISC */
/* queue_bound: see storage/queue_bound.h. */
#include "storage/queue_bound.h"

/* The bytes direction dir may hold: the bound less the other's reserve. */
static uint64_t
queue_bound_cap(const struct queue_bound *b, enum queue_dir dir)
{
	uint64_t r = b->reserve[dir == QUEUE_UP ? QUEUE_DOWN : QUEUE_UP];

	return r < b->max_bytes ? b->max_bytes - r : 0;
}

int
queue_bound_over(const struct queue_bound *b, const uint64_t used[2],
    enum queue_dir dir, uint64_t size)
{
	uint64_t total = used[QUEUE_UP] + used[QUEUE_DOWN];

	return total + size > b->max_bytes ||
	    used[dir] + size > queue_bound_cap(b, dir);
}

int
queue_bound_room(const struct queue_bound *b, const uint64_t used[2],
    enum queue_dir dir, uint64_t size)
{
	uint64_t total = used[QUEUE_UP] + used[QUEUE_DOWN];

	if (size > queue_bound_cap(b, dir))
		return QUEUE_ERR_FULL;
	if (!queue_bound_over(b, used, dir, size))
		return QUEUE_OK;
	if (b->policy == QUEUE_DROP_NEWEST)
		return QUEUE_ERR_FULL;
	if (total - used[dir] + size > b->max_bytes)
		return QUEUE_ERR_FULL;
	return QUEUE_OK;
}
