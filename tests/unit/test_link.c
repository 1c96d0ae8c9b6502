/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for relay/link: the connection, inbound messages and their
 * acknowledgements, keepalive, hostile input, split delivery and the two
 * ways to end a connection, against the fake broker of link_test.h, with
 * MQTT 5 and 3.1.1. Outbound QoS and sessions are in test_link_qos2.c.
 */
#include "tests/unit/link_test.h"

static int
is_v5(const struct t *t)
{
	return t->b.proto == MQTT_V5;
}

static void
assert_why(const struct t *t, const char *part)
{
	if (strstr(t->r.why, part) == NULL)
		fail_msg("on_down said \"%s\", not \"%s\"", t->r.why, part);
}

/* ---- CONNECT and CONNACK. ---- */

static void
test_connect(void **state)
{
	struct t *t = *state;
	const struct mqtt_connect *c;
	struct mqtt_packet p;

	t->cb.keepalive = 30;
	t->will.topic = "status/relay";
	t->will.payload = "offline";
	t_up(t, 0);
	fb_get(t, MQTT_CONNECT, 0, 0, &p);
	c = &p.u.connect;
	assert_int_equal(c->protocol, t->b.proto);
	assert_int_equal(c->clean_start, 0);
	assert_int_equal(c->keepalive, 30);
	assert_int_equal(c->client_id.len, strlen("relay-test"));
	assert_memory_equal(c->client_id.p, "relay-test", c->client_id.len);
	/* "" is no user name and no password. */
	assert_null(c->username.p);
	assert_null(c->password.p);
	assert_int_equal(c->will, 1);
	assert_int_equal(c->will_qos, 1);
	assert_int_equal(c->will_retain, 1);
	assert_int_equal(c->will_topic.len, strlen("status/relay"));
	assert_memory_equal(c->will_topic.p, "status/relay", 12);
	assert_int_equal(c->will_payload.len, 7);
	assert_memory_equal(c->will_payload.p, "offline", 7);
	if (is_v5(t)) {
		assert_true(MQTT_HAS(&p.props, MQTT_P_SESSION_EXPIRY));
		assert_int_equal(p.props.session_expiry, 0xFFFFFFFFu);
		assert_true(MQTT_HAS(&p.props, MQTT_P_RECEIVE_MAX));
		assert_int_equal(p.props.receive_max, 10);
		assert_true(MQTT_HAS(&p.props, MQTT_P_MAX_PACKET_SIZE));
		assert_int_equal(p.props.max_packet_size, MAX_PACKET);
	} else {
		assert_int_equal(p.props.has, 0);
	}
	assert_int_equal(t->r.n_up, 1);
	assert_int_equal(t->r.sp, 0);
	assert_int_equal(t->b.bad, 0);

	/* Again, without a will, onto a session the broker kept. */
	t->will.topic = NULL;
	t_up(t, 1);
	assert_int_equal(t->r.n_up, 2);
	assert_int_equal(t->r.n_down, 0);	/* link_connect drops quietly */
	fb_get(t, MQTT_CONNECT, 0, 1, &p);
	assert_int_equal(p.u.connect.will, 0);
	assert_int_equal(t->b.n_accepts, 2);
}

static void
test_connack_refused(void **state)
{
	struct t *t = *state;

	t->b.reason = is_v5(t) ? 0x87 : 5;
	t_dial(t);
	PUMP_UNTIL(t, t->r.n_down == 1);
	assert_why(t, "refused");
	assert_why(t, is_v5(t) ? "Not authorized" :
	    "Connection Refused, not authorized");
	assert_int_equal(t->r.was_up, 0);
	assert_int_equal(t->r.state_at_down, LINK_DOWN);
	assert_int_equal(link_state(t->l), LINK_DOWN);
	assert_int_equal(t->r.n_up, 0);
	/* A refusal is the broker's answer, not bad input. */
	assert_int_equal(link_stats(t->l)->refused, 0);
}

static void
test_connack_timeout(void **state)
{
	struct t *t = *state;

	t->b.connack = 0;
	t_dial(t);
	PUMP_UNTIL(t, fb_count(t, MQTT_CONNECT, 0) == 1);
	assert_int_equal(link_state(t->l), LINK_CONNECTING);
	t->now += 14999;
	pump_idle(t);
	assert_int_equal(t->r.n_down, 0);
	t->now += 1;
	PUMP_UNTIL(t, t->r.n_down == 1);
	assert_why(t, "no CONNACK");
	assert_int_equal(t->r.was_up, 0);
}

