/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for mqtt/: the data representations, the byte-exact examples
 * of the MQTT 3.1.1 and 5.0 specifications, our own vectors for every
 * packet type in both protocols, and encode -> decode round trips.
 * Refusals, buffer sizes and framing are in test_mqtt_refuse.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mqtt/mqtt.h"

#define S(lit)	((struct mqtt_str){ (lit), sizeof(lit) - 1 })

static uint8_t buf[4096];

/* Encodes with the given call and checks the bytes against want. */
#define EXPECT_ENC(call, want) do {					\
	size_t n_ = 0;							\
	assert_int_equal((call), MQTT_OK);				\
	assert_int_equal(n_, sizeof(want));				\
	assert_memory_equal(buf, (want), sizeof(want));			\
} while (0)

static void
decode_ok(const uint8_t *p, size_t len, int protocol, struct mqtt_packet *pk)
{
	size_t fl = 0;

	assert_int_equal(mqtt_frame(p, len, 0, &fl), 1);
	assert_int_equal(fl, len);
	assert_int_equal(mqtt_decode(p, len, protocol, pk), MQTT_OK);
}

static void
assert_str(struct mqtt_str s, const char *want)
{
	assert_non_null(s.p);
	assert_int_equal(s.len, strlen(want));
	assert_memory_equal(s.p, want, s.len);
}

/* MQTT 3.1.1 section 2.2.3 / MQTT 5 section 1.5.5: the table of sizes. */
static void
test_varint_spec(void **state)
{
	static const struct {
		uint32_t v;
		uint8_t b[4];
		size_t n;
	} t[] = {
		{ 0, { 0x00 }, 1 },
		{ 127, { 0x7f }, 1 },
		{ 128, { 0x80, 0x01 }, 2 },
		{ 16383, { 0xff, 0x7f }, 2 },
		{ 16384, { 0x80, 0x80, 0x01 }, 3 },
		{ 2097151, { 0xff, 0xff, 0x7f }, 3 },
		{ 2097152, { 0x80, 0x80, 0x80, 0x01 }, 4 },
		{ 268435455, { 0xff, 0xff, 0xff, 0x7f }, 4 },
	};
	static const uint8_t five[] = { 0x80, 0x80, 0x80, 0x80, 0x01 };
	static const uint8_t nonmin[] = { 0x80, 0x00 };
	uint8_t out[4];
	uint32_t v;
	size_t i, k, used;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(mqtt_varint_put(out, t[i].v), t[i].n);
		assert_memory_equal(out, t[i].b, t[i].n);
		assert_int_equal(mqtt_varint_len(t[i].v), t[i].n);
		assert_int_equal(mqtt_varint_get(t[i].b, t[i].n, &v, &used), 1);
		assert_int_equal(v, t[i].v);
		assert_int_equal(used, t[i].n);
		for (k = 0; k < t[i].n; k++)
			assert_int_equal(mqtt_varint_get(t[i].b, k, &v, &used),
			    0);
	}
	assert_int_equal(mqtt_varint_get(five, sizeof(five), &v, &used),
	    MQTT_ERR_MALFORMED);
	assert_int_equal(mqtt_varint_get(five, 4, &v, &used),
	    MQTT_ERR_MALFORMED);
	assert_int_equal(mqtt_varint_get(nonmin, 2, &v, &used), 1);
	assert_int_equal(v, 0);
	assert_int_equal(used, 2);
}

/* MQTT 3.1.1 figure 1.3 / MQTT 5 figure 1-1: "A" U+2A6D4. */
static void
test_utf8_spec(void **state)
{
	static const uint8_t want[] = { 0x00, 0x05, 0x41, 0xf0, 0xaa, 0x9b,
	    0x94 };
	struct mqtt_pw w;

	(void)state;
	assert_true(mqtt_utf8_valid(want + 2, 5, 0));
	assert_true(mqtt_utf8_valid(want + 2, 5, 1));
	mqtt_pw_init(&w, buf, sizeof(buf));
	mqtt_pw_str(&w, MQTT_P_CONTENT_TYPE, want + 2, 5);
	assert_int_equal(w.len, 1 + sizeof(want));
	assert_int_equal(buf[0], MQTT_P_CONTENT_TYPE);
	assert_memory_equal(buf + 1, want, sizeof(want));
}

