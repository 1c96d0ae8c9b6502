/* SPDX-License-Identifier: ISC */
/* Unit tests for platform/conf (and the confval engine under it). */
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
#include "platform/confval.h"
#include "tests/unit/conf_test.h"

/* A minimal valid file, in three parts of two lines each. */
#define RELAY	"config relay\n\toption id 'gw-1'\n"
#define CENTRAL	"config broker 'central'\n\tlist address 'c.example:8883'\n"
#define UPLINK	"config uplink\n\toption topic 'sensors/#'\n"
#define MINIMAL	RELAY CENTRAL UPLINK

static void
test_example_file(void **state)
{
	struct conf *c = NULL;

	(void)state;
	assert_int_equal(conf_load("docs/examples/pushrelay.conf", &c,
	    stderr), CONF_OK);
	assert_string_equal(c->file, "docs/examples/pushrelay.conf");
	assert_string_equal(c->id, "gw-0001");
	assert_string_equal(c->status_topic, "pushrelay/gw-0001/status");
	assert_int_equal(c->central.n_address, 1);
	assert_string_equal(c->central.address[0], "mqtt.example.net:8883");
	assert_int_equal(c->n_uplink, 1);
	assert_int_equal(c->n_downlink, 1);
	assert_string_equal(c->uplink[0].topic, "sensors/#");
	assert_string_equal(c->uplink[0].remote_prefix, "gw/gw-0001/");
	assert_string_equal(c->downlink[0].topic, "cmd/#");
	assert_int_equal(c->local.line, 21);
	assert_int_equal(c->central.line, 30);
	conf_free(c);
}

static void
test_defaults(void **state)
{
	struct conf *c = load_ok(MINIMAL "config downlink\n"
	    "\toption topic 'cmd/#'\n");

	(void)state;
	assert_string_equal(c->store, "/var/lib/pushrelay/queue.db");
	assert_int_equal(c->store_max_bytes, 64 * 1024 * 1024);
	assert_int_equal(c->store_full, CONF_DROP_OLDEST);
	assert_int_equal(c->sync, CONF_SYNC_NORMAL);
	assert_string_equal(c->control, "/var/run/pushrelay.sock");
	assert_int_equal(c->log_level, CONF_LOG_INFO);
	assert_string_equal(c->status_topic, "pushrelay/gw-1/status");
	assert_int_equal(c->local.line, 0);
	assert_int_equal(c->local.n_address, 1);
	assert_string_equal(c->local.address[0], "127.0.0.1:1883");
	assert_string_equal(c->local.client_id, "pushrelay-gw-1");
	assert_string_equal(c->local.username, "");
	assert_string_equal(c->local.password, "");
	assert_int_equal(c->local.keepalive, 30);
	assert_int_equal(c->local.protocol, 5);
	assert_int_equal(c->local.reconnect_min, 1);
	assert_int_equal(c->local.reconnect_max, 120);
	assert_int_equal(c->local.max_inflight, 1024);
	assert_int_equal(c->central.max_inflight, 1024);
	assert_int_equal(c->central.line, 3);
	assert_int_equal(c->central.keepalive, 60);
	assert_int_equal(c->central.protocol, 5);
	assert_string_equal(c->central.client_id, "pushrelay-gw-1");
	assert_int_equal(c->uplink[0].line, 5);
	assert_null(c->uplink[0].name);
	assert_string_equal(c->uplink[0].local_prefix, "");
	assert_string_equal(c->uplink[0].remote_prefix, "gw/gw-1/");
	assert_int_equal(c->uplink[0].qos, 1);
	assert_int_equal(c->uplink[0].mode, CONF_MODE_BATCH);
	assert_int_equal(c->uplink[0].ttl_s, 0);
	assert_int_equal(c->uplink[0].priority, 0);
	assert_int_equal(c->downlink[0].line, 7);
	assert_int_equal(c->downlink[0].qos, 1);
	assert_string_equal(c->downlink[0].remote_prefix, "gw/gw-1/");
	conf_free(c);
}