/* Attempts that fail: on the spot, or later through on_down. */
static void
test_connect_fail(void **state)
{
	struct t *t = *state;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	char bad[] = "127.0.0.1", idbad[] = "\xff";
	int fd;

	/* A malformed address: refused by link_connect(), still DOWN. */
	t->addrs[0] = bad;
	assert_int_equal(link_connect(t->l, &t->cb, NULL, NULL, MAX_PACKET,
	    t->now, t->err, sizeof(t->err)), LINK_ERR_PACKET);
	assert_non_null(strstr(t->err, "127.0.0.1"));
	assert_int_equal(link_state(t->l), LINK_DOWN);
	/* A client id that is not UTF-8: CONNECT cannot be encoded. */
	t->addrs[0] = t->addr;
	t->cb.client_id = idbad;
	assert_int_equal(link_connect(t->l, &t->cb, NULL, NULL, MAX_PACKET,
	    t->now, t->err, sizeof(t->err)), LINK_ERR_PACKET);
	assert_non_null(strstr(t->err, "CONNECT"));
	assert_int_equal(link_state(t->l), LINK_DOWN);
	t->cb.client_id = t->client_id;

	/* A loopback port bound but not listening refuses the connect. */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	snprintf(t->addr, sizeof(t->addr), "127.0.0.1:%u",
	    ntohs(sa.sin_port));
	t_dial(t);
	PUMP_UNTIL(t, t->r.n_down == 1);
	close(fd);
	assert_why(t, "connect: ");
	assert_why(t, "refused");
	assert_int_equal(t->r.was_up, 0);
	assert_int_equal(t->r.n_up, 0);
}

/* MQTT 5: the broker's Server Keep Alive replaces ours, 0 included. */
static void
test_server_keepalive(void **state)
{
	struct t *t = *state;
	struct mqtt_pw w;
	int ka;

	for (ka = 7; ka >= 0; ka -= 7) {
		mqtt_pw_init(&w, t->b.cprops, sizeof(t->b.cprops));
		mqtt_pw_u16(&w, MQTT_P_SERVER_KEEPALIVE, (uint16_t)ka);
		t->b.cprops_len = w.len;
		t_up(t, 0);
		assert_int_equal(link_deadline(t->l), ka > 0 ? t->now +
		    ka * 1000 : -1);
	}
	t->now += 3600 * 1000;
	pump_idle(t);
	assert_int_equal(fb_count(t, MQTT_PINGREQ, 0), 0);
	assert_int_equal(link_state(t->l), LINK_UP);
}

/* ---- Inbound PUBLISH and what answers it. ---- */

/* Nothing more reaches the broker, and the link wrote nothing. */
static void
assert_silent(struct t *t, size_t npkt)
{
	uint64_t tx = link_stats(t->l)->tx_bytes;

	pump_idle(t);
	assert_int_equal(t->b.n_pkt, npkt);
	assert_int_equal(link_stats(t->l)->tx_bytes, tx);
}

/* link_ack() queues; only link_flush() sends; the broker gets type id. */
static void
ack_and_see(struct t *t, int type, uint16_t id)
{
	uint64_t tx = link_stats(t->l)->tx_bytes;
	size_t mark = t->b.n_pkt;
	struct mqtt_packet p;

	assert_int_equal(link_ack(t->l, type, id), LINK_OK);
	assert_int_equal(link_stats(t->l)->tx_bytes, tx);
	link_flush(t->l, t->now);
	assert_true(link_stats(t->l)->tx_bytes > tx);
	PUMP_UNTIL(t, t->b.n_pkt > mark);
	assert_int_equal(t->b.n_pkt, mark + 1);
	fb_get(t, type, mark, 0, &p);
	assert_int_equal(p.u.ack.id, id);
}