static void
test_utf8_rules(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		int ok, strict_ok;
	} t[] = {
		{ "", 0, 1, 1 },
		{ "plain/topic", 11, 1, 1 },
		{ "\xc2\xa0", 2, 1, 1 },		/* U+00A0 */
		{ "\xef\xbb\xbf", 3, 1, 1 },		/* U+FEFF */
		{ "\xf4\x8f\xbf\xbf", 4, 1, 1 },	/* U+10FFFF */
		{ "\xed\x9f\xbf", 3, 1, 1 },		/* U+D7FF */
		{ "\xee\x80\x80", 3, 1, 1 },		/* U+E000 */
		{ "\x01", 1, 1, 0 },
		{ "a\x1f", 2, 1, 0 },
		{ "\x7f", 1, 1, 0 },
		{ "\xc2\x80", 2, 1, 0 },		/* U+0080 */
		{ "\xc2\x9f", 2, 1, 0 },		/* U+009F */
		{ "\x00", 1, 0, 0 },			/* U+0000 */
		{ "a\x00" "b", 3, 0, 0 },
		{ "\xc0\x80", 2, 0, 0 },		/* overlong U+0000 */
		{ "\xc1\xbf", 2, 0, 0 },		/* overlong U+007F */
		{ "\xe0\x80\xaf", 3, 0, 0 },		/* overlong '/' */
		{ "\xe0\x9f\xbf", 3, 0, 0 },		/* overlong U+07FF */
		{ "\xf0\x8f\xbf\xbf", 4, 0, 0 },	/* overlong U+FFFF */
		{ "\xed\xa0\x80", 3, 0, 0 },		/* U+D800 */
		{ "\xed\xbf\xbf", 3, 0, 0 },		/* U+DFFF */
		{ "\xf4\x90\x80\x80", 4, 0, 0 },	/* U+110000 */
		{ "\xf5\x80\x80\x80", 4, 0, 0 },
		{ "\xf8\x88\x80\x80\x80", 5, 0, 0 },
		{ "\xff", 1, 0, 0 },
		{ "\x80", 1, 0, 0 },			/* lone continuation */
		{ "\xc2", 1, 0, 0 },			/* truncated */
		{ "\xe2\x82", 2, 0, 0 },
		{ "\xe2\x28\xa1", 3, 0, 0 },		/* bad continuation */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(mqtt_utf8_valid(t[i].s, t[i].len, 0), t[i].ok);
		assert_int_equal(mqtt_utf8_valid(t[i].s, t[i].len, 1),
		    t[i].strict_ok);
	}
	assert_true(mqtt_utf8_valid(NULL, 0, 1));
}

static void
test_topic_name(void **state)
{
	static char big[65536];

	(void)state;
	memset(big, 'a', sizeof(big));
	assert_true(mqtt_topic_name_valid("a/b", 3));
	assert_true(mqtt_topic_name_valid("/", 1));
	assert_true(mqtt_topic_name_valid("$SYS/x", 6));
	assert_true(mqtt_topic_name_valid(big, 65535));
	assert_false(mqtt_topic_name_valid(big, 65536));
	assert_false(mqtt_topic_name_valid("", 0));
	assert_false(mqtt_topic_name_valid("a/+", 3));
	assert_false(mqtt_topic_name_valid("#", 1));
	assert_false(mqtt_topic_name_valid("a\x00", 2));
	assert_false(mqtt_topic_name_valid("\xed\xa0\x80", 3));
	/* Control characters are allowed in topics (strict = 0). */
	assert_true(mqtt_topic_name_valid("a\x01", 2));
}

/* MQTT 3.1.1 section 3.1.2.10, figure 3.6: the CONNECT variable header
 * with User Name, Password, Will QoS 1, Will, Clean Session; keep
 * alive 10. */
