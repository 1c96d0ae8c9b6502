/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for mqtt/: framing a byte stream split anywhere, buffer
 * sizes (every encoder against every too-small capacity, with a canary),
 * round trips of every packet type in both protocols, and the property
 * writer, parser and iterator.
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
#define CANARY	0xa5
#define MAXPKT	16

/* A few packets of every type for one protocol, encoded back to back. */
struct stream {
	uint8_t b[8192];
	size_t len;
	size_t n;
	size_t off[MAXPKT + 1];		/* packet i: off[i] .. off[i + 1] */
};

static uint8_t props_buf[512];

/* Properties of every kind allowed in a PUBLISH. */
static size_t
publish_props(uint8_t *b, size_t cap)
{
	struct mqtt_pw w;

	mqtt_pw_init(&w, b, cap);
	mqtt_pw_byte(&w, MQTT_P_PAYLOAD_FORMAT, 1);
	mqtt_pw_u32(&w, MQTT_P_MESSAGE_EXPIRY, 3600);
	mqtt_pw_str(&w, MQTT_P_CONTENT_TYPE, "text/plain", 10);
	mqtt_pw_str(&w, MQTT_P_RESPONSE_TOPIC, "r/t", 3);
	mqtt_pw_str(&w, MQTT_P_CORRELATION_DATA, "\x00\xff", 2);
	mqtt_pw_varint(&w, MQTT_P_SUBSCRIPTION_ID, 128);
	mqtt_pw_varint(&w, MQTT_P_SUBSCRIPTION_ID, 268435455);
	mqtt_pw_u16(&w, MQTT_P_TOPIC_ALIAS, 7);
	mqtt_pw_pair(&w, MQTT_P_USER_PROPERTY, "k", 1, "v", 1);
	mqtt_pw_pair(&w, MQTT_P_USER_PROPERTY, "k", 1, "", 0);
	assert_false(w.overflow);
	return w.len;
}

/* n is read after the encoder ran (argument order is unspecified). */
static void
add(struct stream *s, int rc, const size_t *n)
{
	assert_int_equal(rc, MQTT_OK);
	assert_true(s->n < MAXPKT);
	s->len += *n;
	s->off[++s->n] = s->len;
}

#define NEXT	b = s->b + s->len, cap = sizeof(s->b) - s->len

/* CONNECT with a will, CONNACK, and a PUBLISH with every property and a
 * remaining length of 2 bytes. */
static void
stream_connect(struct stream *s, int protocol)
{
	static uint8_t payload[300];
	struct mqtt_connect c = { 0 };
	struct mqtt_publish p = { 0 };
	size_t n, pl = 0, cap;
	uint8_t *b;

	memset(payload, 'x', sizeof(payload));
	if (protocol == MQTT_V5)
		pl = publish_props(props_buf, sizeof(props_buf));
	c.protocol = protocol;
	c.clean_start = 1;
	c.keepalive = 30;
	c.client_id = S("gw-1");
	c.username = S("user");
	c.password = S("secret");
	c.will = 1;
	c.will_qos = 1;
	c.will_retain = 1;
	c.will_topic = S("gw/1/status");
	c.will_payload = S("offline");
	NEXT;
	add(s, mqtt_encode_connect(b, cap, &c, &n), &n);
	NEXT;
	add(s, mqtt_encode_connack(b, cap, protocol, 1, 0, NULL, 0, &n), &n);
	p.topic = S("gw/1/data");
	p.qos = 2;
	p.id = 0x1234;
	p.retain = 1;
	p.dup = 1;
	p.props = props_buf;
	p.props_len = pl;
	p.payload = payload;
	p.payload_len = sizeof(payload);
	NEXT;
	add(s, mqtt_encode_publish(b, cap, protocol, &p, &n), &n);
}