static void
test_inbound(void **state)
{
	struct t *t = *state;
	uint8_t props[64];
	struct mqtt_pw w;
	struct rec_msg *m;

	mqtt_pw_init(&w, props, sizeof(props));
	mqtt_pw_u32(&w, MQTT_P_MESSAGE_EXPIRY, 30);
	mqtt_pw_pair(&w, MQTT_P_USER_PROPERTY, "k", 1, "v", 1);
	t_up(t, 0);

	fb_publish(t, 0, 0, 0, "in/zero", "q0", props, w.len);
	PUMP_UNTIL(t, t->r.n_msg == 1);
	m = &t->r.msg[0];
	assert_string_equal(m->topic, "in/zero");
	assert_int_equal(m->payload_len, 2);
	assert_memory_equal(m->payload, "q0", 2);
	assert_int_equal(m->qos, 0);
	assert_int_equal(m->id, 0);
	if (is_v5(t)) {
		assert_int_equal(m->props_len, w.len);
		assert_memory_equal(m->props, props, w.len);
		assert_int_equal(m->has_expiry, 1);
		assert_int_equal(m->expiry_s, 30);
	} else {
		assert_int_equal(m->props_len, 0);
		assert_int_equal(m->has_expiry, 0);
	}

	/* QoS 1: no PUBACK until the owner says so. */
	fb_publish(t, 1, 5, 1, "in/one", "q1", NULL, 0);
	PUMP_UNTIL(t, t->r.n_msg == 2);
	m = &t->r.msg[1];
	assert_string_equal(m->topic, "in/one");
	assert_int_equal(m->qos, 1);
	assert_int_equal(m->dup, 1);
	assert_int_equal(m->id, 5);
	assert_silent(t, 1);
	ack_and_see(t, MQTT_PUBACK, 5);

	/* QoS 2: PUBREC on the owner's word, then PUBREL and PUBCOMP. */
	fb_publish(t, 2, 6, 0, "in/two", "q2", NULL, 0);
	PUMP_UNTIL(t, t->r.n_msg == 3);
	m = &t->r.msg[2];
	assert_int_equal(m->qos, 2);
	assert_int_equal(m->dup, 0);
	assert_int_equal(m->id, 6);
	assert_silent(t, 2);
	ack_and_see(t, MQTT_PUBREC, 6);
	fb_ack(t, MQTT_PUBREL, 6, 0);
	PUMP_UNTIL(t, t->r.n_rel == 1);
	assert_int_equal(t->r.rel[0], 6);
	assert_silent(t, 3);
	ack_and_see(t, MQTT_PUBCOMP, 6);

	assert_int_equal(t->r.n_msg, 3);
	assert_int_equal(t->r.n_ack, 0);
	assert_int_equal(link_stats(t->l)->refused, 0);
	assert_int_equal(t->b.bad, 0);
}

static void
test_subscribe(void **state)
{
	struct t *t = *state;
	char *filters[] = { "a/#", "b" };
	const int qos[] = { 1, 2 };
	const uint8_t reasons[] = { 1, 0x80 };
	uint8_t buf[32];
	struct mqtt_packet p;
	struct mqtt_sub s;
	const uint8_t *it;
	size_t n = 0;

	t_up(t, 0);
	assert_int_equal(link_subscribe(t->l, filters, qos, 2, t->err,
	    sizeof(t->err)), LINK_OK);
	PUMP_UNTIL(t, fb_count(t, MQTT_SUBSCRIBE, 0) == 1);
	fb_get(t, MQTT_SUBSCRIBE, 0, 0, &p);
	it = p.u.subscribe.list;
	assert_int_equal(mqtt_sub_next(&it, it + p.u.subscribe.list_len, 1,
	    &s), 1);
	assert_int_equal(MQTT_SUB_QOS(s.options), 1);
	if (is_v5(t)) {
		assert_true((s.options & MQTT_SUB_NO_LOCAL) != 0);
		assert_true((s.options & MQTT_SUB_RETAIN_AS_PUBLISHED) != 0);
		assert_int_equal(MQTT_SUB_RETAIN_HANDLING(s.options), 1);
	}
	/* Its id is out of the publishes' range. */
	assert_true(p.u.subscribe.id > WINDOW);
	assert_int_equal(mqtt_encode_suback(buf, sizeof(buf), t->b.proto,
	    MQTT_SUBACK, p.u.subscribe.id, reasons, 2, NULL, 0, &n), MQTT_OK);
	fb_send(t, buf, n);
	PUMP_UNTIL(t, t->r.n_suback == 1);
	assert_int_equal(t->r.refused, 0x80);
}