static void
test_values(void **state)
{
	struct conf *c = load_ok(
	    "config relay 'main'\n"
	    "\toption id 'A.b_c-9'\n"
	    "\toption store_full drop_newest\n"
	    "\toption sync full\n"
	    "\toption log_level debug\n"
	    "\toption status_topic '%none'\n"
	    "config broker 'local'\n"
	    "\toption address '[::1]:1884'\n"
	    "\toption protocol 311\n"
	    "\toption keepalive 65535\n"
	    "\toption reconnect_min 5\n"
	    "\toption reconnect_max 5\n"
	    "\toption max_inflight 1\n"
	    "config broker 'central'\n"
	    "\tlist address 'a.example:8883'\n"
	    "\tlist address '192.0.2.1:1883'\n"
	    "\toption username 'u'\n"
	    "\toption password 'p'\n"
	    "config uplink 'up1'\n"
	    "\toption topic 's'\n"
	    "\toption qos 0\n"
	    "\toption ttl 4294967295\n"
	    "\toption priority 255\n"
	    "\toption mode raw\n");

	(void)state;
	assert_int_equal(c->store_full, CONF_DROP_NEWEST);
	assert_int_equal(c->sync, CONF_SYNC_FULL);
	assert_int_equal(c->log_level, CONF_LOG_DEBUG);
	assert_string_equal(c->status_topic, "");
	assert_string_equal(c->local.address[0], "[::1]:1884");
	assert_int_equal(c->local.protocol, 311);
	assert_int_equal(c->local.keepalive, 65535);
	assert_int_equal(c->local.reconnect_min, 5);
	assert_int_equal(c->local.max_inflight, 1);
	assert_int_equal(c->central.n_address, 2);
	assert_string_equal(c->central.address[1], "192.0.2.1:1883");
	assert_string_equal(c->central.password, "p");
	assert_string_equal(c->uplink[0].name, "up1");
	assert_int_equal(c->uplink[0].qos, 0);
	assert_int_equal(c->uplink[0].ttl_s, UINT32_MAX);
	assert_int_equal(c->uplink[0].priority, 255);
	assert_int_equal(c->n_downlink, 0);
	conf_free(c);
}

static void
test_central_option_address(void **state)
{
	struct conf *c = load_ok(RELAY "config broker 'central'\n"
	    "\toption address 'one.example:1883'\n" UPLINK);

	(void)state;
	assert_int_equal(c->central.n_address, 1);
	assert_string_equal(c->central.address[0], "one.example:1883");
	conf_free(c);
}

static void
test_sizes(void **state)
{
	static const struct {
		const char *text;
		uint64_t bytes;
	} cases[] = {
		{ "1K", 1024 }, { "1k", 1024 }, { "2048", 2048 },
		{ "64M", 64ULL << 20 }, { "3m", 3ULL << 20 },
		{ "1G", 1ULL << 30 }, { "1024G", 1ULL << 40 },
		{ "0001K", 1024 },
	};
	char text[256];
	struct conf *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text), RELAY "\toption store_max_bytes "
		    "'%s'\n" CENTRAL UPLINK, cases[i].text);
		c = load_ok(text);
		assert_int_equal(c->store_max_bytes, cases[i].bytes);
		conf_free(c);
	}
}

static void
test_uint_parser(void **state)
{
	uint64_t n = 7;

	(void)state;
	assert_true(confval_uint("0", false, &n));
	assert_int_equal(n, 0);
	assert_true(confval_uint("18446744073709551615", false, &n));
	assert_int_equal(n, UINT64_MAX);
	assert_true(confval_uint("18446744073709551616", false, &n));
	assert_int_equal(n, UINT64_MAX);	/* saturates */
	assert_true(confval_uint("17179869184G", true, &n));
	assert_int_equal(n, UINT64_MAX);
	n = 7;
	assert_false(confval_uint("", false, &n));
	assert_false(confval_uint("-1", false, &n));
	assert_false(confval_uint("+1", false, &n));
	assert_false(confval_uint(" 1", false, &n));
	assert_false(confval_uint("1 ", false, &n));
	assert_false(confval_uint("1K", false, &n));
	assert_false(confval_uint("1KB", true, &n));
	assert_false(confval_uint("K", true, &n));
	assert_false(confval_uint("1T", true, &n));
	assert_false(confval_uint("0x10", false, &n));
	assert_int_equal(n, 7);
}

static void
test_id_expansion(void **state)
{
	struct conf *c = load_ok(
	    "config relay\n"
	    "\toption status_topic 'st/%i/%i'\n"	/* before the id */
	    "\toption id 'gw-9'\n"
	    "config broker 'local'\n"
	    "\toption client_id 'l-%i'\n"
	    "config broker 'central'\n"
	    "\tlist address 'c:1'\n"
	    "\toption client_id '%i'\n"
	    "\toption username '%i'\n"		/* not expanded */
	    "\toption password 'a%i'\n"
	    "config uplink\n"
	    "\toption topic 'a/%i/#'\n"
	    "\toption local_prefix 'l/%i/'\n"
	    "\toption remote_prefix '%i%%i/'\n");

	(void)state;
	assert_string_equal(c->status_topic, "st/gw-9/gw-9");
	assert_string_equal(c->local.client_id, "l-gw-9");
	assert_string_equal(c->central.client_id, "gw-9");
	assert_string_equal(c->central.username, "%i");
	assert_string_equal(c->central.password, "a%i");
	assert_string_equal(c->uplink[0].topic, "a/gw-9/#");
	assert_string_equal(c->uplink[0].local_prefix, "l/gw-9/");
	assert_string_equal(c->uplink[0].remote_prefix, "gw-9%gw-9/");
	conf_free(c);
}