/* The QoS 2 flow, SUBSCRIBE, a QoS 0 PUBLISH, its neighbours. */
static void
stream_rest(struct stream *s, int protocol)
{
	static const uint8_t codes[] = { 0x00, 0x01, 0x80 };
	const struct mqtt_sub subs[2] = { { S("a/+"), 1 }, { S("#"), 2 } };
	const struct mqtt_str fs[1] = { S("a/+") };
	struct mqtt_publish p = { 0 };
	enum mqtt_type t;
	size_t n, cap;
	uint8_t *b;

	for (t = MQTT_PUBREC; t <= MQTT_PUBCOMP; t++) {
		NEXT;
		add(s, mqtt_encode_ack(b, cap, protocol, t, 0x1234, 0, NULL, 0,
		    &n), &n);
	}
	NEXT;
	add(s, mqtt_encode_subscribe(b, cap, protocol, 2, subs, 2, NULL, 0,
	    &n), &n);
	NEXT;
	add(s, mqtt_encode_suback(b, cap, protocol, MQTT_SUBACK, 2, codes, 3,
	    NULL, 0, &n), &n);
	p.topic = S("t");
	NEXT;
	add(s, mqtt_encode_publish(b, cap, protocol, &p, &n), &n);
	NEXT;
	add(s, mqtt_encode_ack(b, cap, protocol, MQTT_PUBACK, 9, 0, NULL, 0,
	    &n), &n);
	NEXT;
	add(s, mqtt_encode_unsubscribe(b, cap, protocol, 3, fs, 1, NULL, 0,
	    &n), &n);
	NEXT;
	add(s, mqtt_encode_suback(b, cap, protocol, MQTT_UNSUBACK, 3, codes,
	    1, NULL, 0, &n), &n);
	NEXT;
	add(s, mqtt_encode_pingreq(b, cap, &n), &n);
	NEXT;
	add(s, mqtt_encode_pingresp(b, cap, &n), &n);
	NEXT;
	add(s, mqtt_encode_disconnect(b, cap, protocol, 0, NULL, 0, &n), &n);
	if (protocol == MQTT_V5) {
		NEXT;
		add(s, mqtt_encode_auth(b, cap, 0x18, NULL, 0, &n), &n);
	}
}
#undef NEXT

/* Fills s with one packet of each type for protocol (client and server
 * side). */
static void
stream_build(struct stream *s, int protocol)
{
	memset(s, 0, sizeof(*s));
	stream_connect(s, protocol);
	stream_rest(s, protocol);
}

/*
 * A receiver: takes the stream in chunks (chunk(i) gives the size of the
 * i-th), keeps what it has not framed yet, and checks that mqtt_frame()
 * cuts exactly the packets that were encoded, each of which decodes.
 */
static void
receive(const struct stream *s, int protocol, size_t split, size_t step)
{
	static uint8_t rx[sizeof(((struct stream *)0)->b)];
	struct mqtt_packet pk;
	size_t fill = 0, fed = 0, got = 0, want, pl, k, used;
	uint32_t rl;
	int rc;

	while (fed < s->len) {
		k = split != 0 ? (fed == 0 ? split : s->len - fed) : step;
		if (k > s->len - fed)
			k = s->len - fed;
		memcpy(rx + fill, s->b + fed, k);
		fill += k;
		fed += k;
		while ((rc = mqtt_frame(rx, fill, 0, &pl)) == 1) {
			assert_true(got < s->n);
			assert_int_equal(pl, s->off[got + 1] - s->off[got]);
			assert_memory_equal(rx, s->b + s->off[got], pl);
			assert_int_equal(mqtt_decode(rx, pl, protocol, &pk),
			    MQTT_OK);
			memmove(rx, rx + pl, fill - pl);
			fill -= pl;
			got++;
		}
		assert_int_equal(rc, 0);
		if (fill == 0)
			continue;
		/* The size is known once the remaining length has ended. */
		assert_true(got < s->n);
		want = s->off[got + 1] - s->off[got];
		assert_int_equal(mqtt_varint_get(s->b + s->off[got] + 1, 4,
		    &rl, &used), 1);
		assert_int_equal(pl, fill >= 1 + used ? want : 0);
	}
	assert_int_equal(got, s->n);
	assert_int_equal(fill, 0);
}

static void
test_frame_splits(void **state)
{
	static struct stream s;
	static const int protos[2] = { MQTT_V311, MQTT_V5 };
	size_t i, k;

	(void)state;
	for (k = 0; k < 2; k++) {
		stream_build(&s, protos[k]);
		assert_true(s.len > 400);
		for (i = 1; i <= s.len; i++)
			receive(&s, protos[k], i, 0);	/* two pieces */
		for (i = 1; i <= 64; i++)
			receive(&s, protos[k], 0, i);	/* steps of i */
		receive(&s, protos[k], 0, s.len);
	}
}

