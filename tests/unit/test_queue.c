/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for storage/queue at run time: order within and across
 * priorities, in-flight bookkeeping, acknowledgements, persistence across
 * reopen and crashes, and exact counters. Bounds and expiry are in
 * test_queue_bound.c, the file's life cycle in test_queue_file.c.
 */
#include <sys/wait.h>

#include "tests/unit/queue_test.h"

static void
test_invalid_args(void **state)
{
	struct fixture *f = *state;
	struct queue_conf qc = { f->path, 0, QUEUE_DROP_OLDEST,
	    QUEUE_SYNC_NORMAL };
	struct queue *q = NULL;
	struct queue_msg m = { 0 };
	char err[256];

	assert_int_equal(queue_open(&q, &qc, NULL, err, sizeof(err)),
	    QUEUE_ERR_INVAL);
	assert_int_equal(queue_open(&q, NULL, NULL, NULL, 0), QUEUE_ERR_INVAL);
	q = open_q(f->path, 1000, QUEUE_DROP_OLDEST);
	assert_int_equal(queue_push(q, &m, NULL, NULL, 0), QUEUE_ERR_INVAL);
	m.topic = "t";
	m.qos = 3;
	assert_int_equal(queue_push(q, &m, NULL, NULL, 0), QUEUE_ERR_INVAL);
	m.qos = 0;
	m.payload_len = 4;
	assert_int_equal(queue_push(q, &m, NULL, NULL, 0), QUEUE_ERR_INVAL);
	m.payload_len = 0;
	m.expire_ms = -1;
	assert_int_equal(queue_push(q, &m, NULL, NULL, 0), QUEUE_ERR_INVAL);
	m.expire_ms = 0;
	m.dir = 7;
	assert_int_equal(queue_push(q, &m, NULL, NULL, 0), QUEUE_ERR_INVAL);
	assert_int_equal(queue_fetch(q, QUEUE_UP, 0, 5, NULL, NULL, NULL,
	    NULL, 0), QUEUE_ERR_INVAL);
	check_stats(q, QUEUE_UP, 0, 0);
	assert_string_equal(queue_strerror(QUEUE_OK), "success");
	assert_string_equal(queue_strerror(QUEUE_ERR_FULL), "queue full");
	assert_string_equal(queue_strerror(QUEUE_ERR_INVAL),
	    "invalid argument");
	assert_string_equal(queue_strerror(-99), "unknown queue error");
	assert_string_equal(queue_strerror(1), "unknown queue error");
	queue_free(q);
}

static void
test_order_within_priority(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	int64_t id[5];
	char t[16];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(t, sizeof(t), "t%d", i);
		id[i] = push(q, QUEUE_UP, 0, t, "p");
		if (i > 0)
			assert_true(id[i] > id[i - 1]);
	}
	commit(q);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 100, &c, NULL), 5);
	for (i = 0; i < 5; i++) {
		assert_int_equal(c.id[i], id[i]);
		snprintf(t, sizeof(t), "t%d", i);
		assert_string_equal(c.topic[i], t);
	}
	queue_free(q);
}

static void
test_order_across_priorities(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	static const char *want[] = { "c", "e", "a", "b", "d" };
	int i;

	push(q, QUEUE_UP, 0, "a", "1");
	push(q, QUEUE_UP, 0, "b", "1");
	push(q, QUEUE_UP, 5, "c", "1");
	push(q, QUEUE_UP, -1, "d", "1");
	push(q, QUEUE_UP, 5, "e", "1");
	assert_int_equal(fetch(q, QUEUE_UP, 0, 100, &c, NULL), 5);
	for (i = 0; i < 5; i++)
		assert_string_equal(c.topic[i], want[i]);
	queue_free(q);
}

static void
test_high_priority_after_partial_fetch(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };

	push(q, QUEUE_UP, 0, "a", "1");
	push(q, QUEUE_UP, 0, "b", "1");
	push(q, QUEUE_UP, 0, "c", "1");
	assert_int_equal(fetch(q, QUEUE_UP, 0, 1, &c, NULL), 1);
	assert_string_equal(c.topic[0], "a");
	push(q, QUEUE_UP, 9, "x", "1");
	push(q, QUEUE_UP, 3, "y", "1");
	assert_int_equal(fetch(q, QUEUE_UP, 0, 100, &c, NULL), 4);
	assert_string_equal(c.topic[1], "x");
	assert_string_equal(c.topic[2], "y");
	assert_string_equal(c.topic[3], "b");
	assert_string_equal(c.topic[4], "c");
	assert_int_equal(queue_inflight(q, QUEUE_UP), 5);
	queue_free(q);
}

