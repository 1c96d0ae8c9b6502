/* SPDX-License-Identifier: ISC */
/*
 * test_budget: relay/budget.c's token buckets and the WAN budget on a
 * synthetic clock: burst, debt, refill, day boundary, stored use.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "relay/budget.h"

#define DAY	BUDGET_DAY_MS
#define WALL0	(20000 * DAY + 3600000)	/* 01:00 UTC on day 20000 */

static void
test_bucket_burst_debt_refill(void **state)
{
	struct budget_bucket b;

	(void)state;
	budget_bucket_init(&b, 1000, 0);
	assert_int_equal(budget_bucket_wait_ms(&b), 0);
	/* A second's worth, then a write that goes 1500 into debt. */
	budget_bucket_take(&b, 2500);
	assert_int_equal(budget_bucket_wait_ms(&b), 1501);
	budget_bucket_refill(&b, 1000);
	assert_int_equal(budget_bucket_wait_ms(&b), 501);
	budget_bucket_refill(&b, 1501);
	assert_int_equal(budget_bucket_wait_ms(&b), 0);
	/* Full after a long pause, never more than a second's worth. */
	budget_bucket_refill(&b, 100000);
	assert_int_equal(b.milli, 1000 * 1000);
	/* No limit: always open. */
	budget_bucket_init(&b, 0, 0);
	budget_bucket_take(&b, UINT64_C(1) << 40);
	assert_int_equal(budget_bucket_wait_ms(&b), 0);
}

static void
test_bucket_slow_rate(void **state)
{
	struct budget_bucket b;
	int64_t t;
	int sent = 0;

	(void)state;
	/* 3 msg/s over 10 s, polled every ms: 3 of burst + 30. */
	budget_bucket_init(&b, 3, 0);
	for (t = 0; t < 10000; t++) {
		budget_bucket_refill(&b, t);
		if (budget_bucket_wait_ms(&b) == 0) {
			budget_bucket_take(&b, 1);
			sent++;
		}
	}
	assert_in_range(sent, 32, 33);
}

static void
test_wan_quota_day(void **state)
{
	struct budget_wan w;

	(void)state;
	/* 400 bytes used today already (stored), quota 1000. */
	budget_wan_init(&w, 0, 1000, WALL0 / DAY, 400, 5000, 70, 0, WALL0);
	assert_int_equal(w.used, 400);
	assert_int_equal(budget_wan_wait_ms(&w, WALL0), 0);
	/* Both ways count. */
	assert_int_equal(budget_wan_account(&w, 5500, 170, 10, WALL0), 1);
	assert_int_equal(w.used, 1000);
	/* Spent: waits until 00:00 UTC, 23 hours away. */
	assert_int_equal(budget_wan_wait_ms(&w, WALL0), DAY - 3600000);
	assert_int_equal(w.paused, 1);
	assert_int_equal(w.pauses, 1);
	assert_int_equal(budget_wan_account(&w, 5500, 170, 20, WALL0 + 1), 0);
	/* A new day starts over. */
	assert_int_equal(budget_wan_account(&w, 5500, 170, 30,
	    WALL0 + DAY - 3600000), 1);
	assert_int_equal(w.used, 0);
	assert_int_equal(budget_wan_wait_ms(&w, WALL0 + DAY), 0);
	assert_int_equal(w.paused, 0);
	/* A stored use of another day is not today's. */
	budget_wan_init(&w, 0, 1000, WALL0 / DAY - 1, 999, 0, 0, 0, WALL0);
	assert_int_equal(w.used, 0);
}

static void
test_wan_rate_and_counter_restart(void **state)
{
	struct budget_wan w;

	(void)state;
	budget_wan_init(&w, 1000, 0, -1, 0, 100, 0, 0, WALL0);
	/* Only bytes written feed the rate; received ones do not. */
	budget_wan_account(&w, 1100, 50000, 0, WALL0);
	assert_int_equal(budget_wan_wait_ms(&w, WALL0), 1);
	budget_wan_account(&w, 1100, 50000, 2, WALL0);
	assert_int_equal(budget_wan_wait_ms(&w, WALL0), 0);
	/* Counters that start over (a new TLS context) count from 0. */
	budget_wan_account(&w, 300, 0, 3, WALL0);
	assert_int_equal(w.used, 1000 + 50000 + 300);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_burst_debt_refill),
		cmocka_unit_test(test_bucket_slow_rate),
		cmocka_unit_test(test_wan_quota_day),
		cmocka_unit_test(test_wan_rate_and_counter_restart),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
