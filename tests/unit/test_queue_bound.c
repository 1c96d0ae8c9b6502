/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for storage/queue's bound and expiry: both store_full
 * policies with exact eviction and refusal counts, eviction across
 * priorities and of in-flight messages, queue_set_limits(), and TTL expiry
 * through queue_fetch() and queue_expire().
 */

#include "tests/unit/queue_test.h"

/* Ten 10-byte messages fill a 100-byte queue exactly. */
static struct queue *
fill_ten(const char *path, enum queue_policy pol, enum queue_dir dir)
{
	struct queue *q = open_q(path, 100, pol);
	int i;

	for (i = 0; i < 10; i++)
		push(q, dir, 0, "t", "123456789");
	check_stats(q, dir, 10, 100);
	return q;
}

static void
test_bound_drop_oldest(void **state)
{
	struct fixture *f = *state;
	struct queue *q = fill_ten(f->path, QUEUE_DROP_OLDEST, QUEUE_UP);
	struct collect c = { 0 };
	int64_t first = queue_next_id(q) - 10;
	uint64_t ev = 99;
	int64_t id;

	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "123456789", 0, &id,
	    &ev), QUEUE_OK);
	assert_int_equal(ev, 1);
	check_stats(q, QUEUE_UP, 10, 100);
	/* 35 bytes need 35 free: four 10-byte messages go. */
	assert_int_equal(push_full(q, QUEUE_UP, 0, "big", "12345678901234567"
	    "890123456789012", 0, &id, &ev), QUEUE_OK);
	assert_int_equal(ev, 4);
	check_stats(q, QUEUE_UP, 7, 95);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 100, &c, NULL), 7);
	/* The oldest five went; the next six and the big one stay. */
	assert_int_equal(c.id[0], first + 5);
	assert_int_equal(c.id[6], id);
	commit(q);
	queue_free(q);
	q = open_q(f->path, 100, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 7, 95);
	queue_free(q);
}

/* Eviction takes the oldest of the direction across all priorities. */
static void
test_evict_oldest_across_priorities(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 30, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	uint64_t ev;

	push(q, QUEUE_UP, 5, "a", "123456789");
	push(q, QUEUE_UP, 0, "b", "123456789");
	push(q, QUEUE_UP, 9, "c", "123456789");
	assert_int_equal(push_full(q, QUEUE_UP, 0, "d", "123456789", 0, NULL,
	    &ev), QUEUE_OK);
	assert_int_equal(ev, 1);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 3);
	assert_string_equal(c.topic[0], "c");
	assert_string_equal(c.topic[1], "b");
	assert_string_equal(c.topic[2], "d");
	queue_free(q);
}

/* Other direction's bytes count toward the bound but are never evicted. */
static void
test_bound_other_direction(void **state)
{
	struct fixture *f = *state;
	struct queue *q = fill_ten(f->path, QUEUE_DROP_OLDEST, QUEUE_DOWN);
	int64_t first = queue_next_id(q) - 10;
	uint64_t ev = 99;
	int i;

	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "123456789", 0, NULL,
	    &ev), QUEUE_ERR_FULL);
	assert_int_equal(ev, 0);
	check_stats(q, QUEUE_DOWN, 10, 100);
	for (i = 0; i < 4; i++)
		ack(q, first + i);
	for (i = 0; i < 4; i++)
		push(q, QUEUE_UP, 0, "t", "123456789");
	/* 60 down + 40 up: 50 more up bytes cannot fit by evicting up. */
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "1234567890123456789"
	    "012345678901234567890123456789", 0, NULL, &ev), QUEUE_ERR_FULL);
	assert_int_equal(ev, 0);
	check_stats(q, QUEUE_UP, 4, 40);
	check_stats(q, QUEUE_DOWN, 6, 60);
	/* 30 more up bytes can: three up messages go. */
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "1234567890123456789"
	    "0123456789", 0, NULL, &ev), QUEUE_OK);
	assert_int_equal(ev, 3);
	check_stats(q, QUEUE_UP, 2, 40);
	check_stats(q, QUEUE_DOWN, 6, 60);
	queue_free(q);
}