/* ---- Keepalive, on the synthetic clock. ---- */

static void
test_keepalive(void **state)
{
	struct t *t = *state;
	int64_t ka;

	/* The smallest keepalive a configuration gives the link. */
	t->cb.keepalive = 5;
	ka = 5000;
	t_up(t, 0);
	assert_int_equal(link_deadline(t->l), T0 + ka);
	t->now = T0 + ka - 1;
	pump_idle(t);
	assert_int_equal(fb_count(t, MQTT_PINGREQ, 0), 0);

	/* Idle for keepalive: PINGREQ; its PINGRESP re-arms the timer. */
	t->now = T0 + ka;
	PUMP_UNTIL(t, fb_count(t, MQTT_PINGREQ, 0) == 1);
	PUMP_UNTIL(t, link_deadline(t->l) == t->now + ka);
	t->now += ka;
	PUMP_UNTIL(t, fb_count(t, MQTT_PINGREQ, 0) == 2);
	PUMP_UNTIL(t, link_deadline(t->l) == t->now + ka);
	assert_int_equal(link_state(t->l), LINK_UP);

	/* Writing is activity: a publish postpones the next PINGREQ. */
	t->now += ka - 1000;
	fb_publish(t, 1, 9, 0, "k", "a", NULL, 0);
	PUMP_UNTIL(t, t->r.n_msg == 1);
	ack_and_see(t, MQTT_PUBACK, 9);
	assert_int_equal(link_deadline(t->l), t->now + ka);

	/* The broker stops answering: down once the wait is over. */
	t->b.pingresp = 0;
	t->now += ka;
	PUMP_UNTIL(t, fb_count(t, MQTT_PINGREQ, 0) == 3);
	/* CONNECT, three PINGREQs and a PUBACK. */
	assert_int_equal(link_stats(t->l)->packets_out, 5);
	assert_true(link_deadline(t->l) > t->now);
	t->now = link_deadline(t->l) - 1;
	pump_idle(t);
	assert_int_equal(t->r.n_down, 0);
	t->now += 1;
	PUMP_UNTIL(t, t->r.n_down == 1);
	assert_why(t, "no PINGRESP");
	assert_int_equal(t->r.was_up, 1);
	assert_int_equal(link_state(t->l), LINK_DOWN);
}

/*
 * A steady upload keeps our side busy but not the broker's: a link that
 * writes QoS 0 every second and hears nothing still sends its PINGREQ a
 * keepalive after the last byte in, and goes down half a keepalive later
 * when no PINGRESP comes (a silently dead WAN, docs/wan.md).
 */
static void
test_keepalive_counts_silence_in(void **state)
{
	struct t *t = *state;
	struct queue_msg m = t_msg("up", "x", 0);
	int64_t ka = 5000, i;

	t->cb.keepalive = 5;
	t_up(t, 0);
	t->b.pingresp = 0;
	for (i = 1; i < 5; i++) {
		t->now = T0 + i * 1000;
		assert_int_equal(t_publish(t, &m, i), LINK_OK);
		PUMP_UNTIL(t, fb_count(t, MQTT_PUBLISH, 0) == (size_t)i);
	}
	assert_int_equal(fb_count(t, MQTT_PINGREQ, 0), 0);
	assert_int_equal(link_deadline(t->l), T0 + ka);
	t->now = T0 + ka;
	assert_int_equal(t_publish(t, &m, 5), LINK_OK);
	PUMP_UNTIL(t, fb_count(t, MQTT_PINGREQ, 0) == 1);
	t->now = T0 + ka + ka / 2;
	PUMP_UNTIL(t, t->r.n_down == 1);
	assert_why(t, "no PINGRESP");
}

/* ---- Hostile input. ---- */

/*
 * Up, the broker sends n bytes, and the link goes down saying why. With
 * reason != 0 the link refused the input: it counts it and, with MQTT 5,
 * sends DISCONNECT with reason before closing. reason 0: the broker ended
 * it; the link sends nothing.
 */
