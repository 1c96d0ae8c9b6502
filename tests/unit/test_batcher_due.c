/* SPDX-License-Identifier: ISC */
/*
 * test_batcher_due: when the open frame is due: linger_ms from the first
 * linger member, each max_delay_ms member's own deadline, the earliest
 * of them, at once for a priority member or a full frame.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay/batcher.h"

#define WALL0	1700000000000LL

static struct batcher *
mk(int linger_ms, int max_messages)
{
	struct conf_batch c;
	struct batcher *b;

	memset(&c, 0, sizeof(c));
	c.topic = "t";
	c.max_messages = max_messages;
	c.max_bytes = 65536;
	c.linger_ms = linger_ms;
	c.compress = CONF_COMPRESS_LZ4;
	c.qos = 1;
	b = batcher_new(&c, "gw");
	assert_non_null(b);
	return b;
}

static void
add(struct batcher *b, int64_t id, int prio, int64_t now)
{
	struct queue_msg m;

	memset(&m, 0, sizeof(m));
	m.id = id;
	m.priority = BATCHER_PRIO_BASE + prio;
	m.topic = "sensors/x";
	m.payload = "{\"v\":1}";
	m.payload_len = 7;
	m.qos = 1;
	m.ts_ms = WALL0;
	assert_int_equal(batcher_add(b, &m, now, WALL0), BATCHER_OK);
}

static void
test_linger_only(void **state)
{
	struct batcher *b = mk(200, 10);

	(void)state;
	assert_int_equal(batcher_due_ms(b), -1);
	add(b, 1, 0, 1000);
	add(b, 2, 0, 1150);
	assert_int_equal(batcher_due_ms(b), 1200);
	batcher_free(b);
}

static void
test_own_deadlines(void **state)
{
	struct batcher *b = mk(200, 10);

	(void)state;
	/* Telemetry with 5 s, then 3 s: the earlier deadline wins. */
	add(b, 1, 0, 1000);
	batcher_member_due(b, 6000);
	assert_int_equal(batcher_due_ms(b), 6000);
	add(b, 2, 0, 1100);
	batcher_member_due(b, 4100);
	assert_int_equal(batcher_due_ms(b), 4100);
	/* A member of a route without max_delay_ms: linger from its entry. */
	add(b, 3, 0, 2000);
	assert_int_equal(batcher_due_ms(b), 2200);
	/* A deadline already past: due at once (it is <= now). */
	add(b, 4, 0, 2050);
	batcher_member_due(b, 2000);
	assert_int_equal(batcher_due_ms(b), 2000);
	assert_false(batcher_urgent(b));
	batcher_reset(b);
	/* After a reset the next frame starts clean. */
	add(b, 5, 0, 9000);
	assert_int_equal(batcher_due_ms(b), 9200);
	batcher_free(b);
}

static void
test_priority_and_full(void **state)
{
	struct batcher *b = mk(200, 2);
	struct queue_msg m;

	(void)state;
	add(b, 1, 0, 1000);
	batcher_member_due(b, 9000);
	add(b, 2, 3, 1001);
	assert_true(batcher_urgent(b));
	assert_int_equal(batcher_due_ms(b), 0);
	memset(&m, 0, sizeof(m));
	m.id = 3;
	m.priority = BATCHER_PRIO_BASE;
	m.topic = "x";
	assert_int_equal(batcher_add(b, &m, 1002, WALL0), BATCHER_FULL);
	batcher_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linger_only),
		cmocka_unit_test(test_own_deadlines),
		cmocka_unit_test(test_priority_and_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