static void
test_spec_connect_311(void **state)
{
	static const uint8_t vh[] = { 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
	    0xce, 0x00, 0x0a };
	static const uint8_t want[] = { 0x10, 0x1f, 0x00, 0x04, 'M', 'Q', 'T',
	    'T', 0x04, 0xce, 0x00, 0x0a, 0x00, 0x03, 'c', 'i', 'd', 0x00,
	    0x03, 'w', '/', 't', 0x00, 0x02, 'b', 'y', 0x00, 0x01, 'u', 0x00,
	    0x02, 'p', 'w' };
	struct mqtt_connect c = { 0 };
	struct mqtt_packet pk;

	(void)state;
	c.protocol = MQTT_V311;
	c.clean_start = 1;
	c.keepalive = 10;
	c.client_id = S("cid");
	c.will = 1;
	c.will_qos = 1;
	c.will_topic = S("w/t");
	c.will_payload = S("by");
	c.username = S("u");
	c.password = S("pw");
	EXPECT_ENC(mqtt_encode_connect(buf, sizeof(buf), &c, &n_), want);
	assert_memory_equal(buf + 2, vh, sizeof(vh));
	assert_int_equal(mqtt_connect_size(&c), sizeof(want));
	decode_ok(buf, sizeof(want), MQTT_V5, &pk);	/* level decides */
	assert_int_equal(pk.type, MQTT_CONNECT);
	assert_int_equal(pk.u.connect.protocol, MQTT_V311);
	assert_int_equal(pk.u.connect.keepalive, 10);
	assert_true(pk.u.connect.clean_start && pk.u.connect.will);
	assert_int_equal(pk.u.connect.will_qos, 1);
	assert_false(pk.u.connect.will_retain);
	assert_str(pk.u.connect.client_id, "cid");
	assert_str(pk.u.connect.will_topic, "w/t");
	assert_str(pk.u.connect.will_payload, "by");
	assert_str(pk.u.connect.username, "u");
	assert_str(pk.u.connect.password, "pw");
	assert_int_equal(pk.props.has, 0);
}

/* MQTT 5 section 3.1.2.12, figure 3-8: the same header plus a Session
 * Expiry Interval of 10. */
static void
test_spec_connect_v5(void **state)
{
	static const uint8_t vh[] = { 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
	    0xce, 0x00, 0x0a, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0a };
	static const uint8_t will_props[] = { 0x18, 0x00, 0x00, 0x00, 0x05 };
	struct mqtt_connect c = { 0 };
	struct mqtt_packet pk;
	struct mqtt_props wp;
	uint8_t props[8];
	struct mqtt_pw w;
	size_t n;

	(void)state;
	mqtt_pw_init(&w, props, sizeof(props));
	mqtt_pw_u32(&w, MQTT_P_SESSION_EXPIRY, 10);
	assert_false(w.overflow);
	c.protocol = MQTT_V5;
	c.clean_start = 1;
	c.keepalive = 10;
	c.props = props;
	c.props_len = w.len;
	c.client_id = S("");
	c.will = 1;
	c.will_qos = 1;
	c.will_topic = S("w/t");
	c.will_payload = S("");
	c.will_props = will_props;
	c.will_props_len = sizeof(will_props);
	c.username = S("u");
	c.password = S("");
	assert_int_equal(mqtt_encode_connect(buf, sizeof(buf), &c, &n),
	    MQTT_OK);
	assert_memory_equal(buf + 2, vh, sizeof(vh));
	assert_int_equal(n, mqtt_connect_size(&c));
	decode_ok(buf, n, MQTT_V311, &pk);
	assert_int_equal(pk.u.connect.protocol, MQTT_V5);
	assert_true(MQTT_HAS(&pk.props, MQTT_P_SESSION_EXPIRY));
	assert_int_equal(pk.props.session_expiry, 10);
	assert_int_equal(pk.u.connect.client_id.len, 0);
	assert_int_equal(pk.u.connect.will_props_len, sizeof(will_props));
	assert_int_equal(mqtt_props_parse(pk.u.connect.will_props,
	    pk.u.connect.will_props_len, MQTT_WILL_PROPS, &wp), MQTT_OK);
	assert_int_equal(wp.will_delay, 5);
	assert_non_null(pk.u.connect.password.p);
	assert_int_equal(pk.u.connect.password.len, 0);
	/* The will delay is a will property, not a CONNECT property. */
	assert_int_equal(mqtt_props_parse(will_props, sizeof(will_props),
	    MQTT_CONNECT, &wp), MQTT_ERR_PROTOCOL);
}