static void
hostile(struct t *t, const void *bytes, size_t n, const char *why,
    uint8_t reason)
{
	uint64_t refused, rx;
	int downs = t->r.n_down;
	struct mqtt_packet p;
	size_t mark;

	if (link_state(t->l) != LINK_UP)
		t_up(t, 0);
	refused = link_stats(t->l)->refused;
	rx = link_stats(t->l)->rx_bytes;
	mark = t->b.n_pkt;
	fb_send(t, bytes, n);
	PUMP_UNTIL(t, t->r.n_down > downs);
	assert_why(t, why);
	assert_int_equal(t->r.was_up, 1);
	assert_int_equal(link_state(t->l), LINK_DOWN);
	assert_int_equal(link_stats(t->l)->rx_bytes, rx + n);
	assert_int_equal(link_stats(t->l)->refused, refused + (reason != 0));
	PUMP_UNTIL(t, t->b.cfd < 0);
	if (is_v5(t) && reason != 0) {
		assert_int_equal(fb_count(t, MQTT_DISCONNECT, mark), 1);
		fb_get(t, MQTT_DISCONNECT, mark, 0, &p);
		assert_int_equal(p.u.disconnect.reason, reason);
	} else {
		assert_int_equal(fb_count(t, MQTT_DISCONNECT, mark), 0);
	}
	assert_int_equal(t->b.bad, 0);
}

static void
test_hostile(void **state)
{
	struct t *t = *state;
	static const uint8_t varint[] = { 0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 };
	static const uint8_t flags[] = { 0xD1, 0x00 };
	static const uint8_t pubrel[] = { 0x60, 0x02, 0x00, 0x01 };
	static const uint8_t trunc[] = { 0x30, 0x03, 0x00, 0x05, 'a' };
	static const uint8_t pingreq[] = { 0xC0, 0x00 };
	/* A PUBLISH of 2003 bytes: only its header is ever sent. */
	static const uint8_t big[] = { 0x30, 0xD0, 0x0F };
	uint8_t ack[8];
	size_t n = 0;

	hostile(t, varint, sizeof(varint), "a malformed packet", 0x81);
	hostile(t, flags, sizeof(flags), "an invalid packet from the broker "
	    "(Protocol Error)", 0x82);
	hostile(t, pubrel, sizeof(pubrel), "an invalid packet", 0x82);
	hostile(t, trunc, sizeof(trunc), "an invalid packet from the broker "
	    "(Malformed Packet)", 0x81);
	hostile(t, pingreq, sizeof(pingreq), "a packet only clients send",
	    0x82);
	if (t->b.proto == MQTT_V5)	/* 3.1.1: test_oversized_311 */
		hostile(t, big, sizeof(big), "an oversized packet", 0x95);
	t_up(t, 0);
	assert_int_equal(mqtt_encode_connack(ack, sizeof(ack), t->b.proto, 0,
	    0, NULL, 0, &n), MQTT_OK);
	hostile(t, ack, n, "a second CONNACK", 0x82);
	assert_int_equal(link_stats(t->l)->refused, is_v5(t) ? 7 : 6);
	if (is_v5(t)) {
		/* AUTH: we never began an enhanced authentication. */
		assert_int_equal(mqtt_encode_auth(ack, sizeof(ack), 0, NULL, 0,
		    &n), MQTT_OK);
		hostile(t, ack, n, "from the broker", 0x82);
	}
	assert_int_equal(t->r.n_msg, 0);
}

static void
test_before_connack(void **state)
{
	struct t *t = *state;
	struct mqtt_packet p;

	t->b.connack = 0;
	t_dial(t);
	PUMP_UNTIL(t, fb_count(t, MQTT_CONNECT, 0) == 1);
	fb_publish(t, 0, 0, 0, "early", "x", NULL, 0);
	PUMP_UNTIL(t, t->r.n_down == 1);
	assert_why(t, "a packet before CONNACK");
	assert_int_equal(t->r.was_up, 0);
	assert_int_equal(t->r.n_up, 0);
	assert_int_equal(t->r.n_msg, 0);
	assert_int_equal(link_stats(t->l)->refused, 1);
	PUMP_UNTIL(t, t->b.cfd < 0);
	assert_int_equal(fb_count(t, MQTT_DISCONNECT, 0), is_v5(t));
	if (is_v5(t)) {
		fb_get(t, MQTT_DISCONNECT, 0, 0, &p);
		assert_int_equal(p.u.disconnect.reason, 0x82);
	}
}