static void
test_bound_drop_newest(void **state)
{
	struct fixture *f = *state;
	struct queue *q = fill_ten(f->path, QUEUE_DROP_NEWEST, QUEUE_UP);
	struct collect c = { 0 };
	int64_t first = queue_next_id(q) - 10;
	uint64_t ev = 99;
	int i, refused = 0;

	for (i = 0; i < 5; i++)
		if (push_full(q, QUEUE_UP, 0, "n", "123456789", 0, NULL,
		    &ev) == QUEUE_ERR_FULL)
			refused++;
	assert_int_equal(refused, 5);
	assert_int_equal(ev, 0);
	check_stats(q, QUEUE_UP, 10, 100);
	ack(q, first);
	assert_int_equal(push_full(q, QUEUE_UP, 0, "n", "123456789", 0, NULL,
	    &ev), QUEUE_OK);
	assert_int_equal(push_full(q, QUEUE_UP, 0, "n", "", 0, NULL, &ev),
	    QUEUE_ERR_FULL);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 100, &c, NULL), 10);
	assert_int_equal(c.id[0], first + 1);
	assert_string_equal(c.topic[9], "n");
	queue_free(q);
}

/*
 * A reserve for the downlink: the uplink may use the bound less it, and
 * a full uplink never refuses a downlink message that fits in it.
 */
static void
test_downlink_reserve(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100, QUEUE_DROP_OLDEST);
	uint64_t ev = 0;
	int i;

	queue_set_reserve(q, QUEUE_DOWN, 20);
	for (i = 0; i < 10; i++)	/* 10 bytes each: 8 fit in 80 */
		push(q, QUEUE_UP, 0, "t", "123456789");
	check_stats(q, QUEUE_UP, 8, 80);
	assert_int_equal(push_full(q, QUEUE_DOWN, 0, "c", "123456789", 0,
	    NULL, &ev), QUEUE_OK);
	assert_int_equal(ev, 0);
	assert_int_equal(push_full(q, QUEUE_DOWN, 0, "c", "123456789", 0,
	    NULL, &ev), QUEUE_OK);
	check_stats(q, QUEUE_DOWN, 2, 20);
	/* The uplink never takes the reserve, even with room in it. */
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "123456789", 0,
	    NULL, &ev), QUEUE_OK);
	assert_int_equal(ev, 1);
	check_stats(q, QUEUE_UP, 8, 80);
	queue_free(q);
}

static void
test_message_larger_than_bound(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 10, QUEUE_DROP_OLDEST);
	uint64_t ev = 99;

	push(q, QUEUE_UP, 0, "t", "1234");
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "1234567890", 0,
	    NULL, &ev), QUEUE_ERR_FULL);
	assert_int_equal(ev, 0);
	check_stats(q, QUEUE_UP, 1, 5);
	queue_set_limits(q, 10, QUEUE_DROP_NEWEST);
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "1234567890", 0,
	    NULL, &ev), QUEUE_ERR_FULL);
	/* Exactly the bound fits once the queue is empty. */
	queue_set_limits(q, 10, QUEUE_DROP_OLDEST);
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "123456789", 0,
	    NULL, &ev), QUEUE_OK);
	assert_int_equal(ev, 1);
	check_stats(q, QUEUE_UP, 1, 10);
	queue_free(q);
}

static void
test_evict_inflight(void **state)
{
	struct fixture *f = *state;
	struct queue *q = fill_ten(f->path, QUEUE_DROP_OLDEST, QUEUE_UP);
	struct collect c = { 0 };
	uint64_t ev;

	assert_int_equal(fetch(q, QUEUE_UP, 0, 3, &c, NULL), 3);
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "12345678901234", 0,
	    NULL, &ev), QUEUE_OK);
	assert_int_equal(ev, 2);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 1);
	ack(q, c.id[0]);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 1);
	ack(q, c.id[2]);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 0);
	check_stats(q, QUEUE_UP, 8, 85);
	queue_free(q);
}