static const struct {
	const char *text;
	const char *errors;
} invalid_cases[] = {
	/* relay */
	{ RELAY "\toption id 'bad id'\n" CENTRAL UPLINK,
	  "t.conf:3: option id: 'bad id' must be 1-64 characters of A-Z, "
	  "a-z, 0-9, '.', '_' and '-'\n" },
	{ RELAY "\toption id ''\n" CENTRAL UPLINK,
	  "t.conf:1: option id: required in config relay\n" },
	{ RELAY "\toption id 'a/b'\n" CENTRAL UPLINK,
	  "t.conf:3: option id: 'a/b' must be 1-64 characters of A-Z, a-z, "
	  "0-9, '.', '_' and '-'\n" },
	{ "config relay 'r'\n" CENTRAL UPLINK,
	  "t.conf:1: option id: required in config relay\n" },
	{ RELAY "\toption store_max_bytes '64X'\n" CENTRAL UPLINK,
	  "t.conf:3: option store_max_bytes: '64X' is not a size (digits "
	  "with an optional K, M or G)\n" },
	{ RELAY "\toption store_max_bytes '-1'\n" CENTRAL UPLINK,
	  "t.conf:3: option store_max_bytes: '-1' is not a size (digits "
	  "with an optional K, M or G)\n" },
	{ RELAY "\toption store_max_bytes '1.5M'\n" CENTRAL UPLINK,
	  "t.conf:3: option store_max_bytes: '1.5M' is not a size (digits "
	  "with an optional K, M or G)\n" },
	{ RELAY "\toption store_max_bytes '1023'\n" CENTRAL UPLINK,
	  "t.conf:3: option store_max_bytes: '1023' is not in 1K..1024G\n" },
	{ RELAY "\toption store_max_bytes '1025G'\n" CENTRAL UPLINK,
	  "t.conf:3: option store_max_bytes: '1025G' is not in 1K..1024G\n" },
	{ RELAY "\toption store_max_bytes '99999999999999999999'\n" CENTRAL
	  UPLINK, "t.conf:3: option store_max_bytes: '99999999999999999999' "
	  "is not in 1K..1024G\n" },
	{ RELAY "\toption store_full 'drop'\n" CENTRAL UPLINK,
	  "t.conf:3: option store_full: 'drop' is not one of drop_oldest, "
	  "drop_newest\n" },
	{ RELAY "\toption sync 'sometimes'\n" CENTRAL UPLINK,
	  "t.conf:3: option sync: 'sometimes' is not one of off, normal, "
	  "full\n" },
	{ RELAY "\toption log_level 'INFO'\n" CENTRAL UPLINK,
	  "t.conf:3: option log_level: 'INFO' is not one of error, warn, "
	  "info, debug\n" },
	{ RELAY "\toption control '/run/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxx.sock'\n" CENTRAL UPLINK,
	  "t.conf:3: option control: '/run/xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	  "xxxxxxxxx.sock' is too long for a socket path\n" },
	{ RELAY "\toption status_topic 'a/+/b'\n" CENTRAL UPLINK,
	  "t.conf:3: option status_topic: 'a/+/b' is not valid: a topic "
	  "must not contain '+' or '#'\n" },
	{ RELAY "\toption bogus 1\n" CENTRAL UPLINK,
	  "t.conf:3: option bogus: unknown in config relay\n" },
	{ RELAY "\tlist store 'a'\n" CENTRAL UPLINK,
	  "t.conf:3: option store: takes one value: use 'option', not "
	  "'list'\n" },
	/* brokers */
	{ RELAY "config broker 'local'\n\toption address 'localhost'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: 'localhost' is not "
	  "valid: missing ':PORT'\n" },
	{ RELAY "config broker 'local'\n\toption address '[::1]'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: '[::1]' is not valid: "
	  "missing ':PORT'\n" },
	{ RELAY "config broker 'local'\n\toption address '[::1:1883'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: '[::1:1883' is not "
	  "valid: missing ']' after the IPv6 address\n" },
	{ RELAY "config broker 'local'\n\toption address '::1:1883'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: '::1:1883' is not "
	  "valid: write an IPv6 address as [ADDRESS]:PORT\n" },
	{ RELAY "config broker 'local'\n\toption address 'h:0'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: 'h:0' is not valid: "
	  "the port must be a number in 1..65535\n" },
	{ RELAY "config broker 'local'\n\toption address 'h:65536'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: 'h:65536' is not "
	  "valid: the port must be a number in 1..65535\n" },
	{ RELAY "config broker 'local'\n\toption address 'h:1883x'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: 'h:1883x' is not "
	  "valid: the port must be a number in 1..65535\n" },
	{ RELAY "config broker 'local'\n\toption address ':1883'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: ':1883' is not valid: "
	  "empty host\n" },
	{ RELAY "config broker 'local'\n\toption address '[]:1883'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: '[]:1883' is not "
	  "valid: empty host\n" },
	{ RELAY "config broker 'local'\n\tlist address 'a:1'\n"
	  CENTRAL UPLINK, "t.conf:4: option address: takes one value: use "
	  "'option', not 'list'\n" },
	{ RELAY "config broker 'local'\n\toption keepalive '4'\n"
	  CENTRAL UPLINK, "t.conf:4: option keepalive: '4' is not in "
	  "5..65535\n" },
	{ RELAY "config broker 'local'\n\toption keepalive '65536'\n"
	  CENTRAL UPLINK, "t.conf:4: option keepalive: '65536' is not in "
	  "5..65535\n" },
	{ RELAY "config broker 'local'\n\toption max_inflight '0'\n"
	  CENTRAL UPLINK, "t.conf:4: option max_inflight: '0' is not in "
	  "1..1024\n" },
	{ RELAY "config broker 'local'\n\toption max_inflight '1025'\n"
	  CENTRAL UPLINK, "t.conf:4: option max_inflight: '1025' is not in "
	  "1..1024\n" },
	{ RELAY "config broker 'local'\n\toption protocol '4'\n"
	  CENTRAL UPLINK, "t.conf:4: option protocol: '4' is not one of 5, "
	  "311\n" },
	{ RELAY "config broker 'local'\n\toption reconnect_min '0'\n"
	  CENTRAL UPLINK, "t.conf:4: option reconnect_min: '0' is not in "
	  "1..86400\n" },
	{ RELAY "config broker 'local'\n\toption reconnect_min '200'\n"
	  CENTRAL UPLINK, "t.conf:3: option reconnect_max: '120' is less "
	  "than reconnect_min '200'\n" },
	{ RELAY CENTRAL "\toption reconnect_min '10'\n"
	  "\toption reconnect_max '5'\n" UPLINK,
	  "t.conf:6: option reconnect_max: '5' is less than reconnect_min "
	  "'10'\n" },
	{ RELAY UPLINK, "t.conf: section broker: config broker 'central' is "
	  "required\n" },
	{ RELAY "config broker 'central'\n" UPLINK,
	  "t.conf:3: option address: required in config broker\n" },
	{ RELAY "config broker\n" CENTRAL UPLINK,
	  "t.conf:3: section broker: needs a name: 'local' or 'central'\n" },
	{ RELAY "config broker 'remote'\n" CENTRAL UPLINK,
	  "t.conf:3: section broker: unknown name 'remote' (expected 'local' "
	  "or 'central')\n" },
	{ RELAY CENTRAL CENTRAL UPLINK,
	  "t.conf:5: section broker: name 'central' is already used at line "
	  "3\n" },
	{ RELAY CENTRAL "\toption hostname 'x'\n" UPLINK,
	  "t.conf:5: option hostname: unknown in config broker\n" },
	/* sections */
	{ RELAY RELAY CENTRAL UPLINK,
	  "t.conf:3: section relay: only one is allowed (the first is at "
	  "line 1)\n" },
	{ CENTRAL UPLINK,
	  "t.conf: section relay: missing (exactly one is required)\n" },
	{ MINIMAL "config bridge\n", "t.conf:7: section bridge: unknown "
	  "section type (expected relay, broker, batch, uplink or downlink)\n" },
	{ RELAY CENTRAL, "t.conf: at least one config uplink or config "
	  "downlink section is required\n" },
	{ MINIMAL "config uplink 'a'\n\toption topic 'x'\n"
	  "config downlink 'a'\n\toption topic 'y'\n",
	  "t.conf:9: section downlink: name 'a' is already used at line 7\n" },
	/* routes */
	{ RELAY CENTRAL "config uplink\n",
	  "t.conf:5: option topic: required in config uplink\n" },
	{ MINIMAL "\toption qos '3'\n",
	  "t.conf:7: option qos: '3' is not in 0..2\n" },
	{ MINIMAL "\toption qos '-1'\n",
	  "t.conf:7: option qos: '-1' is not a number\n" },
	{ MINIMAL "\toption qos '1 '\n",
	  "t.conf:7: option qos: '1 ' is not a number\n" },
	{ MINIMAL "\toption topic 'a/#/b'\n", "t.conf:7: option topic: "
	  "'a/#/b' is not valid: '#' must be the last level\n" },
	{ MINIMAL "\toption topic 'a+'\n", "t.conf:7: option topic: 'a+' is "
	  "not valid: '+' must be a whole level\n" },
	{ MINIMAL "\toption topic ''\n", "t.conf:5: option topic: required in "
	  "config uplink\n" },
	{ RELAY "\toption unhealthy_after '5m'\n" CENTRAL UPLINK,
	  "t.conf:3: option unhealthy_after: '5m' is not a number\n" },
	{ MINIMAL "\toption local_prefix 'a/+/'\n", "t.conf:7: option "
	  "local_prefix: 'a/+/' must not contain '+' or '#'\n" },
	{ MINIMAL "\toption remote_prefix '#'\n", "t.conf:7: option "
	  "remote_prefix: '#' must not contain '+' or '#'\n" },
	{ MINIMAL "\toption topic '+/x'\n\toption remote_prefix 'p'\n",
	  "t.conf:7: option topic: with remote_prefix 'p' it gives 'p+/x', "
	  "which is not valid: '+' must be a whole level\n" },
	{ MINIMAL "\toption topic '#'\n\toption local_prefix 'p'\n"
	  "\toption remote_prefix 'q'\n",
	  "t.conf:7: option topic: with local_prefix 'p' it gives 'p#', "
	  "which is not valid: '#' must be a whole level\n"
	  "t.conf:7: option topic: with remote_prefix 'q' it gives 'q#', "
	  "which is not valid: '#' must be a whole level\n" },
	{ MINIMAL "config batch\n\toption max_messages '0'\n",
	  "t.conf:8: option max_messages: '0' is not in 1..100000\n" },
	{ MINIMAL "\toption mode 'zip'\n",
	  "t.conf:7: option mode: 'zip' is not one of raw, batch\n" },
	{ MINIMAL "\toption ttl '4294967296'\n",
	  "t.conf:7: option ttl: '4294967296' is not in 0..4294967295\n" },
	{ MINIMAL "\toption priority '256'\n",
	  "t.conf:7: option priority: '256' is not in 0..255\n" },
	{ MINIMAL "\tlist topic 'a'\n", "t.conf:7: option topic: takes one "
	  "value: use 'option', not 'list'\n" },
	{ MINIMAL "config downlink\n\toption topic 'c'\n"
	  "\toption mode 'raw'\n\toption priority '1'\n",
	  "t.conf:9: option mode: unknown in config downlink\n"
	  "t.conf:10: option priority: unknown in config downlink\n" },
};

static void
test_invalid(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++)
		expect_invalid(invalid_cases[i].text, invalid_cases[i].errors);
}