/* MQTT 3.1.1 figure 3.11 / MQTT 5 figure 3-9: the PUBLISH variable
 * header for topic "a/b" and packet identifier 10. */
static void
test_spec_publish(void **state)
{
	static const uint8_t want311[] = { 0x32, 0x09, 0x00, 0x03, 'a', '/',
	    'b', 0x00, 0x0a, 'h', 'i' };
	static const uint8_t want5[] = { 0x32, 0x0a, 0x00, 0x03, 'a', '/',
	    'b', 0x00, 0x0a, 0x00, 'h', 'i' };
	struct mqtt_publish p = { 0 };
	struct mqtt_packet pk;

	(void)state;
	p.topic = S("a/b");
	p.qos = 1;
	p.id = 10;
	p.payload = "hi";
	p.payload_len = 2;
	EXPECT_ENC(mqtt_encode_publish(buf, sizeof(buf), MQTT_V311, &p, &n_),
	    want311);
	assert_int_equal(mqtt_publish_size(MQTT_V311, &p), sizeof(want311));
	EXPECT_ENC(mqtt_encode_publish(buf, sizeof(buf), MQTT_V5, &p, &n_),
	    want5);
	assert_int_equal(mqtt_publish_size(MQTT_V5, &p), sizeof(want5));
	decode_ok(want5, sizeof(want5), MQTT_V5, &pk);
	assert_int_equal(pk.type, MQTT_PUBLISH);
	assert_int_equal(pk.flags, 2);
	assert_str(pk.u.publish.topic, "a/b");
	assert_int_equal(pk.u.publish.qos, 1);
	assert_int_equal(pk.u.publish.id, 10);
	assert_int_equal(pk.u.publish.payload_len, 2);
	assert_ptr_equal(pk.u.publish.payload, want5 + 10);
	assert_int_equal(pk.u.publish.props_len, 0);
	/* The same bytes are a different packet in 3.1.1: payload 00 'h' 'i'. */
	decode_ok(want5, sizeof(want5), MQTT_V311, &pk);
	assert_int_equal(pk.u.publish.payload_len, 3);
}

/*
 * MQTT 3.1.1 figures 3.21/3.22 and MQTT 5 figure 3-19: SUBSCRIBE with
 * packet identifier 10, "a/b" QoS 1 and "c/d" QoS 2; figure 3.26: the
 * SUBACK payload 0, 2, 0x80; figure 3.30: the UNSUBSCRIBE payload.
 */
