/* Unit tests for relay/ackgate: framing, holding and releasing PUBACKs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform/ackgate.h"

/*
 * The stream: CONNECT, PUBLISH QoS 1 (id 7), PUBACK 7, PINGREQ, PUBREC 9
 * (MQTT 5: reason code and empty properties), PUBCOMP 9, and a PUBLISH
 * QoS 0 long enough for a two-byte remaining length.
 */
static uint8_t stream[512];
static size_t stream_len;
static size_t off_puback, off_pubrec, off_pubcomp;

static void
put(const uint8_t *p, size_t n)
{
	memcpy(stream + stream_len, p, n);
	stream_len += n;
}

static int
setup_stream(void **state)
{
	static const uint8_t connect[] = { 0x10, 15, 0, 4, 'M', 'Q', 'T', 'T',
	    4, 2, 0, 60, 0, 3, 'a', 'b', 'c' };
	static const uint8_t publish[] = { 0x32, 12, 0, 3, 'a', '/', 'b',
	    0, 7, 'h', 'e', 'l', 'l', 'o' };
	static const uint8_t puback[] = { 0x40, 2, 0, 7 };
	static const uint8_t pingreq[] = { 0xC0, 0 };
	static const uint8_t pubrec[] = { 0x50, 4, 0, 9, 0x10, 0 };
	static const uint8_t pubcomp[] = { 0x70, 2, 0, 9 };
	static const uint8_t big[] = { 0x30, 0xCB, 0x01, 0, 1, 't' };
	uint8_t payload[200];

	(void)state;
	stream_len = 0;
	put(connect, sizeof(connect));
	put(publish, sizeof(publish));
	off_puback = stream_len;
	put(puback, sizeof(puback));
	put(pingreq, sizeof(pingreq));
	off_pubrec = stream_len;
	put(pubrec, sizeof(pubrec));
	off_pubcomp = stream_len;
	put(pubcomp, sizeof(pubcomp));
	put(big, sizeof(big));
	memset(payload, 'x', sizeof(payload));
	put(payload, sizeof(payload));
	return 0;
}

/* The owner of the bytes, as the tunnel would be. */
struct owner {
	struct ackgate *g;
	const uint8_t *s;
	size_t fed;	/* bytes handed to the gate */
	size_t sent;	/* bytes released and "written" */
};

/* Feed what arrived (s[0..limit)) and write what the gate allows. */
static void
owner_pump(struct owner *o, size_t limit, int64_t now)
{
	size_t used;
	uint64_t r;

	while (o->fed < limit) {
		assert_int_equal(ackgate_feed(o->g, o->s + o->fed,
		    limit - o->fed, now, &used), ACKGATE_OK);
		o->fed += used;
		if (used == 0)
			break;
	}
	r = ackgate_releasable(o->g);
	assert_true(o->sent + r <= o->fed);
	o->sent += (size_t)r;
	ackgate_consume(o->g, r);
}

static struct ackgate *
gate_new(void)
{
	struct ackgate *g = calloc(1, sizeof(*g));

	assert_non_null(g);
	ackgate_init(g, 1000);
	return g;
}

/* Run the whole stream cut at a and b; credits for 7 and 9 come first. */
static void
run_split(struct ackgate *g, size_t a, size_t b, int credit_first)
{
	struct owner o = { g, stream, 0, 0 };

	ackgate_reset(g);
	if (credit_first) {
		ackgate_durable(g, 7, 0);
		ackgate_durable(g, 9, 0);
	}
	owner_pump(&o, a, 0);
	owner_pump(&o, b, 0);
	owner_pump(&o, stream_len, 0);
	if (credit_first) {
		assert_int_equal(o.sent, stream_len);
		return;
	}
	assert_int_equal(o.sent, off_puback);
	assert_int_equal(ackgate_held_id(g), 7);
	ackgate_durable(g, 7, 5);
	owner_pump(&o, stream_len, 5);
	assert_int_equal(o.sent, off_pubrec);
	assert_int_equal(ackgate_held_id(g), 9);
	ackgate_durable(g, 9, 6);
	owner_pump(&o, stream_len, 6);
	assert_int_equal(o.sent, stream_len);
	assert_int_equal(ackgate_held_id(g), -1);
}

