/* SPDX-License-Identifier: ISC */
/*
 * Unit tests for relay/link: our publishes (QoS 0, 1 and 2, their
 * acknowledgements, properties and the in-flight window) and the QoS 2
 * session state that outlives a connection (a resumed or new session,
 * and link_restore() after a restart), against the fake broker of
 * link_test.h, with MQTT 5 and 3.1.1.
 */
#include "tests/unit/link_test.h"

static int
is_v5(const struct t *t)
{
	return t->b.proto == MQTT_V5;
}

/* The nth PUBLISH since mark, decoded into *p; waits for it. */
static void
broker_publish(struct t *t, size_t mark, size_t nth, struct mqtt_packet *p)
{
	PUMP_UNTIL(t, fb_count(t, MQTT_PUBLISH, mark) > nth);
	fb_get(t, MQTT_PUBLISH, mark, nth, p);
}

/* Publish m with cookie and return the packet id the broker saw. */
static uint16_t
publish_id(struct t *t, const struct queue_msg *m, int64_t cookie)
{
	size_t mark = t->b.n_pkt;
	struct mqtt_packet p;

	assert_int_equal(t_publish(t, m, cookie), LINK_OK);
	broker_publish(t, mark, 0, &p);
	return p.u.publish.id;
}

static void
assert_ack(const struct t *t, size_t i, int64_t cookie, uint16_t rel_id,
    uint8_t reason)
{
	assert_true(t->r.n_ack > i);
	assert_int_equal(t->r.ack[i].cookie, cookie);
	assert_int_equal(t->r.ack[i].rel_id, rel_id);
	assert_int_equal(t->r.ack[i].reason, reason);
}

/* ---- Publishes. ---- */

static void
test_publish_qos0_qos1(void **state)
{
	struct t *t = *state;
	struct queue_msg m = t_msg("out/1", "hello", 1);
	struct mqtt_packet p;
	uint16_t id;

	t_up(t, 0);
	assert_int_equal(t_publish(t, &m, 101), LINK_OK);
	assert_int_equal(link_inflight(t->l), 1);
	broker_publish(t, 0, 0, &p);
	assert_int_equal(p.u.publish.qos, 1);
	assert_int_equal(p.u.publish.dup, 0);
	assert_int_equal(p.u.publish.retain, 0);
	assert_true(p.u.publish.id != 0);
	assert_int_equal(p.u.publish.topic.len, 5);
	assert_memory_equal(p.u.publish.topic.p, "out/1", 5);
	assert_int_equal(p.u.publish.payload_len, 5);
	assert_memory_equal(p.u.publish.payload, "hello", 5);
	assert_int_equal(t->r.n_ack, 0);
	fb_ack(t, MQTT_PUBACK, p.u.publish.id, 0);
	PUMP_UNTIL(t, t->r.n_ack == 1);
	assert_ack(t, 0, 101, 0, 0);
	assert_int_equal(link_inflight(t->l), 0);
	assert_int_equal(t->r.n_sent, 0);	/* on_sent is QoS 2's */

	/* MQTT 5: the broker may refuse it; the reason reaches the owner. */
	if (is_v5(t)) {
		id = publish_id(t, &m, 102);
		fb_ack(t, MQTT_PUBACK, id, 0x87);
		PUMP_UNTIL(t, t->r.n_ack == 2);
		assert_ack(t, 1, 102, 0, 0x87);
	}

	/* QoS 0 is done once written; it takes no packet id. */
	m.qos = 0;
	m.retain = 1;
	assert_int_equal(t_publish(t, &m, 103), LINK_OK);
	assert_int_equal(link_inflight(t->l), 0);
	PUMP_UNTIL(t, t->r.n_ack == 2u + is_v5(t));
	assert_ack(t, t->r.n_ack - 1, 103, 0, 0);
	broker_publish(t, 0, 1u + is_v5(t), &p);
	assert_int_equal(p.u.publish.qos, 0);
	assert_int_equal(p.u.publish.retain, 1);
	assert_int_equal(t->b.bad, 0);
}

