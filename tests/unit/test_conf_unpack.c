/* SPDX-License-Identifier: ISC */
/* Unit tests for platform/conf_unpack: the unpacker's config file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform/conf.h"
#include "tests/unit/conf_test.h"

#define UNPACK	"config unpack 'main'\n"

/* An empty section is a whole configuration: every option has a default. */
static void
test_defaults(void **state)
{
	struct conf *c = load_ok(UNPACK);

	(void)state;
	assert_int_equal(c->role, CONF_ROLE_UNPACK);
	assert_string_equal(c->id, "main");
	assert_string_equal(c->central.address[0], "127.0.0.1:1883");
	assert_int_equal(c->central.n_address, 1);
	assert_string_equal(c->central.client_id, "pushrelay-unpack");
	assert_int_equal(c->central.protocol, 5);
	assert_int_equal(c->central.tls.enabled, 0);
	assert_int_equal(c->central.max_inflight, 100);
	assert_string_equal(c->unpack_topic, "pushrelay/+/batch");
	assert_string_equal(c->store, "/var/lib/pushrelay/unpack.db");
	assert_string_equal(c->control, "/var/run/pushrelay-unpack.sock");
	assert_string_equal(c->status_topic, "");
	/* The one route: frames in, unmapped; no local broker, no uplink. */
	assert_int_equal(c->n_downlink, 1);
	assert_int_equal(c->n_uplink, 0);
	assert_int_equal(c->downlink[0].mode, CONF_MODE_UNPACK);
	assert_string_equal(c->downlink[0].topic, "pushrelay/+/batch");
	assert_string_equal(c->downlink[0].remote_prefix, "");
	assert_string_equal(c->downlink[0].local_prefix, "");
	assert_int_equal(c->downlink[0].qos, 1);
	assert_int_equal(c->local.n_address, 0);
	conf_free(c);
}

static void
test_values(void **state)
{
	struct conf *c = load_ok("config unpack\n"
	    "\tlist address 'a.example:1883'\n"
	    "\tlist address 'b.example:1883'\n"
	    "\toption topic '$share/unpack/pushrelay/+/batch'\n"
	    "\toption client_id 'up-%i-1'\n"
	    "\toption protocol '311'\n"
	    "\toption store_max_bytes '2G'\n"
	    "\toption max_inflight '1024'\n"
	    "\toption password 'hidden'\n");
	char *out;

	(void)state;
	assert_string_equal(c->id, "unpack");	/* anonymous section */
	assert_int_equal(c->central.n_address, 2);
	assert_string_equal(c->central.client_id, "up-unpack-1");
	assert_int_equal(c->central.protocol, 311);
	assert_true(c->store_max_bytes == 2ull << 30);
	assert_int_equal(c->central.max_inflight, 1024);
	assert_string_equal(c->downlink[0].topic,
	    "$share/unpack/pushrelay/+/batch");
	print(c, &out);
	assert_non_null(strstr(out, "config unpack 'unpack'\n"));
	assert_non_null(strstr(out, "\tlist address 'b.example:1883'\n"));
	assert_non_null(strstr(out, "\toption password '********'\n"));
	assert_null(strstr(out, "hidden"));
	free(out);
	conf_free(c);
}

static void
test_invalid(void **state)
{
	(void)state;
	expect_invalid(UNPACK "\toption topic 'a/#/b'\n\toption mode 'raw'\n",
	    "t.conf:2: option topic: 'a/#/b' is not valid: '#' must be the last "
	    "level\n"
	    "t.conf:3: option mode: unknown in config unpack\n");
	expect_invalid(UNPACK "config unpack 'two'\n",
	    "t.conf:2: section unpack: only one is allowed (the first is at "
	    "line 1)\n");
	expect_invalid("config relay\n\toption id 'x'\n" UNPACK,
	    "t.conf:1: section relay: not allowed in an unpacker's file (it "
	    "has a config unpack section; the relay's sections go in its "
	    "own file)\n");
	expect_invalid(UNPACK "\toption reconnect_min '9'\n"
	    "\toption reconnect_max '3'\n",
	    "t.conf:3: option reconnect_max: '3' is less than reconnect_min "
	    "'9'\n");
	expect_invalid(UNPACK "\toption tls '1'\n"
	    "\toption ca_file '/nonexistent/ca.pem'\n",
	    "t.conf:3: option ca_file: tls: ca_file /nonexistent/ca.pem: "
	    "cannot parse: PK - Read/write of file failed\n");
}