static void
test_frame_header(void **state)
{
	static const uint8_t big[] = { 0x30, 0x80, 0x01 };
	static const uint8_t max[] = { 0x30, 0xff, 0xff, 0xff, 0x7f };
	static const uint8_t five[] = { 0x30, 0x80, 0x80, 0x80, 0x80, 0x01 };
	static const uint8_t ping[] = { 0xc0, 0x00 };
	static const uint8_t zero[] = { 0x00, 0x00 };
	size_t pl = 99;

	(void)state;
	assert_int_equal(mqtt_frame(big, 0, 100, &pl), 0);
	assert_int_equal(pl, 0);
	assert_int_equal(mqtt_frame(big, 2, 100, &pl), 0);
	assert_int_equal(pl, 0);
	/* Too large as soon as the length is known: 1 + 2 + 128 > 100. */
	assert_int_equal(mqtt_frame(big, 3, 100, &pl), MQTT_ERR_TOO_LARGE);
	assert_int_equal(pl, 131);
	assert_int_equal(mqtt_frame(big, 3, 131, &pl), 0);
	assert_int_equal(pl, 131);
	assert_int_equal(mqtt_frame(big, 3, 130, &pl), MQTT_ERR_TOO_LARGE);
	assert_int_equal(mqtt_frame(max, sizeof(max), 0, &pl), 0);
	assert_int_equal(pl, MQTT_MAX_PACKET);
	assert_int_equal(mqtt_frame(max, sizeof(max), MQTT_MAX_PACKET - 1,
	    &pl), MQTT_ERR_TOO_LARGE);
	assert_int_equal(mqtt_frame(five, 4, 0, &pl), 0);
	assert_int_equal(mqtt_frame(five, 5, 0, &pl), MQTT_ERR_MALFORMED);
	assert_int_equal(mqtt_frame(five, 6, 0, &pl), MQTT_ERR_MALFORMED);
	assert_int_equal(mqtt_frame(zero, 1, 0, &pl), MQTT_ERR_MALFORMED);
	assert_int_equal(mqtt_frame(ping, 1, 0, &pl), 0);
	assert_int_equal(mqtt_frame(ping, 2, 2, &pl), 1);
	assert_int_equal(pl, 2);
	assert_int_equal(mqtt_frame(ping, 2, 1, &pl), MQTT_ERR_TOO_LARGE);
}

/* Round trip: every packet of both streams decodes, re-encodes to the
 * same bytes (our encodings are canonical), and the fields survive. */
static void
test_roundtrip(void **state)
{
	static struct stream s;
	static uint8_t out[8192];
	static const int protos[2] = { MQTT_V311, MQTT_V5 };
	struct mqtt_packet pk;
	size_t i, k, len, n;

	(void)state;
	for (k = 0; k < 2; k++) {
		stream_build(&s, protos[k]);
		for (i = 0; i < s.n; i++) {
			len = s.off[i + 1] - s.off[i];
			assert_int_equal(mqtt_decode(s.b + s.off[i], len,
			    protos[k], &pk), MQTT_OK);
			assert_int_equal(mqtt_encode_packet(out, sizeof(out),
			    protos[k], &pk, &n), MQTT_OK);
			assert_int_equal(n, len);
			assert_memory_equal(out, s.b + s.off[i], len);
		}
	}
}

/* The fields of the richest packets, decoded from the v5 stream. */
static void
test_roundtrip_fields(void **state)
{
	static struct stream s;
	const uint8_t *p, *end;
	struct mqtt_packet pk;
	struct mqtt_sub sub;
	struct mqtt_prop pr;
	int subids = 0, users = 0;

	(void)state;
	stream_build(&s, MQTT_V5);
	assert_int_equal(mqtt_decode(s.b + s.off[2], s.off[3] - s.off[2],
	    MQTT_V5, &pk), MQTT_OK);
	assert_int_equal(pk.type, MQTT_PUBLISH);
	assert_true(pk.u.publish.dup && pk.u.publish.retain);
	assert_int_equal(pk.u.publish.qos, 2);
	assert_int_equal(pk.u.publish.id, 0x1234);
	assert_int_equal(pk.u.publish.payload_len, 300);
	assert_int_equal(pk.props.payload_format, 1);
	assert_int_equal(pk.props.message_expiry, 3600);
	assert_int_equal(pk.props.content_type.len, 10);
	assert_memory_equal(pk.props.response_topic.p, "r/t", 3);
	assert_memory_equal(pk.props.correlation_data.p, "\x00\xff", 2);
	assert_int_equal(pk.props.subscription_id, 128);
	assert_int_equal(pk.props.topic_alias, 7);
	assert_int_equal(pk.props.n_user, 2);
	assert_ptr_equal(pk.props.raw, pk.u.publish.props);
	p = pk.props.raw;
	end = p + pk.props.raw_len;
	while (mqtt_prop_next(&p, end, &pr) == 1) {
		if (pr.id == MQTT_P_SUBSCRIPTION_ID)
			assert_int_equal(pr.num, subids++ == 0 ? 128 :
			    268435455);
		if (pr.id == MQTT_P_USER_PROPERTY) {
			assert_memory_equal(pr.s.p, "k", 1);
			assert_int_equal(pr.s2.len, users++ == 0 ? 1 : 0);
		}
	}
	assert_ptr_equal(p, end);
	assert_int_equal(subids, 2);
	assert_int_equal(users, 2);
	assert_int_equal(mqtt_decode(s.b + s.off[6], s.off[7] - s.off[6],
	    MQTT_V5, &pk), MQTT_OK);
	assert_int_equal(pk.type, MQTT_SUBSCRIBE);
	p = pk.u.subscribe.list;
	end = p + pk.u.subscribe.list_len;
	assert_int_equal(mqtt_sub_next(&p, end, 1, &sub), 1);
	assert_memory_equal(sub.filter.p, "a/+", 3);
	assert_int_equal(sub.options, 1);
	assert_int_equal(mqtt_sub_next(&p, end, 1, &sub), 1);
	assert_int_equal(sub.filter.len, 1);
	assert_int_equal(sub.options, 2);
	assert_int_equal(mqtt_sub_next(&p, end, 1, &sub), 0);
}