static void
test_fetch_skips_inflight(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	int64_t id[4];
	int i;

	for (i = 0; i < 4; i++)
		id[i] = push(q, QUEUE_UP, 0, "t", "p");
	assert_int_equal(fetch(q, QUEUE_UP, 0, 2, &c, NULL), 2);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 2);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 2);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 0);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 0, &c, NULL), 0);
	assert_int_equal(c.n, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(c.id[i], id[i]);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 4);
	/* A new message is found after the in-flight ones. */
	id[0] = push(q, QUEUE_UP, 0, "t", "p");
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 1);
	assert_int_equal(c.id[4], id[0]);
	queue_free(q);
}

static void
test_directions_independent(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect up = { 0 }, down = { 0 };

	push(q, QUEUE_UP, 0, "u1", "p");
	push(q, QUEUE_DOWN, 0, "d1", "p");
	push(q, QUEUE_UP, 0, "u2", "p");
	assert_int_equal(fetch(q, QUEUE_DOWN, 0, 10, &down, NULL), 1);
	assert_string_equal(down.topic[0], "d1");
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &up, NULL), 2);
	assert_string_equal(up.topic[0], "u1");
	assert_string_equal(up.topic[1], "u2");
	queue_release_all(q, QUEUE_DOWN);
	assert_int_equal(queue_inflight(q, QUEUE_DOWN), 0);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 2);
	queue_free(q);
}

static void
test_release_all_resends(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 }, again = { 0 };
	int64_t id[4];
	int i;

	for (i = 0; i < 4; i++)
		id[i] = push(q, QUEUE_UP, i % 2, "t", "p");
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 4);
	ack(q, id[1]);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 3);
	queue_release_all(q, QUEUE_UP);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 0);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &again, NULL), 3);
	assert_int_equal(again.id[0], id[3]);
	assert_int_equal(again.id[1], id[0]);
	assert_int_equal(again.id[2], id[2]);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 3);
	queue_free(q);
}

static void
test_ack_deletes(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	int64_t a, b;

	a = push(q, QUEUE_UP, 0, "ab", "1234");
	b = push(q, QUEUE_UP, 0, "cd", "12");
	check_stats(q, QUEUE_UP, 2, 10);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 1, &c, NULL), 1);
	ack(q, a);
	check_stats(q, QUEUE_UP, 1, 4);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 0);
	ack(q, a);
	ack(q, 999999);
	/* Acking a message that was never handed out is allowed too. */
	ack(q, b);
	check_stats(q, QUEUE_UP, 0, 0);
	queue_release_all(q, QUEUE_UP);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 0);
	commit(q);
	queue_free(q);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 0, 0);
	queue_free(q);
}

static void
test_callback_refusal(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	int64_t id[4];
	int i;

	for (i = 0; i < 4; i++)
		id[i] = push(q, QUEUE_UP, 0, "t", "p");
	c.refuse_at = 3;
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 2);
	assert_int_equal(queue_inflight(q, QUEUE_UP), 2);
	c.refuse_at = 0;
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 2);
	assert_int_equal(c.id[2], id[2]);
	assert_int_equal(c.id[3], id[3]);
	queue_free(q);
}

static void
test_callback_cannot_modify(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };

	push(q, QUEUE_UP, 0, "t", "p");
	c.q = q;
	c.push_rc = 1;
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 1);
	assert_int_equal(c.push_rc, QUEUE_ERR_INVAL);
	check_stats(q, QUEUE_UP, 1, 2);
	queue_free(q);
}

