/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for the queue's hooks for accounting kept beside it:
 * queue_set_on_forget() for every way a message leaves, queue_scan(),
 * and queue_generation() after a rollback.
 */

#include "tests/unit/queue_test.h"

/* Sums by the first byte of the topic: 'a' and 'b' stand for owners. */
struct tally {
	int64_t bytes[2];
	int calls;
	size_t last_head;
};

static void
tally_cb(void *arg, enum queue_dir dir, const void *head, size_t head_len,
    uint64_t bytes)
{
	struct tally *t = arg;
	const char *h = head;

	assert_int_equal(dir, QUEUE_UP);
	assert_true(head_len >= 1 && head_len <= QUEUE_TOPIC_HEAD);
	assert_true(h[0] == 'a' || h[0] == 'b');
	t->bytes[h[0] - 'a'] += (int64_t)bytes;
	t->last_head = head_len;
	t->calls++;
}

/* Subtracts what leaves. */
static void
forget_cb(void *arg, enum queue_dir dir, const void *head, size_t head_len,
    uint64_t bytes)
{
	struct tally *t = arg;
	const char *h = head;

	(void)dir;
	(void)head_len;
	t->bytes[h[0] - 'a'] -= (int64_t)bytes;
	t->calls++;
}

static void
scan(struct queue *q, struct tally *t)
{
	char err[256];

	memset(t, 0, sizeof(*t));
	assert_int_equal(queue_scan(q, QUEUE_UP, tally_cb, t, err,
	    sizeof(err)), QUEUE_OK);
}

static void
test_forget_every_way(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 60, QUEUE_DROP_OLDEST);
	struct tally t, live = { { 0, 0 }, 0, 0 };
	struct collect c = { 0 };
	int64_t a1, ids[2];
	uint64_t expired;
	char err[256];

	queue_set_on_forget(q, forget_cb, &live);
	a1 = push(q, QUEUE_UP, 0, "a/1", "1234567");	/* 10 bytes */
	push(q, QUEUE_UP, 0, "b/1", "1234567");
	ids[0] = push(q, QUEUE_UP, 0, "a/2", "1234567");
	ids[1] = push(q, QUEUE_UP, 0, "b/2", "1234567");
	assert_int_equal(push_full(q, QUEUE_UP, 0, "a/3", "1234567", 5000,
	    NULL, NULL), QUEUE_OK);
	push(q, QUEUE_UP, 0, "b/3", "1234567");
	commit(q);
	scan(q, &t);
	assert_int_equal(t.bytes[0], 30);
	assert_int_equal(t.bytes[1], 30);
	/* Acknowledged alone, in a run, expired, evicted: each is seen. */
	ack(q, a1);
	assert_int_equal(queue_ack_ids(q, ids, 2, NULL, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(queue_expire(q, 6000, &expired, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(expired, 1);
	assert_int_equal(live.calls, 4);
	assert_int_equal(live.bytes[0], -30);
	assert_int_equal(live.bytes[1], -10);
	push(q, QUEUE_UP, 0, "a/4", "123456789012345678901234567"); /* 30 */
	push(q, QUEUE_UP, 0, "a/5", "123456789012345678901234567");
	/* The 60-byte bound: b/1 and b/3 went for a/5. */
	assert_int_equal(live.bytes[1], -30);
	commit(q);
	scan(q, &t);
	assert_int_equal(t.bytes[0], 60);
	assert_int_equal(t.bytes[1], 0);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 2);
	queue_set_on_forget(q, NULL, NULL);
	ack(q, c.id[0]);
	assert_int_equal(live.calls, 6);	/* unchanged: no hook */
	commit(q);
	queue_free(q);
}

/* The head is cut at QUEUE_TOPIC_HEAD bytes; the size is whole. */
static void
test_long_topic_head(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 1 << 20, QUEUE_DROP_OLDEST);
	char topic[1000];
	struct tally t;

	memset(topic, 'a', sizeof(topic) - 1);
	topic[sizeof(topic) - 1] = '\0';
	push(q, QUEUE_UP, 0, topic, "xy");
	scan(q, &t);
	assert_int_equal(t.last_head, QUEUE_TOPIC_HEAD);
	assert_int_equal(t.bytes[0], 1001);
	queue_free(q);
}

/* A rollback changes the generation: accounting must be rebuilt. */
static void
test_generation(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 1 << 20, QUEUE_DROP_OLDEST);
	uint64_t g = queue_generation(q);
	struct tally t;

	push(q, QUEUE_UP, 0, "a/1", "x");
	commit(q);
	assert_true(queue_generation(q) == g);
	push(q, QUEUE_UP, 0, "b/1", "x");
	scan(q, &t);	/* sees the open transaction */
	assert_int_equal(t.bytes[1], 4);
	queue_rollback(q);
	assert_true(queue_generation(q) != g);
	scan(q, &t);
	assert_int_equal(t.bytes[0], 4);
	assert_int_equal(t.bytes[1], 0);
	queue_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_forget_every_way, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_topic_head, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_generation, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
