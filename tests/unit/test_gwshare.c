/* SPDX-License-Identifier: ISC */
/* Unit tests for relay/gwshare: queued bytes per gateway, by topic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay/gwshare.h"

static void
note(struct gwshare *g, const char *topic, int64_t delta)
{
	assert_int_equal(gwshare_note(g, topic, strlen(topic), delta), 0);
}

static void
test_by_prefix(void **state)
{
	struct gwshare *g = gwshare_new("gw/%i/");
	const char *id;

	(void)state;
	assert_non_null(g);
	assert_string_equal(gwshare_tmpl(g), "gw/%i/");
	note(g, "gw/a/t/1", 10);
	note(g, "gw/ab/t", 7);
	note(g, "gw/a/", 5);
	/* Not a gateway's: no prefix, an empty or bad id, no '/' after it. */
	note(g, "other/a/t", 100);
	note(g, "gw//t", 100);
	note(g, "gw/a b/t", 100);
	note(g, "gw/a", 100);
	note(g, "gw/a+b/t", 100);
	assert_true(gwshare_bytes(g, "a") == 15);
	assert_true(gwshare_bytes(g, "ab") == 7);
	assert_true(gwshare_bytes(g, "b") == 0);
	assert_int_equal(gwshare_count(g), 2);
	assert_int_equal(gwshare_gateway(g, "gw/gw-1.x_Y/z", 13, &id), 8);
	assert_memory_equal(id, "gw-1.x_Y", 8);
	/* Down to 0: the entry goes; never below 0. */
	note(g, "gw/a/t/1", -10);
	note(g, "gw/a/", -9);
	assert_true(gwshare_bytes(g, "a") == 0);
	assert_int_equal(gwshare_count(g), 1);
	note(g, "gw/zz/t", -3);
	assert_int_equal(gwshare_count(g), 1);
	gwshare_clear(g);
	assert_int_equal(gwshare_count(g), 0);
	assert_int_equal(gwshare_stale(g), 0);
	gwshare_free(g);
	gwshare_free(NULL);
	assert_null(gwshare_new("gw/%i"));
}

static void
test_template_parts(void **state)
{
	struct gwshare *g = gwshare_new("site/%i/up/");
	const char *id;

	(void)state;
	note(g, "site/a/up/t", 4);
	note(g, "site/a/down/t", 4);
	assert_true(gwshare_bytes(g, "a") == 4);
	assert_int_equal(gwshare_gateway(g, "site/a/up", 9, &id), 0);
	gwshare_free(g);
	g = gwshare_new("%i/");
	note(g, "a/x", 3);
	assert_true(gwshare_bytes(g, "a") == 3);
	gwshare_free(g);
}

/* Many gateways: the table grows, every one keeps its bytes. */
static void
test_many(void **state)
{
	struct gwshare *g = gwshare_new("gw/%i/");
	char t[64], id[32];
	int i;

	(void)state;
	for (i = 0; i < 5000; i++) {
		snprintf(t, sizeof(t), "gw/g%d/x", i);
		note(g, t, i + 1);
	}
	assert_int_equal(gwshare_count(g), 5000);
	for (i = 0; i < 5000; i += 7) {
		snprintf(id, sizeof(id), "g%d", i);
		assert_true(gwshare_bytes(g, id) == (uint64_t)i + 1);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(t, sizeof(t), "gw/g%d/x", i);
		note(g, t, -(i + 1));
	}
	assert_int_equal(gwshare_count(g), 0);
	gwshare_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_by_prefix),
		cmocka_unit_test(test_template_parts),
		cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
