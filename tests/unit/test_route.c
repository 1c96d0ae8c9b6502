/* SPDX-License-Identifier: ISC */
/* Unit tests for relay/route: mosquitto-style topic mapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "relay/route.h"

static struct conf_route up[] = {
	{ .line = 1, .topic = "sensors/#", .local_prefix = "",
	    .remote_prefix = "gw/gw-1/", .qos = 1, .priority = 0 },
	{ .line = 2, .topic = "+/alarm", .local_prefix = "dev/",
	    .remote_prefix = "alarms/", .qos = 2, .priority = 5 },
};
static struct conf_route down[] = {
	{ .line = 3, .topic = "cmd/#", .local_prefix = "",
	    .remote_prefix = "gw/gw-1/", .qos = 1 },
	{ .line = 4, .topic = "#", .local_prefix = "in/",
	    .remote_prefix = "all/", .qos = 0 },
};

static struct conf test_conf = {
	.uplink = up, .n_uplink = 2, .downlink = down, .n_downlink = 2,
};

static void
test_filters(void **state)
{
	struct route_table *t = route_new(&test_conf);
	char *const *f;
	const int *q;

	(void)state;
	assert_non_null(t);
	assert_int_equal(route_filters(t, ROUTE_UP, &f, &q), 2);
	assert_string_equal(f[0], "sensors/#");
	assert_string_equal(f[1], "dev/+/alarm");
	assert_int_equal(q[1], 2);
	assert_int_equal(route_filters(t, ROUTE_DOWN, &f, &q), 2);
	assert_string_equal(f[0], "gw/gw-1/cmd/#");
	assert_string_equal(f[1], "all/#");
	route_free(t);
}

static void
test_map_up(void **state)
{
	struct route_table *t = route_new(&test_conf);
	const struct conf_route *r;
	char out[64];

	(void)state;
	r = route_map(t, ROUTE_UP, "sensors/t/1", out, sizeof(out));
	assert_ptr_equal(r, &up[0]);
	assert_string_equal(out, "gw/gw-1/sensors/t/1");
	r = route_map(t, ROUTE_UP, "dev/x/alarm", out, sizeof(out));
	assert_ptr_equal(r, &up[1]);
	assert_string_equal(out, "alarms/x/alarm");
	assert_null(route_map(t, ROUTE_UP, "other/x", out, sizeof(out)));
	assert_null(route_map(t, ROUTE_UP, "dev/x/y/alarm", out,
	    sizeof(out)));
	route_free(t);
}

static void
test_map_down(void **state)
{
	struct route_table *t = route_new(&test_conf);
	const struct conf_route *r;
	char out[64];

	(void)state;
	r = route_map(t, ROUTE_DOWN, "gw/gw-1/cmd/reboot", out, sizeof(out));
	assert_ptr_equal(r, &down[0]);
	assert_string_equal(out, "cmd/reboot");
	r = route_map(t, ROUTE_DOWN, "all/a/b", out, sizeof(out));
	assert_ptr_equal(r, &down[1]);
	assert_string_equal(out, "in/a/b");
	/* "all/#" matches "all" itself, which has no remainder to map. */
	assert_null(route_map(t, ROUTE_DOWN, "all", out, sizeof(out)));
	/* First matching route wins, in configuration order. */
	r = route_map(t, ROUTE_DOWN, "gw/gw-1/cmd", out, sizeof(out));
	assert_ptr_equal(r, &down[0]);
	assert_string_equal(out, "cmd");
	route_free(t);
}

static void
test_map_too_long(void **state)
{
	struct route_table *t = route_new(&test_conf);
	char out[12];

	(void)state;
	assert_null(route_map(t, ROUTE_UP, "sensors/abcdef", out,
	    sizeof(out)));
	route_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_map_up),
		cmocka_unit_test(test_map_down),
		cmocka_unit_test(test_map_too_long),
	};

	return cmocka_run_group_tests_name("route", tests, NULL, NULL);
}