static void
test_spec_subscribe(void **state)
{
	static const uint8_t sub311[] = { 0x82, 0x0e, 0x00, 0x0a, 0x00, 0x03,
	    'a', '/', 'b', 0x01, 0x00, 0x03, 'c', '/', 'd', 0x02 };
	static const uint8_t sub5[] = { 0x82, 0x0f, 0x00, 0x0a, 0x00, 0x00,
	    0x03, 'a', '/', 'b', 0x01, 0x00, 0x03, 'c', '/', 'd', 0x02 };
	static const uint8_t suback311[] = { 0x90, 0x05, 0x00, 0x0a, 0x00,
	    0x02, 0x80 };
	static const uint8_t unsub311[] = { 0xa2, 0x0c, 0x00, 0x0a, 0x00,
	    0x03, 'a', '/', 'b', 0x00, 0x03, 'c', '/', 'd' };
	static const uint8_t unsub5[] = { 0xa2, 0x0d, 0x00, 0x0a, 0x00, 0x00,
	    0x03, 'a', '/', 'b', 0x00, 0x03, 'c', '/', 'd' };
	static const uint8_t codes[] = { 0x00, 0x02, 0x80 };
	const struct mqtt_sub subs[2] = { { S("a/b"), 1 }, { S("c/d"), 2 } };
	const struct mqtt_str fs[2] = { S("a/b"), S("c/d") };

	(void)state;
	EXPECT_ENC(mqtt_encode_subscribe(buf, sizeof(buf), MQTT_V311, 10,
	    subs, 2, NULL, 0, &n_), sub311);
	EXPECT_ENC(mqtt_encode_subscribe(buf, sizeof(buf), MQTT_V5, 10, subs,
	    2, NULL, 0, &n_), sub5);
	assert_int_equal(mqtt_subscribe_size(MQTT_V5, subs, 2, 0),
	    sizeof(sub5));
	EXPECT_ENC(mqtt_encode_suback(buf, sizeof(buf), MQTT_V311,
	    MQTT_SUBACK, 10, codes, 3, NULL, 0, &n_), suback311);
	EXPECT_ENC(mqtt_encode_unsubscribe(buf, sizeof(buf), MQTT_V311, 10,
	    fs, 2, NULL, 0, &n_), unsub311);
	EXPECT_ENC(mqtt_encode_unsubscribe(buf, sizeof(buf), MQTT_V5, 10, fs,
	    2, NULL, 0, &n_), unsub5);
	assert_int_equal(mqtt_unsubscribe_size(MQTT_V311, fs, 2, 0),
	    sizeof(unsub311));
}

/* Our own vectors for the short packets, both protocols. */
static const uint8_t pingreq[] = { 0xc0, 0x00 };
static const uint8_t pingresp[] = { 0xd0, 0x00 };
static const uint8_t disc0[] = { 0xe0, 0x00 };
static const uint8_t disc5r[] = { 0xe0, 0x01, 0x04 };
static const uint8_t disc5p[] = { 0xe0, 0x07, 0x8e, 0x05, 0x1f, 0x00,
    0x02, 'b', 'y' };
static const uint8_t connack311[] = { 0x20, 0x02, 0x01, 0x00 };
static const uint8_t connack311r[] = { 0x20, 0x02, 0x00, 0x05 };
static const uint8_t connack5[] = { 0x20, 0x03, 0x00, 0x87, 0x00 };
static const uint8_t connack5p[] = { 0x20, 0x06, 0x01, 0x00, 0x03,
    0x21, 0x00, 0x14 };
static const uint8_t puback[] = { 0x40, 0x02, 0x12, 0x34 };
static const uint8_t pubrec[] = { 0x50, 0x02, 0x00, 0x01 };
static const uint8_t pubrel[] = { 0x62, 0x02, 0x00, 0x01 };
static const uint8_t pubcomp[] = { 0x70, 0x02, 0xff, 0xff };
static const uint8_t puback5r[] = { 0x40, 0x03, 0x00, 0x01, 0x10 };
static const uint8_t pubrel5p[] = { 0x62, 0x08, 0x00, 0x01, 0x92,
    0x04, 0x1f, 0x00, 0x01, 'x' };
static const uint8_t unsuback311[] = { 0xb0, 0x02, 0x00, 0x05 };
static const uint8_t unsuback5[] = { 0xb0, 0x05, 0x00, 0x05, 0x00,
    0x11, 0x00 };
static const uint8_t suback5[] = { 0x90, 0x04, 0x00, 0x05, 0x00,
    0xa2 };
static const uint8_t auth0[] = { 0xf0, 0x00 };
static const uint8_t auth5[] = { 0xf0, 0x08, 0x18, 0x06, 0x15, 0x00,
    0x03, 'a', 'b', 'c' };
static const uint8_t auth5r[] = { 0xf0, 0x02, 0x19, 0x00 };
static const uint8_t rs[] = { 0x1f, 0x00, 0x02, 'b', 'y' };
static const uint8_t rx[] = { 0x1f, 0x00, 0x01, 'x' };
static const uint8_t rm[] = { 0x21, 0x00, 0x14 };
static const uint8_t am[] = { 0x15, 0x00, 0x03, 'a', 'b', 'c' };
static const uint8_t c11[] = { 0x11, 0x00 };
static const uint8_t c2[] = { 0xa2 };