/* MQTT 5: we announce no Topic Alias Maximum, so no alias is allowed. */
static void
test_topic_alias(void **state)
{
	struct t *t = *state;
	uint8_t props[8];
	struct mqtt_pw w;
	uint8_t buf[64];
	size_t n = 0;
	struct mqtt_publish p = { .topic = { "", 0 }, .payload = "x",
	    .payload_len = 1 };

	mqtt_pw_init(&w, props, sizeof(props));
	mqtt_pw_u16(&w, MQTT_P_TOPIC_ALIAS, 1);
	p.props = props;
	p.props_len = w.len;
	assert_int_equal(mqtt_encode_publish(buf, sizeof(buf), MQTT_V5, &p,
	    &n), MQTT_OK);
	hostile(t, buf, n, "a topic alias", 0x94);
	/* The alias that would define a topic is as unwelcome. */
	p.topic = (struct mqtt_str){ "a/b", 3 };
	assert_int_equal(mqtt_encode_publish(buf, sizeof(buf), MQTT_V5, &p,
	    &n), MQTT_OK);
	hostile(t, buf, n, "a topic alias", 0x94);
	assert_int_equal(t->r.n_msg, 0);
}

static void
test_server_disconnect(void **state)
{
	struct t *t = *state;
	uint8_t props[32], buf[64];
	struct mqtt_pw w;
	size_t n = 0;

	mqtt_pw_init(&w, props, sizeof(props));
	mqtt_pw_str(&w, MQTT_P_REASON_STRING, "maintenance", 11);
	assert_int_equal(mqtt_encode_disconnect(buf, sizeof(buf), t->b.proto,
	    0x8B, props, w.len, &n), MQTT_OK);
	hostile(t, buf, n, is_v5(t) ? "disconnected by the broker: Server "
	    "shutting down (maintenance)" : "disconnected by the broker", 0);
}

/* ---- Split delivery. ---- */

static void
test_split(void **state)
{
	struct t *t = *state;
	char topic[32], payload[32];
	int i, qos, nmsg = 60;
	size_t nrel = 0;

	/* Everything the broker says goes one byte per write and pass. */
	t->b.trickle = 1;
	t_up(t, 0);
	for (i = 0; i < nmsg; i++) {
		qos = i % 3;
		snprintf(topic, sizeof(topic), "s/%d", i);
		snprintf(payload, sizeof(payload), "payload %d", i);
		fb_publish(t, qos, (uint16_t)(qos > 0 ? i + 1 : 0), 0, topic,
		    payload, NULL, 0);
		if (qos == 2 && i % 5 == 0)
			fb_ack(t, MQTT_PUBREL, (uint16_t)(i + 1), 0);
	}
	PUMP_UNTIL(t, t->b.out_off == t->b.out_len);
	pump_idle(t);
	assert_int_equal(t->r.n_msg, nmsg);
	for (i = 0; i < nmsg; i++) {
		snprintf(topic, sizeof(topic), "s/%d", i);
		snprintf(payload, sizeof(payload), "payload %d", i);
		assert_string_equal(t->r.msg[i].topic, topic);
		assert_int_equal(t->r.msg[i].payload_len, strlen(payload));
		assert_memory_equal(t->r.msg[i].payload, payload,
		    strlen(payload));
		assert_int_equal(t->r.msg[i].qos, i % 3);
		if (i % 3 == 2 && i % 5 == 0)
			assert_int_equal(t->r.rel[nrel++], i + 1);
	}
	assert_int_equal(t->r.n_rel, nrel);
	assert_int_equal(link_stats(t->l)->packets_in, 1 + nmsg + nrel);
	assert_int_equal(link_state(t->l), LINK_UP);
	assert_int_equal(link_stats(t->l)->refused, 0);
}