/* All errors are reported, in line order, whatever the schema order. */
static void
test_all_errors_in_line_order(void **state)
{
	(void)state;
	expect_invalid(
	    "config relay\n"
	    "\toption sync 'x'\n"
	    "\toption id 'bad id'\n"
	    "\toption nope 1\n"
	    "config broker 'local'\n"
	    "\toption protocol 3\n"
	    "config uplink\n"
	    "\toption qos 9\n"
	    "\toption topic '#/a'\n"
	    "config thing\n",
	    "t.conf:2: option sync: 'x' is not one of off, normal, full\n"
	    "t.conf:3: option id: 'bad id' must be 1-64 characters of A-Z, "
	    "a-z, 0-9, '.', '_' and '-'\n"
	    "t.conf:4: option nope: unknown in config relay\n"
	    "t.conf:6: option protocol: '3' is not one of 5, 311\n"
	    "t.conf:8: option qos: '9' is not in 0..2\n"
	    "t.conf:9: option topic: '#/a' is not valid: '#' must be the "
	    "last level\n"
	    "t.conf:10: section thing: unknown section type (expected relay, "
	    "broker, batch, uplink or downlink)\n"
	    "t.conf: section broker: config broker 'central' is required\n");
}

static void
test_loop_local_311(void **state)
{
	(void)state;
	expect_invalid(RELAY
	    "config broker 'local'\n\toption protocol '311'\n"	/* 3 */
	    CENTRAL						/* 5 */
	    "config uplink\n\toption topic 'cmd/#'\n"		/* 7 */
	    "config downlink\n\toption topic 'cmd/x'\n",	/* 9 */
	    "t.conf:7: section uplink: its local subscription 'cmd/#' "
	    "overlaps 'cmd/x', where the downlink at line 9 publishes; with "
	    "protocol 311 on the local broker the relay would receive its "
	    "own messages (use protocol 5 or disjoint topics)\n");
	/* Prefixes are part of both filters. */
	expect_invalid(RELAY
	    "config broker 'local'\n\toption protocol '311'\n"
	    CENTRAL
	    "config uplink\n\toption topic '#'\n"
	    "\toption local_prefix 'dev/'\n"
	    "config downlink\n\toption topic 'x/+'\n"
	    "\toption local_prefix 'dev/'\n",
	    "t.conf:7: section uplink: its local subscription 'dev/#' "
	    "overlaps 'dev/x/+', where the downlink at line 10 publishes; "
	    "with protocol 311 on the local broker the relay would receive "
	    "its own messages (use protocol 5 or disjoint topics)\n");
}