/* The packets a client sends, and their sizes. */
static void
test_exact_client(void **state)
{
	(void)state;
	EXPECT_ENC(mqtt_encode_pingreq(buf, sizeof(buf), &n_), pingreq);
	EXPECT_ENC(mqtt_encode_disconnect(buf, sizeof(buf), MQTT_V311, 0x04,
	    rs, sizeof(rs), &n_), disc0);
	EXPECT_ENC(mqtt_encode_disconnect(buf, sizeof(buf), MQTT_V5, 0, NULL,
	    0, &n_), disc0);
	EXPECT_ENC(mqtt_encode_disconnect(buf, sizeof(buf), MQTT_V5, 0x04,
	    NULL, 0, &n_), disc5r);
	EXPECT_ENC(mqtt_encode_disconnect(buf, sizeof(buf), MQTT_V5, 0x8e,
	    rs, sizeof(rs), &n_), disc5p);
	EXPECT_ENC(mqtt_encode_ack(buf, sizeof(buf), MQTT_V311, MQTT_PUBACK,
	    0x1234, 0x80, rs, sizeof(rs), &n_), puback);
	EXPECT_ENC(mqtt_encode_ack(buf, sizeof(buf), MQTT_V5, MQTT_PUBREC, 1,
	    0, NULL, 0, &n_), pubrec);
	EXPECT_ENC(mqtt_encode_ack(buf, sizeof(buf), MQTT_V311, MQTT_PUBREL,
	    1, 0, NULL, 0, &n_), pubrel);
	EXPECT_ENC(mqtt_encode_ack(buf, sizeof(buf), MQTT_V5, MQTT_PUBCOMP,
	    0xffff, 0, NULL, 0, &n_), pubcomp);
	EXPECT_ENC(mqtt_encode_ack(buf, sizeof(buf), MQTT_V5, MQTT_PUBACK, 1,
	    0x10, NULL, 0, &n_), puback5r);
	EXPECT_ENC(mqtt_encode_ack(buf, sizeof(buf), MQTT_V5, MQTT_PUBREL, 1,
	    0x92, rx, sizeof(rx), &n_), pubrel5p);
	EXPECT_ENC(mqtt_encode_auth(buf, sizeof(buf), 0, NULL, 0, &n_), auth0);
	EXPECT_ENC(mqtt_encode_auth(buf, sizeof(buf), 0x18, am, sizeof(am),
	    &n_), auth5);
	EXPECT_ENC(mqtt_encode_auth(buf, sizeof(buf), 0x19, NULL, 0, &n_),
	    auth5r);
	assert_int_equal(mqtt_ack_size(MQTT_V5, 0x92, sizeof(rx)),
	    sizeof(pubrel5p));
	assert_int_equal(mqtt_disconnect_size(MQTT_V5, 0x8e, sizeof(rs)),
	    sizeof(disc5p));
	assert_int_equal(mqtt_auth_size(0x19, 0), sizeof(auth5r));
}

/* The packets a server sends, and their sizes. */
static void
test_exact_server(void **state)
{
	(void)state;
	EXPECT_ENC(mqtt_encode_pingresp(buf, sizeof(buf), &n_), pingresp);
	EXPECT_ENC(mqtt_encode_connack(buf, sizeof(buf), MQTT_V311, 1, 0,
	    NULL, 0, &n_), connack311);
	EXPECT_ENC(mqtt_encode_connack(buf, sizeof(buf), MQTT_V311, 0, 5,
	    NULL, 0, &n_), connack311r);
	EXPECT_ENC(mqtt_encode_connack(buf, sizeof(buf), MQTT_V5, 0, 0x87,
	    NULL, 0, &n_), connack5);
	EXPECT_ENC(mqtt_encode_connack(buf, sizeof(buf), MQTT_V5, 1, 0, rm,
	    sizeof(rm), &n_), connack5p);
	EXPECT_ENC(mqtt_encode_suback(buf, sizeof(buf), MQTT_V311,
	    MQTT_UNSUBACK, 5, NULL, 0, NULL, 0, &n_), unsuback311);
	EXPECT_ENC(mqtt_encode_suback(buf, sizeof(buf), MQTT_V5,
	    MQTT_UNSUBACK, 5, c11, 2, NULL, 0, &n_), unsuback5);
	EXPECT_ENC(mqtt_encode_suback(buf, sizeof(buf), MQTT_V5, MQTT_SUBACK,
	    5, c2, 1, NULL, 0, &n_), suback5);
	assert_int_equal(mqtt_connack_size(MQTT_V5, sizeof(rm)),
	    sizeof(connack5p));
	assert_int_equal(mqtt_suback_size(MQTT_V5, MQTT_UNSUBACK, 2, 0),
	    sizeof(unsuback5));
}