static void
test_publish_qos2(void **state)
{
	struct t *t = *state;
	struct queue_msg m = t_msg("out/2", "twice", 2);
	struct mqtt_packet p;
	uint64_t tx;
	size_t mark;
	uint16_t id;

	t_up(t, 0);
	tx = link_stats(t->l)->tx_bytes;
	assert_int_equal(t_publish(t, &m, 201), LINK_OK);
	/* on_sent comes before the PUBLISH leaves, so the id is stored. */
	assert_int_equal(t->r.n_sent, 1);
	assert_int_equal(link_stats(t->l)->tx_bytes, tx);
	broker_publish(t, 0, 0, &p);
	id = p.u.publish.id;
	assert_int_equal(p.u.publish.qos, 2);
	assert_int_equal(t->r.sent[0].cookie, 201);
	assert_int_equal(t->r.sent[0].rel_id, id);

	fb_ack(t, MQTT_PUBREC, id, 0);
	PUMP_UNTIL(t, t->r.n_ack == 1);
	assert_ack(t, 0, 201, id, 0);
	/* No PUBREL until the owner has made the PUBREC durable. */
	mark = t->b.n_pkt;
	pump_idle(t);
	assert_int_equal(t->b.n_pkt, mark);
	assert_int_equal(link_inflight(t->l), 1);
	assert_int_equal(link_ack(t->l, MQTT_PUBREL, id), LINK_OK);
	PUMP_UNTIL(t, fb_count(t, MQTT_PUBREL, mark) == 1);
	fb_get(t, MQTT_PUBREL, mark, 0, &p);
	assert_int_equal(p.u.ack.id, id);
	/* Once only; and never for an id that is not waiting for it. */
	assert_int_equal(link_ack(t->l, MQTT_PUBREL, id), LINK_ERR_STATE);
	assert_int_equal(link_ack(t->l, MQTT_PUBREL, id + 1), LINK_ERR_STATE);
	assert_int_equal(t->r.n_comp, 0);
	fb_ack(t, MQTT_PUBCOMP, id, 0);
	PUMP_UNTIL(t, t->r.n_comp == 1);
	assert_int_equal(t->r.comp[0], id);
	assert_int_equal(link_inflight(t->l), 0);

	/* MQTT 5: a refusing PUBREC ends the exchange at once. */
	if (is_v5(t)) {
		id = publish_id(t, &m, 202);
		fb_ack(t, MQTT_PUBREC, id, 0x87);
		PUMP_UNTIL(t, t->r.n_comp == 2);
		assert_ack(t, 1, 202, 0, 0x87);
		assert_int_equal(t->r.comp[1], id);
		assert_int_equal(link_inflight(t->l), 0);
	}
	/* Acknowledgements of ids not in flight are ignored. */
	fb_ack(t, MQTT_PUBACK, 3, 0);
	fb_ack(t, MQTT_PUBCOMP, 4, 0);
	fb_ack(t, MQTT_PUBREC, 60000, 0);
	pump_idle(t);
	assert_int_equal(link_state(t->l), LINK_UP);
	assert_int_equal(t->r.n_ack, 1u + is_v5(t));
	assert_int_equal(t->b.bad, 0);
}

/* MQTT 5: the queue's properties go out, with the expiry time left. */
static void
test_publish_props(void **state)
{
	struct t *t = *state;
	static const uint8_t ct[] = { 0x03, 0x00, 0x04, 't', 'e', 'x', 't' };
	struct queue_msg m = t_msg("out/p", "x", 1);
	const int64_t exp[] = { 10000, 10001, -5, 0 };
	const uint32_t left[] = { 10, 11, 1, 0 };
	struct mqtt_packet p;
	size_t i;

	m.props = ct;
	m.props_len = sizeof(ct);
	t_up(t, 0);
	for (i = 0; i < 4; i++) {
		m.expire_ms = exp[i] != 0 ? WALL0 + exp[i] : 0;
		assert_int_equal(t_publish(t, &m, (int64_t)i + 1), LINK_OK);
		broker_publish(t, 0, i, &p);
		if (!is_v5(t)) {
			assert_int_equal(p.props.has, 0);
			continue;
		}
		assert_true(MQTT_HAS(&p.props, MQTT_P_CONTENT_TYPE));
		assert_int_equal(p.props.content_type.len, 4);
		assert_memory_equal(p.props.content_type.p, "text", 4);
		assert_int_equal(MQTT_HAS(&p.props, MQTT_P_MESSAGE_EXPIRY),
		    left[i] != 0);
		assert_int_equal(p.props.message_expiry, left[i]);
	}
}