/* What a gateway may do: the prefix, retain, the bounds, the id level. */
static void
test_trust(void **state)
{
	struct conf *c = load_ok(UNPACK);

	(void)state;
	assert_string_equal(c->unpack_record_prefix, "gw/%i/");
	assert_int_equal(c->unpack_allow_retain, 0);
	assert_true(c->unpack_max_expanded == 16u << 20);
	assert_int_equal(c->unpack_gateway_share, 25);
	assert_int_equal(c->unpack_id_level, 1);
	conf_free(c);
	/* %i is each frame's gateway, not this unpacker's id: kept. */
	c = load_ok(UNPACK "\toption record_prefix 'site/%i/up/'\n"
	    "\toption allow_retain '1'\n"
	    "\toption max_frame_expanded '1M'\n"
	    "\toption gateway_share '100'\n"
	    "\toption topic '$share/u/pushrelay/site-a/+/batch'\n");
	assert_string_equal(c->unpack_record_prefix, "site/%i/up/");
	assert_int_equal(c->unpack_allow_retain, 1);
	assert_true(c->unpack_max_expanded == 1u << 20);
	assert_int_equal(c->unpack_gateway_share, 100);
	assert_int_equal(c->unpack_id_level, 2);
	conf_free(c);
	c = load_ok(UNPACK "\toption record_prefix '%i/'\n"
	    "\toption topic '+'\n");
	assert_int_equal(c->unpack_id_level, 0);
	conf_free(c);
	expect_invalid(UNPACK "\toption record_prefix 'gw/%i'\n"
	    "\toption record_prefix 'gw/'\n",
	    "t.conf:3: option record_prefix: 'gw/' must hold %i (the gateway "
	    "id) exactly once\n");
	expect_invalid(UNPACK "\toption record_prefix 'gw/%i'\n",
	    "t.conf:2: option record_prefix: 'gw/%i' must have '/' right "
	    "after %i, so that no gateway's prefix starts another's\n");
	expect_invalid(UNPACK "\toption record_prefix '%i/%i/'\n",
	    "t.conf:2: option record_prefix: '%i/%i/' must hold %i (the "
	    "gateway id) exactly once\n");
	expect_invalid(UNPACK "\toption record_prefix '$x/%i/'\n",
	    "t.conf:2: option record_prefix: '$x/%i/' must not start with "
	    "'$'\n");
	expect_invalid(UNPACK "\toption record_prefix 'a/+/%i/'\n",
	    "t.conf:2: option record_prefix: 'a/+/%i/' must not contain '+', "
	    "'#' or a control character\n");
	expect_invalid(UNPACK "\toption topic 'pushrelay/+/+/batch'\n",
	    "t.conf:2: option topic: 'pushrelay/+/+/batch' must have exactly "
	    "one '+' level, which a frame's gateway id must fill, and no '#' "
	    "(docs/unpack.md, \"Trust\")\n");
	expect_invalid(UNPACK "\toption topic 'pushrelay/+/#'\n",
	    "t.conf:2: option topic: 'pushrelay/+/#' must have exactly one "
	    "'+' level, which a frame's gateway id must fill, and no '#' "
	    "(docs/unpack.md, \"Trust\")\n");
	expect_invalid(UNPACK "\toption topic 'pushrelay/gw1/batch'\n",
	    "t.conf:2: option topic: 'pushrelay/gw1/batch' must have exactly "
	    "one '+' level, which a frame's gateway id must fill, and no '#' "
	    "(docs/unpack.md, \"Trust\")\n");
	expect_invalid(UNPACK "\toption gateway_share '0'\n",
	    "t.conf:2: option gateway_share: '0' is not in 1..100\n");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_trust),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