/* A packet larger than the input buffer's start, between two small. */
static void
test_big_packet(void **state)
{
	struct t *t = *state;
	size_t big = 200000, n = 0, cap = big + 64;
	struct mqtt_publish p = { .topic = { "big", 3 }, .qos = 1, .id = 3,
	    .payload_len = big };
	/*
	 * A header announcing 300001 bytes in all (remaining length 299997),
	 * one more than our maximum; the rest never comes.
	 */
	const uint8_t over[] = { 0x30, 0xDD, 0xA7, 0x12 };
	uint8_t *buf = malloc(cap), *pay = malloc(big);

	assert_non_null(buf);
	assert_non_null(pay);
	memset(pay, 'p', big);
	p.payload = pay;
	t->max_packet = 300000;
	t_up(t, 0);
	fb_publish(t, 0, 0, 0, "before", "b", NULL, 0);
	assert_int_equal(mqtt_encode_publish(buf, cap, t->b.proto, &p, &n),
	    MQTT_OK);
	fb_send(t, buf, n);
	fb_publish(t, 0, 0, 0, "after", "a", NULL, 0);
	PUMP_UNTIL(t, t->r.n_msg == 3);
	assert_string_equal(t->r.msg[0].topic, "before");
	assert_string_equal(t->r.msg[1].topic, "big");
	assert_int_equal(t->r.msg[1].id, 3);
	assert_int_equal(t->r.msg[1].payload_len, big);
	assert_int_equal(t->r.msg[1].payload_sum, sum(pay, big));
	assert_string_equal(t->r.msg[2].topic, "after");
	assert_int_equal(link_stats(t->l)->refused, 0);
	free(buf);
	free(pay);
	if (t->b.proto == MQTT_V5)
		hostile(t, over, sizeof(over), "an oversized packet", 0x95);
}

/*
 * MQTT 3.1.1 cannot tell the broker the limit, and a closed connection
 * would only bring the packet back: its head is read, the owner told, the
 * rest discarded as it comes, and the connection goes on.
 */
static void
test_oversized_311(void **state)
{
	struct t *t = *state;
	size_t big = 3 * MAX_PACKET, n = 0, cap = big + 64;
	struct mqtt_publish p = { .topic = { "huge", 4 }, .qos = 1, .id = 9,
	    .payload_len = big };
	uint8_t *buf = malloc(cap), *pay = calloc(1, big);

	if (t->b.proto != MQTT_V311) {
		free(buf);
		free(pay);
		skip();
	}
	assert_non_null(buf);
	assert_non_null(pay);
	p.payload = pay;
	t_up(t, 0);
	assert_int_equal(mqtt_encode_publish(buf, cap, t->b.proto, &p, &n),
	    MQTT_OK);
	fb_send(t, buf, n);
	fb_publish(t, 0, 0, 0, "after", "a", NULL, 0);
	PUMP_UNTIL(t, t->r.n_msg == 1);
	assert_int_equal(t->r.n_over, 1);
	assert_int_equal(t->r.over_qos, 1);
	assert_int_equal(t->r.over_id, 9);
	assert_int_equal(t->r.over_size, n);
	assert_string_equal(t->r.msg[0].topic, "after");
	assert_int_equal(link_state(t->l), LINK_UP);
	assert_int_equal(link_stats(t->l)->refused, 1);
	free(buf);
	free(pay);
}

/* ---- Callbacks that act on the link. ---- */

static void
drop_at_second(struct t *t)
{
	if (t->r.n_msg == 2)
		link_drop(t->l);
}

static void
reconnect(struct t *t)
{
	t->down_hook = NULL;
	t_dial(t);
}

static void
test_reenter(void **state)
{
	struct t *t = *state;
	static const uint8_t bad[] = { 0xD1, 0x00 };
	int i;

	/* A drop from on_message: the rest of the burst is not for us. */
	t_up(t, 0);
	t->msg_hook = drop_at_second;
	for (i = 0; i < 5; i++)
		fb_publish(t, 1, (uint16_t)(i + 1), 0, "r", "x", NULL, 0);
	PUMP_UNTIL(t, t->r.n_msg == 2);
	pump_idle(t);
	assert_int_equal(t->r.n_msg, 2);
	assert_int_equal(t->r.n_down, 0);
	assert_int_equal(link_state(t->l), LINK_DOWN);
	t->msg_hook = NULL;

	/* A new attempt from on_down, refusing a packet. */
	t_up(t, 1);
	t->down_hook = reconnect;
	fb_send(t, bad, sizeof(bad));
	PUMP_UNTIL(t, t->r.n_up == 3);
	assert_int_equal(t->r.n_down, 1);
	assert_int_equal(link_state(t->l), LINK_UP);
	assert_int_equal(t->b.n_accepts, 3);
}