/*
 * From on_acked of cookies 1..10: two more QoS 0 publishes, 11..30, and
 * for odd cookies a flush at once, which reports them from inside.
 */
static void
publish_two(struct t *t, int64_t cookie)
{
	struct queue_msg m = t_msg("out/cb", "c", 0);

	if (cookie > 10)
		return;
	assert_int_equal(t_publish(t, &m, 10 + 2 * cookie - 1), LINK_OK);
	assert_int_equal(t_publish(t, &m, 10 + 2 * cookie), LINK_OK);
	if (cookie % 2 == 1)
		link_flush(t->l, t->now);
}

/* Callbacks may publish and flush: every QoS 0 cookie is acked once. */
static void
test_publish_from_acked(void **state)
{
	struct t *t = *state;
	struct queue_msg m = t_msg("out/q0", "z", 0);
	int seen[31] = { 0 };
	int64_t i;

	t_up(t, 0);
	t->acked_hook = publish_two;
	for (i = 1; i <= 10; i++)
		assert_int_equal(t_publish(t, &m, i), LINK_OK);
	PUMP_UNTIL(t, t->r.n_ack >= 30);
	pump_idle(t);
	assert_int_equal(t->r.n_ack, 30);
	for (i = 0; i < 30; i++) {
		assert_in_range(t->r.ack[i].cookie, 1, 30);
		assert_int_equal(seen[t->r.ack[i].cookie]++, 0);
	}
	assert_int_equal(fb_count(t, MQTT_PUBLISH, 0), 30);
}

/* ---- The window and the broker's limits. ---- */

static void
test_window(void **state)
{
	struct t *t = *state;
	struct queue_msg m = t_msg("out/w", "x", 1);
	size_t cap = is_v5(t) ? 3 : 4, i;
	struct mqtt_packet p;
	struct mqtt_pw w;

	/* MQTT 5: the broker's Receive Maximum; 3.1.1: max_inflight. */
	mqtt_pw_init(&w, t->b.cprops, sizeof(t->b.cprops));
	mqtt_pw_u16(&w, MQTT_P_RECEIVE_MAX, 3);
	t->b.cprops_len = w.len;
	t->cb.max_inflight = is_v5(t) ? 10 : 4;
	t_up(t, 0);
	assert_int_equal(link_window_free(t->l), cap);
	for (i = 0; i < cap; i++) {
		m.qos = i % 2 == 0 ? 1 : 2;
		assert_int_equal(t_publish(t, &m, (int64_t)i + 1), LINK_OK);
		assert_int_equal(link_window_free(t->l), cap - i - 1);
	}
	assert_int_equal(t_publish(t, &m, 50), LINK_ERR_WINDOW);
	m.qos = 0;
	assert_int_equal(t_publish(t, &m, 51), LINK_ERR_WINDOW);
	assert_int_equal(link_inflight(t->l), cap);
	broker_publish(t, 0, cap - 1, &p);
	fb_get(t, MQTT_PUBLISH, 0, 0, &p);
	fb_ack(t, MQTT_PUBACK, p.u.publish.id, 0);
	PUMP_UNTIL(t, link_window_free(t->l) == 1);
	m.qos = 1;
	assert_int_equal(t_publish(t, &m, 52), LINK_OK);
	assert_int_equal(link_window_free(t->l), 0);
	assert_int_equal(fb_count(t, MQTT_PUBLISH, 0), cap);
}

/*
 * The broker stops reading; QoS 0 publishes with sequenced payloads until
 * a flush leaves more than the output's mark unwritten (writes came back
 * short, then not at all). Returns how many were queued, cookies 1..n.
 */