static void
test_loop_central_311(void **state)
{
	(void)state;
	expect_invalid(RELAY CENTRAL
	    "\toption protocol '311'\n"			/* 5 */
	    "config uplink\n\toption topic 'a/#'\n"	/* 6 */
	    "config uplink\n\toption topic 'b/#'\n"	/* 8 */
	    "config downlink\n\toption topic '+/x'\n",	/* 10 */
	    "t.conf:10: section downlink: its central subscription "
	    "'gw/gw-1/+/x' overlaps 'gw/gw-1/a/#', where the uplink at line 6 "
	    "publishes; with protocol 311 on the central broker the relay "
	    "would receive its own messages (use protocol 5 or disjoint "
	    "topics)\n"
	    "t.conf:10: section downlink: its central subscription "
	    "'gw/gw-1/+/x' overlaps 'gw/gw-1/b/#', where the uplink at line 8 "
	    "publishes; with protocol 311 on the central broker the relay "
	    "would receive its own messages (use protocol 5 or disjoint "
	    "topics)\n");
}

static void
test_no_loop(void **state)
{
	struct conf *c;

	(void)state;
	/* Overlapping routes are fine with MQTT 5 (No Local). */
	c = load_ok(MINIMAL "config downlink\n\toption topic 'sensors/x'\n");
	conf_free(c);
	/* Disjoint routes are fine with 3.1.1 on both sides. */
	c = load_ok(RELAY "config broker 'local'\n\toption protocol 311\n"
	    CENTRAL "\toption protocol 311\n" UPLINK
	    "config downlink\n\toption topic 'cmd/#'\n");
	conf_free(c);
	/* Different remote prefixes keep the central side apart. */
	c = load_ok(RELAY CENTRAL "\toption protocol 311\n"
	    "config uplink\n\toption topic '#'\n"
	    "\toption remote_prefix 'up/'\n"
	    "config downlink\n\toption topic '#'\n"
	    "\toption remote_prefix 'down/'\n"
	    "\toption local_prefix 'x/'\n");
	conf_free(c);
}