static void
test_every_split(void **state)
{
	struct ackgate *g = gate_new();
	struct ackgate_stats st;
	size_t a, b, runs = 0;
	int credit;

	(void)state;
	for (credit = 0; credit <= 1; credit++)
		for (a = 0; a <= stream_len; a++)
			for (b = a; b <= stream_len; b++, runs++)
				run_split(g, a, b, credit);
	ackgate_stats(g, &st);
	assert_int_equal(st.packets, 7 * runs);
	assert_int_equal(st.acks, 2 * runs);
	assert_int_equal(st.acks_credited, runs);
	assert_int_equal(st.acks_held, runs);
	assert_int_equal(st.valve_releases, 0);
	free(g);
}

static void
test_one_byte_at_a_time(void **state)
{
	struct ackgate *g = gate_new();
	struct owner o = { g, stream, 0, 0 };
	size_t i;

	(void)state;
	for (i = 1; i <= stream_len; i++) {
		owner_pump(&o, i, 0);
		if (i == off_puback + 4)
			ackgate_durable(g, 7, 1);
		if (i == off_pubrec + 1)
			ackgate_durable(g, 9, 1);	/* before it is complete */
	}
	owner_pump(&o, stream_len, 2);
	assert_int_equal(o.sent, stream_len);
	free(g);
}

static void
test_hold_order(void **state)
{
	static const uint8_t s[] = { 0x40, 2, 0, 1, 0x40, 2, 0, 2,
	    0xC0, 0 };
	struct ackgate *g = gate_new();
	struct owner o = { g, s, 0, 0 };

	(void)state;
	owner_pump(&o, sizeof(s), 0);
	assert_int_equal(o.sent, 0);
	assert_int_equal(o.fed, 4);		/* stopped after PUBACK 1 */
	ackgate_durable(g, 2, 1);		/* out of order: a credit */
	owner_pump(&o, sizeof(s), 1);
	assert_int_equal(o.sent, 0);		/* PUBACK 1 still first */
	assert_int_equal(ackgate_held_id(g), 1);
	ackgate_durable(g, 1, 2);
	owner_pump(&o, sizeof(s), 2);
	assert_int_equal(o.sent, sizeof(s));	/* 2 passed on its credit */
	free(g);
}

static void
test_durable_before_ack(void **state)
{
	static const uint8_t s[] = { 0x40, 2, 0x12, 0x34, 0x40, 2, 0x12,
	    0x34 };
	struct ackgate *g = gate_new();
	struct owner o = { g, s, 0, 0 };

	(void)state;
	ackgate_durable(g, 0x1234, 0);
	ackgate_durable(g, 0, 0);		/* QoS 0: ignored */
	owner_pump(&o, sizeof(s), 0);
	assert_int_equal(o.sent, 4);		/* one credit, one PUBACK */
	assert_int_equal(ackgate_held_id(g), 0x1234);
	ackgate_durable(g, 0x1234, 0);
	owner_pump(&o, sizeof(s), 0);
	assert_int_equal(o.sent, 8);
	ackgate_reset(g);			/* credits die with the stream */
	ackgate_durable(g, 0x1234, 0);
	ackgate_reset(g);
	o.fed = o.sent = 0;
	owner_pump(&o, 4, 0);
	assert_int_equal(o.sent, 0);
	free(g);
}

static void
test_valve(void **state)
{
	static const uint8_t s[] = { 0x50, 2, 0, 3, 0x40, 2, 0, 4 };
	struct ackgate *g = gate_new();
	struct owner o = { g, s, 0, 0 };
	struct ackgate_stats st;

	(void)state;
	assert_int_equal(ackgate_deadline(g), -1);
	owner_pump(&o, sizeof(s), 1000);
	assert_int_equal(ackgate_deadline(g), 2000);
	assert_int_equal(ackgate_valve(g, 1999), 0);
	owner_pump(&o, sizeof(s), 1999);
	assert_int_equal(o.sent, 0);
	assert_int_equal(ackgate_valve(g, 2000), 1);
	owner_pump(&o, sizeof(s), 2000);
	assert_int_equal(o.sent, 4);		/* PUBREC 3 went */
	assert_int_equal(ackgate_deadline(g), 3000);	/* PUBACK 4 now */
	ackgate_durable(g, 3, 2001);		/* late: stays a credit */
	ackgate_durable(g, 4, 2500);
	owner_pump(&o, sizeof(s), 2500);
	assert_int_equal(o.sent, 8);
	ackgate_stats(g, &st);
	assert_int_equal(st.valve_releases, 1);
	assert_int_equal(st.hold_ms_max, 1000);
	assert_int_equal(g->credit[3], 1);
	free(g);
}