static int64_t
fill_output(struct t *t)
{
	char payload[1000];
	struct queue_msg m = t_msg("out/full", "", 0);
	int64_t n = 0;
	int rc;

	t->b.paused = 1;
	t->b.seq_check = 1;
	m.payload = payload;
	m.payload_len = sizeof(payload);
	memset(payload, 'f', sizeof(payload));
	while (link_window_free(t->l) > 0) {
		assert_true(n < 64 * 1024);	/* 64 MB */
		for (;;) {
			snprintf(payload, SEQ_LEN + 1, "%08u", (unsigned)n);
			payload[SEQ_LEN] = 'f';
			if ((rc = t_publish(t, &m, n + 1)) != LINK_OK)
				break;
			n++;
		}
		assert_int_equal(rc, LINK_ERR_WINDOW);
		pump_once(t, 0);
	}
	/* The mark, not a slot, says "later": nothing is in flight. */
	assert_int_equal(link_inflight(t->l), 0);
	assert_int_equal(t_publish(t, &m, n + 1), LINK_ERR_WINDOW);
	assert_true((int64_t)t->r.n_ack < n);
	return n;
}

/*
 * Once the broker reads again everything arrives once, in order, and
 * every QoS 0 cookie is acked once.
 */
static void
test_output_full(void **state)
{
	struct t *t = *state;
	int64_t n, i;

	t_up(t, 0);
	n = fill_output(t);
	assert_int_equal(link_state(t->l), LINK_UP);
	t->b.paused = 0;
	PUMP_UNTIL(t, t->b.n_type[MQTT_PUBLISH] == (size_t)n &&
	    link_window_free(t->l) > 0);
	assert_int_equal(t->b.seq_err, 0);
	assert_int_equal(t->b.bad, 0);
	PUMP_UNTIL(t, (int64_t)t->r.n_ack == n);
	assert_int_equal(t->r.ack_sum, n * (n + 1) / 2);
	for (i = 0; i < REC_MAX; i++)
		assert_int_equal(t->r.ack[i].cookie, i + 1);
	assert_int_equal(link_stats(t->l)->packets_out, n + 1);
}

/*
 * A DISCONNECT stuck behind a full output: no PINGREQ may follow it when
 * the keepalive comes; the link gives up instead.
 */
static void
test_disconnect_stuck(void **state)
{
	struct t *t = *state;
	int64_t n;

	t_up(t, 0);
	n = fill_output(t);
	assert_int_equal(link_disconnect(t->l), LINK_OK);
	pump_idle(t);
	assert_int_equal(link_state(t->l), LINK_CLOSING);
	t->now += (int64_t)t->cb.keepalive * 1000;
	PUMP_UNTIL(t, t->r.n_down == 1);
	assert_non_null(strstr(t->r.why, "DISCONNECT not written"));
	assert_int_equal(t->r.was_up, 1);
	assert_int_equal(link_state(t->l), LINK_DOWN);
	t->b.paused = 0;
	PUMP_UNTIL(t, t->b.cfd < 0);
	assert_true(t->b.n_type[MQTT_PUBLISH] <= (size_t)n);
	assert_int_equal(t->b.n_type[MQTT_PINGREQ], 0);
	assert_int_equal(t->b.seq_err, 0);
}