/* Decoding the short vectors back, and the forms the encoders never
 * write but peers may (v5 ack with an empty property section, 311). */
static void
test_decode_short(void **state)
{
	static const uint8_t d_puback5r[] = { 0x40, 0x03, 0x00, 0x01, 0x10 };
	static const uint8_t d_puback5z[] = { 0x40, 0x04, 0x00, 0x01, 0x97,
	    0x00 };
	static const uint8_t d_pubrel5p[] = { 0x62, 0x08, 0x00, 0x01, 0x92,
	    0x04, 0x1f, 0x00, 0x01, 'x' };
	static const uint8_t d_disc5r[] = { 0xe0, 0x01, 0x04 };
	static const uint8_t d_suback5[] = { 0x90, 0x05, 0x00, 0x05, 0x00,
	    0x01, 0xa2 };
	static const uint8_t d_connack311[] = { 0x20, 0x02, 0x01, 0x00 };
	static const uint8_t d_unsuback311[] = { 0xb0, 0x02, 0x00, 0x05 };
	static const uint8_t d_auth0[] = { 0xf0, 0x00 };
	struct mqtt_packet pk;

	(void)state;
	decode_ok(d_puback5r, sizeof(d_puback5r), MQTT_V5, &pk);
	assert_int_equal(pk.type, MQTT_PUBACK);
	assert_int_equal(pk.u.ack.id, 1);
	assert_int_equal(pk.u.ack.reason, 0x10);
	decode_ok(d_puback5z, sizeof(d_puback5z), MQTT_V5, &pk);
	assert_int_equal(pk.u.ack.reason, 0x97);
	decode_ok(d_pubrel5p, sizeof(d_pubrel5p), MQTT_V5, &pk);
	assert_int_equal(pk.type, MQTT_PUBREL);
	assert_int_equal(pk.u.ack.reason, 0x92);
	assert_str(pk.props.reason_string, "x");
	decode_ok(d_disc5r, sizeof(d_disc5r), MQTT_V5, &pk);
	assert_int_equal(pk.u.disconnect.reason, 0x04);
	decode_ok(d_suback5, sizeof(d_suback5), MQTT_V5, &pk);
	assert_int_equal(pk.u.suback.id, 5);
	assert_int_equal(pk.u.suback.n, 2);
	assert_int_equal(pk.u.suback.reasons[1], 0xa2);
	decode_ok(d_connack311, sizeof(d_connack311), MQTT_V311, &pk);
	assert_int_equal(pk.u.connack.session_present, 1);
	assert_int_equal(pk.u.connack.reason, 0);
	decode_ok(d_unsuback311, sizeof(d_unsuback311), MQTT_V311, &pk);
	assert_int_equal(pk.u.suback.n, 0);
	decode_ok(d_auth0, sizeof(d_auth0), MQTT_V5, &pk);
	assert_int_equal(pk.type, MQTT_AUTH);
	assert_int_equal(pk.u.disconnect.reason, 0);
}