/* Every CONNACK property, written, decoded and checked. */
static void
test_props_connack(void **state)
{
	static uint8_t pkt[512];
	struct mqtt_packet pk;
	struct mqtt_pw w;
	size_t n;

	(void)state;
	mqtt_pw_init(&w, props_buf, sizeof(props_buf));
	mqtt_pw_u32(&w, MQTT_P_SESSION_EXPIRY, 0xffffffffu);
	mqtt_pw_str(&w, MQTT_P_ASSIGNED_CLIENT_ID, "auto-1", 6);
	mqtt_pw_u16(&w, MQTT_P_SERVER_KEEPALIVE, 120);
	mqtt_pw_str(&w, MQTT_P_AUTH_METHOD, "SCRAM", 5);
	mqtt_pw_str(&w, MQTT_P_AUTH_DATA, "\x01\x02", 2);
	mqtt_pw_str(&w, MQTT_P_RESPONSE_INFO, "ri", 2);
	mqtt_pw_str(&w, MQTT_P_SERVER_REFERENCE, "other:1883", 10);
	mqtt_pw_str(&w, MQTT_P_REASON_STRING, "ok", 2);
	mqtt_pw_u16(&w, MQTT_P_RECEIVE_MAX, 10);
	mqtt_pw_u16(&w, MQTT_P_TOPIC_ALIAS_MAX, 5);
	mqtt_pw_byte(&w, MQTT_P_MAX_QOS, 1);
	mqtt_pw_byte(&w, MQTT_P_RETAIN_AVAILABLE, 0);
	mqtt_pw_pair(&w, MQTT_P_USER_PROPERTY, "a", 1, "b", 1);
	mqtt_pw_u32(&w, MQTT_P_MAX_PACKET_SIZE, 1024);
	mqtt_pw_byte(&w, MQTT_P_WILDCARD_SUB_AVAILABLE, 1);
	mqtt_pw_byte(&w, MQTT_P_SUB_ID_AVAILABLE, 0);
	mqtt_pw_byte(&w, MQTT_P_SHARED_SUB_AVAILABLE, 1);
	assert_false(w.overflow);
	assert_int_equal(mqtt_encode_connack(pkt, sizeof(pkt), MQTT_V5, 0,
	    0, props_buf, w.len, &n), MQTT_OK);
	assert_int_equal(mqtt_decode(pkt, n, MQTT_V5, &pk), MQTT_OK);
	assert_int_equal(pk.props.session_expiry, 0xffffffffu);
	assert_memory_equal(pk.props.assigned_client_id.p, "auto-1", 6);
	assert_int_equal(pk.props.server_keepalive, 120);
	assert_memory_equal(pk.props.auth_method.p, "SCRAM", 5);
	assert_int_equal(pk.props.auth_data.len, 2);
	assert_int_equal(pk.props.response_info.len, 2);
	assert_int_equal(pk.props.server_reference.len, 10);
	assert_int_equal(pk.props.reason_string.len, 2);
	assert_int_equal(pk.props.receive_max, 10);
	assert_int_equal(pk.props.topic_alias_max, 5);
	assert_int_equal(pk.props.max_qos, 1);
	assert_true(MQTT_HAS(&pk.props, MQTT_P_RETAIN_AVAILABLE));
	assert_int_equal(pk.props.retain_available, 0);
	assert_int_equal(pk.props.n_user, 1);
	assert_int_equal(pk.props.max_packet_size, 1024);
	assert_int_equal(pk.props.wildcard_sub_available, 1);
	assert_int_equal(pk.props.sub_id_available, 0);
	assert_int_equal(pk.props.shared_sub_available, 1);
	assert_false(MQTT_HAS(&pk.props, MQTT_P_TOPIC_ALIAS));
	assert_int_equal(pk.props.has, (1ull << 0x11) | (1ull << 0x12) |
	    (1ull << 0x13) | (1ull << 0x15) | (1ull << 0x16) | (1ull << 0x1a) |
	    (1ull << 0x1c) | (1ull << 0x1f) | (1ull << 0x21) | (1ull << 0x22) |
	    (1ull << 0x24) | (1ull << 0x25) | (1ull << 0x26) | (1ull << 0x27) |
	    (1ull << 0x28) | (1ull << 0x29) | (1ull << 0x2a));
}