/* The broker resets the connection: on_down, whatever errno says. */
static void
test_reset(void **state)
{
	struct t *t = *state;
	struct linger lg = { 1, 0 };

	t_up(t, 0);
	assert_int_equal(setsockopt(t->b.cfd, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	t_broker_close(t);
	assert_why(t, "connection lost");
	assert_int_equal(t->r.was_up, 1);
}

/* ---- Ending a connection. ---- */

static void
test_disconnect(void **state)
{
	struct t *t = *state;
	struct mqtt_packet p;
	uint64_t tx;

	assert_int_equal(link_disconnect(t->l), LINK_ERR_STATE);
	t_up(t, 0);
	tx = link_stats(t->l)->tx_bytes;
	assert_int_equal(link_disconnect(t->l), LINK_OK);
	assert_int_equal(link_state(t->l), LINK_CLOSING);
	assert_int_equal(t->r.n_down, 0);
	/* Nothing may follow the DISCONNECT, not even an owed ack. */
	assert_int_equal(link_ack(t->l, MQTT_PUBACK, 1), LINK_ERR_STATE);
	PUMP_UNTIL(t, t->r.n_down == 1);
	/* on_down came after the DISCONNECT's two bytes were written. */
	assert_int_equal(t->r.tx_at_down, tx + 2);
	assert_int_equal(link_stats(t->l)->packets_out, 2);
	assert_why(t, "disconnected");
	assert_int_equal(t->r.was_up, 1);
	assert_int_equal(link_state(t->l), LINK_DOWN);
	PUMP_UNTIL(t, t->b.eof == 1);
	assert_int_equal(fb_count(t, MQTT_DISCONNECT, 0), 1);
	fb_get(t, MQTT_DISCONNECT, 0, 0, &p);
	assert_int_equal(p.u.disconnect.reason, 0);
	assert_int_equal(t->b.pkt[t->b.n_pkt - 1].type, MQTT_DISCONNECT);
}

static void
test_drop(void **state)
{
	struct t *t = *state;
	char *f[] = { "x" };
	struct queue_msg m = t_msg("x", "y", 1);
	int fd;
	short ev;

	t_up(t, 0);
	link_drop(t->l);
	assert_int_equal(link_state(t->l), LINK_DOWN);
	assert_int_equal(link_pollfd(t->l, &fd, &ev), 0);
	assert_int_equal(link_deadline(t->l), -1);
	PUMP_UNTIL(t, t->b.eof == 1);
	assert_int_equal(fb_count(t, MQTT_DISCONNECT, 0), 0);
	assert_int_equal(t->r.n_down, 0);
	/* A link that is down refuses work, and drops again harmlessly. */
	assert_int_equal(t_publish(t, &m, 1), LINK_ERR_STATE);
	assert_int_equal(link_ack(t->l, MQTT_PUBACK, 1), LINK_ERR_STATE);
	assert_int_equal(link_subscribe(t->l, f, (const int[]){ 1 }, 1,
	    t->err, sizeof(t->err)), LINK_ERR_STATE);
	link_drop(t->l);

	/* An attempt in progress is abandoned quietly too. */
	t_dial(t);
	link_drop(t->l);
	pump_idle(t);
	assert_int_equal(link_state(t->l), LINK_DOWN);
	assert_int_equal(t->r.n_down, 0);
	assert_int_equal(t->r.n_up, 1);

	/* And so is a connection that link_free() ends. */
	t_up(t, 0);
	link_free(t->l);
	t->l = NULL;
	assert_int_equal(t->r.n_down, 0);
	t->l = link_new(LINK_LOCAL, 1, &t_cbs, t);
	assert_non_null(t->l);
	assert_string_equal(link_name(t->l), "local");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T_BOTH(test_connect),
		T_BOTH(test_connack_refused),
		T_BOTH(test_connack_timeout),
		T_BOTH(test_connect_fail),
		T_V5(test_server_keepalive),
		T_BOTH(test_inbound),
		T_BOTH(test_subscribe),
		T_BOTH(test_keepalive),
		T_BOTH(test_keepalive_counts_silence_in),
		T_BOTH(test_hostile),
		T_BOTH(test_before_connack),
		T_V5(test_topic_alias),
		T_BOTH(test_server_disconnect),
		T_BOTH(test_split),
		T_BOTH(test_big_packet),
		T_BOTH(test_oversized_311),
		T_BOTH(test_reenter),
		T_BOTH(test_reset),
		T_BOTH(test_disconnect),
		T_BOTH(test_drop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