static void
test_print(void **state)
{
	struct conf *c = load_ok(RELAY CENTRAL
	    "\toption password \"it's secret\"\n"
	    "\toption username \"o'brien\"\n"
	    "config uplink 'up'\n\toption topic 'sensors/#'\n"
	    "\toption ttl 60\n");
	char *out;

	(void)state;
	print(c, &out);
	assert_non_null(strstr(out, "config relay\n\toption id 'gw-1'\n"));
	free(out);
	conf_free(c);
	/* A named relay section keeps its name. */
	c = load_ok("config relay 'main'\n\toption id 'gw-1'\n" CENTRAL UPLINK);
	print(c, &out);
	assert_non_null(strstr(out, "config relay 'main'\n\toption id "
	    "'gw-1'\n"));
	free(out);
	conf_free(c);
	c = load_ok(RELAY CENTRAL
	    "\toption password \"it's secret\"\n"
	    "\toption username \"o'brien\"\n"
	    "config uplink 'up'\n\toption topic 'sensors/#'\n"
	    "\toption ttl 60\n");
	print(c, &out);
	assert_non_null(strstr(out, "\toption store_max_bytes '64M'\n"));
	assert_non_null(strstr(out, "\toption unhealthy_after '300'\n"));
	assert_non_null(strstr(out, "\toption status_topic "
	    "'pushrelay/gw-1/status'\n"));
	assert_non_null(strstr(out, "config broker 'local'\n"
	    "\toption address '127.0.0.1:1883'\n"));
	assert_non_null(strstr(out, "config broker 'central'\n"
	    "\tlist address 'c.example:8883'\n"));
	assert_non_null(strstr(out, "\toption username 'o'\\''brien'\n"));
	assert_non_null(strstr(out, "\toption password '********'\n"));
	assert_null(strstr(out, "secret"));
	assert_non_null(strstr(out, "\toption password ''\n"));	/* local */
	assert_non_null(strstr(out, "config uplink 'up'\n"
	    "\toption topic 'sensors/#'\n"));
	assert_non_null(strstr(out, "\toption ttl '60'\n"));
	assert_non_null(strstr(out, "\toption mode 'batch'\n"));
	free(out);
	conf_free(c);
}