/* MQTT 5: the broker's Maximum Packet Size and Maximum QoS hold. */
static void
test_broker_limits(void **state)
{
	struct t *t = *state;
	char big[101];
	struct queue_msg m = t_msg("out/l", "", 2);
	struct mqtt_packet p;
	struct mqtt_pw w;

	memset(big, 'b', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	mqtt_pw_init(&w, t->b.cprops, sizeof(t->b.cprops));
	mqtt_pw_u32(&w, MQTT_P_MAX_PACKET_SIZE, 64);
	mqtt_pw_byte(&w, MQTT_P_MAX_QOS, 1);
	t->b.cprops_len = w.len;
	t_up(t, 0);
	m.payload = big;
	m.payload_len = strlen(big);
	assert_int_equal(t_publish(t, &m, 1), LINK_ERR_TOO_LARGE);
	assert_int_equal(link_inflight(t->l), 0);
	m.payload_len = 10;
	assert_int_equal(t_publish(t, &m, 2), LINK_OK);
	broker_publish(t, 0, 0, &p);
	assert_int_equal(p.u.publish.qos, 1);
	assert_int_equal(t->r.n_sent, 0);
}

/* ---- Sessions. ---- */

struct q2 {
	uint16_t a;	/* QoS 2, no PUBREC: the PUBLISH is owed again */
	uint16_t b;	/* PUBREC, PUBREL sent, no PUBCOMP */
	uint16_t c;	/* PUBREC, the owner has not sent PUBREL yet */
};

static const struct queue_msg *
msg_a(void)
{
	static struct queue_msg m;

	m = t_msg("q2/a", "a", 2);
	return &m;
}

/* Up, three QoS 2 publishes left as struct q2 says and one QoS 1, down. */
static void
leave_in_flight(struct t *t, struct q2 *q)
{
	struct queue_msg m = t_msg("q2/x", "x", 2), m1 = t_msg("q1", "y", 1);

	t_up(t, 0);
	q->a = publish_id(t, msg_a(), 1);
	q->b = publish_id(t, &m, 2);
	q->c = publish_id(t, &m, 3);
	(void)publish_id(t, &m1, 4);
	assert_int_equal(t->r.n_sent, 3);
	fb_ack(t, MQTT_PUBREC, q->b, 0);
	fb_ack(t, MQTT_PUBREC, q->c, 0);
	PUMP_UNTIL(t, t->r.n_ack == 2);
	assert_ack(t, 0, 2, q->b, 0);
	assert_ack(t, 1, 3, q->c, 0);
	assert_int_equal(link_ack(t->l, MQTT_PUBREL, q->b), LINK_OK);
	PUMP_UNTIL(t, fb_count(t, MQTT_PUBREL, 0) == 1);
	assert_int_equal(link_inflight(t->l), 4);
	t_broker_close(t);
	assert_int_equal(t->r.was_up, 1);
	/* The QoS 1 id is free; the QoS 2 ids stay the broker's. */
	assert_int_equal(link_inflight(t->l), 3);
}

static void
test_session_resumed(void **state)
{
	struct t *t = *state;
	struct mqtt_packet p;
	struct q2 q;
	size_t mark;

	leave_in_flight(t, &q);
	mark = t->b.n_pkt;
	t_up(t, 1);
	/* Both owed PUBRELs go again; the PUBLISH waits for its cookie. */
	PUMP_UNTIL(t, fb_count(t, MQTT_PUBREL, mark) == 2);
	fb_get(t, MQTT_PUBREL, mark, 0, &p);
	assert_int_equal(p.u.ack.id, q.b);
	fb_get(t, MQTT_PUBREL, mark, 1, &p);
	assert_int_equal(p.u.ack.id, q.c);
	pump_idle(t);
	assert_int_equal(fb_count(t, MQTT_PUBLISH, mark), 0);
	assert_int_equal(link_ack(t->l, MQTT_PUBREL, q.c), LINK_ERR_STATE);

	assert_int_equal(t_publish(t, msg_a(), 1), LINK_OK);
	broker_publish(t, mark, 0, &p);
	assert_int_equal(p.u.publish.id, q.a);
	assert_int_equal(p.u.publish.dup, 1);
	assert_int_equal(p.u.publish.qos, 2);
	assert_int_equal(t->r.n_sent, 3);	/* no second on_sent */
	assert_int_equal(link_inflight(t->l), 3);

	fb_ack(t, MQTT_PUBREC, q.a, 0);
	fb_ack(t, MQTT_PUBCOMP, q.b, 0);
	fb_ack(t, MQTT_PUBCOMP, q.c, 0);
	PUMP_UNTIL(t, t->r.n_comp == 2);
	assert_int_equal(t->r.comp[0], q.b);
	assert_int_equal(t->r.comp[1], q.c);
	assert_ack(t, 2, 1, q.a, 0);
	assert_int_equal(link_ack(t->l, MQTT_PUBREL, q.a), LINK_OK);
	PUMP_UNTIL(t, fb_count(t, MQTT_PUBREL, mark) == 3);
	fb_ack(t, MQTT_PUBCOMP, q.a, 0);
	PUMP_UNTIL(t, t->r.n_comp == 3);
	assert_int_equal(link_inflight(t->l), 0);
}

static void
test_session_new(void **state)
{
	struct t *t = *state;
	struct mqtt_packet p;
	struct q2 q;
	size_t mark;

	leave_in_flight(t, &q);
	mark = t->b.n_pkt;
	t_up(t, 0);
	/* The broker holds none of our ids: nothing is owed, all are free. */
	assert_int_equal(link_inflight(t->l), 0);
	pump_idle(t);
	assert_int_equal(fb_count(t, MQTT_PUBREL, mark), 0);
	assert_int_equal(t_publish(t, msg_a(), 1), LINK_OK);
	assert_int_equal(t->r.n_sent, 4);
	broker_publish(t, mark, 0, &p);
	assert_int_equal(p.u.publish.dup, 0);
	assert_int_equal(p.u.publish.id, t->r.sent[3].rel_id);
}

/* A restart: the owner restores what it stored, then connects. */
static void
test_restore(void **state)
{
	struct t *t = *state;
	struct queue_msg m = t_msg("q2/n", "n", 2);
	struct mqtt_packet p;
	size_t mark;
	uint16_t id;
	int sp;

	for (sp = 1; sp >= 0; sp--) {
		link_free(t->l);
		t->l = link_new(LINK_CENTRAL, WINDOW, &t_cbs, t);
		assert_non_null(t->l);
		memset(&t->r, 0, sizeof(t->r));
		assert_int_equal(link_restore(t->l, 7, 99), LINK_OK);
		assert_int_equal(link_restore(t->l, 8, 0), LINK_OK);
		assert_int_equal(link_restore(t->l, 7, 5), LINK_ERR_STATE);
		assert_int_equal(link_restore(t->l, 0, 5), LINK_ERR_STATE);
		assert_int_equal(link_restore(t->l, WINDOW + 1, 5),
		    LINK_ERR_STATE);
		assert_int_equal(link_inflight(t->l), 2);
		mark = t->b.n_pkt;
		t_up(t, sp);
		assert_int_equal(link_restore(t->l, 9, 5), LINK_ERR_STATE);
		assert_int_equal(t_publish(t, msg_a(), 99), LINK_OK);
		broker_publish(t, mark, 0, &p);
		assert_int_equal(fb_count(t, MQTT_PUBREL, mark), (size_t)sp);
		if (sp) {
			fb_get(t, MQTT_PUBREL, mark, 0, &p);
			assert_int_equal(p.u.ack.id, 8);
			fb_get(t, MQTT_PUBLISH, mark, 0, &p);
			assert_int_equal(p.u.publish.id, 7);
			assert_int_equal(p.u.publish.dup, 1);
			assert_int_equal(t->r.n_sent, 0);
		} else {
			assert_int_equal(p.u.publish.dup, 0);
			assert_int_equal(t->r.n_sent, 1);
			assert_int_equal(t->r.sent[0].cookie, 99);
		}
		/* While the broker holds 7 and 8, new messages take others. */
		id = publish_id(t, &m, 100);
		assert_int_equal(t->r.sent[t->r.n_sent - 1].rel_id, id);
		if (sp)
			assert_true(id != 7 && id != 8);
		fb_ack(t, MQTT_PUBCOMP, 8, 0);
		pump_idle(t);
		assert_int_equal(t->r.n_comp, (size_t)sp);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T_BOTH(test_publish_qos0_qos1),
		T_BOTH(test_publish_qos2),
		T_BOTH(test_publish_props),
		T_BOTH(test_publish_from_acked),
		T_BOTH(test_window),
		T_BOTH(test_output_full),
		T_BOTH(test_disconnect_stuck),
		T_V5(test_broker_limits),
		T_BOTH(test_session_resumed),
		T_BOTH(test_session_new),
		T_BOTH(test_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