static void
expect_malformed(struct ackgate *g, const uint8_t *s, size_t n)
{
	size_t used, i;
	int rc = ACKGATE_OK;

	ackgate_reset(g);
	for (i = 0; i < n && rc == ACKGATE_OK; i += used)
		rc = ackgate_feed(g, s + i, 1, 0, &used);
	assert_int_equal(rc, ACKGATE_ERR_MALFORMED);
	assert_int_equal(ackgate_feed(g, s, 1, 0, &used),
	    ACKGATE_ERR_MALFORMED);
	ackgate_reset(g);
	assert_int_equal(ackgate_feed(g, (const uint8_t *)"\xC0\x00", 2, 0,
	    &used), ACKGATE_OK);
	assert_int_equal(used, 2);
}

static void
test_malformed(void **state)
{
	static const uint8_t varint5[] = { 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 1 };
	static const uint8_t type0[] = { 0xC0, 0, 0x00, 0 };
	static const uint8_t short_ack[] = { 0x40, 1, 0 };
	static const uint8_t empty_rec[] = { 0x50, 0 };
	struct ackgate *g = gate_new();
	size_t used;

	(void)state;
	expect_malformed(g, varint5, sizeof(varint5));
	expect_malformed(g, type0, sizeof(type0));
	expect_malformed(g, short_ack, sizeof(short_ack));
	expect_malformed(g, empty_rec, sizeof(empty_rec));
	/* The largest legal length (4 bytes) is fine. */
	ackgate_reset(g);
	assert_int_equal(ackgate_feed(g,
	    (const uint8_t *)"\x30\xFF\xFF\xFF\x7F", 5, 0, &used), ACKGATE_OK);
	assert_int_equal(used, 5);
	assert_string_equal(ackgate_strerror(ACKGATE_ERR_MALFORMED),
	    "malformed MQTT stream");
	assert_string_equal(ackgate_strerror(-99), "unknown ackgate error");
	free(g);
}

static void
test_big_publish(void **state)
{
	static uint8_t chunk[65536];
	const uint32_t body = 2u * 1024 * 1024;
	uint8_t hdr[5] = { 0x32, 0, 0, 0, 0 };
	struct ackgate *g = gate_new();
	uint64_t total = 0;
	size_t used, k;
	uint32_t left;

	(void)state;
	hdr[1] = (uint8_t)(0x80 | (body & 0x7f));
	hdr[2] = (uint8_t)(0x80 | ((body >> 7) & 0x7f));
	hdr[3] = (uint8_t)(0x80 | ((body >> 14) & 0x7f));
	hdr[4] = (uint8_t)(body >> 21);		/* 2 MiB needs all 4 bytes */
	assert_int_equal(ackgate_feed(g, hdr, 5, 0, &used), ACKGATE_OK);
	assert_int_equal(ackgate_releasable(g), 5);	/* headers go at once */
	ackgate_consume(g, 5);
	for (left = body; left > 0; left -= (uint32_t)k) {
		k = left < sizeof(chunk) ? left : sizeof(chunk);
		assert_int_equal(ackgate_feed(g, chunk, k, 0, &used),
		    ACKGATE_OK);
		assert_int_equal(used, k);
		/* Everything fed is releasable: the gate keeps nothing. */
		assert_int_equal(ackgate_releasable(g), k);
		ackgate_consume(g, k);
		total += k;
	}
	assert_int_equal(total, body);
	hdr[0] = 0x40;
	hdr[1] = 2;
	hdr[2] = 0;
	hdr[3] = 1;
	assert_int_equal(ackgate_feed(g, hdr, 4, 0, &used), ACKGATE_OK);
	assert_int_equal(ackgate_releasable(g), 0);
	assert_int_equal(ackgate_held_id(g), 1);
	free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_split),
		cmocka_unit_test(test_one_byte_at_a_time),
		cmocka_unit_test(test_hold_order),
		cmocka_unit_test(test_durable_before_ack),
		cmocka_unit_test(test_valve),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_big_publish),
	};

	return cmocka_run_group_tests(tests, setup_stream, NULL);
}