/* The writer: exact bytes, all or nothing, and overflow that sticks. */
static void
test_props_writer(void **state)
{
	static const uint8_t want[] = { 0x11, 0x00, 0x00, 0x00, 0x0a, 0x0b,
	    0x80, 0x01, 0x21, 0x01, 0x00, 0x26, 0x00, 0x01, 'k', 0x00, 0x00 };
	static char big[65536];
	uint8_t b[sizeof(want) + 4];
	struct mqtt_prop pr;
	const uint8_t *p;
	struct mqtt_pw w;

	(void)state;
	mqtt_pw_init(&w, b, sizeof(b));
	mqtt_pw_u32(&w, MQTT_P_SESSION_EXPIRY, 10);
	mqtt_pw_varint(&w, MQTT_P_SUBSCRIPTION_ID, 128);
	mqtt_pw_u16(&w, MQTT_P_RECEIVE_MAX, 256);
	mqtt_pw_pair(&w, MQTT_P_USER_PROPERTY, "k", 1, NULL, 0);
	assert_false(w.overflow);
	assert_int_equal(w.len, sizeof(want));
	assert_memory_equal(b, want, sizeof(want));
	p = b;
	assert_int_equal(mqtt_prop_next(&p, b + w.len, &pr), 1);
	assert_int_equal(pr.id, MQTT_P_SESSION_EXPIRY);
	assert_int_equal(pr.num, 10);
	assert_ptr_equal(pr.wire, b);
	assert_int_equal(pr.wire_len, 5);
	assert_int_equal(mqtt_prop_next(&p, b + 6, &pr), MQTT_ERR_MALFORMED);
	assert_ptr_equal(p, b + 5);
	mqtt_pw_u32(&w, MQTT_P_MESSAGE_EXPIRY, 1);	/* 5 > 4 left */
	assert_true(w.overflow);
	assert_int_equal(w.len, sizeof(want));
	mqtt_pw_byte(&w, MQTT_P_MAX_QOS, 0);		/* sticks */
	assert_int_equal(w.len, sizeof(want));
	mqtt_pw_init(&w, b, sizeof(b));
	mqtt_pw_str(&w, MQTT_P_CONTENT_TYPE, big, sizeof(big));
	assert_true(w.overflow);
	mqtt_pw_init(&w, b, sizeof(b));
	mqtt_pw_varint(&w, MQTT_P_SUBSCRIPTION_ID, MQTT_MAX_REMAINING + 1);
	assert_true(w.overflow);
	assert_int_equal(w.len, 0);
	mqtt_pw_init(&w, NULL, 0);
	mqtt_pw_raw(&w, want, 0);
	assert_false(w.overflow);
	mqtt_pw_raw(&w, want, 1);
	assert_true(w.overflow);
}

/*
 * Buffer sizes: each encoder, called with every capacity below the size
 * it needs, fails with MQTT_ERR_SPACE, reports that size, and writes
 * nothing; with the exact size it succeeds without touching the canary.
 */
typedef int (*enc_fn)(uint8_t *buf, size_t cap, size_t *n);

static int
e_connect(uint8_t *b, size_t cap, size_t *n)
{
	struct mqtt_connect c = { 0 };

	c.protocol = MQTT_V5;
	c.client_id = S("id");
	c.will = 1;
	c.will_topic = S("w");
	c.will_payload = S("p");
	c.username = S("u");
	c.password = S("p");
	return mqtt_encode_connect(b, cap, &c, n);
}