static void
test_ttl_fetch(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	uint64_t exp = 99;

	push_full(q, QUEUE_UP, 0, "a", "1", 1000, NULL, NULL);
	push_full(q, QUEUE_UP, 0, "b", "1", 0, NULL, NULL);
	push_full(q, QUEUE_UP, 0, "c", "1", 2000, NULL, NULL);
	push_full(q, QUEUE_UP, 0, "d", "1", 2001, NULL, NULL);
	assert_int_equal(fetch(q, QUEUE_UP, 500, 0, &c, &exp), 0);
	assert_int_equal(exp, 0);
	/* The deadline itself counts as expired. */
	assert_int_equal(fetch(q, QUEUE_UP, 2000, 10, &c, &exp), 2);
	assert_int_equal(exp, 2);
	assert_string_equal(c.topic[0], "b");
	assert_string_equal(c.topic[1], "d");
	check_stats(q, QUEUE_UP, 2, 4);
	commit(q);
	queue_free(q);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 2, 4);
	queue_free(q);
}

/* A long run of expired messages is deleted in batches within one fetch. */
static void
test_ttl_fetch_many(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 1000000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	int64_t first = queue_next_id(q);
	uint64_t exp;
	int i;

	for (i = 0; i < 200; i++)
		push_full(q, QUEUE_UP, 0, "old", "1", 10, NULL, NULL);
	for (i = 0; i < 10; i++)
		push(q, QUEUE_UP, 0, "new", "1");
	assert_int_equal(fetch(q, QUEUE_UP, 50, 5, &c, &exp), 5);
	assert_int_equal(exp, 200);
	assert_int_equal(c.id[0], first + 200);
	check_stats(q, QUEUE_UP, 10, 40);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 5);
	queue_free(q);
}

static void
test_ttl_expire(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 1000000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	char err[256];
	uint64_t exp = 99;
	int i;

	assert_int_equal(queue_expire(q, 100, &exp, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(exp, 0);
	for (i = 0; i < 600; i++)
		push_full(q, i % 2, 0, "t", "1", 10 + i % 3, NULL, NULL);
	push_full(q, QUEUE_UP, 0, "t", "1", 0, NULL, NULL);
	push_full(q, QUEUE_UP, 0, "t", "1", 100, NULL, NULL);
	commit(q);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 4, &c, NULL), 4);
	assert_int_equal(queue_expire(q, 11, &exp, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(exp, 400);
	/* In flight were i = 0, 2, 4, 6: deadlines 10, 12, 11, 10. */
	assert_int_equal(queue_inflight(q, QUEUE_UP), 1);
	assert_int_equal(queue_expire(q, 99, &exp, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(exp, 200);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 0);
	check_stats(q, QUEUE_UP, 2, 4);
	check_stats(q, QUEUE_DOWN, 0, 0);
	commit(q);
	queue_free(q);
	q = open_q(f->path, 1000000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 2, 4);
	assert_int_equal(queue_expire(q, 100, &exp, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(exp, 1);
	check_stats(q, QUEUE_UP, 1, 2);
	queue_free(q);
}

static void
test_set_limits(void **state)
{
	struct fixture *f = *state;
	struct queue *q = fill_ten(f->path, QUEUE_DROP_OLDEST, QUEUE_UP);
	uint64_t ev;

	queue_set_limits(q, 50, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 10, 100);
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "123456789", 0, NULL,
	    &ev), QUEUE_OK);
	assert_int_equal(ev, 6);
	check_stats(q, QUEUE_UP, 5, 50);
	queue_set_limits(q, 50, QUEUE_DROP_NEWEST);
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "1", 0, NULL, &ev),
	    QUEUE_ERR_FULL);
	queue_set_limits(q, 0, QUEUE_DROP_OLDEST);	/* ignored */
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "1", 0, NULL, &ev),
	    QUEUE_ERR_FULL);
	queue_set_limits(q, 1000, QUEUE_DROP_NEWEST);
	assert_int_equal(push_full(q, QUEUE_UP, 0, "t", "1", 0, NULL, &ev),
	    QUEUE_OK);
	check_stats(q, QUEUE_UP, 6, 52);
	queue_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_bound_drop_oldest),
		T(test_evict_oldest_across_priorities),
		T(test_bound_other_direction),
		T(test_bound_drop_newest),
		T(test_downlink_reserve),
		T(test_message_larger_than_bound),
		T(test_evict_inflight),
		T(test_ttl_fetch),
		T(test_ttl_fetch_many),
		T(test_ttl_expire),
		T(test_set_limits),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