/* What conf_print writes loads again to the same configuration. */
/* The warnings conf_warnings() passes on, joined. */
static void
collect(void *arg, const char *text)
{
	char *buf = arg;

	strcat(buf, text);
	strcat(buf, "\n");
}

/*
 * As in libuci, '' is the same as absent: the default applies, with a
 * warning where that default is not empty; '%none' says "none".
 */
static void
test_empty_means_absent(void **state)
{
	char warns[4096] = "";
	struct conf *c = load_ok(RELAY
	    "\toption status_topic ''\n"
	    "\toption store ''\n"
	    "\toption user ''\n"
	    "config broker 'central'\n\tlist address 'c.example:8883'\n"
	    "\toption ca_file ''\n"
	    "config uplink\n\toption topic 'a/#'\n"
	    "\toption remote_prefix ''\n"
	    "\toption local_prefix ''\n");

	(void)state;
	assert_string_equal(c->status_topic, "pushrelay/gw-1/status");
	assert_string_equal(c->store, "/var/lib/pushrelay/queue.db");
	assert_string_equal(c->user, "");
	assert_string_equal(c->central.tls.ca_file,
	    "/etc/ssl/certs/ca-certificates.crt");
	assert_string_equal(c->uplink[0].remote_prefix, "gw/gw-1/");
	assert_string_equal(c->uplink[0].local_prefix, "");
	assert_int_equal(conf_warnings(c, collect, warns), 4);
	assert_string_equal(warns,
	    "t.conf:3: warning: option status_topic: '' is the same as "
	    "leaving the option out (uci deletes such a line at the next "
	    "commit), so the default 'pushrelay/%i/status' applies; write "
	    "'%none' for none\n"
	    "t.conf:4: warning: option store: '' is the same as leaving the "
	    "option out (uci deletes such a line at the next commit), so the "
	    "default '/var/lib/pushrelay/queue.db' applies\n"
	    "t.conf:8: warning: option ca_file: '' is the same as leaving the "
	    "option out (uci deletes such a line at the next commit), so the "
	    "default '/etc/ssl/certs/ca-certificates.crt' applies; write "
	    "'%none' for none\n"
	    "t.conf:11: warning: option remote_prefix: '' is the same as "
	    "leaving the option out (uci deletes such a line at the next "
	    "commit), so the default 'gw/%i/' applies; write '%none' for "
	    "none\n");
	conf_free(c);
}

static void
test_none_word(void **state)
{
	char warns[256] = "", *out;
	struct conf *c = load_ok(RELAY
	    "\toption status_topic '%none'\n"
	    "config broker 'central'\n\tlist address 'c.example:8883'\n"
	    "\toption ca_file '%none'\n\toption ca_path '/etc/ssl/certs'\n"
	    "config uplink\n\toption topic 'a/#'\n"
	    "\toption remote_prefix '%none'\n"
	    "\toption local_prefix '%none'\n");

	(void)state;
	assert_string_equal(c->status_topic, "");
	assert_string_equal(c->central.tls.ca_file, "");
	assert_string_equal(c->uplink[0].remote_prefix, "");
	assert_string_equal(c->uplink[0].local_prefix, "");
	assert_int_equal(conf_warnings(c, collect, warns), 0);
	print(c, &out);
	assert_non_null(strstr(out, "\toption status_topic '%none'\n"));
	assert_non_null(strstr(out, "\toption ca_file '%none'\n"));
	assert_non_null(strstr(out, "\toption remote_prefix '%none'\n"));
	assert_non_null(strstr(out, "\toption local_prefix ''\n"));
	free(out);
	conf_free(c);
}