static int
e_publish(uint8_t *b, size_t cap, size_t *n)
{
	static char payload[200];
	struct mqtt_publish p = { 0 };

	p.topic = S("a/b");
	p.qos = 1;
	p.id = 5;
	p.payload = payload;
	p.payload_len = sizeof(payload);
	return mqtt_encode_publish(b, cap, MQTT_V5, &p, n);
}

static int
e_puback(uint8_t *b, size_t cap, size_t *n)
{
	static const uint8_t rs[] = { 0x1f, 0x00, 0x01, 'x' };

	return mqtt_encode_ack(b, cap, MQTT_V5, MQTT_PUBACK, 1, 0x80, rs,
	    sizeof(rs), n);
}

static int
e_pubrel(uint8_t *b, size_t cap, size_t *n)
{
	return mqtt_encode_ack(b, cap, MQTT_V311, MQTT_PUBREL, 1, 0, NULL, 0,
	    n);
}

static int
e_subscribe(uint8_t *b, size_t cap, size_t *n)
{
	const struct mqtt_sub s[2] = { { S("a/#"), 1 }, { S("b"), 0x2a } };

	return mqtt_encode_subscribe(b, cap, MQTT_V5, 1, s, 2, NULL, 0, n);
}

static int
e_unsubscribe(uint8_t *b, size_t cap, size_t *n)
{
	const struct mqtt_str f[2] = { S("a/#"), S("b") };

	return mqtt_encode_unsubscribe(b, cap, MQTT_V311, 1, f, 2, NULL, 0,
	    n);
}

static int
e_pingreq(uint8_t *b, size_t cap, size_t *n)
{
	return mqtt_encode_pingreq(b, cap, n);
}

static int
e_pingresp(uint8_t *b, size_t cap, size_t *n)
{
	return mqtt_encode_pingresp(b, cap, n);
}

static int
e_disconnect(uint8_t *b, size_t cap, size_t *n)
{
	return mqtt_encode_disconnect(b, cap, MQTT_V5, 0x04, NULL, 0, n);
}

static int
e_auth(uint8_t *b, size_t cap, size_t *n)
{
	static const uint8_t am[] = { 0x15, 0x00, 0x01, 'm' };

	return mqtt_encode_auth(b, cap, 0x19, am, sizeof(am), n);
}

static int
e_connack(uint8_t *b, size_t cap, size_t *n)
{
	return mqtt_encode_connack(b, cap, MQTT_V5, 0, 0x86, NULL, 0, n);
}

static int
e_suback(uint8_t *b, size_t cap, size_t *n)
{
	static const uint8_t codes[] = { 0x00, 0x01, 0x02 };

	return mqtt_encode_suback(b, cap, MQTT_V5, MQTT_SUBACK, 1, codes, 3,
	    NULL, 0, n);
}

static void
test_space_canary(void **state)
{
	static const enc_fn fns[] = { e_connect, e_publish, e_puback,
	    e_pubrel, e_subscribe, e_unsubscribe, e_pingreq, e_pingresp,
	    e_disconnect, e_auth, e_connack, e_suback };
	uint8_t b[512];
	size_t i, cap, need, n, k;

	(void)state;
	for (i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		need = 0;
		assert_int_equal(fns[i](NULL, 0, &need), MQTT_ERR_SPACE);
		assert_true(need >= 2 && need < sizeof(b) - 16);
		for (cap = 0; cap < need; cap++) {
			memset(b, CANARY, sizeof(b));
			n = 0;
			assert_int_equal(fns[i](b, cap, &n), MQTT_ERR_SPACE);
			assert_int_equal(n, need);
			for (k = 0; k < sizeof(b); k++)
				assert_int_equal(b[k], CANARY);
		}
		memset(b, CANARY, sizeof(b));
		assert_int_equal(fns[i](b, need, &n), MQTT_OK);
		assert_int_equal(n, need);
		for (k = need; k < sizeof(b); k++)
			assert_int_equal(b[k], CANARY);
		assert_int_equal(mqtt_frame(b, need, 0, &n), 1);
		assert_int_equal(n, need);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_splits),
		cmocka_unit_test(test_frame_header),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_roundtrip_fields),
		cmocka_unit_test(test_props_connack),
		cmocka_unit_test(test_props_writer),
		cmocka_unit_test(test_space_canary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