/* Every field survives close and reopen. */
static void
test_persistence(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct queue_msg m = { 0 };
	struct collect c = { 0 };
	char err[256];
	static const unsigned char props[] = { 0x01, 0x00, 0x02 };

	m.dir = QUEUE_DOWN;
	m.priority = 0;
	m.topic = "cmd/reboot";
	m.props = props;
	m.props_len = sizeof(props);
	m.qos = 2;
	m.retain = 1;
	m.ts_ms = 1234567;
	m.expire_ms = 99999999;
	assert_int_equal(queue_push(q, &m, NULL, err, sizeof(err)), QUEUE_OK);
	push(q, QUEUE_UP, 0, "up", "payload");
	commit(q);
	queue_free(q);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_DOWN, 1, 10);
	check_stats(q, QUEUE_UP, 1, 9);
	assert_int_equal(fetch(q, QUEUE_DOWN, 0, 10, &c, NULL), 1);
	assert_int_equal(c.id[0], m.id);
	assert_string_equal(c.topic[0], "cmd/reboot");
	queue_free(q);
}

static int
check_fields_cb(void *arg, const struct queue_msg *m)
{
	(void)arg;
	assert_int_equal(m->dir, QUEUE_DOWN);
	assert_int_equal(m->qos, 2);
	assert_int_equal(m->retain, 1);
	assert_int_equal(m->ts_ms, 1234567);
	assert_int_equal(m->expire_ms, 99999999);
	assert_int_equal(m->payload_len, 0);
	assert_int_equal(m->props_len, 3);
	assert_memory_equal(m->props, "\x01\x00\x02", 3);
	assert_string_equal(m->topic, "cmd/reboot");
	return 0;
}

static void
test_fields_roundtrip(void **state)
{
	struct fixture *f = *state;
	struct queue *q;
	char err[256];

	test_persistence(state);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	assert_int_equal(queue_fetch(q, QUEUE_DOWN, 0, 10, check_fields_cb,
	    NULL, NULL, err, sizeof(err)), 1);
	queue_free(q);
}

/* queue_free() commits what is pending. */
static void
test_free_commits(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);

	push(q, QUEUE_UP, 0, "t", "p");
	queue_free(q);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 1, 2);
	queue_free(q);
}

/* A process that dies before queue_commit() loses only the open batch. */
static void
test_uncommitted_lost_on_crash(void **state)
{
	struct fixture *f = *state;
	struct collect c = { 0 };
	struct queue *q;
	pid_t pid;
	int status;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct queue_conf qc = { f->path, 100000, QUEUE_DROP_OLDEST,
		    QUEUE_SYNC_FULL };
		int i, ok = 1;

		ok &= queue_open(&q, &qc, NULL, NULL, 0) == QUEUE_OK;
		for (i = 0; ok && i < 3; i++)
			ok &= push_full(q, QUEUE_UP, 0, "kept", "p", 0, NULL,
			    NULL) == QUEUE_OK;
		ok &= ok && queue_commit(q, NULL, 0) == QUEUE_OK;
		for (i = 0; ok && i < 2; i++)
			ok &= push_full(q, QUEUE_UP, 0, "lost", "p", 0, NULL,
			    NULL) == QUEUE_OK;
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 3, 15);
	assert_int_equal(fetch(q, QUEUE_UP, 0, 10, &c, NULL), 3);
	assert_string_equal(c.topic[2], "kept");
	queue_free(q);
}

static void
test_ids_grow_across_reopen(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	int64_t first = queue_next_id(q), last = 0, id;
	int i;

	/* A new file's ids start high, at a random point (queue_file.c). */
	assert_true(first > (INT64_C(1) << 40));
	assert_true(first <= (INT64_C(1) << 62));
	for (i = 0; i < 3; i++)
		last = push(q, QUEUE_DOWN, 0, "t", "p");
	assert_int_equal(last, first + 2);
	for (id = first; id <= last; id++)
		ack(q, id);
	commit(q);
	check_stats(q, QUEUE_DOWN, 0, 0);
	queue_free(q);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	id = push(q, QUEUE_DOWN, 0, "t", "p");
	assert_true(id > last);
	queue_free(q);
}

/*
 * A batch frame's members by their ids, in runs: exactly those go, even
 * when other messages hold the ids between two runs.
 */