/* A PUBLISH whose remaining length takes 3 and 4 bytes. */
static void
test_publish_large(void **state)
{
	static const size_t sizes[] = { 16384, 2097152 };
	struct mqtt_publish p = { 0 };
	struct mqtt_packet pk;
	uint8_t *payload, *out;
	size_t i, n, cap;

	(void)state;
	for (i = 0; i < 2; i++) {
		payload = calloc(1, sizes[i]);
		cap = sizes[i] + 16;
		out = malloc(cap);
		assert_non_null(payload);
		assert_non_null(out);
		p.topic = S("t");
		p.payload = payload;
		p.payload_len = sizes[i];
		assert_int_equal(mqtt_encode_publish(out, cap, MQTT_V5, &p, &n),
		    MQTT_OK);
		assert_int_equal(n, 1 + (i == 0 ? 3 : 4) + 4 + sizes[i]);
		decode_ok(out, n, MQTT_V5, &pk);
		assert_int_equal(pk.u.publish.payload_len, sizes[i]);
		free(payload);
		free(out);
	}
	p.payload_len = MQTT_MAX_REMAINING;
	assert_int_equal(mqtt_publish_size(MQTT_V311, &p), 0);
	assert_int_equal(mqtt_encode_publish(NULL, 0, MQTT_V311, &p, &n),
	    MQTT_ERR_INVAL);
	p.payload_len = MQTT_MAX_REMAINING - 5;		/* 2 + 1 + payload */
	assert_int_equal(mqtt_publish_size(MQTT_V311, &p), MQTT_MAX_PACKET - 2);
	assert_int_equal(mqtt_encode_publish(NULL, 0, MQTT_V311, &p, &n),
	    MQTT_ERR_SPACE);
	assert_int_equal(n, MQTT_MAX_PACKET - 2);
}

static void
test_strings(void **state)
{
	int e;

	(void)state;
	for (e = 0; e > -MQTT_ERR__COUNT; e--)
		assert_non_null(mqtt_strerror(e));
	assert_string_equal(mqtt_strerror(MQTT_ERR_SPACE),
	    "output buffer too small");
	assert_string_equal(mqtt_strerror(-99), "unknown mqtt error");
	assert_string_equal(mqtt_strerror(1), "unknown mqtt error");
	assert_int_equal(mqtt_err_reason(MQTT_ERR_MALFORMED), 0x81);
	assert_int_equal(mqtt_err_reason(MQTT_ERR_PROTOCOL), 0x82);
	assert_int_equal(mqtt_err_reason(MQTT_ERR_TOO_LARGE), 0x95);
	assert_int_equal(mqtt_err_reason(MQTT_ERR_SPACE), 0x83);
	assert_int_equal(mqtt_err_reason(MQTT_ERR_INVAL), 0x83);
	assert_int_equal(mqtt_err_reason(-42), 0x83);
	assert_string_equal(mqtt_reason_name(0x87), "Not authorized");
	assert_string_equal(mqtt_reason_name(0x00), "Success");
	assert_string_equal(mqtt_reason_name(0xa2),
	    "Wildcard Subscriptions not supported");
	assert_string_equal(mqtt_reason_name(0x03), "unknown reason");
	assert_string_equal(mqtt_reason_name(0xff), "unknown reason");
	assert_string_equal(mqtt_connack_name(MQTT_V311, 5),
	    "Connection Refused, not authorized");
	assert_string_equal(mqtt_connack_name(MQTT_V311, 0),
	    "Connection Accepted");
	assert_string_equal(mqtt_connack_name(MQTT_V311, 6), "unknown reason");
	assert_string_equal(mqtt_connack_name(MQTT_V5, 0x86),
	    "Bad User Name or Password");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_varint_spec),
		cmocka_unit_test(test_utf8_spec),
		cmocka_unit_test(test_utf8_rules),
		cmocka_unit_test(test_topic_name),
		cmocka_unit_test(test_spec_connect_311),
		cmocka_unit_test(test_spec_connect_v5),
		cmocka_unit_test(test_spec_publish),
		cmocka_unit_test(test_spec_subscribe),
		cmocka_unit_test(test_exact_client),
		cmocka_unit_test(test_exact_server),
		cmocka_unit_test(test_decode_short),
		cmocka_unit_test(test_publish_large),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