/* What OpenWrt's config_get_bool takes, and nothing else. */
static void
test_booleans(void **state)
{
	static const char *const yes[] = { "1", "true", "yes", "on",
		"enabled" };
	static const char *const no[] = { "0", "false", "no", "off",
		"disabled" };
	char text[512];
	struct conf *c;
	size_t i;

	(void)state;
	for (i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), RELAY "config broker 'central'\n"
		    "\tlist address 'c.example:8883'\n\toption tls '%s'\n"
		    "\toption psk_identity 'i'\n\toption psk '00112233'\n"
		    UPLINK, yes[i]);
		c = load_ok(text);
		assert_int_equal(c->central.tls.enabled, 1);
		conf_free(c);
		snprintf(text, sizeof(text), RELAY "config broker 'central'\n"
		    "\tlist address 'c.example:8883'\n\toption tls '%s'\n"
		    UPLINK, no[i]);
		c = load_ok(text);
		assert_int_equal(c->central.tls.enabled, 0);
		conf_free(c);
	}
	expect_invalid(RELAY "config broker 'central'\n"
	    "\tlist address 'c.example:8883'\n\toption tls 'True'\n" UPLINK,
	    "t.conf:5: option tls: 'True' is not a boolean (1/0, true/false, "
	    "yes/no, on/off, enabled/disabled)\n");
}

/* An unquoted '#' cuts the value, as in uci: a warning names the line. */
static void
test_hash_cut_warns(void **state)
{
	char warns[512] = "";
	struct conf *c = load_ok(RELAY CENTRAL
	    "config uplink\n\toption topic sensors/#\n"
	    "config uplink\n\toption topic 'b/#' # fine\n");

	(void)state;
	assert_string_equal(c->uplink[0].topic, "sensors/");
	assert_int_equal(conf_warnings(c, collect, warns), 1);
	assert_string_equal(warns, "t.conf:6: warning: option topic: an "
	    "unquoted '#' starts a comment in uci, so the value is "
	    "'sensors/'; quote the whole value if the '#' belongs to it\n");
	conf_free(c);
}

static void
test_print_round_trip(void **state)
{
	struct conf *c = NULL, *again;
	char *first, *second;

	(void)state;
	assert_int_equal(conf_load("docs/examples/pushrelay.conf", &c, NULL),
	    CONF_OK);
	print(c, &first);
	again = load_ok(first);
	print(again, &second);
	assert_string_equal(first, second);
	free(first);
	free(second);
	conf_free(c);
	conf_free(again);
}

static void
test_load_errors(void **state)
{
	struct conf *c = (struct conf *)1;
	char *errs;
	size_t len;
	FILE *f;

	(void)state;
	f = open_memstream(&errs, &len);
	assert_int_equal(conf_load("/nonexistent/pushrelay", &c, f),
	    CONF_ERR_IO);
	fclose(f);
	assert_string_equal(errs, "/nonexistent/pushrelay: cannot open: "
	    "No such file or directory\n");
	assert_ptr_equal(c, (struct conf *)1);	/* untouched */
	free(errs);

	c = NULL;
	f = open_memstream(&errs, &len);
	assert_int_equal(conf_parse("s.conf", "config relay\n\toption id 'x",
	    26, &c, f), CONF_ERR_SYNTAX);
	fclose(f);
	assert_string_equal(errs, "s.conf:2: syntax: unterminated single "
	    "quote\n");
	assert_null(c);
	free(errs);

	/* errs may be NULL. */
	assert_int_equal(conf_parse("n.conf", "config x\n", 9, &c, NULL),
	    CONF_ERR_INVALID);
	conf_free(NULL);
}

static void
test_strerror(void **state)
{
	(void)state;
	assert_string_equal(conf_strerror(CONF_OK), "success");
	assert_string_equal(conf_strerror(CONF_ERR_IO),
	    "cannot read the configuration file");
	assert_string_equal(conf_strerror(CONF_ERR_SYNTAX),
	    "syntax error in the configuration");
	assert_string_equal(conf_strerror(CONF_ERR_INVALID),
	    "invalid configuration");
	assert_string_equal(conf_strerror(CONF_ERR_NOMEM), "out of memory");
	assert_string_equal(conf_strerror(-42), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_file),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_central_option_address),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_uint_parser),
		cmocka_unit_test(test_id_expansion),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_all_errors_in_line_order),
		cmocka_unit_test(test_loop_local_311),
		cmocka_unit_test(test_loop_central_311),
		cmocka_unit_test(test_no_loop),
		cmocka_unit_test(test_print),
		cmocka_unit_test(test_empty_means_absent),
		cmocka_unit_test(test_none_word),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_hash_cut_warns),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