static void
test_ack_ids(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	int64_t id[8], members[6];
	char err[256];
	uint64_t n = 0;
	int i;

	for (i = 0; i < 8; i++)	/* id[3] and id[6] are not members */
		id[i] = push(q, i == 3 ? QUEUE_DOWN : QUEUE_UP, i == 6 ? 0 :
		    -1000, "t", "1234");
	members[0] = id[0];
	members[1] = id[1];
	members[2] = id[2];
	members[3] = id[4];
	members[4] = id[5];
	members[5] = id[7];
	assert_int_equal(queue_ack_ids(q, members, 6, &n, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(n, 6);
	check_stats(q, QUEUE_UP, 1, 5);
	check_stats(q, QUEUE_DOWN, 1, 5);
	/* Gone already: skipped, not an error. */
	assert_int_equal(queue_ack_ids(q, members, 2, &n, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(n, 0);
	commit(q);
	queue_free(q);
}

/*
 * Named integers: set in the open transaction, seen by get at once,
 * durable with the commit, gone with a transaction that never commits.
 */
static void
test_meta(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	char err[256];
	int64_t v = 0;

	assert_int_equal(queue_meta_get(q, "gw/a", &v, err, sizeof(err)), 0);
	assert_int_equal(queue_meta_set(q, "gw/a", 42, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(queue_meta_set(q, "gw/b", -7, err, sizeof(err)),
	    QUEUE_OK);
	assert_int_equal(queue_meta_get(q, "gw/a", &v, err, sizeof(err)), 1);
	assert_int_equal(v, 42);
	commit(q);
	assert_int_equal(queue_meta_set(q, "gw/a", INT64_MAX, err,
	    sizeof(err)), QUEUE_OK);
	commit(q);
	queue_free(q);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	assert_int_equal(queue_meta_get(q, "gw/a", &v, err, sizeof(err)), 1);
	assert_true(v == INT64_MAX);
	assert_int_equal(queue_meta_get(q, "gw/b", &v, err, sizeof(err)), 1);
	assert_int_equal(v, -7);
	queue_free(q);
}

/* Counters are topic+payload bytes (UTF-8 bytes, not characters). */
static void
test_stats_exact(void **state)
{
	struct fixture *f = *state;
	struct queue *q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	struct collect c = { 0 };
	uint64_t exp;
	int64_t a;

	a = push(q, QUEUE_UP, 0, "t\xc3\xa9", "12345");	/* 3 + 5 */
	check_stats(q, QUEUE_UP, 1, 8);
	push(q, QUEUE_UP, 2, "xy", NULL);			/* 2 + 0 */
	check_stats(q, QUEUE_UP, 2, 10);
	push(q, QUEUE_DOWN, 0, "down", "0123456789");		/* 14 */
	check_stats(q, QUEUE_DOWN, 1, 14);
	assert_int_equal(push_full(q, QUEUE_DOWN, 0, "e", "123", 50, NULL,
	    NULL), QUEUE_OK);
	check_stats(q, QUEUE_DOWN, 2, 18);
	commit(q);
	queue_free(q);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 2, 10);
	check_stats(q, QUEUE_DOWN, 2, 18);
	assert_int_equal(fetch(q, QUEUE_DOWN, 100, 10, &c, &exp), 1);
	assert_int_equal(exp, 1);
	check_stats(q, QUEUE_DOWN, 1, 14);
	ack(q, a);
	check_stats(q, QUEUE_UP, 1, 2);
	commit(q);
	queue_free(q);
	q = open_q(f->path, 100000, QUEUE_DROP_OLDEST);
	check_stats(q, QUEUE_UP, 1, 2);
	check_stats(q, QUEUE_DOWN, 1, 14);
	queue_free(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_invalid_args),
		T(test_order_within_priority),
		T(test_order_across_priorities),
		T(test_high_priority_after_partial_fetch),
		T(test_fetch_skips_inflight),
		T(test_directions_independent),
		T(test_release_all_resends),
		T(test_ack_deletes),
		T(test_callback_refusal),
		T(test_callback_cannot_modify),
		T(test_persistence),
		T(test_fields_roundtrip),
		T(test_free_commits),
		T(test_uncommitted_lost_on_crash),
		T(test_ids_grow_across_reopen),
		T(test_stats_exact),
		T(test_meta),
		T(test_ack_ids),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
